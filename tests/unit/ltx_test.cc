// backup/ltx and backup/ltx_restore: Litestream 0.5's LTX files decoded and checked (a real one,
// made by Litestream 0.5.17's VFS, and ours in both page encodings), restore plans across levels,
// and restores that refuse gaps and corrupt files without leaving anything behind.
#include "backup/ltx.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "backup/ltx_restore.h"
#include "backup/lz4.h"
#include "backup/replica_client.h"
#include "backup/restore.h"
#include "common/file_io.h"
#include "test_dir.h"

namespace litehouse::backup {
namespace {

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// An L0 file as Litestream 0.5.17's VFS wrote it (write mode, a file replica): a database of two
// 4096-byte pages, `CREATE TABLE t(a TEXT); INSERT INTO t VALUES('hello from litestream 0.5.17')`.
const std::string kRealLtx = FromHex(
    "4c54583100000002000010000000000200000000000000010000000000000001000001a22d02465f00000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000001000100000081f30d53514c69746520666f726d617420330010000101004020200000000204000402005301000000"
    "040c000410000f02000dff0002002e63010d000000010fda000fda2f000d0f0200ffffffffffffffffffffffffffffff48f0"
    "17240106170f0f01397461626c65747402435245415445205441424c452074286120544558542900000002000100000041cf"
    "0d000000010fe0000fe000000200ffffffffffffffffffffffffffffffd0f0111e01024568656c6c6f2066726f6d206c6974"
    "6573747265616d20302e352e313700000000000001648b0102ef014b0000000000000000090000000000000000d1327216ce"
    "5dbf2e");

std::map<uint32_t, std::string> DecodeAll(std::string_view file, Status* status, LtxHeader* header = nullptr) {
  std::map<uint32_t, std::string> pages;
  auto h = DecodeLtx(file, "ltx/0/x.ltx", [&](uint32_t pgno, std::string_view page) {
    pages[pgno] = std::string(page);
    return Status::OK();
  });
  *status = h.status();
  if (h.ok() && header) *header = *h;
  return pages;
}

std::string Page(uint32_t size, char fill) { return std::string(size, fill); }

LtxHeader Header(uint64_t min_txid, uint64_t max_txid, uint32_t commit, uint32_t page_size = 512, int64_t ts = 1000) {
  LtxHeader h;
  h.page_size = page_size;
  h.commit = commit;
  h.min_txid = min_txid;
  h.max_txid = max_txid;
  h.timestamp_ms = ts;
  return h;
}

// An LTX file whose pages are `fill` bytes of the given characters (page number -> fill).
std::string Ltx(const LtxHeader& h, const std::map<uint32_t, char>& fills,
                LtxPageEncoding enc = LtxPageEncoding::kBlock) {
  std::vector<std::string> storage;
  storage.reserve(fills.size());
  std::vector<std::pair<uint32_t, std::string_view>> pages;
  for (const auto& [pgno, c] : fills) {
    storage.push_back(Page(h.page_size, c));
    pages.emplace_back(pgno, storage.back());
  }
  return EncodeLtx(h, pages, enc);
}

TEST(Ltx, Crc64IsoMatchesTheCatalogueCheckValue) {
  EXPECT_EQ(Crc64Iso(0, "123456789"), 0xb90956c775a41001ULL);  // CRC-64/GO-ISO's check value
  EXPECT_EQ(Crc64Iso(Crc64Iso(0, "1234"), "56789"), 0xb90956c775a41001ULL) << "continued";
}

TEST(Ltx, DecodesARealFileFromLitestreamsVfs) {
  Status s;
  LtxHeader h;
  auto pages = DecodeAll(kRealLtx, &s, &h);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(h.flags, kLtxFlagNoChecksum);
  EXPECT_EQ(h.page_size, 4096u);
  EXPECT_EQ(h.commit, 2u);
  EXPECT_EQ(h.min_txid, 1u);
  EXPECT_EQ(h.max_txid, 1u);
  EXPECT_TRUE(h.IsSnapshot());
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(pages[1].substr(0, 16), std::string("SQLite format 3\0", 16));
  EXPECT_NE(pages[2].find("hello from litestream 0.5.17"), std::string::npos);
}

TEST(Ltx, BothPageEncodingsRoundTrip) {
  for (LtxPageEncoding enc : {LtxPageEncoding::kBlock, LtxPageEncoding::kFrame}) {
    const std::string file = Ltx(Header(2, 3, 9), {{2, 'b'}, {5, 'e'}, {9, 'i'}}, enc);
    // The frame encoding's flags are 0, the block encoding's 1 (the first page's header at 100).
    EXPECT_EQ(file[105], enc == LtxPageEncoding::kBlock ? 1 : 0);
    Status s;
    LtxHeader h;
    auto pages = DecodeAll(file, &s, &h);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(h.min_txid, 2u);
    EXPECT_EQ(h.max_txid, 3u);
    ASSERT_EQ(pages.size(), 3u);
    EXPECT_EQ(pages[2], Page(512, 'b'));
    EXPECT_EQ(pages[5], Page(512, 'e'));
    EXPECT_EQ(pages[9], Page(512, 'i'));
  }
}

TEST(Ltx, AnyFlippedByteIsRefusedOrChangesNothing) {
  // Every byte of a real file flipped in turn: refused (checksum, structure or LZ4), naming the
  // file, or, where the flip is in an LZ4 block and leaves its output the same (a match that points
  // at equal bytes), decoded to the very same pages: the checksum covers the plain pages.
  Status s;
  const auto original = DecodeAll(kRealLtx, &s);
  ASSERT_TRUE(s.ok());
  int refused = 0;
  for (size_t i = 0; i < kRealLtx.size(); ++i) {
    std::string bad = kRealLtx;
    bad[i] ^= 0x01;
    const auto pages = DecodeAll(bad, &s);
    if (s.ok()) {
      EXPECT_EQ(pages, original) << "byte " << i << " changed a page, yet was accepted";
      EXPECT_TRUE(i > 100 && i < 0x140) << "byte " << i << " is outside the page frames";
      continue;
    }
    ++refused;
    EXPECT_NE(s.message().find("ltx/0/x.ltx"), std::string::npos) << s.message();
  }
  EXPECT_GT(refused, static_cast<int>(kRealLtx.size()) - 20);
  // The timestamp is covered by the checksum only.
  std::string bad = kRealLtx;
  bad[39] ^= 0x10;
  DecodeAll(bad, &s);
  EXPECT_NE(s.message().find("file checksum mismatch"), std::string::npos) << s.message();
}

TEST(Ltx, MalformedFilesAreRefusedSayingWhy) {
  auto refused = [](const std::string& file, const std::string& why) {
    Status s;
    DecodeAll(file, &s);
    EXPECT_FALSE(s.ok()) << why;
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  };
  std::string file = Ltx(Header(2, 2, 3), {{1, 'a'}});
  refused(file.substr(0, 50), "shorter than its 100-byte header");
  refused(file.substr(0, file.size() - 1), "cut short");
  refused(file + "x", "bytes after its trailer");
  refused("LTX2" + file.substr(4), "no LTX1 magic");
  refused(Ltx(Header(3, 2, 3), {{1, 'a'}}), "above MaxTXID");
  refused(Ltx(Header(2, 2, 3, 1000), {{1, 'a'}}), "page size 1000");
  const std::string a = Page(512, 'a');
  refused(EncodeLtx(Header(2, 2, 3), {{2, a}, {1, a}}), "pages out of order");
  refused(EncodeLtx(Header(2, 2, 3), {{2, a}, {2, a}}), "pages out of order");
  refused(Ltx(Header(2, 2, 3), {{4, 'a'}}), "past the database's 3 pages");
  refused(Ltx(Header(1, 2, 3), {{1, 'a'}, {3, 'c'}}), "snapshot misses page 2");
  refused(Ltx(Header(1, 2, 3), {{1, 'a'}, {2, 'b'}}), "ends at page 2");
  std::string flags = file;
  flags[7] = 0x03;
  refused(flags, "unknown header flags 0x00000003");
  // The lock page is never stored.
  const uint32_t lock = LtxLockPage(65536);
  EXPECT_EQ(lock, 16385u);
  EXPECT_EQ(LtxLockPage(4096), 262145u);
  refused(Ltx(Header(2, 2, lock + 1, 65536), {{lock, 'l'}}), "is the lock page");
}

TEST(Ltx, FileNames) {
  EXPECT_EQ(LtxFileName(1, 0x2a), "0000000000000001-000000000000002a.ltx");
  uint64_t a = 0, b = 0;
  EXPECT_TRUE(ParseLtxFileName("0000000000000001-000000000000002a.ltx", &a, &b));
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 0x2au);
  EXPECT_FALSE(ParseLtxFileName("0000000000000001-000000000000002A.ltx", &a, &b));
  EXPECT_FALSE(ParseLtxFileName("0000000000000001-000000000000002a.ltx.tmp", &a, &b));
  EXPECT_FALSE(ParseLtxFileName("1-2.ltx", &a, &b));
}

// --- plans ---

LtxFileInfo Info(int level, uint64_t min, uint64_t max) {
  LtxFileInfo f;
  f.level = level;
  f.min_txid = min;
  f.max_txid = max;
  f.key = "ltx/" + std::to_string(level) + "/" + LtxFileName(min, max);
  return f;
}

std::vector<std::string> Keys(const std::vector<LtxFileInfo>& plan) {
  std::vector<std::string> out;
  for (const auto& f : plan)
    out.push_back(std::to_string(f.level) + ":" + std::to_string(f.min_txid) + "-" + std::to_string(f.max_txid));
  return out;
}

Result<WallClock::time_point> NoTimes(const LtxFileInfo&) { return Status::Internal("no time asked for"); }

TEST(LtxPlan, TheLatestSnapshotThenTheFurthestReachingFilesAcrossLevels) {
  const std::vector<LtxFileInfo> files = {Info(9, 1, 10),  Info(9, 1, 20),  Info(1, 11, 15),
                                          Info(1, 16, 30), Info(0, 21, 21), Info(0, 22, 22),
                                          Info(0, 31, 31), Info(0, 32, 32), Info(2, 1, 30)};
  auto plan = PlanLtxRestore(files, {}, NoTimes, "test");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(Keys(*plan), (std::vector<std::string>{"9:1-20", "2:1-30", "0:31-31", "0:32-32"}));

  auto to21 = PlanLtxRestore(files, {21, std::nullopt}, NoTimes, "test");
  ASSERT_TRUE(to21.ok()) << to21.status().ToString();
  EXPECT_EQ(Keys(*to21), (std::vector<std::string>{"9:1-20", "0:21-21"}));

  auto to12 = PlanLtxRestore(files, {12, std::nullopt}, NoTimes, "test");
  EXPECT_TRUE(to12.status().IsNotFound()) << "no file ends at 12: " << to12.status().ToString();
  auto past = PlanLtxRestore(files, {99, std::nullopt}, NoTimes, "test");
  EXPECT_TRUE(past.status().IsNotFound());
  EXPECT_NE(past.status().message().find("its files end at TXID 0000000000000020"), std::string::npos)
      << past.status().message();
}

TEST(LtxPlan, AGapIsAnErrorNamingTheFileAfterIt) {
  const std::vector<LtxFileInfo> files = {Info(0, 1, 1), Info(0, 2, 2), Info(0, 4, 4), Info(0, 5, 5)};
  for (LtxTarget target : {LtxTarget{}, LtxTarget{5, std::nullopt}}) {
    auto plan = PlanLtxRestore(files, target, NoTimes, "file:///r");
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), StatusCode::kCorruption);
    EXPECT_NE(plan.status().message().find("non-contiguous"), std::string::npos) << plan.status().message();
    EXPECT_NE(plan.status().message().find("ltx/0/0000000000000004-0000000000000004.ltx"), std::string::npos)
        << plan.status().message();
    EXPECT_NE(plan.status().message().find("0000000000000003 to 0000000000000003 are missing"), std::string::npos)
        << plan.status().message();
  }
  // Up to before the gap is whole.
  auto before = PlanLtxRestore(files, {2, std::nullopt}, NoTimes, "file:///r");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(Keys(*before), (std::vector<std::string>{"0:1-1", "0:2-2"}));
  // Nothing begins at TXID 1.
  auto headless = PlanLtxRestore({Info(0, 3, 3)}, {}, NoTimes, "file:///r");
  EXPECT_NE(headless.status().message().find("no snapshot or file begins at TXID 1"), std::string::npos)
      << headless.status().message();
}

TEST(LtxPlan, ATimestampReadsTheHeadersItNeedsAndAfterTheLastWriteMeansTheLatest) {
  const std::vector<LtxFileInfo> files = {Info(9, 1, 2), Info(0, 1, 1), Info(0, 2, 2), Info(0, 3, 3), Info(0, 4, 4)};
  std::map<uint64_t, int> asked;
  auto time_of = [&asked](const LtxFileInfo& f) -> Result<WallClock::time_point> {
    ++asked[f.max_txid];
    return WallClock::time_point(std::chrono::seconds(100 * f.max_txid));  // TXID n at 100n s
  };
  auto at = [](int secs) { return WallClock::time_point(std::chrono::seconds(secs)); };
  auto plan = PlanLtxRestore(files, {std::nullopt, at(350)}, time_of, "t");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(Keys(*plan), (std::vector<std::string>{"9:1-2", "0:3-3"}));
  plan = PlanLtxRestore(files, {std::nullopt, at(300)}, time_of, "t");
  EXPECT_EQ(Keys(*plan), (std::vector<std::string>{"9:1-2", "0:3-3"})) << "a write at the very time is in the state";
  plan = PlanLtxRestore(files, {std::nullopt, at(150)}, time_of, "t");
  EXPECT_EQ(Keys(*plan), (std::vector<std::string>{"0:1-1"})) << "the snapshot is too late: level 0 from the start";
  plan = PlanLtxRestore(files, {std::nullopt, at(99999)}, time_of, "t");
  EXPECT_EQ(Keys(*plan), (std::vector<std::string>{"9:1-2", "0:3-3", "0:4-4"}));
  EXPECT_TRUE(PlanLtxRestore(files, {std::nullopt, at(50)}, time_of, "t").status().IsNotFound());
}

// --- restores ---

class LtxRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = OpenReplicaClient("file://" + dir_.file("replica"));
    ASSERT_TRUE(client.ok());
    client_ = std::move(client).value();
  }
  void Put(const std::string& key, const std::string& bytes) {
    ASSERT_TRUE(client_->Put(key, bytes, WallClock::now()).ok());
  }
  void Put(int level, const LtxHeader& h, const std::map<uint32_t, char>& fills,
           LtxPageEncoding enc = LtxPageEncoding::kBlock) {
    Put("ltx/" + std::to_string(level) + "/" + LtxFileName(h.min_txid, h.max_txid), Ltx(h, fills, enc));
  }
  Result<LtxRestoreResult> Restore(LtxTarget target = {}) {
    auto files = ListLtxFiles(*client_);
    if (!files.ok()) return files.status();
    LtxRestoreOptions o;
    o.output = out();
    o.target = target;
    return RestoreLtx(*client_, *files, o);
  }
  std::string out() const { return dir_.file("out.db"); }
  // A real database of 512-byte pages whose table t holds one row, `value`.
  std::string Database(const std::string& value) {
    const std::string path = dir_.file("source-" + value + ".db");
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const std::string sql = "PRAGMA page_size=512; CREATE TABLE t(v); INSERT INTO t VALUES('" + value + "')";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    return ReadWholeFile(path).value();
  }
  // Every page of `db` in one LTX file [min, max].
  static std::string LtxOf(const std::string& db, uint64_t min, uint64_t max, int64_t ts_ms = 1000) {
    std::vector<std::pair<uint32_t, std::string_view>> pages;
    for (size_t at = 0; at < db.size(); at += 512)
      pages.emplace_back(at / 512 + 1, std::string_view(db).substr(at, 512));
    return EncodeLtx(Header(min, max, static_cast<uint32_t>(db.size() / 512), 512, ts_ms), pages);
  }
  // The row of the restored database.
  std::string Value() {
    sqlite3* db = nullptr;
    std::string v;
    if (sqlite3_open_v2(out().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_exec(
          db, "SELECT v FROM t",
          [](void* p, int, char** row, char**) {
            *static_cast<std::string*>(p) = row[0];
            return 0;
          },
          &v, nullptr);
    }
    sqlite3_close(db);
    return v;
  }
  std::string Read() {
    auto r = ReadWholeFile(out());
    return r.ok() ? *r : "";
  }

  testing::TestDir dir_;
  std::unique_ptr<ReplicaClient> client_;
};

TEST_F(LtxRestoreTest, NewestPageWinsAndTheDatabaseIsCutToTheLastCommit) {
  Put(9, Header(1, 1, 5), {{1, 'a'}, {2, 'b'}, {3, 'c'}, {4, 'd'}, {5, 'e'}},
      LtxPageEncoding::kFrame);  // ltx 0.5.0's encoding
  Put(0, Header(2, 2, 6), {{2, 'B'}, {6, 'f'}});
  Put(0, Header(3, 3, 3), {{1, 'A'}});  // the database shrank to 3 pages
  auto r = Restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->txid, 3u);
  EXPECT_EQ(r->files, 3u);
  EXPECT_EQ(r->pages, 3u);
  EXPECT_EQ(Read(), Page(512, 'A') + Page(512, 'B') + Page(512, 'c'));
  EXPECT_FALSE(std::filesystem::exists(out() + ".tmp"));

  std::filesystem::remove(out());
  r = Restore({2, std::nullopt});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Read(),
            Page(512, 'a') + Page(512, 'B') + Page(512, 'c') + Page(512, 'd') + Page(512, 'e') + Page(512, 'f'));
}

TEST_F(LtxRestoreTest, TheLockPageIsZeroAndNeverAsked) {
  // 64 KiB pages: the lock page is 16385, the database 16386 pages (1 GiB; the output is sparse,
  // its zero pages holes).
  const uint32_t lock = LtxLockPage(65536);
  const std::string zero(65536, '\0'), one(65536, '1'), last(65536, 'z');
  std::vector<std::pair<uint32_t, std::string_view>> pages;
  for (uint32_t p = 1; p <= lock + 1; ++p)
    if (p != lock) pages.emplace_back(p, p == 1 ? one : p == lock + 1 ? last : zero);
  Put("ltx/9/" + LtxFileName(1, 1), EncodeLtx(Header(1, 1, lock + 1, 65536), pages));
  auto r = Restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(std::filesystem::file_size(out()), uint64_t{lock + 1} * 65536);
  std::ifstream in(out(), std::ios::binary);
  std::string got(65536, 'x');
  in.seekg(static_cast<std::streamoff>(lock - 1) * 65536);
  in.read(got.data(), 65536);
  EXPECT_EQ(got, zero) << "the lock page";
  in.read(got.data(), 65536);
  EXPECT_EQ(got, last);
  in.seekg(0);
  in.read(got.data(), 65536);
  EXPECT_EQ(got, one);
}

TEST_F(LtxRestoreTest, AGapOrACorruptFileFailsNamingItAndLeavesNothing) {
  Put(0, Header(1, 1, 2), {{1, 'a'}, {2, 'b'}});
  Put(0, Header(2, 2, 2), {{2, 'c'}});
  Put(0, Header(3, 3, 2), {{1, 'd'}});
  // A corrupt middle file: one byte of its page's LZ4 block flipped, or of its timestamp.
  const std::string key = "ltx/0/" + LtxFileName(2, 2);
  const std::string good = *client_->Get(key);
  for (size_t at : {size_t{39}, good.size() - 40}) {
    std::string bad = good;
    bad[at] ^= 0x20;
    Put(key, bad);
    auto r = Restore();
    ASSERT_FALSE(r.ok()) << at;
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
    EXPECT_FALSE(std::filesystem::exists(out()));
    EXPECT_FALSE(std::filesystem::exists(out() + ".tmp"));
  }
  // A file named for other TXIDs than its header's.
  Put(key, *client_->Get("ltx/0/" + LtxFileName(3, 3)));
  auto r = Restore();
  EXPECT_NE(r.status().message().find("its header says TXIDs"), std::string::npos) << r.status().message();
  // The middle file missing.
  ASSERT_TRUE(client_->Delete(key).ok());
  r = Restore();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("non-contiguous"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("ltx/0/" + LtxFileName(3, 3)), std::string::npos) << r.status().message();
  EXPECT_FALSE(std::filesystem::exists(out()));
  EXPECT_FALSE(std::filesystem::exists(out() + ".tmp"));
}

TEST_F(LtxRestoreTest, AVerifierThatRefusesTheFileFailsTheRestoreAndLeavesNothing) {
  Put(0, Header(1, 1, 1), {{1, 'a'}});
  auto files = ListLtxFiles(*client_);
  ASSERT_TRUE(files.ok());
  LtxRestoreOptions o;
  o.output = out();
  std::string seen;
  o.verify = [&seen](const std::string& path) {
    seen = ReadWholeFile(path).value();
    return Status::Corruption("no table libSQL's RANDOM ROWID");
  };
  auto r = RestoreLtx(*client_, *files, o);
  EXPECT_NE(r.status().message().find("RANDOM ROWID"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(seen, Page(512, 'a')) << "the whole file is verified";
  EXPECT_FALSE(std::filesystem::exists(out()));
  EXPECT_FALSE(std::filesystem::exists(out() + ".tmp"));
}

TEST_F(LtxRestoreTest, S3sLayoutIsReadTooButNotMixedWithTheFileLayout) {
  Put("0009/" + LtxFileName(1, 1), Ltx(Header(1, 1, 1), {{1, 'a'}}));
  Put("0000/" + LtxFileName(2, 2), Ltx(Header(2, 2, 1), {{1, 'b'}}));
  Put("generations/other.txt", "not an LTX file");
  auto files = ListLtxFiles(*client_);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].level, 0);
  EXPECT_EQ((*files)[1].level, 9);
  auto r = Restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Read(), Page(512, 'b'));
  Put("ltx/0/" + LtxFileName(3, 3), Ltx(Header(3, 3, 1), {{1, 'c'}}));
  EXPECT_NE(ListLtxFiles(*client_).status().message().find("both"), std::string::npos);
}

TEST_F(LtxRestoreTest, ARestoredRealDatabasePassesIntegrityCheck) {
  Put("ltx/0/" + LtxFileName(1, 1), kRealLtx);
  auto r = Restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(out().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::string result;
  auto collect = [](void* p, int, char** v, char**) {
    *static_cast<std::string*>(p) += std::string(v[0] ? v[0] : "NULL") + ";";
    return 0;
  };
  EXPECT_EQ(sqlite3_exec(db, "PRAGMA integrity_check; SELECT a FROM t", collect, &result, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(result, "ok;hello from litestream 0.5.17;");
}

TEST_F(LtxRestoreTest, RestoreReadsTheLayoutWrittenLastAsLitestream05Does) {
  auto at = [](int secs) { return WallClock::time_point(std::chrono::seconds(secs)); };
  auto restore = [this](RestoreOptions o) -> std::string {
    std::filesystem::remove(out());
    o.output = out();
    auto r = backup::Restore(*client_, o);
    if (!r.ok()) return r.status().ToString();
    return std::string(r->ltx ? "ltx:" : "v3:") + Value();
  };
  const std::string gen = "generations/0123456789abcdef/snapshots/";
  ASSERT_TRUE(client_->Put(gen + "00000000.snapshot.lz4", Lz4Compress(Database("v")), at(1000)).ok());
  ASSERT_TRUE(client_->Put("ltx/0/" + LtxFileName(1, 1), LtxOf(Database("l"), 1, 1, 2000 * 1000), at(2000)).ok());
  EXPECT_EQ(restore({}), "ltx:l") << "LTX written last";
  RestoreOptions o;
  o.timestamp = at(1500);
  EXPECT_EQ(restore(o), "v3:v") << "the LTX snapshot is after the time";
  o.timestamp = at(2500);
  EXPECT_EQ(restore(o), "ltx:l");
  ASSERT_TRUE(client_->Put(gen + "00000001.snapshot.lz4", Lz4Compress(Database("w")), at(3000)).ok());
  EXPECT_EQ(restore({}), "v3:w") << "0.3 written last";
  o = {};
  o.txid = 1;
  EXPECT_EQ(restore(o), "ltx:l") << "-txid reads LTX";
  o.timestamp = at(2500);
  EXPECT_NE(restore(o).find("-txid restores from LTX files"), std::string::npos);
  o = {};
  o.generation = "0123456789abcdef";
  o.index = 0;
  EXPECT_EQ(restore(o), "v3:v");
  // Nothing is left beside the database (SQLite's read of the schema leaves no -wal or -shm).
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.file("")), {}), 5) << "replica, out.db, 3 sources";
}

// A store whose first Get of one key finds nothing, as when Litestream's compaction deleted a file
// between the listing and the fetch.
class VanishingOnce : public ReplicaClient {
 public:
  VanishingOnce(ReplicaClient& inner, std::string key) : inner_(inner), key_(std::move(key)) {}
  Status Put(const std::string& k, std::string_view d, WallClock::time_point m) override { return inner_.Put(k, d, m); }
  Result<std::string> Get(const std::string& k) override {
    if (k == key_ && !vanished_) {
      vanished_ = true;
      return Status::NotFound(k);
    }
    return inner_.Get(k);
  }
  Result<std::vector<ObjectInfo>> List(const std::string& p) override {
    ++lists_;
    return inner_.List(p);
  }
  Status Delete(const std::string& k) override { return inner_.Delete(k); }
  std::string url() const override { return inner_.url(); }
  int lists_ = 0;

 private:
  ReplicaClient& inner_;
  std::string key_;
  bool vanished_ = false;
};

TEST_F(LtxRestoreTest, AFileThatVanishesBetweenListingAndFetchIsListedAgainOnce) {
  Put("ltx/0/" + LtxFileName(1, 1), LtxOf(Database("a"), 1, 1));
  Put("ltx/0/" + LtxFileName(2, 2), LtxOf(Database("b"), 2, 2));
  VanishingOnce store(*client_, "ltx/0/" + LtxFileName(2, 2));
  RestoreOptions o;
  o.output = out();
  auto r = backup::Restore(store, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->txid, 2u);
  EXPECT_EQ(Value(), "b");
  EXPECT_EQ(store.lists_, 2 * 11 + 2) << "LTX listed twice (ltx, 0000..0009), 0.3's generations twice";
}

}  // namespace
}  // namespace litehouse::backup
