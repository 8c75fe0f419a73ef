#include "backup/lz4.h"

#include <lz4frame.h>

namespace litehouse::backup {

std::string Lz4Compress(std::string_view data) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  std::string out(LZ4F_compressFrameBound(data.size(), &prefs), '\0');
  size_t n = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), &prefs);
  // Cannot fail with a bound-sized buffer and valid preferences.
  out.resize(LZ4F_isError(n) ? 0 : n);
  return out;
}

Result<std::string> Lz4Decompress(std::string_view frame) {
  LZ4F_dctx* dctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) return Status::Internal("LZ4 context");
  struct Free {
    LZ4F_dctx* d;
    ~Free() { LZ4F_freeDecompressionContext(d); }
  } free_ctx{dctx};
  std::string out;
  char buf[64 << 10];
  const char* in = frame.data();
  size_t left = frame.size();
  size_t hint = 1;
  while (left > 0) {
    size_t in_size = left, out_size = sizeof buf;
    hint = LZ4F_decompress(dctx, buf, &out_size, in, &in_size, nullptr);
    if (LZ4F_isError(hint)) return Status::Corruption(std::string("not a valid LZ4 frame: ") + LZ4F_getErrorName(hint));
    out.append(buf, out_size);
    in += in_size;
    left -= in_size;
    if (hint == 0) break;
    if (in_size == 0 && out_size == 0) break;
  }
  // Output may still be buffered after the input is consumed.
  while (hint != 0) {
    size_t in_size = 0, out_size = sizeof buf;
    hint = LZ4F_decompress(dctx, buf, &out_size, in, &in_size, nullptr);
    if (LZ4F_isError(hint)) return Status::Corruption(std::string("not a valid LZ4 frame: ") + LZ4F_getErrorName(hint));
    if (out_size == 0) break;
    out.append(buf, out_size);
  }
  if (hint != 0) return Status::Corruption("the LZ4 frame is cut short");
  if (left != 0) return Status::Corruption("bytes after the LZ4 frame");
  return out;
}

}  // namespace litehouse::backup
