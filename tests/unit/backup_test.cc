// backup/: LZ4 frames, and the backup's segments: in order, contiguous, whole transactions, kept
// pending while the store fails and shipped once it works again; restored to the database.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "backup/backup.h"
#include "backup/config.h"
#include "backup/lz4.h"
#include "backup/restore.h"
#include "backup/s3_sign.h"
#include "engine_testing.h"
#include "replication/wal_capture.h"
#include "test_dir.h"

namespace litehouse::backup {
namespace {

TEST(Lz4, RoundTripsAndRefusesWhatIsNotAFrame) {
  for (const std::string& data : {std::string(), std::string("hello"), std::string(1 << 20, 'z')}) {
    auto back = Lz4Decompress(Lz4Compress(data));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, data);
  }
  std::string frame = Lz4Compress(std::string(100000, 'q'));
  EXPECT_EQ(static_cast<unsigned char>(frame[0]), 0x04) << "the LZ4 frame magic";
  EXPECT_FALSE(Lz4Decompress(frame.substr(0, frame.size() / 2)).ok()) << "cut short";
  EXPECT_FALSE(Lz4Decompress("not lz4 at all").ok());
  EXPECT_FALSE(Lz4Decompress(frame + "x").ok()) << "bytes after the frame";
}

// A store in memory that can be told to fail.
class MemoryReplica : public ReplicaClient {
 public:
  Status Put(const std::string& key, std::string_view data, WallClock::time_point modified) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (failing_) return Status::IoError("the store is down");
    objects_[key] = {std::string(data), modified};
    return Status::OK();
  }
  Result<std::string> Get(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return Status::NotFound(key);
    return it->second.first;
  }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (failing_) return Status::IoError("the store is down");
    std::vector<ObjectInfo> out;
    for (const auto& [k, v] : objects_)
      if (k.rfind(prefix, 0) == 0) out.push_back({k, v.first.size(), v.second});
    return out;
  }
  Status Delete(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    objects_.erase(key);
    return Status::OK();
  }
  std::string url() const override { return "memory://"; }
  void set_failing(bool f) {
    std::lock_guard<std::mutex> lock(mu_);
    failing_ = f;
  }
  std::vector<std::string> Keys(const std::string& part) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [k, v] : objects_)
      if (k.find(part) != std::string::npos) out.push_back(k);
    return out;
  }

 private:
  std::mutex mu_;
  bool failing_ = false;
  std::map<std::string, std::pair<std::string, WallClock::time_point>> objects_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A database whose WAL capture feeds one Backup to a MemoryReplica, wired as `serve` wires them. The
// backup ships only when the test calls Sync (interval 0).
struct BackupRig {
  // `tune` adjusts the backup's options (db is set already); `seed` fills the store
  // before the backup starts.
  void Open(const std::function<void(BackupOptions&)>& tune = nullptr,
            const std::function<void(MemoryReplica&)>& seed = nullptr) {
    capture = std::make_unique<replication::WalCapture>(dir.file("data"));
    engine::DatabaseOptions opts;
    opts.path = dir.file("data");
    opts.commit_observer = capture.get();
    auto opened = engine::Database::Open(opts);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    db = std::move(opened).value();
    ASSERT_TRUE(db->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
    auto owned = std::make_unique<MemoryReplica>();
    store = owned.get();
    BackupOptions bopts;
    bopts.db = db.get();
    bopts.interval = std::chrono::milliseconds(0);
    if (tune) tune(bopts);
    if (seed) seed(*store);
    backup = std::make_unique<Backup>(std::move(owned), bopts);
    ASSERT_TRUE(backup->Start().ok());
    capture->AddSink(backup.get());
    ASSERT_TRUE(capture->Start().ok());
  }
  Status Exec(const char* sql) {
    auto w = testing::TakeWriter(*db);
    return w->Exec(sql);
  }
  testing::TestDir dir;
  std::unique_ptr<replication::WalCapture> capture;
  std::unique_ptr<engine::Database> db;
  MemoryReplica* store = nullptr;
  std::unique_ptr<Backup> backup;  // destroyed (stopped) before the database
};

TEST(Backup, SegmentsAreShippedInOrderKeptWhileTheStoreFailsAndRestoreTheDatabase) {
  BackupRig rig;
  ASSERT_NO_FATAL_FAILURE(rig.Open());
  auto& dir = rig.dir;
  auto* db = &rig.db;
  MemoryReplica* store = rig.store;
  Backup& backup = *rig.backup;
  auto exec = [&](const char* sql) { ASSERT_TRUE(rig.Exec(sql).ok()) << sql; };
  exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v BLOB)");
  exec("INSERT INTO t(v) VALUES (randomblob(5000))");
  ASSERT_TRUE(backup.Sync().ok());
  EXPECT_EQ(store->Keys("/wal/").size(), 1u);

  // The store fails: commits stay pending, nothing is lost.
  store->set_failing(true);
  exec("INSERT INTO t(v) VALUES (randomblob(5000))");
  EXPECT_FALSE(backup.Sync().ok());
  exec("INSERT INTO t(v) VALUES (randomblob(5000))");
  EXPECT_EQ(backup.pending(), 2u);
  EXPECT_FALSE(backup.status().ok());
  store->set_failing(false);
  ASSERT_TRUE(backup.Sync().ok());
  EXPECT_EQ(backup.pending(), 0u);
  EXPECT_TRUE(backup.status().ok());

  // A checkpoint, then a write: the WAL restarts, and a new index begins at offset 0.
  ASSERT_TRUE((*db)->Checkpoint(SQLITE_CHECKPOINT_PASSIVE).ok());
  exec("INSERT INTO t(v) VALUES (randomblob(100))");
  ASSERT_TRUE(backup.Stop().ok());
  auto segments = store->Keys("/wal/");
  ASSERT_EQ(segments.size(), 4u);
  EXPECT_NE(segments.back().find("/wal/00000001_00000000.wal.lz4"), std::string::npos) << segments.back();
  // Within index 0, each segment begins where the one before ended, the first with the WAL header.
  uint64_t end = 0;
  for (size_t i = 0; i < 3; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "00000000_%08llx", static_cast<unsigned long long>(end));
    EXPECT_NE(segments[i].find(name), std::string::npos) << segments[i] << " should be " << name;
    auto bytes = Lz4Decompress(*store->Get(segments[i]));
    ASSERT_TRUE(bytes.ok());
    if (end == 0) {
      EXPECT_EQ(static_cast<unsigned char>((*bytes)[0]), 0x37) << "the WAL magic";
    }
    end += bytes->size();
  }

  // Restored, it is the database.
  auto restored = Restore(*store, RestoreOptions{dir.file("restored"), std::nullopt, ""});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->segments, 4u);
  ASSERT_TRUE((*db)->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
  EXPECT_EQ(ReadFile(dir.file("restored")), ReadFile(dir.file("data")));

  // A segment whose frames no longer check out (a valid LZ4 frame around a corrupt WAL) is refused,
  // never applied in part.
  auto plain = Lz4Decompress(*store->Get(segments[1]));
  ASSERT_TRUE(plain.ok());
  (*plain)[plain->size() - 100] ^= 0x5a;  // inside the last frame's page: its checksum breaks
  ASSERT_TRUE(store->Put(segments[1], Lz4Compress(*plain), WallClock::now()).ok());
  auto corrupt = Restore(*store, RestoreOptions{dir.file("corrupt"), std::nullopt, ""});
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.status().message().find("are valid (a segment is corrupt)"), std::string::npos) << corrupt.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("corrupt")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("corrupt.tmp")));
}

int64_t CountRows(const std::string& path) {
  sqlite3* raw = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(raw, "SELECT count(*) FROM t", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(raw);
  return n;
}

// Later snapshots begin a WAL index; restores at every point in time and at the latest state give
// the database as it was; retention deletes what is older than it, keeping what restores now.
TEST(Backup, LaterSnapshotsBeginAWalIndexAndRetentionKeepsWhatRestores) {
  const WallClock::time_point base = WallClock::now() - std::chrono::hours(100);
  WallClock::time_point now = base;  // the backup's clock, moved by the test
  BackupRig rig;
  // A generation of an earlier start, its last snapshot past retention, and a recent one.
  auto earlier_starts = [&](MemoryReplica& store) {
    ASSERT_TRUE(store.Put("generations/00000000000000aa/snapshots/00000000.snapshot.lz4", Lz4Compress("x"), base - std::chrono::hours(50)).ok());
    ASSERT_TRUE(store.Put("generations/00000000000000aa/wal/00000000_00000000.wal.lz4", Lz4Compress("x"), base - std::chrono::hours(50)).ok());
    ASSERT_TRUE(store.Put("generations/00000000000000bb/snapshots/00000000.snapshot.lz4", Lz4Compress("x"), base - std::chrono::hours(1)).ok());
  };
  ASSERT_NO_FATAL_FAILURE(rig.Open(
      [&](BackupOptions& o) {
        o.retention = std::chrono::hours(24);
        o.coalesce_window = std::chrono::milliseconds(0);  // every segment kept: point in time to the transaction
        o.now = [&] { return now; };
      },
      earlier_starts));
  auto& dir = rig.dir;
  auto* db = &rig.db;
  MemoryReplica* store = rig.store;
  Backup& backup = *rig.backup;
  // Start uploaded the first snapshot, and retention ran after it: the old generation is gone.
  EXPECT_TRUE(store->Keys("00000000000000aa").empty());
  EXPECT_EQ(store->Keys("00000000000000bb").size(), 1u) << "within retention";
  EXPECT_TRUE(backup.Snapshot().ok());
  EXPECT_EQ(backup.pending(), 0u) << "nothing committed: no new snapshot";

  auto insert = [&](int rows) {
    now += std::chrono::minutes(1);
    auto w = testing::TakeWriter(**db);
    ASSERT_TRUE(w->Exec("CREATE TABLE IF NOT EXISTS t(x INTEGER PRIMARY KEY, v BLOB)").ok());
    for (int i = 0; i < rows; ++i) ASSERT_TRUE(w->Exec("INSERT INTO t(v) VALUES (randomblob(3000))").ok());
  };
  insert(10);  // 10 rows, index 0
  ASSERT_TRUE(backup.Sync().ok());
  const WallClock::time_point after_first = now + std::chrono::seconds(30);
  now += std::chrono::hours(1);
  ASSERT_TRUE(backup.Snapshot().ok());
  EXPECT_EQ(backup.pending(), 1u);
  insert(5);  // 15 rows: the first commit after the snapshot begins index 1
  ASSERT_TRUE(backup.Sync().ok());
  EXPECT_EQ(store->Keys(backup.generation() + "/snapshots/00000001.snapshot.lz4").size(), 1u);
  {
    // The image of the database and nothing else: commits after the snapshot went to segments.
    auto image = Lz4Decompress(*store->Get("generations/" + backup.generation() + "/snapshots/00000001.snapshot.lz4"));
    ASSERT_TRUE(image.ok());
    EXPECT_EQ(image->size() % 4096, 0u);
    EXPECT_EQ(image->compare(0, 16, std::string("SQLite format 3\0", 16)), 0);
  }
  EXPECT_EQ(store->Keys(backup.generation() + "/wal/00000001_00000000").size(), 1u) << "index 1 begins at offset 0";
  const WallClock::time_point after_second = now + std::chrono::seconds(30);
  insert(5);  // 20 rows
  ASSERT_TRUE(backup.Sync().ok());

  auto restore_at = [&](std::optional<WallClock::time_point> t, const std::string& name) {
    auto r = Restore(*store, RestoreOptions{dir.file(name), t, backup.generation()});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return CountRows(dir.file(name));
  };
  EXPECT_EQ(restore_at(after_first, "at-first"), 10) << "snapshot 0 and index 0";
  EXPECT_EQ(restore_at(after_second, "at-second"), 15) << "snapshot 1 and the start of index 1";
  EXPECT_EQ(restore_at(std::nullopt, "latest"), 20);
  {
    auto latest = Restore(*store, RestoreOptions{dir.file("latest2"), std::nullopt, ""});
    ASSERT_TRUE(latest.ok());
    EXPECT_EQ(latest->snapshot_index, 1u);
  }

  // A day on, a snapshot: snapshot 0 and index 0 are past retention and go; the generation bb too.
  now += std::chrono::hours(25);
  insert(1);
  ASSERT_TRUE(backup.Snapshot().ok());
  ASSERT_TRUE(backup.Sync().ok());
  EXPECT_TRUE(store->Keys("00000000000000bb").empty());
  EXPECT_TRUE(store->Keys(backup.generation() + "/snapshots/00000000").empty());
  EXPECT_TRUE(store->Keys(backup.generation() + "/wal/00000000_").empty());
  EXPECT_TRUE(store->Keys(backup.generation() + "/snapshots/00000001").empty()) << "older than the oldest kept";
  EXPECT_EQ(store->Keys(backup.generation() + "/snapshots/").size(), 1u);
  insert(1);
  ASSERT_TRUE(backup.Stop().ok());
  EXPECT_EQ(restore_at(std::nullopt, "after-retention"), 22);
  ASSERT_TRUE((*db)->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
  EXPECT_EQ(ReadFile(dir.file("after-retention")), ReadFile(dir.file("data")));
}

// A snapshot waits for no reader for long: one holding older WAL frames makes it Busy, writers go on,
// and the backup stays continuous.
TEST(Backup, AReaderOfOlderFramesPostponesTheSnapshot) {
  BackupRig rig;
  ASSERT_NO_FATAL_FAILURE(rig.Open());
  auto& dir = rig.dir;
  auto* db = &rig.db;
  MemoryReplica* store = rig.store;
  Backup& backup = *rig.backup;
  auto exec = [&](const char* sql) { ASSERT_TRUE(rig.Exec(sql).ok()) << sql; };
  exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v BLOB)");
  exec("INSERT INTO t(v) VALUES (randomblob(3000))");
  auto reader = (*db)->AcquireReader();
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->Exec("BEGIN; SELECT count(*) FROM t").ok());  // holds the WAL's frames
  exec("INSERT INTO t(v) VALUES (randomblob(3000))");
  Status s = backup.Snapshot();
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_EQ(rig.db->stats().checkpoints_busy, 1u) << "counted, not a failure";
  EXPECT_EQ(rig.db->stats().checkpoint_failures, 0u);
  EXPECT_EQ(backup.pending(), 1u) << "the open segment, no snapshot";
  exec("INSERT INTO t(v) VALUES (randomblob(3000))");  // the writer was given back
  ASSERT_TRUE((*reader)->Exec("COMMIT").ok());
  reader->Release();
  ASSERT_TRUE(backup.Snapshot().ok());
  exec("INSERT INTO t(v) VALUES (randomblob(3000))");
  ASSERT_TRUE(backup.Stop().ok());
  EXPECT_TRUE(backup.status().ok()) << backup.status().ToString();
  EXPECT_EQ(store->Keys("/snapshots/00000001").size(), 1u);
  auto r = Restore(*store, RestoreOptions{dir.file("restored"), std::nullopt, ""});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->snapshot_index, 1u);
  EXPECT_EQ(CountRows(dir.file("restored")), 4);
}

// A store down long enough that the commits waiting for it pass max_pending_bytes: they are
// dropped, memory stays bounded, and once the store is back a new generation begins with a
// snapshot, from which the latest state restores.
TEST(Backup, PastThePendingBoundANewGenerationBegins) {
  BackupRig rig;
  ASSERT_NO_FATAL_FAILURE(rig.Open([](BackupOptions& o) { o.max_pending_bytes = 100000; }));  // about 12 of these commits (two pages each)
  auto& dir = rig.dir;
  MemoryReplica* store = rig.store;
  Backup& backup = *rig.backup;
  const std::string first = backup.generation();
  auto exec = [&](const char* sql) { ASSERT_TRUE(rig.Exec(sql).ok()) << sql; };
  exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v BLOB)");
  ASSERT_TRUE(backup.Sync().ok());
  store->set_failing(true);
  for (int i = 0; i < 5; ++i) exec("INSERT INTO t(v) VALUES (randomblob(3000))");
  EXPECT_FALSE(backup.Sync().ok());
  BackupReport r = backup.Report();
  EXPECT_EQ(r.pending_transactions, 5u);
  EXPECT_GT(r.pending_bytes, 5u * 3000);
  ASSERT_TRUE(r.oldest_pending.has_value());
  EXPECT_FALSE(r.status.ok());
  for (int i = 0; i < 20; ++i) exec("INSERT INTO t(v) VALUES (randomblob(3000))");
  r = backup.Report();
  EXPECT_LE(r.pending_bytes, 100000u + 2 * 4200) << "bounded: commits past the bound are not kept";
  EXPECT_FALSE(backup.Sync().ok()) << "still down: no new generation yet";
  EXPECT_EQ(backup.Report().pending_transactions, 0u) << "the dropped commits are not pending any more";
  EXPECT_EQ(backup.Report().generations_started, 1u) << "not while the store does not answer";
  store->set_failing(false);
  exec("INSERT INTO t(v) VALUES (randomblob(3000))");  // dropped too: the snapshot taken next holds it
  ASSERT_TRUE(backup.Sync().ok());  // the store answers: a new generation, from a snapshot
  exec("INSERT INTO t(v) VALUES (randomblob(3000))");
  ASSERT_TRUE(backup.Sync().ok());
  r = backup.Report();
  EXPECT_NE(r.generation, first);
  EXPECT_EQ(r.generations_started, 2u);
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.pending_transactions, 0u);
  EXPECT_EQ(store->Keys(r.generation + "/snapshots/00000000.snapshot.lz4").size(), 1u);
  EXPECT_EQ(store->Keys(r.generation + "/wal/00000000_00000000").size(), 1u);
  ASSERT_TRUE(backup.Stop().ok());
  auto restored = Restore(*store, RestoreOptions{dir.file("restored"), std::nullopt, ""});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->generation, r.generation);
  EXPECT_EQ(CountRows(dir.file("restored")), 27);
}

// Segments age into one object per WAL index and window: once a window is over, its segments are
// merged under the first one's key; restores give the same database, and a time inside an old
// window restores the state at its start.
TEST(Backup, SegmentsOfAWindowThatIsOverAreMergedIntoOne) {
  // Minute-aligned, so that the window's bounds are the test's.
  WallClock::time_point now{std::chrono::duration_cast<WallClock::duration>(
      std::chrono::floor<std::chrono::minutes>(WallClock::now().time_since_epoch()) - std::chrono::hours(10))};
  BackupRig rig;
  ASSERT_NO_FATAL_FAILURE(rig.Open([&](BackupOptions& o) {
    o.coalesce_window = std::chrono::minutes(1);
    o.now = [&] { return now; };
  }));
  auto& dir = rig.dir;
  auto* db = &rig.db;
  MemoryReplica* store = rig.store;
  Backup& backup = *rig.backup;
  auto commit = [&](int n) {
    for (int i = 0; i < n; ++i) {
      now += std::chrono::seconds(1);
      {
        auto w = testing::TakeWriter(**db);
        ASSERT_TRUE(w->Exec("CREATE TABLE IF NOT EXISTS t(x INTEGER PRIMARY KEY, v BLOB)").ok());
        ASSERT_TRUE(w->Exec("INSERT INTO t(v) VALUES (randomblob(500))").ok());
      }
      ASSERT_TRUE(backup.Sync().ok());  // one segment each
    }
  };
  commit(20);  // seconds 1-20 of the first minute: 20 segments
  EXPECT_EQ(store->Keys("/wal/").size(), 20u) << "the window is not over";
  const WallClock::time_point in_first = now - std::chrono::seconds(5);
  now += std::chrono::seconds(45);  // into the next minute
  commit(3);  // the first window is over: its 20 become one
  auto keys = store->Keys("/wal/");
  ASSERT_EQ(keys.size(), 4u) << "one merged, and the three of the open window";
  EXPECT_NE(keys[0].find("/wal/00000000_00000000.wal.lz4"), std::string::npos) << keys[0];
  auto restore_at = [&](std::optional<WallClock::time_point> t, const std::string& name) {
    auto r = Restore(*store, RestoreOptions{dir.file(name), t, ""});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? CountRows(dir.file(name)) : -1;
  };
  EXPECT_EQ(restore_at(std::nullopt, "latest"), 23);
  EXPECT_EQ(restore_at(now, "at-last"), 23) << "the open window: to the transaction";
  EXPECT_EQ(restore_at(now - std::chrono::milliseconds(500), "before-last"), 22);
  EXPECT_EQ(restore_at(in_first, "in-first"), -1) << "inside a merged window: the state before it, here no table at all";
  // A restore that lists a merged segment and a part of it not deleted yet skips the part.
  auto merged = Lz4Decompress(*store->Get(keys[0]));
  ASSERT_TRUE(merged.ok());
  ASSERT_TRUE(store->Put(keys[0].substr(0, keys[0].find("/wal/") + 5) + "00000000_00002050.wal.lz4", Lz4Compress(merged->substr(0x2050, 4120)), now).ok());
  EXPECT_EQ(restore_at(std::nullopt, "with-part"), 23);
  ASSERT_TRUE(backup.Stop().ok());
}

TEST(BackupPosition, RoundTripsAndRefusesWhatItDidNotWrite) {
  BackupPosition p{"00112233445566ff", 0x1a, 8277112, LogPosition{"c7835705-79f3-48a2-bbbf-68e206399dff", 2010}};
  const std::string text = EncodePosition(p);
  EXPECT_EQ(text, "litehouse-backup-position 1\ngeneration 00112233445566ff\nindex 0000001a\noffset 8277112\n"
                  "log_id c7835705-79f3-48a2-bbbf-68e206399dff\nframe_no 2010\n");
  auto back = DecodePosition(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->generation, p.generation);
  EXPECT_EQ(back->index, 0x1au);
  EXPECT_EQ(back->offset, 8277112u);
  EXPECT_EQ(back->log.log_id, p.log.log_id);
  EXPECT_EQ(back->log.next_frame_no, 2010u);
  EXPECT_EQ(PositionKey("00112233445566ff"), "generations/00112233445566ff/litehouse-position");
  for (std::string bad : {std::string(""), std::string("litehouse-backup-position 2\n") + text.substr(28), text + "extra\n",
                          text.substr(0, text.size() - 12), std::string(text).replace(text.find("0000001a"), 8, "0000001g"),
                          std::string(text).replace(text.find("8277112"), 7, "-1"), std::string(text).replace(text.find("c783"), 4, "C783"),
                          std::string(text).replace(text.find("offset"), 6, "offsat")}) {
    EXPECT_FALSE(DecodePosition(bad).ok()) << bad;
  }
}

// With the replication log's position given, the backup stores which state of it is which frame:
// restored to that position, the database is the one the log's frame names.
TEST(Backup, StoresItsPositionInTheReplicationLogAndRestoresToIt) {
  WallClock::time_point now = WallClock::now();
  uint64_t frames = 7;        // a stand-in for the log: one frame per commit here
  BackupRig rig;
  ASSERT_NO_FATAL_FAILURE(rig.Open([&](BackupOptions& o) {
    o.coalesce_window = std::chrono::milliseconds(0);
    o.now = [&] { return now; };
    o.log_position = [&]() -> std::optional<LogPosition> { return LogPosition{"c7835705-79f3-48a2-bbbf-68e206399dff", frames}; };
  }));
  Backup& backup = *rig.backup;
  MemoryReplica* store = rig.store;
  const std::string key = PositionKey(backup.generation());
  // The first snapshot's position is stored at once.
  auto stored = [&] {
    auto text = store->Get(key);
    EXPECT_TRUE(text.ok());
    auto p = DecodePosition(text.ok() ? *text : "");
    EXPECT_TRUE(p.ok());
    return p.ok() ? *p : BackupPosition{};
  };
  EXPECT_EQ(stored().log.next_frame_no, 7u);
  EXPECT_EQ(stored().offset, 0u);
  // The log holds a commit's frames before the backup hears of it (it is the sink before).
  auto commit = [&](const char* sql) {
    ++frames;
    ASSERT_TRUE(rig.Exec(sql).ok()) << sql;
  };
  commit("CREATE TABLE t(x)");
  for (int i = 0; i < 3; ++i) {
    commit("INSERT INTO t VALUES (1)");
    ASSERT_TRUE(backup.Sync().ok());
  }
  EXPECT_EQ(stored().log.next_frame_no, 7u) << "not rewritten before kPositionEvery";
  now += std::chrono::seconds(6);
  ASSERT_TRUE(backup.Sync().ok());
  BackupPosition p = stored();
  EXPECT_EQ(p.log.next_frame_no, 11u);
  EXPECT_EQ(p.generation, backup.generation());
  EXPECT_GT(p.offset, 0u);
  // More commits, shipped, but the position not yet rewritten: a restore to it has 3 rows, not 5.
  commit("INSERT INTO t VALUES (1)");
  commit("INSERT INTO t VALUES (1)");
  ASSERT_TRUE(backup.Sync().ok());
  RestoreOptions at{rig.dir.file("at-position"), std::nullopt, p.generation};
  at.index = p.index;
  at.offset = p.offset;
  auto restored = Restore(*store, at);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(CountRows(rig.dir.file("at-position")), 3);
  // A position the backup does not reach is an error, and nothing is left behind.
  RestoreOptions beyond = at;
  beyond.output = rig.dir.file("beyond");
  beyond.offset = p.offset + 1'000'000;
  auto refused = Restore(*store, beyond);
  EXPECT_TRUE(refused.status().IsNotFound()) << refused.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(rig.dir.file("beyond")));
  // Stop stores the last position.
  ASSERT_TRUE(backup.Stop().ok());
  EXPECT_EQ(stored().log.next_frame_no, 13u);
}

// A store that is down when the backup starts does not keep it from starting: the first snapshot
// waits first in line and goes up once the store is back.
// The database at `path`, for a backup's tests that make the file themselves.
Result<std::unique_ptr<engine::Database>> OpenDatabase(const std::string& path) {
  engine::DatabaseOptions opts;
  opts.path = path;
  return engine::Database::Open(opts);
}

// A backup's options for `db`, shipping at every Sync.
BackupOptions OptionsFor(engine::Database* db) {
  BackupOptions opts;
  opts.db = db;
  opts.interval = std::chrono::milliseconds(0);
  return opts;
}

TEST(Backup, StartsWhileTheStoreIsDownAndUploadsTheSnapshotLater) {
  testing::TestDir dir;
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("data").c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  }
  auto store = std::make_unique<MemoryReplica>();
  MemoryReplica* replica = store.get();
  replica->set_failing(true);
  auto db = OpenDatabase(dir.file("data"));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  BackupOptions opts = OptionsFor(db->get());
  Backup backup(std::move(store), opts);
  ASSERT_TRUE(backup.Start().ok());
  EXPECT_FALSE(backup.status().ok()) << "the failed upload is said";
  EXPECT_EQ(backup.pending(), 1u);
  EXPECT_EQ(backup.Report().snapshots, 0u);
  EXPECT_FALSE(backup.Sync().ok());
  replica->set_failing(false);
  ASSERT_TRUE(backup.Sync().ok());
  EXPECT_TRUE(backup.status().ok());
  EXPECT_EQ(backup.pending(), 0u);
  EXPECT_EQ(backup.Report().snapshots, 1u);
  auto keys = replica->Keys("/snapshots/");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], "generations/" + backup.generation() + "/snapshots/00000000.snapshot.lz4");
  auto image = Lz4Decompress(*replica->Get(keys[0]));
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(*image, ReadFile(dir.file("data")));
  ASSERT_TRUE(backup.Stop().ok());
}

// A capture that fails stops the backup from pretending: its status says transactions are missing.
TEST(Backup, ACaptureLostIsReported) {
  testing::TestDir dir;
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("data").c_str(), &raw), SQLITE_OK);
    sqlite3_close(raw);
  }
  auto db = OpenDatabase(dir.file("data"));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  BackupOptions opts = OptionsFor(db->get());
  Backup backup(std::make_unique<MemoryReplica>(), opts);
  ASSERT_TRUE(backup.Start().ok());
  EXPECT_TRUE(backup.status().ok());
  backup.OnCaptureLost(Status::IoError("read WAL frames: EIO"));
  EXPECT_FALSE(backup.status().ok());
  EXPECT_NE(backup.status().message().find("misses transactions"), std::string::npos);
  EXPECT_TRUE(backup.Sync().ok()) << "nothing pending: shipping what was captured still works";
  EXPECT_FALSE(backup.status().ok()) << "sticky until a restart";
}

TEST(BackupConfig, ReadsLitestreamFilesAsLitestreamDoes) {
  EXPECT_EQ(ParseGoDuration("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(ParseGoDuration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(ParseGoDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(ParseGoDuration("0"), std::chrono::milliseconds(0));
  EXPECT_FALSE(ParseGoDuration("").has_value());
  EXPECT_FALSE(ParseGoDuration("10").has_value()) << "a unit is needed, as in Go";
  EXPECT_FALSE(ParseGoDuration("1d").has_value());

  testing::TestDir dir;
  ::setenv("LH_TEST_BUCKET", "bucket-from-env", 1);
  ::unsetenv("LH_TEST_UNSET");
  {
    std::ofstream out(dir.file("litestream.yml"));
    out << "access-key-id: AKGLOBAL\nsecret-access-key: SKGLOBAL\nlogging: {level: debug}\n"
           "dbs:\n"
           "  - path: /data/db.sqlite\n"
           "    monitor-interval: 1s\n"  // unknown here: ignored, as Litestream's non-strict YAML
           "    replicas:\n"
           "      - type: s3\n        bucket: $LH_TEST_BUCKET\n        path: /backups/app/\n"
           "        endpoint: http://minio:9000\n        access-key-id: AKOWN\n        retention: 72h\n"
           "      - url: s3://other/p?region=eu-west-1\n"
           "      - path: /var/backups/${LH_TEST_UNSET}app\n        sync-interval: 250ms\n"
           "  - path: /data/second.db\n"
           "    replica:\n      url: file:///b/second\n";
  }
  auto config = ReadBackupConfig(dir.file("litestream.yml"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->dbs.size(), 2u);
  const auto& r = config->dbs[0].replicas;
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].name, "s3");
  EXPECT_EQ(r[0].url, "s3://bucket-from-env/backups/app?endpoint=http://minio:9000");
  EXPECT_EQ(r[0].credentials.access_key_id, "AKOWN");
  EXPECT_EQ(r[0].credentials.secret_access_key, "SKGLOBAL") << "the global one, for a replica that names none";
  EXPECT_EQ(r[0].retention, std::chrono::hours(72));
  EXPECT_EQ(r[1].url, "s3://other/p?region=eu-west-1");
  EXPECT_EQ(r[2].name, "file");
  EXPECT_EQ(r[2].url, "file:///var/backups/app") << "an unset variable is empty";
  EXPECT_EQ(r[2].sync_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(config->dbs[1].replicas.at(0).url, "file:///b/second") << "replica:, as Litestream 0.5 writes it";

  auto entry = EntryForDatabase(*config, "/data/second.db", false);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ((*entry)->path, "/data/second.db");
  EXPECT_FALSE(EntryForDatabase(*config, "/srv/data", true).ok()) << "two entries: no sole one to map";
  const ReplicaTarget* found = FindReplicaByUrl(*config, "s3://bucket-from-env/backups/app/");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->credentials.access_key_id, "AKOWN");
  EXPECT_EQ(FindReplicaByUrl(*config, "s3://bucket-from-env/elsewhere"), nullptr);

  auto raw = ReadBackupConfig(dir.file("litestream.yml"), /*expand_env=*/false);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->dbs[0].replicas[0].url.rfind("s3://$LH_TEST_BUCKET/", 0), 0u) << raw->dbs[0].replicas[0].url;
  EXPECT_TRUE(ReadBackupConfig(dir.file("missing.yml")).status().IsNotFound());
}

// AWS's own example of a signed S3 request ("GET Bucket (List Objects)", in the SigV4 header-based
// authentication guide): our signer must give its signature, bit for bit.
TEST(S3Sign, MatchesAwsPublishedExample) {
  SigV4Request r;
  r.method = "GET";
  r.path = "/";
  r.query = {{"max-keys", "2"}, {"prefix", "J"}};
  r.host = "examplebucket.s3.amazonaws.com";
  r.payload_sha256 = Sha256Hex("");
  r.amz_date = "20130524T000000Z";
  r.region = "us-east-1";
  r.access_key = "AKIAIOSFODNN7EXAMPLE";
  r.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  EXPECT_EQ(r.payload_sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(SignV4(r),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  EXPECT_EQ(UriEncode("generations/ab/wal/0_0.wal.lz4", true), "generations/ab/wal/0_0.wal.lz4");
  EXPECT_EQ(UriEncode("a b/c+d", false), "a%20b%2Fc%2Bd");
  EXPECT_EQ(CanonicalQuery({{"prefix", "x/y"}, {"list-type", "2"}}), "list-type=2&prefix=x%2Fy");
}

}  // namespace
}  // namespace litehouse::backup
