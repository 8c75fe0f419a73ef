// The replication log fed by the WAL capture: frames in sqld's layout, whole transactions, the
// database rebuilt from them page for page, compaction by age (fake clock) into a snapshot, and the
// history kept across a clean close and started anew after an unclean one.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <atomic>

#include "../support/fake_clock.h"
#include "engine_testing.h"
#include "replication/frame_log.h"
#include "replication/replica.h"
#include "replication/wal_capture.h"
#include "test_dir.h"

namespace litehouse::replication {
namespace {

uint64_t Le(const std::string& f, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(f[at + i]);
  return v;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A database with the capture and the log wired as `litehouse serve` wires them.
class Primary {
 public:
  Primary(const testing::TestDir& dir, const Clock* clock, uint64_t max_frames = 1'000'000,
          std::chrono::milliseconds max_age = std::chrono::milliseconds(0))
      : capture_(dir.file("data")) {
    engine::DatabaseOptions opts;
    opts.path = dir.file("data");
    opts.commit_observer = &capture_;
    auto db = engine::Database::Open(opts);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    EXPECT_TRUE(db_->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
    FrameLogOptions log_opts;
    log_opts.dir = dir.file("log");
    log_opts.db = db_.get();
    log_opts.max_log_frames = max_frames;
    log_opts.max_log_age = max_age;
    log_opts.clock = clock;
    auto log = FrameLog::Open(log_opts);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    capture_.AddSink(log_.get());
    EXPECT_TRUE(capture_.Start().ok());
  }
  ~Primary() {
    db_.reset();  // closed before the log, as serve.cc does
    log_.reset();
  }

  void Exec(const char* sql) {
    auto w = testing::TakeWriter(*db_);
    ASSERT_TRUE(w->Exec(sql).ok()) << sql;
  }
  FrameLog& log() { return *log_; }
  engine::Database& db() { return *db_; }

 private:
  WalCapture capture_;
  std::unique_ptr<engine::Database> db_;
  std::unique_ptr<FrameLog> log_;
};

// Applies frames (in the order given) to a page map; returns the size of the last commit.
uint32_t Apply(const std::vector<LogFrame>& frames, std::map<uint32_t, std::string>* pages) {
  uint32_t size = 0;
  for (const LogFrame& f : frames) {
    EXPECT_EQ(f.size(), kLogFrameBytes);
    (*pages)[static_cast<uint32_t>(Le(f, 16, 4))] = f.substr(kLogFrameHeaderBytes);
    if (uint32_t s = static_cast<uint32_t>(Le(f, 20, 4))) size = s;
  }
  return size;
}

std::string Rebuild(const std::map<uint32_t, std::string>& pages, uint32_t size) {
  std::string out;
  for (uint32_t p = 1; p <= size; ++p) {
    auto it = pages.find(p);
    EXPECT_NE(it, pages.end()) << "page " << p << " missing";
    out += it == pages.end() ? std::string(kLogPageSize, '\0') : it->second;
  }
  return out;
}

TEST(FrameLogTest, FramesAreWholeTransactionsAndRebuildTheDatabase) {
  testing::TestDir dir;
  testing::FakeClock clock;
  Primary p(dir, &clock);
  p.Exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v BLOB)");
  for (int i = 0; i < 30; ++i) p.Exec("INSERT INTO t(v) VALUES (randomblob(2000))");
  p.Exec("DELETE FROM t WHERE x % 3 = 0");

  std::vector<LogFrame> frames;
  Status error;
  ASSERT_EQ(p.log().ReadFrames(0, 1'000'000, &frames, &error), ReadOutcome::kFrames);
  ASSERT_TRUE(error.ok()) << error.ToString();
  ASSERT_FALSE(frames.empty());
  for (size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(Le(frames[i], 0, 8), i);
  EXPECT_EQ(*p.log().last_frame_no(), frames.size() - 1);
  EXPECT_NE(Le(frames.back(), 20, 4), 0u) << "the last frame commits";
  const std::optional<FrameLog::Head> head = p.log().head();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->log_id, p.log().log_id());
  EXPECT_EQ(head->next_frame_no, frames.size()) << "the frame after the last committed one";

  // A small batch still ends on a commit frame.
  std::vector<LogFrame> few;
  ASSERT_EQ(p.log().ReadFrames(0, 1, &few, &error), ReadOutcome::kFrames);
  EXPECT_NE(Le(few.back(), 20, 4), 0u);
  // Past the end: nothing.
  std::vector<LogFrame> none;
  ASSERT_EQ(p.log().ReadFrames(frames.size(), 10, &none, &error), ReadOutcome::kFrames);
  EXPECT_TRUE(none.empty());

  std::map<uint32_t, std::string> pages;
  uint32_t size = Apply(frames, &pages);
  ASSERT_TRUE(p.db().Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
  EXPECT_EQ(Rebuild(pages, size), ReadFile(dir.file("data"))) << "the frames hold the database, page for page";
}

TEST(FrameLogTest, CompactionByAgeMakesASnapshotThatBootstrapsAReplica) {
  testing::TestDir dir;
  testing::FakeClock clock;
  Primary p(dir, &clock, 1'000'000, std::chrono::seconds(60));
  p.Exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v BLOB)");
  for (int i = 0; i < 20; ++i) p.Exec("INSERT INTO t(v) VALUES (randomblob(3000))");
  EXPECT_EQ(p.log().start_frame_no(), 0u) << "young: not compacted";
  clock.Advance(std::chrono::seconds(61));
  p.Exec("UPDATE t SET v = randomblob(100) WHERE x < 5");  // the commit after the age compacts
  p.log().WaitForCompaction();
  const uint64_t start = p.log().start_frame_no();
  EXPECT_GT(start, 0u);
  for (int i = 0; i < 5; ++i) p.Exec("INSERT INTO t(v) VALUES (randomblob(3000))");

  std::vector<LogFrame> frames;
  Status error;
  EXPECT_EQ(p.log().ReadFrames(0, 1000, &frames, &error), ReadOutcome::kNeedSnapshot);
  std::vector<LogFrame> snapshot;
  ASSERT_EQ(p.log().ReadSnapshot(0, &snapshot, &error), ReadOutcome::kFrames);
  ASSERT_TRUE(error.ok()) << error.ToString();
  ASSERT_FALSE(snapshot.empty());
  for (size_t i = 1; i < snapshot.size(); ++i) EXPECT_GT(Le(snapshot[i - 1], 0, 8), Le(snapshot[i], 0, 8)) << "descending";
  for (size_t i = 0; i + 1 < snapshot.size(); ++i) EXPECT_EQ(Le(snapshot[i], 20, 4), 0u);
  EXPECT_NE(Le(snapshot.back(), 20, 4), 0u) << "the last snapshot frame commits the whole snapshot";
  EXPECT_EQ(Le(snapshot.front(), 0, 8), start - 1) << "the snapshot ends where the live log begins";

  // A replica: the snapshot, then the live log from its end.
  std::map<uint32_t, std::string> pages;
  Apply(snapshot, &pages);
  std::vector<LogFrame> live;
  ASSERT_EQ(p.log().ReadFrames(start, 1'000'000, &live, &error), ReadOutcome::kFrames);
  uint32_t size = Apply(live, &pages);
  ASSERT_TRUE(p.db().Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
  EXPECT_EQ(Rebuild(pages, size), ReadFile(dir.file("data")));

  // A replica already past the snapshot's start gets only the pages changed since.
  std::vector<LogFrame> tail;
  ASSERT_EQ(p.log().ReadSnapshot(start - 1, &tail, &error), ReadOutcome::kFrames);
  EXPECT_LT(tail.size(), snapshot.size());
}

TEST(FrameLogTest, ACleanCloseKeepsTheHistoryAnUncleanOneStartsANewOne) {
  testing::TestDir dir;
  testing::FakeClock clock;
  std::string first_id;
  uint64_t last = 0;
  {
    Primary p(dir, &clock);
    p.Exec("CREATE TABLE t(x)");
    p.Exec("INSERT INTO t VALUES (1)");
    first_id = p.log().log_id();
    last = *p.log().last_frame_no();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("log/.sentinel")));
  {
    Primary p(dir, &clock);
    EXPECT_EQ(p.log().log_id(), first_id);
    EXPECT_EQ(*p.log().last_frame_no(), last);
    p.Exec("INSERT INTO t VALUES (2)");
    EXPECT_GT(*p.log().last_frame_no(), last);
  }
  // As if the process had died: the sentinel stays.
  std::ofstream(dir.file("log/.sentinel")).put('x');
  {
    Primary p(dir, &clock);
    EXPECT_NE(p.log().log_id(), first_id);
    std::vector<LogFrame> frames;
    Status error;
    ASSERT_EQ(p.log().ReadFrames(0, 1'000'000, &frames, &error), ReadOutcome::kFrames);
    std::map<uint32_t, std::string> pages;
    uint32_t size = Apply(frames, &pages);
    EXPECT_EQ(Rebuild(pages, size), ReadFile(dir.file("data"))) << "the new history starts from every page";
  }
}

TEST(FrameLogTest, ACaptureLostRefusesReadersAndStartsANewHistoryNextTime) {
  testing::TestDir dir;
  testing::FakeClock clock;
  std::string id;
  {
    Primary p(dir, &clock);
    p.Exec("CREATE TABLE t(x)");
    id = p.log().log_id();
    ASSERT_TRUE(p.log().head().has_value());
    p.log().OnCaptureLost(Status::IoError("open data-wal: Too many open files"));
    EXPECT_FALSE(p.log().head().has_value()) << "a failed log has no position to give a backup";
    std::vector<LogFrame> frames;
    Status error;
    p.log().ReadFrames(0, 10, &frames, &error);
    EXPECT_FALSE(error.ok()) << "a reader is told, not served a log with a hole";
    EXPECT_TRUE(frames.empty());
  }
  EXPECT_TRUE(std::filesystem::exists(dir.file("log/.sentinel"))) << "not closed cleanly: the log cannot be trusted";
  Primary again(dir, &clock);
  EXPECT_NE(again.log().log_id(), id);
}

TEST(FrameLogTest, ADatabaseOfAnotherPageSizeIsRefusedClearly) {
  testing::TestDir dir;
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(dir.file("data").c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA page_size=8192; CREATE TABLE t(x);", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  engine::DatabaseOptions db_opts;
  db_opts.path = dir.file("data");
  auto db = engine::Database::Open(db_opts);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  FrameLogOptions opts;
  opts.dir = dir.file("log");
  opts.db = db->get();
  auto log = FrameLog::Open(opts);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("page size is 8192"), std::string::npos) << log.status().message();
  EXPECT_NE(log.status().message().find("VACUUM"), std::string::npos);
}

// The primary's log as a replica reads it, in process (the server's gRPC-web client does the same
// over HTTP: server/primary_link.h).
class InProcessSource : public LogSource {
 public:
  explicit InProcessSource(FrameLog& log) : log_(log) {}
  Result<PrimaryHello> Hello() override { return PrimaryHello{log_.log_id(), log_.last_frame_no()}; }
  Status Frames(uint64_t next, std::vector<LogFrame>* out) override {
    if (cancelled_) return Status::Cancelled("stopping");
    Status error;
    ReadOutcome outcome = log_.ReadFrames(next, 1024, out, &error);
    if (!error.ok()) return error;
    if (outcome != ReadOutcome::kFrames) return Status::NotFound("NEED_SNAPSHOT");
    if (out->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return Status::OK();
  }
  Status Snapshot(uint64_t next, std::vector<LogFrame>* out) override {
    Status error;
    log_.ReadSnapshot(next, out, &error);
    return error;
  }
  void Cancel() override { cancelled_ = true; }
  void Resume() override { cancelled_ = false; }

 private:
  FrameLog& log_;
  std::atomic<bool> cancelled_{false};
};

// The file with page 1's change counter (bytes 24-27, 92-95) masked (replica.h).
std::string Masked(const std::string& path) {
  std::string bytes = ReadFile(path);
  if (bytes.size() >= 96) {
    std::memset(bytes.data() + 24, 0, 4);
    std::memset(bytes.data() + 92, 0, 4);
  }
  return bytes;
}

// Runs the replica's tail into its own engine until it has applied the primary's last frame.
void TailUntilCaughtUp(Replica& replica, engine::Database& db, FrameLog& log) {
  replica.Start(&db, nullptr);
  for (int i = 0; i < 5000 && replica.applied_frame_no() != log.last_frame_no(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  replica.Stop();
  ASSERT_EQ(replica.applied_frame_no(), log.last_frame_no());
}

TEST(ReplicaTest, BootstrapsByteForByteThenTailsAndReplaysItsFirstBatchWhole) {
  testing::TestDir pdir, rdir;
  testing::FakeClock clock;
  Primary p(pdir, &clock);
  p.Exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v BLOB)");
  for (int i = 0; i < 20; ++i) p.Exec("INSERT INTO t(v) VALUES (randomblob(3000))");
  InProcessSource source(p.log());

  ReplicaOptions opts;
  opts.db_path = rdir.file("data");
  opts.dir = rdir.file(".");
  opts.primary = "in process";
  auto replica = Replica::Prepare(opts, &source, nullptr);
  ASSERT_TRUE(replica.ok()) << replica.status().ToString();
  ASSERT_TRUE(p.db().Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
  EXPECT_EQ(ReadFile(rdir.file("data")), ReadFile(pdir.file("data"))) << "a cold bootstrap copies the file exactly";
  EXPECT_EQ((*replica)->applied_frame_no(), p.log().last_frame_no());

  // The tail: schema changes, a shrink, each transaction applied on the replica's engine.
  engine::DatabaseOptions dbo;
  dbo.path = rdir.file("data");
  auto rdb = engine::Database::Open(dbo);
  ASSERT_TRUE(rdb.ok());
  p.Exec("CREATE INDEX t_v ON t(v)");
  p.Exec("DELETE FROM t WHERE x > 5");
  p.Exec("DROP INDEX t_v");
  p.Exec("VACUUM");
  p.Exec("INSERT INTO t(v) VALUES ('after')");
  TailUntilCaughtUp(**replica, **rdb, p.log());
  EXPECT_EQ((*replica)->state().transactions_applied, 5u + 0u) << "one SQLite transaction per primary transaction";
  {
    auto r = (*rdb)->AcquireReader();
    ASSERT_TRUE(r.ok());
    size_t tail = 0;
    auto st = (*r)->Prepare("SELECT count(*), max(typeof(v)) FROM t", &tail);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    ASSERT_TRUE(*st->Step());
    EXPECT_EQ(std::get<int64_t>(st->column(0)), 6);
  }

  // A stop between a commit and the position's update: the position is older than the file. The
  // first batch after the start is applied again, whole, and the result is the same.
  const std::string position = ReadFile(rdir.file("replica-position"));
  p.Exec("INSERT INTO t(v) VALUES ('one')");
  p.Exec("INSERT INTO t(v) VALUES ('two')");
  TailUntilCaughtUp(**replica, **rdb, p.log());
  std::ofstream(rdir.file("replica-position"), std::ios::binary | std::ios::trunc) << position;
  rdb->reset();
  replica->reset();
  auto again = Replica::Prepare(opts, &source, nullptr);
  ASSERT_TRUE(again.ok());
  auto rdb2 = engine::Database::Open(dbo);
  ASSERT_TRUE(rdb2.ok());
  const uint64_t snapshots_before = (*again)->state().snapshots_applied;
  TailUntilCaughtUp(**again, **rdb2, p.log());
  EXPECT_EQ((*again)->state().transactions_applied, 1u) << "the two transactions replayed as one";
  EXPECT_EQ((*again)->state().snapshots_applied, snapshots_before);
  rdb2->reset();
  ASSERT_TRUE(p.db().Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
  {
    // Fold the replica's WAL into its file.
    auto fold = engine::Database::Open(dbo);
    ASSERT_TRUE(fold.ok());
    ASSERT_TRUE((*fold)->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
  }
  EXPECT_EQ(Masked(rdir.file("data")), Masked(pdir.file("data")));
}

}  // namespace
}  // namespace litehouse::replication
