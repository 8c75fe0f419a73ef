// The engine's concurrency rules, through Session: deferred transactions take no lock, one writer at
// a time in FIFO order, stale snapshots are told at once, and a holder past the transaction timeout
// loses the lock. Time is a FakeClock; nothing sleeps.
#include "engine/session.h"

#include <gtest/gtest.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "../support/fake_clock.h"
#include "../support/fault_vfs.h"
#include "engine/database.h"
#include "engine_testing.h"
#include "test_dir.h"

namespace litehouse::engine {
namespace {

using namespace std::chrono_literals;

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DatabaseOptions opts;
    opts.path = dir_.file("db");
    opts.clock = &clock_;
    opts.txn_timeout = 5s;
    db_ = std::move(Database::Open(opts)).value();
    Session setup(*db_);
    Run(setup, "CREATE TABLE t(x)", /*write=*/true);
    Run(setup, "INSERT INTO t VALUES (1)", true);
  }

  // One request of `s` running `sql`, as the server runs it: a write takes the lock first (which must
  // be free). Returns the first column of the first row, or the error's message.
  std::string Run(Session& s, const std::string& sql, bool write = false) {
    auto conn = s.Enter();
    if (!conn.ok()) return "error: " + conn.status().message();
    if (write) {
      EXPECT_TRUE(s.TryLockWrite()) << sql;
    }
    std::string out;
    auto stmt = (*conn)->Prepare(sql, nullptr);
    if (!stmt.ok()) {
      out = "error: " + stmt.status().message();
    } else {
      auto row = stmt->Step();
      if (!row.ok()) {
        out = "error: " + row.status().ToString();
      } else if (*row) {
        out = std::to_string(std::get<int64_t>(stmt->column(0)));
      }
    }
    s.Leave();
    return out;
  }

  testing::TestDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<Database> db_;
};

TEST_F(SessionTest, ADeferredTransactionTakesNoLockAndReadsItsSnapshot) {
  Session s1(*db_), s2(*db_);
  Run(s1, "BEGIN");
  EXPECT_TRUE(s1.in_transaction());
  EXPECT_FALSE(s1.holds_write_lock()) << "BEGIN (deferred) takes no lock";
  Run(s2, "BEGIN");
  Run(s2, "INSERT INTO t VALUES (10)", /*write=*/true);
  EXPECT_TRUE(s2.holds_write_lock());
  EXPECT_EQ(Run(s1, "SELECT sum(x) FROM t"), "1") << "s1 does not see s2's uncommitted insert";
  EXPECT_EQ(Run(s2, "SELECT sum(x) FROM t"), "11") << "s2 sees its own insert";
  Run(s2, "COMMIT");
  EXPECT_FALSE(s2.holds_write_lock());
  EXPECT_FALSE(s2.in_transaction());
  EXPECT_EQ(Run(s1, "SELECT sum(x) FROM t"), "1") << "s1 keeps its snapshot";
  Run(s1, "COMMIT");
  EXPECT_EQ(Run(s1, "SELECT sum(x) FROM t"), "11");
}

TEST_F(SessionTest, AWriteWithoutTheLockNeverCommits) {
  Session s(*db_);
  std::string out = Run(s, "INSERT INTO t VALUES (2)");
  EXPECT_NE(out.find("error"), std::string::npos) << out;
  EXPECT_EQ(Run(s, "SELECT count(*) FROM t WHERE x = 2"), "0") << "the commit hook rolled it back";
  EXPECT_FALSE(s.in_transaction());
}

TEST_F(SessionTest, WritersGetTheLockInRequestOrder) {
  Session holder(*db_), a(*db_), b(*db_);
  Run(holder, "BEGIN IMMEDIATE", true);
  ASSERT_TRUE(holder.holds_write_lock());
  std::vector<std::string> order;
  auto enter = [&](Session& s) {
    auto c = s.Enter();
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(s.TryLockWrite()) << "the lock is held";
    s.Leave();
  };
  enter(a);
  a.LockWrite([&] { order.push_back("a"); });
  enter(b);
  b.LockWrite([&] { order.push_back("b"); });
  Session late(*db_);
  enter(late);  // someone waits: TryLockWrite must not jump the queue even once the lock is free
  EXPECT_EQ(db_->stats().write_waiters, 2u);
  Run(holder, "COMMIT");
  ASSERT_EQ(order, std::vector<std::string>({"a"}));
  EXPECT_TRUE(a.holds_write_lock());
  {
    auto c = late.Enter();
    EXPECT_FALSE(late.TryLockWrite()) << "b waits: nobody jumps ahead of it";
    late.Leave();
  }
  EXPECT_EQ(Run(a, "INSERT INTO t VALUES (2)"), "");
  EXPECT_FALSE(a.holds_write_lock()) << "an autocommit write gives the lock back";
  ASSERT_EQ(order, std::vector<std::string>({"a", "b"}));
  b.Close();  // b never used its turn: closing gives it on
  EXPECT_EQ(db_->stats().write_waiters, 0u);
  Session again(*db_);
  Run(again, "INSERT INTO t VALUES (3)", true);
}

TEST_F(SessionTest, AStaleSnapshotIsToldBeforeWaiting) {
  Session reader(*db_), writer(*db_);
  Run(reader, "BEGIN");
  EXPECT_EQ(Run(reader, "SELECT count(*) FROM t"), "1");
  {
    auto c = reader.Enter();
    EXPECT_FALSE(reader.SnapshotIsStale()) << "nothing committed since its snapshot";
    reader.Leave();
  }
  Run(writer, "BEGIN IMMEDIATE", true);
  Run(writer, "INSERT INTO t VALUES (5)");
  {
    auto c = reader.Enter();
    EXPECT_FALSE(reader.SnapshotIsStale()) << "the other transaction has not committed yet";
    reader.Leave();
  }
  Run(writer, "COMMIT");
  auto c = reader.Enter();
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reader.SnapshotIsStale());
  ASSERT_TRUE(reader.TryLockWrite()) << "the lock is free";
  auto stmt = (*c)->Prepare("INSERT INTO t VALUES (6)", nullptr);
  ASSERT_TRUE(stmt.ok());
  auto step = stmt->Step();
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.status().sqlite_code(), SQLITE_BUSY_SNAPSHOT) << "SQLite agrees";
  reader.Leave();
  EXPECT_FALSE(reader.holds_write_lock()) << "it never wrote: the lock is given back";
}

TEST_F(SessionTest, AnIdleHolderPastTheTimeoutLosesTheLockToAWaiter) {
  Session holder(*db_), waiter(*db_);
  Run(holder, "BEGIN", false);
  Run(holder, "INSERT INTO t VALUES (100)", true);
  ASSERT_TRUE(holder.holds_write_lock());

  clock_.Advance(10s);
  db_->StealExpiredLock();
  EXPECT_TRUE(holder.holds_write_lock()) << "nobody waits: no reason to steal";

  auto c = waiter.Enter();
  ASSERT_FALSE(waiter.TryLockWrite());
  waiter.Leave();
  bool granted = false;
  waiter.LockWrite([&] { granted = true; });
  // Held for 10 s already; stealing counts from when it was granted, so it goes now.
  db_->StealExpiredLock();
  EXPECT_TRUE(granted);
  EXPECT_FALSE(holder.holds_write_lock());
  EXPECT_EQ(holder.ended(), Session::Ended::kStolen);
  EXPECT_EQ(db_->stats().locks_stolen, 1u);
  EXPECT_EQ(Run(holder, "SELECT 1").rfind("error", 0), 0u) << "the robbed stream answers an error until closed";
  EXPECT_EQ(Run(waiter, "INSERT INTO t VALUES (7)"), "") << "the waiter writes with the lock it was granted";
  EXPECT_EQ(Run(waiter, "SELECT count(*) FROM t WHERE x = 100"), "0") << "the holder's insert was rolled back";
  holder.Close();
  EXPECT_EQ(holder.ended(), Session::Ended::kNo);
  EXPECT_EQ(Run(holder, "SELECT count(*) FROM t WHERE x = 7"), "1");
}

TEST_F(SessionTest, TheTimeoutCountsFromTheGrant) {
  Session holder(*db_), waiter(*db_);
  Run(holder, "BEGIN IMMEDIATE", true);
  auto c = waiter.Enter();
  waiter.Leave();
  bool granted = false;
  waiter.LockWrite([&] { granted = true; });
  clock_.Advance(4900ms);
  db_->StealExpiredLock();
  EXPECT_FALSE(granted) << "4.9 s is within the timeout";
  clock_.Advance(100ms);
  db_->StealExpiredLock();
  EXPECT_TRUE(granted);
  waiter.Close();
}

TEST_F(SessionTest, ABusyHolderIsInterruptedAndLosesTheLockWhenItsRequestEnds) {
  Session holder(*db_), waiter(*db_);
  Run(holder, "BEGIN IMMEDIATE", true);
  Run(holder, "INSERT INTO t VALUES (200)");
  bool granted = false;
  waiter.LockWrite([&] { granted = true; });
  auto conn = holder.Enter();  // a request is running
  ASSERT_TRUE(conn.ok());
  clock_.Advance(6s);
  db_->StealExpiredLock();
  EXPECT_FALSE(granted) << "a running request is not robbed mid-statement";
  holder.Leave();
  EXPECT_TRUE(granted) << "its request ended: the lock goes on";
  EXPECT_EQ(holder.ended(), Session::Ended::kStolen);
  EXPECT_EQ(Run(waiter, "SELECT count(*) FROM t WHERE x = 200"), "0");
  waiter.Close();
}

// The holder's statement is really running (on its own thread) when the lock is stolen: the
// interrupt stops it, its transaction is rolled back, and the waiter goes on. A SQL function is the
// sync point that says the statement has begun; the statement would otherwise run for seconds.
TEST_F(SessionTest, AWriteRunningWhenTheLockIsStolenIsInterruptedAndRolledBack) {
  Session holder(*db_), waiter(*db_);
  Run(holder, "BEGIN IMMEDIATE", true);
  Run(holder, "INSERT INTO t VALUES (300)");
  bool granted = false;
  waiter.LockWrite([&] { granted = true; });
  auto conn = holder.Enter();
  ASSERT_TRUE(conn.ok());
  std::promise<void> started;
  auto started_future = started.get_future();
  ASSERT_EQ(sqlite3_create_function(
                (*conn)->raw(), "sync_point", 0, SQLITE_UTF8, &started,
                [](sqlite3_context* c, int, sqlite3_value**) {
                  // Called once: by the recursive CTE's anchor row.
                  static_cast<std::promise<void>*>(sqlite3_user_data(c))->set_value();
                  sqlite3_result_int(c, 1);
                },
                nullptr, nullptr),
            SQLITE_OK);
  Status result;
  std::thread request([&] {
    // Bounded: 50 million rows would take seconds, the interrupt ends it at once.
    auto stmt = (*conn)->Prepare(
        "WITH RECURSIVE c(n) AS (SELECT sync_point() UNION ALL SELECT n + 1 FROM c WHERE n < 50000000) "
        "INSERT INTO t SELECT n + 1000 FROM c",
        nullptr);
    if (!stmt.ok()) {
      result = stmt.status();
    } else {
      auto step = stmt->Step();
      result = step.ok() ? Status::OK() : step.status();
    }
  });
  started_future.wait();  // the statement is running
  clock_.Advance(6s);
  db_->StealExpiredLock();
  request.join();
  EXPECT_EQ(result.sqlite_code() & 0xff, SQLITE_INTERRUPT) << result.ToString();
  EXPECT_FALSE(granted) << "the lock goes on when the request leaves, not before";
  holder.Leave();
  EXPECT_TRUE(granted);
  EXPECT_EQ(holder.ended(), Session::Ended::kStolen);
  EXPECT_EQ(Run(waiter, "SELECT count(*) FROM t WHERE x >= 300"), "0") << "its transaction was rolled back";
  waiter.Close();
}

TEST_F(SessionTest, ExpiringAnIdleTransactionRollsItBackAndSaysSo) {
  Session s(*db_), other(*db_);
  Run(s, "BEGIN IMMEDIATE", true);
  Run(s, "INSERT INTO t VALUES (300)");
  s.Expire();
  EXPECT_EQ(s.ended(), Session::Ended::kExpired);
  EXPECT_FALSE(s.holds_write_lock());
  Run(other, "INSERT INTO t VALUES (8)", true);
  EXPECT_EQ(Run(other, "SELECT count(*) FROM t WHERE x = 300"), "0");
}

TEST(SessionBound, PastMaxConnectionsASessionWaitsAndTheWriterIsNeverRefused) {
  testing::TestDir dir;
  DatabaseOptions opts;
  opts.path = dir.file("db");
  opts.max_connections = 2;
  auto db = std::move(Database::Open(opts)).value();
  Session a(*db), b(*db), c(*db), writer(*db);
  auto hold = [](Session& s) {  // a read transaction: the session keeps its connection
    auto conn = s.Enter();
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->Exec("BEGIN; SELECT count(*) FROM sqlite_schema").ok());
    s.Leave();
    ASSERT_TRUE(s.in_transaction());
  };
  hold(a);
  hold(b);
  auto refused = c.Enter();
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsBusy()) << refused.status().ToString();
  bool ready = false;
  db->WaitForConnection([&] { ready = true; });
  EXPECT_FALSE(ready);
  // A session granted the write lock gets a connection past the bound.
  bool granted = false;
  writer.LockWrite([&] { granted = true; });
  ASSERT_TRUE(granted);
  auto w = writer.Enter();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Exec("CREATE TABLE t(x)").ok());
  writer.Leave();
  EXPECT_FALSE(ready) << "the writer's connection went back, but it was past the bound";
  a.Close();
  EXPECT_TRUE(ready) << "a connection given back wakes a waiter";
  auto now = c.Enter();
  ASSERT_TRUE(now.ok());
  c.Leave();
  b.Close();
}

TEST_F(SessionTest, ALeftOverTransactionNeverReachesTheNextUser) {
  Session s(*db_);
  Run(s, "BEGIN");
  Run(s, "SELECT count(*) FROM t");
  s.Close();
  EXPECT_FALSE(s.in_transaction());
  auto reader = db_->AcquireReader();
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE((*reader)->autocommit());
  EXPECT_TRUE((*reader)->query_only());
}

}  // namespace
}  // namespace litehouse::engine

// Strong durability's group commit (Database::GroupWrite), on a VFS that counts syncs.
namespace litehouse::engine {
namespace {

class GroupCommitTest : public ::testing::Test {
 protected:
  virtual Durability durability() const { return Durability::kStrong; }
  void SetUp() override {
    DatabaseOptions opts;
    opts.path = dir_.file("db");
    opts.durability = durability();
    opts.vfs = vfs_.name();
    db_ = std::move(Database::Open(opts)).value();
    Lease w = Writer();
    ASSERT_TRUE(w->Exec("CREATE TABLE t(x UNIQUE)").ok());
    ASSERT_TRUE(w->Exec("CREATE TABLE parent(id INTEGER PRIMARY KEY)").ok());
    ASSERT_TRUE(w->Exec("CREATE TABLE child(pid REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)").ok());
    ASSERT_TRUE(w->Exec("INSERT INTO t VALUES (1)").ok());
  }
  Lease Writer() { return testing::TakeWriter(*db_); }
  // A member running `sql`; its statement's status goes to *ran (counted in *runs), its final
  // status to *final, with the WAL syncs seen when it was answered.
  GroupMember Member(std::string sql, Status* ran, Status* final, int* runs = nullptr, int* syncs_when_done = nullptr) {
    return GroupMember{[sql, ran, runs](Connection& c) {
                         *ran = c.Exec(sql.c_str());
                         if (runs) ++*runs;
                       },
                       [this, final, syncs_when_done](Status s) {
                         *final = std::move(s);
                         if (syncs_when_done) *syncs_when_done = vfs_.count(testing::FaultVfs::kSync, testing::FaultVfs::kWal);
                       }};
  }
  int64_t Count(const char* sql) {
    Lease w = Writer();
    auto stmt = w->Prepare(sql, nullptr);
    EXPECT_TRUE(stmt.ok());
    EXPECT_TRUE(*stmt->Step());
    return std::get<int64_t>(stmt->column(0));
  }

  testing::FaultVfs& vfs_ = testing::FaultVfs::Get();
  testing::TestDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(GroupCommitTest, WritesThatArriveDuringACommitShareOneTransactionAndOneSync) {
  Lease holder = Writer();  // a commit in flight: the writes queue behind it
  constexpr int kMembers = 8;
  Status ran[kMembers], final[kMembers];
  int syncs_when_done[kMembers] = {};
  for (int i = 0; i < kMembers; ++i) {
    db_->GroupWrite(Member("INSERT INTO t VALUES (" + std::to_string(100 + i) + ")", &ran[i], &final[i], nullptr,
                           &syncs_when_done[i]));
  }
  vfs_.ResetCounts();
  holder.Release();  // the group runs here (no background executor in this test)
  EXPECT_EQ(vfs_.count(testing::FaultVfs::kSync, testing::FaultVfs::kWal), 1) << "one sync for the whole group";
  for (int i = 0; i < kMembers; ++i) {
    EXPECT_TRUE(ran[i].ok()) << ran[i].ToString();
    EXPECT_TRUE(final[i].ok()) << final[i].ToString();
    EXPECT_EQ(syncs_when_done[i], 1) << "member " << i << " was answered before its group's sync returned";
  }
  EXPECT_EQ(db_->stats().groups_committed, 1u);
  EXPECT_EQ(db_->stats().group_members, static_cast<uint64_t>(kMembers));
  EXPECT_EQ(Count("SELECT count(*) FROM t"), kMembers + 1);
}

TEST_F(GroupCommitTest, AFailingStatementFailsAloneAndTheOthersCommit) {
  Lease holder = Writer();
  Status ran[3], final[3];
  db_->GroupWrite(Member("INSERT INTO t VALUES (2)", &ran[0], &final[0]));
  db_->GroupWrite(Member("INSERT INTO t VALUES (1)", &ran[1], &final[1]));  // UNIQUE: fails
  db_->GroupWrite(Member("INSERT INTO t VALUES (3)", &ran[2], &final[2]));
  holder.Release();
  EXPECT_TRUE(ran[0].ok() && ran[2].ok());
  EXPECT_EQ(ran[1].sqlite_code() & 0xff, SQLITE_CONSTRAINT);
  EXPECT_EQ(Count("SELECT count(*) FROM t"), 3);
}

TEST_F(GroupCommitTest, AMemberWhoseDeferredForeignKeyFailsIsRolledBackAlone) {
  Lease holder = Writer();
  Status ran[3], final[3];
  db_->GroupWrite(Member("INSERT INTO parent VALUES (1)", &ran[0], &final[0]));
  db_->GroupWrite(Member("INSERT INTO child VALUES (99)", &ran[1], &final[1]));  // no parent 99
  db_->GroupWrite(Member("INSERT INTO child VALUES (1)", &ran[2], &final[2]));
  holder.Release();
  EXPECT_TRUE(ran[1].ok()) << "the statement itself succeeds: the key is deferred";
  EXPECT_EQ(final[1].sqlite_code(), SQLITE_CONSTRAINT_FOREIGNKEY) << final[1].ToString();
  EXPECT_TRUE(final[0].ok() && final[2].ok());
  EXPECT_EQ(Count("SELECT count(*) FROM child"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM child WHERE pid = 99"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM parent"), 1);
}

TEST_F(GroupCommitTest, AConflictThatRollsTheGroupBackKeepsItsErrorAndTheOthersRunAlone) {
  Lease holder = Writer();
  Status ran[3], final[3];
  int runs[3] = {};
  db_->GroupWrite(Member("INSERT INTO t VALUES (10)", &ran[0], &final[0], &runs[0]));
  db_->GroupWrite(Member("INSERT OR ROLLBACK INTO t VALUES (1)", &ran[1], &final[1], &runs[1]));
  db_->GroupWrite(Member("INSERT INTO t VALUES (11)", &ran[2], &final[2], &runs[2]));
  holder.Release();
  EXPECT_EQ(ran[1].sqlite_code() & 0xff, SQLITE_CONSTRAINT) << "its own error, as alone";
  EXPECT_EQ(runs[0], 2) << "the member before it lost its write and ran again";
  EXPECT_EQ(runs[2], 1);
  for (auto& s : final) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM t WHERE x IN (10, 11)"), 2);
}

TEST_F(GroupCommitTest, AFailedCommitFailsEveryMemberOfItsGroup) {
  Lease holder = Writer();
  Status ran[2], final[2];
  db_->GroupWrite(Member("INSERT INTO t VALUES (20)", &ran[0], &final[0]));
  db_->GroupWrite(Member("INSERT INTO t VALUES (21)", &ran[1], &final[1]));
  // The holder's own commit (none here) goes first; the group's sync of the WAL fails.
  vfs_.Arm(testing::FaultVfs::kSync, testing::FaultVfs::kWal, SQLITE_IOERR_FSYNC);
  holder.Release();
  vfs_.Disarm();
  for (auto& s : final) EXPECT_EQ(s.sqlite_code() & 0xff, SQLITE_IOERR) << s.ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM t WHERE x IN (20, 21)"), 0);
}

// Relaxed durability's group commit on the calling thread (Database::TryGroupWriteHere): what the
// server's network thread runs for the writes that arrived in one turn of its event loop.
class GroupHereTest : public GroupCommitTest {
 protected:
  Durability durability() const override { return Durability::kRelaxed; }
  static std::chrono::steady_clock::time_point Later() { return std::chrono::steady_clock::now() + 10s; }
  int WalWrites() { return vfs_.count(testing::FaultVfs::kWrite, testing::FaultVfs::kWal); }
};

TEST_F(GroupHereTest, WritesRunAsOneTransactionThatWritesEachPageOnce) {
  // What one insert alone writes to the WAL.
  std::vector<GroupMember> alone;
  Status ran0, final0;
  alone.push_back(Member("INSERT INTO t VALUES (99)", &ran0, &final0));
  vfs_.ResetCounts();
  ASSERT_TRUE(db_->TryGroupWriteHere(alone, Later()));
  const int one_insert = WalWrites();
  EXPECT_TRUE(ran0.ok() && final0.ok()) << ran0.ToString() << final0.ToString();
  EXPECT_EQ(db_->stats().groups_committed, 0u) << "a single write runs as its own statement";

  constexpr int kMembers = 8;
  Status ran[kMembers], final[kMembers];
  std::vector<GroupMember> members;
  for (int i = 0; i < kMembers; ++i)
    members.push_back(Member("INSERT INTO t VALUES (" + std::to_string(100 + i) + ")", &ran[i], &final[i]));
  vfs_.ResetCounts();
  ASSERT_TRUE(db_->TryGroupWriteHere(members, Later()));
  for (int i = 0; i < kMembers; ++i) {
    EXPECT_TRUE(ran[i].ok()) << ran[i].ToString();
    EXPECT_TRUE(final[i].ok()) << final[i].ToString();
  }
  EXPECT_EQ(WalWrites(), one_insert) << "eight inserts into the same pages write them once";
  EXPECT_EQ(db_->stats().groups_committed, 1u);
  EXPECT_EQ(db_->stats().group_members, static_cast<uint64_t>(kMembers));
  EXPECT_EQ(Count("SELECT count(*) FROM t"), kMembers + 2);
}

TEST_F(GroupHereTest, NothingRunsWhileTheLockIsHeld) {
  Lease holder = Writer();
  Status ran, final = Status::Internal("not called");
  std::vector<GroupMember> members;
  members.push_back(Member("INSERT INTO t VALUES (2)", &ran, &final));
  EXPECT_FALSE(db_->TryGroupWriteHere(members, Later()));
  EXPECT_EQ(final.code(), StatusCode::kInternal) << "done is not called: the caller runs it another way";
  holder.Release();
  EXPECT_EQ(Count("SELECT count(*) FROM t WHERE x = 2"), 0);
}

TEST_F(GroupHereTest, AFailingStatementOrADeferredForeignKeyFailsAloneAndTheOthersCommit) {
  Status ran[4], final[4];
  std::vector<GroupMember> members;
  members.push_back(Member("INSERT INTO t VALUES (2)", &ran[0], &final[0]));
  members.push_back(Member("INSERT INTO t VALUES (1)", &ran[1], &final[1]));       // UNIQUE: fails
  members.push_back(Member("INSERT INTO child VALUES (99)", &ran[2], &final[2]));  // no parent 99
  members.push_back(Member("INSERT INTO t VALUES (3)", &ran[3], &final[3]));
  ASSERT_TRUE(db_->TryGroupWriteHere(members, Later()));
  EXPECT_EQ(ran[1].sqlite_code() & 0xff, SQLITE_CONSTRAINT);
  EXPECT_TRUE(ran[2].ok()) << "the statement itself succeeds: the key is deferred";
  EXPECT_EQ(final[2].sqlite_code(), SQLITE_CONSTRAINT_FOREIGNKEY) << final[2].ToString();
  EXPECT_TRUE(final[0].ok() && final[3].ok());
  EXPECT_EQ(Count("SELECT count(*) FROM t"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM child"), 0);
}

TEST_F(GroupHereTest, AMemberThatEndsTheTransactionRunsAgainAloneAndTheOthersAreHandedBack) {
  const Status not_called = Status::Internal("not called");
  Status ran[3], final[3] = {not_called, not_called, not_called};
  int runs[3] = {};
  std::vector<GroupMember> members;
  members.push_back(Member("INSERT INTO t VALUES (10)", &ran[0], &final[0], &runs[0]));
  members.push_back(Member("INSERT OR ROLLBACK INTO t VALUES (1)", &ran[1], &final[1], &runs[1]));
  members.push_back(Member("INSERT INTO t VALUES (11)", &ran[2], &final[2], &runs[2]));
  ASSERT_TRUE(db_->TryGroupWriteHere(members, Later()));
  EXPECT_TRUE(final[1].IsCancelled()) << "it runs again alone, where its error is its own: " << final[1].ToString();
  EXPECT_EQ(final[0].code(), StatusCode::kInternal) << "handed back, not done";
  EXPECT_EQ(final[2].code(), StatusCode::kInternal) << "handed back, not done";
  EXPECT_EQ(runs[2], 0) << "the members after it were not run";
  EXPECT_EQ(Count("SELECT count(*) FROM t WHERE x IN (10, 11)"), 0) << "nothing of the group stayed";
  EXPECT_EQ(db_->stats().groups_committed, 0u);
  EXPECT_EQ(db_->stats().group_members_handed_back, 2u);
  // The two handed back, in order, make the caller's next group, and commit.
  ASSERT_EQ(members.size(), 2u);
  ASSERT_TRUE(db_->TryGroupWriteHere(members, Later()));
  EXPECT_TRUE(members.empty());
  EXPECT_TRUE(final[0].ok() && final[2].ok()) << final[0].ToString() << final[2].ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM t WHERE x IN (10, 11)"), 2);
}

TEST_F(GroupHereTest, AWritePastTheBudgetIsUndoneAndToldToRunAgain) {
  constexpr char kLong[] =
      "INSERT INTO t WITH RECURSIVE c(n) AS (SELECT 1000 UNION ALL SELECT n + 1 FROM c WHERE n < 400000) "
      "SELECT n FROM c";
  {
    Status ran, final;
    std::vector<GroupMember> alone;
    alone.push_back(Member(kLong, &ran, &final));
    ASSERT_TRUE(db_->TryGroupWriteHere(alone, std::chrono::steady_clock::now()));
    EXPECT_TRUE(final.IsCancelled()) << final.ToString();
    EXPECT_TRUE(alone.empty());
  }
  {
    const Status not_called = Status::Internal("not called");
    Status ran[3], final[3] = {not_called, not_called, not_called};
    std::vector<GroupMember> members;
    members.push_back(Member(kLong, &ran[0], &final[0]));
    members.push_back(Member("INSERT INTO t VALUES (20)", &ran[1], &final[1]));
    members.push_back(Member("INSERT INTO t VALUES (21)", &ran[2], &final[2]));
    ASSERT_TRUE(db_->TryGroupWriteHere(members, std::chrono::steady_clock::now()));
    EXPECT_TRUE(final[0].IsCancelled()) << "the long one runs again alone: " << final[0].ToString();
    EXPECT_EQ(final[1].code(), StatusCode::kInternal) << "handed back for the next group";
    EXPECT_EQ(final[2].code(), StatusCode::kInternal) << "handed back for the next group";
    EXPECT_EQ(members.size(), 2u);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM t"), 1) << "nothing of either stayed";
}

// The progress handler counts each statement's steps afresh, so many short members would never be
// interrupted: the clock is read between members, and those not run by the deadline are handed back.
TEST_F(GroupHereTest, MembersNotRunByTheDeadlineAreHandedBackAndThoseThatRanCommit) {
  const Status not_called = Status::Internal("not called");
  Status ran[3], final[3] = {not_called, not_called, not_called};
  int runs[3] = {};
  std::vector<GroupMember> members;
  for (int i = 0; i < 3; ++i)
    members.push_back(Member("INSERT INTO t VALUES (" + std::to_string(30 + i) + ")", &ran[i], &final[i], &runs[i]));
  // Already past: the first (a few VM steps, below the handler's period) runs, the others do not.
  ASSERT_TRUE(db_->TryGroupWriteHere(members, std::chrono::steady_clock::now()));
  EXPECT_TRUE(final[0].ok()) << final[0].ToString();
  EXPECT_EQ(runs[0], 1);
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(final[i].code(), StatusCode::kInternal) << "handed back, not done: " << final[i].ToString();
    EXPECT_EQ(runs[i], 0);
  }
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(Count("SELECT count(*) FROM t WHERE x >= 30"), 1);
  // They come first in the caller's next group.
  ASSERT_TRUE(db_->TryGroupWriteHere(members, Later()));
  EXPECT_TRUE(final[1].ok() && final[2].ok()) << final[1].ToString() << final[2].ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM t WHERE x >= 30"), 3);
}

// When the lock is held, a group waits for it in its FIFO queue, behind the sessions already waiting,
// holding no thread, and runs on the caller's thread once granted.
TEST_F(GroupHereTest, AGroupWaitsForTheLockInItsQueueAndRunsWhenGranted) {
  Lease holder = Writer();
  Session before(*db_);
  ASSERT_TRUE(before.Enter().ok());
  before.Leave();
  bool before_granted = false;
  before.LockWrite([&] { before_granted = true; });  // queued first
  bool granted = false;
  db_->LockForGroup([&] { granted = true; });
  EXPECT_FALSE(granted);
  Status ran, final = Status::Internal("not called");
  std::vector<GroupMember> members;
  members.push_back(Member("INSERT INTO t VALUES (50)", &ran, &final));
  EXPECT_FALSE(db_->TryGroupWriteHere(members, Later())) << "others wait: a new group queues too";
  holder.Release();
  EXPECT_TRUE(before_granted) << "FIFO: the session queued first goes first";
  EXPECT_FALSE(granted);
  {
    auto conn = before.Enter();
    ASSERT_TRUE(conn.ok());
    EXPECT_TRUE((*conn)->Exec("INSERT INTO t VALUES (49)").ok());
    before.Leave();  // autocommit: the lock goes on
  }
  ASSERT_TRUE(granted) << "the group's turn, granted on the thread that gave the lock back";
  db_->RunGroupHere(members, Later());
  EXPECT_TRUE(members.empty());
  EXPECT_TRUE(final.ok()) << final.ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM t WHERE x IN (49, 50)"), 2) << "and the lock is free again";
  before.Close();
}

// A write alone that leaves a transaction open (a BEGIN the caller's check missed) must not keep
// it on the engine's connection, nor hand the lock on while SQLite's is held.
TEST_F(GroupHereTest, AWriteThatLeavesATransactionOpenIsUndone) {
  Status ran, final;
  std::vector<GroupMember> alone;
  alone.push_back(Member("BEGIN IMMEDIATE", &ran, &final));
  ASSERT_TRUE(db_->TryGroupWriteHere(alone, Later()));
  EXPECT_TRUE(final.IsCancelled()) << final.ToString();
  Lease w = Writer();
  EXPECT_TRUE(w->autocommit());
  EXPECT_TRUE(w->Exec("INSERT INTO t VALUES (40)").ok()) << "SQLite's write lock is free";
}

// A held session (a cursor's paused statement) keeps its connection and the lock between requests
// even in autocommit; stealing never takes them from under it, but wakes the holder, whose next
// request unholds and hands the lock on.
TEST_F(SessionTest, AHeldSessionKeepsItsConnectionAndIsWokenToGiveTheLockUp) {
  Session holder(*db_), waiter(*db_);
  int woken = 0;
  {
    auto conn = holder.Enter();
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(holder.TryLockWrite());
    ASSERT_TRUE((*conn)->Exec("INSERT INTO t VALUES (5)").ok());
    holder.Hold([&] { ++woken; });
    holder.Leave();
  }
  EXPECT_TRUE(holder.in_transaction()) << "the connection stays with the held session";
  EXPECT_TRUE(holder.holds_write_lock()) << "and so does the lock";
  bool granted = false;
  waiter.LockWrite([&] { granted = true; });
  clock_.Advance(10s);
  db_->StealExpiredLock();
  EXPECT_EQ(woken, 1);
  EXPECT_TRUE(holder.steal_pending());
  EXPECT_FALSE(granted) << "not taken from under a paused statement";
  {
    auto conn = holder.Enter();
    ASSERT_TRUE(conn.ok());
    holder.Unhold();
    holder.Leave();
  }
  EXPECT_TRUE(granted);
  EXPECT_FALSE(holder.holds_write_lock());
  EXPECT_FALSE(holder.in_transaction());
  EXPECT_EQ(holder.ended(), Session::Ended::kNo) << "autocommit: nothing was rolled back";
  EXPECT_EQ(Run(waiter, "SELECT count(*) FROM t WHERE x = 5"), "1");
}

}  // namespace
}  // namespace litehouse::engine
