// The LTX format: see ltx.h, where it is written out.
#include "backup/ltx.h"

#include <lz4.h>
#include <lz4frame.h>

#include <array>
#include <climits>
#include <cstdio>
#include <memory>

#include "backup/lz4.h"

namespace litehouse::backup {
namespace {

constexpr uint64_t kCrc64IsoPoly = 0xD800000000000000ULL;  // x^64 + x^4 + x^3 + x + 1, reflected
constexpr uint64_t kPendingByte = 0x40000000;

// Slicing-by-8 tables: table[0] is the byte-at-a-time table; table[k][i] is the CRC of byte i
// followed by k zero bytes, so that eight bytes are folded in at once (a restore checksums every
// page it writes).
using CrcTables = std::array<std::array<uint64_t, 256>, 8>;
const CrcTables& CrcTable() {
  static const CrcTables tables = [] {
    CrcTables t{};
    for (uint64_t i = 0; i < 256; ++i) {
      uint64_t crc = i;
      for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ kCrc64IsoPoly : crc >> 1;
      t[0][i] = crc;
    }
    for (size_t k = 1; k < 8; ++k)
      for (size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
    return t;
  }();
  return tables;
}

uint32_t Get32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}
uint16_t Get16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((u[0] << 8) | u[1]);
}
uint64_t Get64(const char* p) { return (uint64_t{Get32(p)} << 32) | Get32(p + 4); }

void Put32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}
void Put16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xff));
}
void Put64(std::string* out, uint64_t v) {
  Put32(out, static_cast<uint32_t>(v >> 32));
  Put32(out, static_cast<uint32_t>(v));
}
void PutUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
// Go's binary.Uvarint: at most 10 bytes. False if `in` ends first or the value overflows.
bool GetUvarint(std::string_view in, size_t* pos, uint64_t* v) {
  uint64_t result = 0;
  for (int i = 0, shift = 0; i < 10; ++i, shift += 7) {
    if (*pos >= in.size()) return false;
    const auto byte = static_cast<unsigned char>(in[(*pos)++]);
    if (i == 9 && byte > 1) return false;
    result |= uint64_t{byte & 0x7fu} << shift;
    if (byte < 0x80) {
      *v = result;
      return true;
    }
  }
  return false;
}

std::string Hex64(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool IsValidPageSize(uint32_t size) { return size >= 512 && size <= 65536 && (size & (size - 1)) == 0; }

struct DctxDeleter {
  void operator()(LZ4F_dctx* d) const { LZ4F_freeDecompressionContext(d); }
};

// Decodes the one LZ4 frame at the start of `in` into `out` (room for page_size + 1 bytes, so that
// a frame holding more than a page shows). Its length goes to *used.
Status DecodePageFrame(LZ4F_dctx* dctx, std::string_view in, char* out, size_t page_size, size_t* used) {
  LZ4F_resetDecompressionContext(dctx);
  size_t consumed = 0, produced = 0;
  size_t hint = 1;
  while (hint != 0) {
    size_t in_size = in.size() - consumed, out_size = page_size + 1 - produced;
    hint = LZ4F_decompress(dctx, out + produced, &out_size, in.data() + consumed, &in_size, nullptr);
    if (LZ4F_isError(hint))
      return Status::Corruption(std::string("its LZ4 frame is invalid: ") + LZ4F_getErrorName(hint));
    consumed += in_size;
    produced += out_size;
    if (produced > page_size) return Status::Corruption("its LZ4 frame holds more than a page");
    if (hint != 0 && in_size == 0 && out_size == 0) return Status::Corruption("its LZ4 frame is cut short");
  }
  if (produced != page_size) {
    return Status::Corruption("its LZ4 frame holds " + std::to_string(produced) + " bytes, not a page of " +
                              std::to_string(page_size));
  }
  *used = consumed;
  return Status::OK();
}

struct IndexEntry {
  uint64_t pgno, offset, size;
};

}  // namespace

uint32_t LtxLockPage(uint32_t page_size) { return static_cast<uint32_t>(kPendingByte / page_size + 1); }

uint64_t Crc64Iso(uint64_t crc, std::string_view data) {
  const CrcTables& t = CrcTable();
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  crc = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word = 0;
    for (int i = 7; i >= 0; --i) word = (word << 8) | p[i];  // little-endian, whatever the host
    crc ^= word;
    crc = t[7][crc & 0xff] ^ t[6][(crc >> 8) & 0xff] ^ t[5][(crc >> 16) & 0xff] ^ t[4][(crc >> 24) & 0xff] ^
          t[3][(crc >> 32) & 0xff] ^ t[2][(crc >> 40) & 0xff] ^ t[1][(crc >> 48) & 0xff] ^ t[0][crc >> 56];
  }
  for (; n > 0; ++p, --n) crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::string LtxFileName(uint64_t min_txid, uint64_t max_txid) {
  return Hex64(min_txid) + "-" + Hex64(max_txid) + ".ltx";
}

bool ParseLtxFileName(std::string_view name, uint64_t* min_txid, uint64_t* max_txid) {
  // ^[0-9a-f]{16}-[0-9a-f]{16}\.ltx$, as Litestream's filename pattern.
  if (name.size() != 37 || name[16] != '-' || name.substr(33) != ".ltx") return false;
  uint64_t v[2] = {0, 0};
  for (int part = 0; part < 2; ++part) {
    for (size_t i = 0; i < 16; ++i) {
      const char c = name[part * 17 + i];
      uint64_t digit;
      if (c >= '0' && c <= '9') {
        digit = static_cast<uint64_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<uint64_t>(c - 'a' + 10);
      } else {
        return false;
      }
      v[part] = (v[part] << 4) | digit;
    }
  }
  *min_txid = v[0];
  *max_txid = v[1];
  return true;
}

Result<LtxHeader> ParseLtxHeader(std::string_view bytes, const std::string& name) {
  auto bad = [&name](const std::string& what) { return Status::Corruption(name + ": not a valid LTX file: " + what); };
  if (bytes.size() < kLtxHeaderSize)
    return bad("shorter than its 100-byte header (" + std::to_string(bytes.size()) + " bytes)");
  const char* p = bytes.data();
  if (bytes.substr(0, 4) != "LTX1") return bad("no LTX1 magic");
  LtxHeader h;
  h.flags = Get32(p + 4);
  h.page_size = Get32(p + 8);
  h.commit = Get32(p + 12);
  h.min_txid = Get64(p + 16);
  h.max_txid = Get64(p + 24);
  h.timestamp_ms = static_cast<int64_t>(Get64(p + 32));
  h.pre_apply_checksum = Get64(p + 40);
  h.wal_offset = static_cast<int64_t>(Get64(p + 48));
  h.wal_size = static_cast<int64_t>(Get64(p + 56));
  h.wal_salt1 = Get32(p + 64);
  h.wal_salt2 = Get32(p + 68);
  h.node_id = Get64(p + 72);
  char flags[16];
  std::snprintf(flags, sizeof flags, "0x%08x", h.flags);
  if ((h.flags & ~kLtxFlagNoChecksum) != 0) return bad(std::string("unknown header flags ") + flags);
  if (!IsValidPageSize(h.page_size))
    return bad("page size " + std::to_string(h.page_size) + " is not a power of two in 512..65536");
  if (h.min_txid == 0 || h.max_txid == 0) return bad("a TXID of 0");
  if (h.min_txid > h.max_txid) return bad("MinTXID " + Hex64(h.min_txid) + " above MaxTXID " + Hex64(h.max_txid));
  if (h.wal_offset < 0 || h.wal_size < 0) return bad("a negative WAL offset or size");
  if ((h.wal_salt1 != 0 || h.wal_salt2 != 0) && h.wal_offset == 0) return bad("WAL salts without a WAL offset");
  if (h.wal_offset == 0 && h.wal_size != 0) return bad("a WAL size without a WAL offset");
  const bool no_checksum = (h.flags & kLtxFlagNoChecksum) != 0;
  if ((h.IsSnapshot() || no_checksum) && h.pre_apply_checksum != 0)
    return bad("a pre-apply checksum where none may be");
  if (!h.IsSnapshot() && !no_checksum && (h.pre_apply_checksum & kLtxChecksumFlag) == 0)
    return bad("a malformed pre-apply checksum");
  return h;
}

Result<LtxHeader> DecodeLtx(std::string_view file, const std::string& name, const LtxPageFn& on_page) {
  auto header = ParseLtxHeader(file, name);
  if (!header.ok()) return header.status();
  const LtxHeader& h = *header;
  auto bad = [&name](const std::string& what) { return Status::Corruption(name + ": " + what); };
  const uint32_t lock = LtxLockPage(h.page_size);
  uint64_t crc = Crc64Iso(0, file.substr(0, kLtxHeaderSize));
  size_t pos = kLtxHeaderSize;

  // The page frames.
  std::unique_ptr<char[]> page(new char[h.page_size + 1]);
  std::unique_ptr<LZ4F_dctx, DctxDeleter> dctx;
  std::vector<IndexEntry> frames;
  uint32_t prev = 0;
  for (;;) {
    const size_t frame_at = pos;
    if (file.size() - pos < kLtxPageHeaderSize)
      return bad("cut short in its pages (at byte " + std::to_string(pos) + ")");
    const uint32_t pgno = Get32(file.data() + pos);
    const uint16_t flags = Get16(file.data() + pos + 4);
    crc = Crc64Iso(crc, file.substr(pos, kLtxPageHeaderSize));
    pos += kLtxPageHeaderSize;
    if (pgno == 0 && flags == 0) break;  // the end of the pages
    const std::string where = "page " + std::to_string(pgno) + " (at byte " + std::to_string(frame_at) + ")";
    if (pgno == 0) return bad("a page frame numbered 0 at byte " + std::to_string(frame_at));
    if ((flags & ~kLtxPageFlagSize) != 0) return bad(where + " has unknown flags " + std::to_string(flags));
    if (pgno > h.commit) return bad(where + " lies past the database's " + std::to_string(h.commit) + " pages");
    if (pgno == lock) return bad(where + " is the lock page, which is never stored");
    if (pgno <= prev) return bad(where + " follows page " + std::to_string(prev) + ": pages out of order");
    if (h.IsSnapshot()) {
      const uint32_t expected = prev + 1 == lock ? prev + 2 : prev + 1;
      if (pgno != expected)
        return bad("snapshot misses page " + std::to_string(expected) + " (" + where + " follows it)");
    }
    if (flags & kLtxPageFlagSize) {
      if (file.size() - pos < 4) return bad(where + " is cut short");
      const uint32_t csize = Get32(file.data() + pos);
      crc = Crc64Iso(crc, file.substr(pos, 4));
      pos += 4;
      if (csize > file.size() - pos || csize > INT_MAX)
        return bad(where + " is cut short (" + std::to_string(csize) + " compressed bytes said)");
      const int n =
          LZ4_decompress_safe(file.data() + pos, page.get(), static_cast<int>(csize), static_cast<int>(h.page_size));
      if (n != static_cast<int>(h.page_size)) return bad(where + ": its LZ4 block does not decompress to one page");
      pos += csize;
    } else {
      if (!dctx) {
        LZ4F_dctx* d = nullptr;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION))) return Status::Internal("LZ4 context");
        dctx.reset(d);
      }
      size_t used = 0;
      if (Status s = DecodePageFrame(dctx.get(), file.substr(pos), page.get(), h.page_size, &used); !s.ok())
        return bad(where + ": " + s.message());
      pos += used;
    }
    const std::string_view plain(page.get(), h.page_size);
    crc = Crc64Iso(crc, plain);
    if (on_page) {
      if (Status s = on_page(pgno, plain); !s.ok()) return s;
    }
    frames.push_back({pgno, frame_at, pos - frame_at});
    prev = pgno;
  }
  if (h.IsSnapshot()) {
    const uint32_t last = h.commit == lock ? h.commit - 1 : h.commit;
    if (prev != last)
      return bad("snapshot of " + std::to_string(h.commit) + " pages ends at page " + std::to_string(prev));
  }

  // The page index, which must describe the frames just read.
  const size_t index_at = pos;
  for (size_t i = 0;; ++i) {
    uint64_t pgno = 0, offset = 0, size = 0;
    if (!GetUvarint(file, &pos, &pgno)) return bad("its page index is cut short or malformed");
    if (pgno == 0) {
      if (i != frames.size())
        return bad("its page index lists " + std::to_string(i) + " pages, its frames " + std::to_string(frames.size()));
      break;
    }
    if (!GetUvarint(file, &pos, &offset) || !GetUvarint(file, &pos, &size))
      return bad("its page index is cut short or malformed");
    if (i >= frames.size() || frames[i].pgno != pgno || frames[i].offset != offset || frames[i].size != size) {
      return bad("its page index entry " + std::to_string(i) + " (page " + std::to_string(pgno) +
                 ") does not match the page frames");
    }
  }
  if (file.size() - pos < 8 + kLtxTrailerSize) return bad("cut short after its page index");
  if (Get64(file.data() + pos) != pos - index_at) return bad("its page index length is wrong");
  pos += 8;
  if (file.size() - pos != kLtxTrailerSize) {
    return bad(std::to_string(file.size() - pos - kLtxTrailerSize) + " bytes after its trailer");
  }
  const uint64_t post_apply = Get64(file.data() + pos);
  const uint64_t stored = Get64(file.data() + pos + 8);
  crc = Crc64Iso(crc, file.substr(index_at, pos + 8 - index_at));
  if ((h.flags & kLtxFlagNoChecksum) && post_apply != 0) return bad("a post-apply checksum where none may be");
  if (!(h.flags & kLtxFlagNoChecksum) && (post_apply & kLtxChecksumFlag) == 0)
    return bad("a malformed post-apply checksum");
  const uint64_t computed = kLtxChecksumFlag | crc;
  if (stored != computed) {
    return bad("file checksum mismatch (the trailer says " + Hex64(stored) + ", the contents give " + Hex64(computed) +
               "): the file is corrupt");
  }
  return header;
}

std::string EncodeLtx(const LtxHeader& header, const std::vector<std::pair<uint32_t, std::string_view>>& pages,
                      LtxPageEncoding encoding) {
  std::string out;
  out.append("LTX1");
  Put32(&out, kLtxFlagNoChecksum);
  Put32(&out, header.page_size);
  Put32(&out, header.commit);
  Put64(&out, header.min_txid);
  Put64(&out, header.max_txid);
  Put64(&out, static_cast<uint64_t>(header.timestamp_ms));
  Put64(&out, 0);  // pre-apply checksum
  Put64(&out, static_cast<uint64_t>(header.wal_offset));
  Put64(&out, static_cast<uint64_t>(header.wal_size));
  Put32(&out, header.wal_salt1);
  Put32(&out, header.wal_salt2);
  Put64(&out, header.node_id);
  out.append(20, '\0');
  uint64_t crc = Crc64Iso(0, out);
  std::vector<IndexEntry> index;
  std::string block(static_cast<size_t>(LZ4_compressBound(static_cast<int>(header.page_size))), '\0');
  for (const auto& [pgno, data] : pages) {
    const size_t at = out.size();
    Put32(&out, pgno);
    if (encoding == LtxPageEncoding::kBlock) {
      Put16(&out, kLtxPageFlagSize);
      const int n = LZ4_compress_default(data.data(), block.data(), static_cast<int>(data.size()),
                                         static_cast<int>(block.size()));
      Put32(&out, static_cast<uint32_t>(n));
      crc = Crc64Iso(crc, std::string_view(out).substr(at));
      out.append(block.data(), static_cast<size_t>(n));
    } else {
      Put16(&out, 0);
      crc = Crc64Iso(crc, std::string_view(out).substr(at));
      out.append(Lz4Compress(data));
    }
    crc = Crc64Iso(crc, data);
    index.push_back({pgno, at, out.size() - at});
  }
  const size_t end_at = out.size();
  out.append(kLtxPageHeaderSize, '\0');
  const size_t index_at = out.size();
  for (const IndexEntry& e : index) {
    PutUvarint(&out, e.pgno);
    PutUvarint(&out, e.offset);
    PutUvarint(&out, e.size);
  }
  PutUvarint(&out, 0);
  Put64(&out, out.size() - index_at);
  Put64(&out, 0);  // post-apply checksum
  crc = Crc64Iso(crc, std::string_view(out).substr(end_at));
  Put64(&out, kLtxChecksumFlag | crc);
  return out;
}

}  // namespace litehouse::backup
