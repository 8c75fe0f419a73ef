// Fuzz target: what backup/ltx reads from a backup store (`litehouse restore` of Litestream 0.5's
// LTX files): one whole file, decoded and checked by DecodeLtx (header, page frames in both
// encodings, page index, trailer, CRC-64 file checksum).
//
// Input: the file's bytes.
// Oracles: every page handed out is a page (page size bytes, increasing numbers within the commit,
// never the lock page); a refusal names the file; a file accepted, written again by EncodeLtx in
// each page encoding, decodes to the same header and pages.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backup/ltx.h"
#include "fuzz_check.h"

namespace {

using namespace litehouse::backup;  // NOLINT

using Pages = std::vector<std::pair<uint32_t, std::string>>;

litehouse::Result<LtxHeader> Decode(std::string_view file, Pages* pages) {
  return DecodeLtx(file, "fuzz.ltx", [pages](uint32_t pgno, std::string_view page) {
    pages->emplace_back(pgno, std::string(page));
    return litehouse::Status::OK();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  Pages pages;
  auto header = Decode(file, &pages);
  if (!header.ok()) {
    FUZZ_CHECK(header.status().message().find("fuzz.ltx") != std::string::npos);
    return 0;
  }
  const LtxHeader& h = *header;
  uint32_t prev = 0;
  for (const auto& [pgno, page] : pages) {
    FUZZ_CHECK(page.size() == h.page_size);
    FUZZ_CHECK(pgno > prev && pgno <= h.commit && pgno != LtxLockPage(h.page_size));
    prev = pgno;
  }
  std::vector<std::pair<uint32_t, std::string_view>> views(pages.begin(), pages.end());
  for (LtxPageEncoding encoding : {LtxPageEncoding::kBlock, LtxPageEncoding::kFrame}) {
    Pages again;
    auto h2 = Decode(EncodeLtx(h, views, encoding), &again);
    FUZZ_CHECK(h2.ok());
    FUZZ_CHECK(h2->page_size == h.page_size && h2->commit == h.commit && h2->min_txid == h.min_txid && h2->max_txid == h.max_txid &&
               h2->timestamp_ms == h.timestamp_ms && h2->wal_offset == h.wal_offset && h2->wal_size == h.wal_size &&
               h2->wal_salt1 == h.wal_salt1 && h2->wal_salt2 == h.wal_salt2 && h2->node_id == h.node_id);
    FUZZ_CHECK(again == pages);
  }
  return 0;
}
