#include "backup/lz4.h"

#include <lz4frame.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace litehouse::backup {

std::string Lz4Compress(std::string_view data) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  prefs.frameInfo.contentSize = data.size();  // lets a reader size its buffer once
  std::string out(LZ4F_compressFrameBound(data.size(), &prefs), '\0');
  size_t n = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), &prefs);
  // Cannot fail with a bound-sized buffer and valid preferences.
  out.resize(LZ4F_isError(n) ? 0 : n);
  return out;
}

Result<Bytes> Lz4DecompressBytes(std::string_view frame) {
  LZ4F_dctx* dctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) return Status::Internal("LZ4 context");
  struct Free {
    LZ4F_dctx* d;
    ~Free() { LZ4F_freeDecompressionContext(d); }
  } free_ctx{dctx};
  // Straight into the result, sized from the frame's content size when it says one (ours do;
  // Litestream's do not), else grown by doubling.
  const char* in = frame.data();
  size_t left = frame.size();
  LZ4F_frameInfo_t info{};
  size_t header = left;
  size_t hint = LZ4F_getFrameInfo(dctx, &info, in, &header);
  if (LZ4F_isError(hint)) return Status::Corruption(std::string("not a valid LZ4 frame: ") + LZ4F_getErrorName(hint));
  in += header;
  left -= header;
  // LZ4 expands at most ~255x: a content size past that is a corrupt frame, not an allocation.
  const uint64_t most = 256 * uint64_t{frame.size()} + (64 << 10);
  if (info.contentSize > most) return Status::Corruption("not a valid LZ4 frame: its content size is impossible for its length");
  size_t capacity = info.contentSize > 0 ? static_cast<size_t>(info.contentSize) : std::max<size_t>(frame.size() * 2, 64 << 10);
  Bytes out{std::unique_ptr<char[]>(new char[capacity]), 0};
  while (hint != 0) {
    if (out.size == capacity) {
      std::unique_ptr<char[]> bigger(new char[capacity * 2]);
      std::memcpy(bigger.get(), out.data.get(), out.size);
      out.data = std::move(bigger);
      capacity *= 2;
    }
    size_t in_size = left, out_size = capacity - out.size;
    hint = LZ4F_decompress(dctx, out.data.get() + out.size, &out_size, in, &in_size, nullptr);
    if (LZ4F_isError(hint)) return Status::Corruption(std::string("not a valid LZ4 frame: ") + LZ4F_getErrorName(hint));
    out.size += out_size;
    in += in_size;
    left -= in_size;
    if (in_size == 0 && out_size == 0 && out.size < capacity) break;  // needs input it has not got
  }
  if (hint != 0) return Status::Corruption("the LZ4 frame is cut short");
  if (left != 0) return Status::Corruption("bytes after the LZ4 frame");
  return out;
}

Result<std::string> Lz4Decompress(std::string_view frame) {
  auto bytes = Lz4DecompressBytes(frame);
  if (!bytes.ok()) return bytes.status();
  return std::string(bytes->view());
}

}  // namespace litehouse::backup
