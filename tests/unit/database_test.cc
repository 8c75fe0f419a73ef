#include "engine/database.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "../support/fault_vfs.h"
#include "engine_testing.h"
#include "test_dir.h"

namespace litehouse::engine {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DatabaseOptions opts;
    opts.path = dir_.file("db");
    opts.checkpoint_threshold_frames = 10;
    auto db = Database::Open(opts);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }
  // Takes the writer synchronously; only valid when it is free.
  Lease Writer() { return testing::TakeWriter(*db_); }

  testing::TestDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(DatabaseTest, OpensInWalMode) {
  Lease w = Writer();
  auto stmt = w->Prepare("PRAGMA journal_mode", nullptr);
  ASSERT_TRUE(stmt.ok());
  ASSERT_TRUE(*stmt->Step());
  EXPECT_EQ(std::get<std::string>(stmt->column(0)), "wal");
}

TEST_F(DatabaseTest, WriterIsGrantedInRequestOrder) {
  std::vector<int> order;
  std::vector<Lease> held;
  Lease first = Writer();
  for (int i = 0; i < 3; ++i) {
    db_->AcquireWriter([&, i](Lease l) {
      order.push_back(i);
      held.push_back(std::move(l));
    });
  }
  EXPECT_TRUE(order.empty()) << "nobody may get the writer while it is held";
  EXPECT_EQ(db_->stats().write_waiters, 3u);
  first.Release();
  ASSERT_EQ(order, std::vector<int>({0}));
  held.back().Release();
  ASSERT_EQ(order, std::vector<int>({0, 1}));
  held.back().Release();
  ASSERT_EQ(order, std::vector<int>({0, 1, 2}));
  held.clear();
  EXPECT_EQ(db_->stats().write_waiters, 0u);
}

TEST_F(DatabaseTest, ReadersCannotWrite) {
  {
    Lease w = Writer();
    ASSERT_TRUE(w->Exec("CREATE TABLE t(x)").ok());
  }
  auto r = db_->AcquireReader();
  ASSERT_TRUE(r.ok());
  Status s = (*r)->Exec("INSERT INTO t VALUES (1)");
  ASSERT_TRUE(s.IsSqlite());
  EXPECT_EQ(s.sqlite_code() & 0xff, SQLITE_READONLY);
}

TEST_F(DatabaseTest, ReadersSeeCommittedWritesOnly) {
  auto r = db_->AcquireReader();
  ASSERT_TRUE(r.ok());
  Lease w = Writer();
  ASSERT_TRUE(w->Exec("CREATE TABLE t(x); BEGIN; INSERT INTO t VALUES (1);").ok());
  auto count = [&] {
    auto stmt = (*r)->Prepare("SELECT count(*) FROM t", nullptr);
    EXPECT_TRUE(*stmt->Step());
    return std::get<int64_t>(stmt->column(0));
  };
  EXPECT_EQ(count(), 0) << "the insert is not committed yet";
  ASSERT_TRUE(w->Exec("COMMIT").ok());
  EXPECT_EQ(count(), 1);
}

TEST_F(DatabaseTest, ReleasingWithAnOpenTransactionRollsItBack) {
  {
    Lease w = Writer();
    ASSERT_TRUE(w->Exec("CREATE TABLE t(x); BEGIN; INSERT INTO t VALUES (1);").ok());
    EXPECT_FALSE(w->autocommit());
  }
  Lease w = Writer();
  EXPECT_TRUE(w->autocommit());
  auto stmt = w->Prepare("SELECT count(*) FROM t", nullptr);
  ASSERT_TRUE(stmt.ok());
  ASSERT_TRUE(*stmt->Step());
  EXPECT_EQ(std::get<int64_t>(stmt->column(0)), 0);
}

TEST_F(DatabaseTest, CheckpointsWhenTheWalPassesTheThreshold) {
  {
    Lease w = Writer();
    ASSERT_TRUE(w->Exec("CREATE TABLE t(x)").ok());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(w->Exec("INSERT INTO t VALUES (randomblob(3000))").ok());
  }
  EXPECT_GE(db_->stats().checkpoints, 1u);
  // After a full checkpoint the next write restarts the WAL from its beginning.
  ASSERT_TRUE(db_->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
  EXPECT_EQ(std::filesystem::file_size(dir_.file("db-wal")), 0u);
}

}  // namespace
}  // namespace litehouse::engine

namespace litehouse::engine {
namespace {

int64_t PragmaValue(Connection& conn, const char* pragma) {
  auto stmt = conn.Prepare(std::string("PRAGMA ") + pragma, nullptr);
  EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
  EXPECT_TRUE(*stmt->Step());
  return std::get<int64_t>(stmt->column(0));
}

TEST_F(DatabaseTest, ForeignKeysAreOnByDefault) {
  Lease w = Writer();
  EXPECT_EQ(PragmaValue(*w, "foreign_keys"), 1);
}

TEST_F(DatabaseTest, ASettingDoesNotOutliveTheLease) {
  {
    Lease w = Writer();
    ASSERT_TRUE(w->Exec("PRAGMA foreign_keys=OFF; PRAGMA recursive_triggers=ON").ok());
    EXPECT_EQ(PragmaValue(*w, "foreign_keys"), 0);
  }
  Lease w = Writer();
  EXPECT_EQ(PragmaValue(*w, "foreign_keys"), 1) << "the next holder gets the defaults back";
  EXPECT_EQ(PragmaValue(*w, "recursive_triggers"), 0);
}

TEST_F(DatabaseTest, PragmasThatConfigureTheEngineAreRefused) {
  Lease w = Writer();
  for (const char* sql : {"PRAGMA journal_mode=DELETE", "PRAGMA synchronous=OFF", "PRAGMA wal_autocheckpoint=1",
                          "PRAGMA query_only=1", "PRAGMA locking_mode=EXCLUSIVE", "PRAGMA wal_checkpoint(TRUNCATE)"}) {
    Status s = w->Exec(sql);
    ASSERT_TRUE(s.IsSqlite()) << sql;
    EXPECT_EQ(s.sqlite_code() & 0xff, SQLITE_AUTH) << sql;
  }
  EXPECT_EQ(PragmaValue(*w, "wal_autocheckpoint"), 0) << "reading is fine";
  auto r = db_->AcquireReader();
  ASSERT_TRUE(r.ok());
  Status s = (*r)->Exec("PRAGMA query_only=0");
  EXPECT_EQ(s.sqlite_code() & 0xff, SQLITE_AUTH) << "a reader can never be made writable";
}

}  // namespace
}  // namespace litehouse::engine

namespace litehouse::engine {
namespace {

std::string One(Connection& c, const char* sql) {
  auto stmt = c.Prepare(sql, nullptr);
  EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
  if (!stmt.ok()) return "";
  auto row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row) << sql;
  if (!row.ok() || !*row) return "";
  engine::Value v = stmt->column(0);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return "";
}

// Under hide_directory SQLite knows the file by its name alone, so no SQL shows where it lives; the
// files themselves (the database, its WAL and WAL index) are where they always were, and a second
// process (the sqlite3 CLI, a backup tool) sees ordinary files.
TEST(HiddenDirectory, PragmaDatabaseListShowsTheFileNameOnly) {
  testing::TestDir dir;
  DatabaseOptions opts;
  opts.path = dir.file("data");
  opts.hide_directory = true;
  {
    auto db = Database::Open(opts);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    Lease w;
    (*db)->AcquireWriter([&](Lease l) { w = std::move(l); });
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->Exec("CREATE TABLE t(x); INSERT INTO t VALUES (42);").ok());
    EXPECT_EQ(One(*w, "SELECT file FROM pragma_database_list WHERE name = 'main'"), "data");
    EXPECT_EQ(One(*w, "PRAGMA journal_mode"), "wal");
    w.Release();
    auto r = (*db)->AcquireReader();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(One(**r, "SELECT file FROM pragma_database_list"), "data");
    EXPECT_EQ(One(**r, "SELECT x FROM t"), "42") << "a reader sees the writer's commit through the shared WAL index";
    EXPECT_TRUE(std::filesystem::exists(dir.file("data-wal")));
    EXPECT_TRUE(std::filesystem::exists(dir.file("data-shm")));
    EXPECT_FALSE(std::filesystem::exists("data")) << "nothing was created relative to the working directory";
  }
  // Closed cleanly: the WAL was checkpointed into the file and removed; the file opens without us.
  EXPECT_FALSE(std::filesystem::exists(dir.file("data-wal")));
  auto plain = Connection::Open(dir.file("data"), Role::kReader);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(One(**plain, "SELECT x FROM t"), "42");
  EXPECT_EQ(One(**plain, "SELECT file FROM pragma_database_list"), dir.file("data")) << "without the VFS: the path";
}

}  // namespace
}  // namespace litehouse::engine

// The seams replication and backup build on: a commit observer told of each commit while the lock
// is held, asked before each checkpoint; checkpoint failures remembered; a VFS of the caller's.
namespace litehouse::engine {
namespace {

class RecordingObserver : public CommitObserver {
 public:
  void OnCommit(sqlite3*, int wal_frames) override {
    ++commits;
    last_frames = wal_frames;
  }
  bool MayCheckpoint() override { return allow; }
  int commits = 0;
  int last_frames = 0;
  bool allow = true;
};

class ObservedDatabaseTest : public ::testing::Test {
 protected:
  void Open(const std::string& vfs = "") {
    DatabaseOptions opts;
    opts.path = dir_.file("db");
    opts.checkpoint_threshold_frames = 10;
    opts.commit_observer = &observer_;
    opts.vfs = vfs;
    db_ = std::move(Database::Open(opts)).value();
  }
  Lease Writer() { return testing::TakeWriter(*db_); }
  testing::TestDir dir_;
  RecordingObserver observer_;
  std::unique_ptr<Database> db_;
};

TEST_F(ObservedDatabaseTest, TheObserverSeesEveryCommitAndHoldsCheckpointsBack) {
  Open();
  observer_.allow = false;
  {
    Lease w = Writer();
    ASSERT_TRUE(w->Exec("CREATE TABLE t(x)").ok());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(w->Exec("INSERT INTO t VALUES (randomblob(3000))").ok());
    ASSERT_TRUE(w->Exec("BEGIN; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); COMMIT").ok());
    EXPECT_FALSE(w->Exec("INSERT INTO nope VALUES (1)").ok());
  }
  EXPECT_EQ(observer_.commits, 22) << "one per committed transaction, none for a failed statement";
  EXPECT_GT(observer_.last_frames, 20);
  EXPECT_EQ(db_->stats().checkpoints, 0u);
  EXPECT_GE(db_->stats().checkpoints_held_back, 1u);
  EXPECT_FALSE(db_->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok()) << "held back on demand too";
  EXPECT_GT(std::filesystem::file_size(dir_.file("db-wal")), 0u);
  observer_.allow = true;
  ASSERT_TRUE(db_->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
  EXPECT_EQ(std::filesystem::file_size(dir_.file("db-wal")), 0u);
}

// Background checkpoints that never get to run before the next write stand for ones that always
// lose the race with back-to-back writers: past checkpoint_overdue_frames the committing writer
// checkpoints itself, and the next write restarts the WAL.
TEST_F(ObservedDatabaseTest, AnOverdueCheckpointRunsInTheWriterAndTheWalRestarts) {
  DatabaseOptions opts;
  opts.path = dir_.file("db");
  opts.checkpoint_threshold_frames = 10;
  opts.checkpoint_overdue_frames = 40;
  opts.commit_observer = &observer_;
  std::vector<std::function<void()>> parked;  // the background executor never runs them in time
  opts.background = [&](std::function<void()> job) { parked.push_back(std::move(job)); };
  db_ = std::move(Database::Open(opts)).value();
  { Lease w = Writer(); ASSERT_TRUE(w->Exec("CREATE TABLE t(x)").ok()); }
  int most = 0;
  bool restarted = false;
  for (int i = 0; i < 60 && !restarted; ++i) {
    Lease w = Writer();
    ASSERT_TRUE(w->Exec("INSERT INTO t VALUES (randomblob(3000))").ok());
    restarted = observer_.last_frames < most;
    most = std::max(most, observer_.last_frames);
  }
  EXPECT_TRUE(restarted) << "the WAL grew to " << most << " frames and never restarted";
  EXPECT_GE(most, 40);
  EXPECT_LT(most, 50) << "restarted right after the overdue mark";
  EXPECT_EQ(db_->stats().checkpoints_overdue, 1u);
  EXPECT_FALSE(parked.empty()) << "below the mark, checkpoints went to the background";
  for (auto& job : parked) job();  // late background checkpoints are harmless
  parked.clear();
  Lease w = Writer();
  auto n = w->Prepare("SELECT count(*) FROM t", nullptr);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(*n->Step());
  EXPECT_GT(std::get<int64_t>(n->column(0)), 0);
}

TEST_F(ObservedDatabaseTest, AFailedCheckpointIsRememberedAndReported) {
  auto& vfs = testing::FaultVfs::Get();
  Open(vfs.name());
  {
    Lease w = Writer();
    ASSERT_TRUE(w->Exec("CREATE TABLE t(x)").ok());
    ASSERT_TRUE(w->Exec("INSERT INTO t VALUES (1)").ok());
  }
  vfs.Arm(testing::FaultVfs::kWrite, testing::FaultVfs::kDatabase, SQLITE_IOERR_WRITE);
  Status s = db_->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
  vfs.Disarm();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.sqlite_code() & 0xff, SQLITE_IOERR) << s.ToString();
  EXPECT_FALSE(db_->checkpoint_status().ok()) << "remembered, not only logged";
  EXPECT_EQ(db_->stats().checkpoint_failures, 1u);
  ASSERT_TRUE(db_->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE).ok());
  EXPECT_TRUE(db_->checkpoint_status().ok()) << "a later success clears it";
}

TEST_F(ObservedDatabaseTest, AFailedCommitLeavesNothingAndTheNextWriterGoesOn) {
  auto& vfs = testing::FaultVfs::Get();
  Open(vfs.name());
  {
    Lease w = Writer();
    ASSERT_TRUE(w->Exec("CREATE TABLE t(x)").ok());
  }
  {
    Lease w = Writer();
    vfs.Arm(testing::FaultVfs::kWrite, testing::FaultVfs::kWal, SQLITE_FULL);
    Status s = w->Exec("INSERT INTO t VALUES (randomblob(100000))");
    vfs.Disarm();
    EXPECT_EQ(s.sqlite_code() & 0xff, SQLITE_FULL) << s.ToString();
    EXPECT_TRUE(w->autocommit());
  }
  Lease w = Writer();
  ASSERT_TRUE(w->Exec("INSERT INTO t VALUES (2)").ok());
  auto stmt = w->Prepare("SELECT count(*), sum(x) FROM t", nullptr);
  ASSERT_TRUE(stmt.ok());
  ASSERT_TRUE(*stmt->Step());
  EXPECT_EQ(std::get<int64_t>(stmt->column(0)), 1);
}

}  // namespace
}  // namespace litehouse::engine
