// LTX: the file format of Litestream 0.5's backups (github.com/superfly/ltx, "version 3", as ltx
// v0.5.2 reads and writes it). One LTX file holds the pages that a range of transactions
// [MinTXID, MaxTXID] left changed, each page's last image; a file whose MinTXID is 1 is a snapshot
// and holds every page of the database. The format, all integers big-endian:
//
//   header, 100 bytes
//      0  4  magic "LTX1"
//      4  4  flags: only 0x2 (NoChecksum) may be set; Litestream 0.5 always sets it
//      8  4  page size: a power of two, 512..65536
//     12  4  commit: the database's size in pages after this file (0: an empty database)
//     16  8  MinTXID, not 0
//     24  8  MaxTXID, not 0, >= MinTXID
//     32  8  timestamp: milliseconds since the Unix epoch (a compaction's: its last input's)
//     40  8  pre-apply checksum: 0 under NoChecksum and in snapshots; else bit 63 set
//     48  8  WAL offset: where in the source WAL the file's frames began (0: not from a WAL)
//     56  8  WAL size (not 0 only with an offset)
//     64  4  WAL salt-1 \  (not 0 only with an offset)
//     68  4  WAL salt-2 /
//     72  8  node id
//     80 20  zero
//
//   page frames, in strictly increasing page number, each page <= commit, never the lock page
//   (the page holding byte 0x40000000, PENDING_BYTE: its number is 0x40000000 / page size + 1);
//   a snapshot holds every page 1..commit but the lock page. A frame is
//      4  page number
//      2  flags, and then one of two encodings:
//           0x0001 (ltx >= 0.5.2, Litestream >= 0.5.16): 4 bytes of compressed size, then one LZ4
//                  *block* of that size, which decompresses to exactly the page
//           0x0000 (ltx 0.5.0/0.5.1): one whole LZ4 *frame* whose content is the page; its end is
//                  found by decoding it (no size is written)
//   and the pages end with 6 zero bytes (page number 0, flags 0).
//
//   page index: for each page in increasing number, uvarint(page number), uvarint(offset of its
//   frame from the start of the file), uvarint(bytes of its frame, the 6-byte header included);
//   then uvarint(0); then 8 bytes: the index's length, its terminating 0 counted, these 8 not.
//
//   trailer, 16 bytes: the post-apply checksum (0 under NoChecksum), then the file checksum.
//
// The file checksum is CRC-64/ISO (Go's crc64.ISO: reflected polynomial 0xD800000000000000, all
// ones in and out) with bit 63 then set, over everything before it in the order written, except
// that each page counts as its *uncompressed* bytes: the header, each frame's 6-byte header (and
// 4-byte size when there is one) followed by the page's plain bytes, the terminator, the index,
// its length and the post-apply checksum. A reader checks it only once it has read the whole file:
// whoever used a file's pages before then must throw them away if the checksum fails.
//
// Not checked here: the rolling database checksums (pre/post-apply), which Litestream 0.5 never
// writes (NoChecksum). A file that carries them is read; they are not verified.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace litehouse::backup {

inline constexpr size_t kLtxHeaderSize = 100;
inline constexpr size_t kLtxPageHeaderSize = 6;
inline constexpr size_t kLtxTrailerSize = 16;
inline constexpr uint32_t kLtxFlagNoChecksum = 0x2;
inline constexpr uint16_t kLtxPageFlagSize = 0x1;
inline constexpr uint64_t kLtxChecksumFlag = uint64_t{1} << 63;

struct LtxHeader {
  uint32_t flags = kLtxFlagNoChecksum;
  uint32_t page_size = 4096;
  uint32_t commit = 0;
  uint64_t min_txid = 0;
  uint64_t max_txid = 0;
  int64_t timestamp_ms = 0;
  uint64_t pre_apply_checksum = 0;
  int64_t wal_offset = 0;
  int64_t wal_size = 0;
  uint32_t wal_salt1 = 0;
  uint32_t wal_salt2 = 0;
  uint64_t node_id = 0;

  bool IsSnapshot() const { return min_txid == 1; }
};

// The page that holds SQLite's PENDING_BYTE, never stored in a database file's backups.
uint32_t LtxLockPage(uint32_t page_size);

// CRC-64/ISO continued over `data` from `crc` (0 to begin), as Go's crc64.Update.
uint64_t Crc64Iso(uint64_t crc, std::string_view data);

// The header of an LTX file from its first 100 bytes, checked as ltx's Header.Validate does.
// Errors name `name` (the file's key) and what is wrong.
Result<LtxHeader> ParseLtxHeader(std::string_view bytes, const std::string& name);

// Decodes one whole LTX file (`file`, named `name` in errors) and checks it: the header, each page
// frame (order, bounds, the lock page, a snapshot's completeness, each page decompressing to
// exactly the page size), the page index against the frames, the trailer and the file checksum.
// `on_page` is called for each page in order with its plain bytes (valid during the call only);
// an error it returns stops the decoding. Since the checksum is known only at the end, the pages
// given are to be trusted only if the result is ok.
using LtxPageFn = std::function<Status(uint32_t pgno, std::string_view page)>;
Result<LtxHeader> DecodeLtx(std::string_view file, const std::string& name, const LtxPageFn& on_page);

// The file name of an LTX file: "<MinTXID %016x>-<MaxTXID %016x>.ltx". Parse: false if `name` is
// not one.
std::string LtxFileName(uint64_t min_txid, uint64_t max_txid);
bool ParseLtxFileName(std::string_view name, uint64_t* min_txid, uint64_t* max_txid);

// Writes an LTX file as Litestream 0.5 does: NoChecksum (whatever header.flags says), the rolling
// checksums 0. Pages must be given as the format wants them (increasing, page_size bytes each).
// Litehouse backs up in Litestream 0.3's layout; this writer makes test files and fixtures, in
// either page encoding.
enum class LtxPageEncoding { kBlock, kFrame };
std::string EncodeLtx(const LtxHeader& header, const std::vector<std::pair<uint32_t, std::string_view>>& pages,
                      LtxPageEncoding encoding = LtxPageEncoding::kBlock);

}  // namespace litehouse::backup
