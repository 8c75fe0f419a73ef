#include "engine/database.h"

#include <algorithm>
#include <cassert>
#include <filesystem>
#include <future>

#include "common/log.h"
#include "engine/session.h"

namespace litehouse::engine {
namespace {

// SQLite's unix VFS that holds the file for one process (DatabaseOptions::exclusive_file).
constexpr const char* kExclusiveVfs = "unix-excl";

}  // namespace

Lease& Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    Release();
    db_ = o.db_, conn_ = std::move(o.conn_), writes_ = o.writes_;
    o.db_ = nullptr;
  }
  return *this;
}

void Lease::Release() {
  if (!conn_) return;
  Database* db = db_;
  db_ = nullptr;
  std::unique_ptr<Connection> conn = std::move(conn_);
  const bool discard = discard_;
  discard_ = false;
  if (!writes_) return db->ReturnConnection(std::move(conn), discard);
  // The write lock goes on only once SQLite's own lock is free: after the rollback of what was left
  // open, or after the connection that could not roll back is closed.
  if (db->Clean(*conn)) {
    db->Unlock(conn.get());
    db->ReturnConnection(std::move(conn), discard);
  } else {
    db->ReturnConnection(std::move(conn), discard);
    db->Unlock(nullptr);
  }
}

Result<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  if (options.exclusive_file && !options.vfs.empty()) {
    return Status::InvalidArgument("exclusive_file and a VFS of the caller's own cannot go together");
  }
  std::unique_ptr<Database> db(new Database(options));
  db->open_name_ = options.path;
  if (options.hide_directory) {
    std::error_code ec;
    std::filesystem::path path = std::filesystem::absolute(options.path, ec);
    if (ec) return Status::IoError("cannot resolve " + options.path + ": " + ec.message());
    auto vfs = HiddenDirVfs::Register(path.parent_path().string(), options.exclusive_file ? kExclusiveVfs : nullptr);
    if (!vfs.ok()) return vfs.status();
    db->vfs_ = std::move(vfs).value();
    db->open_name_ = path.filename().string();
  }
  db->checkpoint_due_at_ = options.checkpoint_threshold_frames;
  auto first = db->OpenConnection(Role::kWriter);
  if (!first.ok()) return first.status();
  {
    MutexLock lock(&db->mu_);  // nobody else sees the database yet; the fields say mu_ all the same
    db->idle_.push_back(std::move(first).value());
    db->stats_.connections_open = 1;
  }
  return db;
}

Result<std::unique_ptr<Connection>> Database::OpenConnection(Role role) {
  const char* vfs = vfs_                    ? vfs_->name()
                    : !options_.vfs.empty() ? options_.vfs.c_str()
                    : options_.exclusive_file ? kExclusiveVfs
                                              : nullptr;
  auto conn = Connection::Open(open_name_, role, options_.guard, vfs);
  if (!conn.ok()) return conn.status();
  // A pooled connection may commit a write only while its holder has the lock (set_may_write): no
  // write can land without it.
  (*conn)->set_may_write(false);
  Status s;
  if (options_.durability != Durability::kRelaxed) {
    const char* sync = options_.durability == Durability::kOff      ? "PRAGMA synchronous=OFF"
                       : options_.durability == Durability::kStrong ? "PRAGMA synchronous=FULL"
                                                                    : "PRAGMA synchronous=EXTRA";
    s = EngineExec(**conn, sync);
    if (!s.ok()) return s;
  }
  sqlite3_wal_hook((*conn)->raw(), &Database::OnWalCommit, this);
  return conn;
}

Status Database::EngineExec(Connection& conn, const char* sql) {
  conn.guard().set_engine_statement(true);
  Status s = conn.ExecKept(sql);
  conn.guard().set_engine_statement(false);
  return s;
}

void Database::GroupWrite(GroupMember member) {
  {
    MutexLock lock(&mu_);
    group_queue_.push_back(std::move(member));
    if (group_pending_) return;  // the leader queued or running takes it into its next group
    group_pending_ = true;
  }
  QueueGroupLeader();
}

void Database::QueueGroupLeader() {
  Lock(nullptr, [this] {
    if (background_) return background_([this] { RunGroups(); });
    RunGroups();
  });
}

void Database::RunGroups() {
  auto conn = TakeConnection();
  if (conn.ok()) {
    (*conn)->set_may_write(true);
  }
  if (!conn.ok()) {
    std::vector<GroupMember> members;
    {
      MutexLock lock(&mu_);
      members.swap(group_queue_);
      group_pending_ = false;
    }
    Unlock(nullptr);
    for (auto& m : members) m.done(conn.status());
    return;
  }
  while (true) {
    std::vector<GroupMember> members;
    bool yield = false;
    {
      MutexLock lock(&mu_);
      members.swap(group_queue_);
      if (members.empty()) group_pending_ = false;
    }
    if (members.empty()) break;
    RunGroup(**conn, members);
    {
      MutexLock lock(&mu_);
      // Sessions waiting for the lock go before the next group: queue the leader behind them.
      yield = !group_queue_.empty() && !waiters_.empty();
    }
    if (yield) {
      QueueGroupLeader();
      break;
    }
  }
  Connection* raw = conn->get();
  Unlock(raw);
  ReturnConnection(std::move(conn).value());
}

void Database::RunMember(Connection& conn, GroupMember& member, Status* outcome) {
  try {
    member.run(conn);
  } catch (const std::exception& e) {
    *outcome = Status::Internal(std::string("the write failed: ") + e.what());
  }
}

bool Database::RunMemberInSavepoint(Connection& conn, GroupMember& member, Status* outcome) {
  if (Status begun = EngineExec(conn, "SAVEPOINT lh_group_member"); !begun.ok()) {
    *outcome = begun;  // it never ran
    return false;
  }
  RunMember(conn, member, outcome);
  if (conn.autocommit()) return false;  // its conflict resolution ended the whole transaction
  int deferred_fks = 0, high = 0;
  sqlite3_db_status(conn.raw(), SQLITE_DBSTATUS_DEFERRED_FKS, &deferred_fks, &high, 0);
  if (deferred_fks > 0 || !outcome->ok()) {
    // What its own COMMIT would have refused: rolled back alone.
    if (!EngineExec(conn, "ROLLBACK TO lh_group_member").ok()) return false;
    if (outcome->ok()) *outcome = Status::Sqlite(SQLITE_CONSTRAINT_FOREIGNKEY, "FOREIGN KEY constraint failed");
  }
  return EngineExec(conn, "RELEASE lh_group_member").ok();
}

void Database::RunGroup(Connection& conn, std::vector<GroupMember>& members) {
  std::vector<Status> outcome(members.size());
  size_t i = 0;
  while (i < members.size()) {
    Status begun = EngineExec(conn, "BEGIN IMMEDIATE");
    if (!begun.ok()) {
      for (; i < members.size(); ++i) outcome[i] = begun;
      break;
    }
    std::vector<size_t> in_txn;  // members whose writes this transaction holds
    for (; i < members.size(); ++i) {
      // A savepoint statement that failed leaves the transaction as it was: the group goes on.
      (void)RunMemberInSavepoint(conn, members[i], &outcome[i]);
      if (conn.autocommit()) {
        // Its conflict resolution (OR ROLLBACK, RAISE(ROLLBACK)) ended the whole transaction: its own
        // error stands, as it would alone; the members before it lost their writes, and run again,
        // each in its own transaction.
        LH_LOG_DEBUG("a group commit member rolled the group back; {} member(s) run again alone", in_txn.size());
        for (size_t j : in_txn) RunMember(conn, members[j], &outcome[j]);
        in_txn.clear();
        ++i;
        break;
      }
      in_txn.push_back(i);
    }
    if (conn.autocommit()) continue;
    Status committed = EngineExec(conn, "COMMIT");  // the group's one sync
    if (!committed.ok()) {
      LH_LOG_ERROR("a group commit of {} write(s) failed: {}", in_txn.size(), committed.ToString());
      (void)EngineExec(conn, "ROLLBACK");
    }
    for (size_t j : in_txn) {
      if (outcome[j].ok()) outcome[j] = committed;
    }
    if (!committed.ok()) continue;
    LH_LOG_DEBUG("committed a group of {} write(s) on the pool", in_txn.size());
    MutexLock lock(&mu_);
    ++stats_.groups_committed;
    stats_.group_members += in_txn.size();
  }
  for (size_t k = 0; k < members.size(); ++k) members[k].done(outcome[k]);
}

bool Database::TryGroupWriteHere(std::vector<GroupMember>& members, std::chrono::steady_clock::time_point deadline) {
  assert(options_.durability != Durability::kStrong && options_.durability != Durability::kExtra);
  if (members.empty()) return true;
  if (!TryLock(nullptr)) return false;
  RunGroupHere(members, deadline);
  return true;
}

void Database::LockForGroup(std::function<void()> granted) {
  assert(options_.durability != Durability::kStrong && options_.durability != Durability::kExtra);
  Lock(nullptr, std::move(granted));
}

void Database::RunGroupHere(std::vector<GroupMember>& members, std::chrono::steady_clock::time_point deadline) {
  auto taken = TakeConnection();
  if (!taken.ok()) {
    Unlock(nullptr, /*checkpoint_here=*/false);
    for (auto& m : members) m.done(taken.status());
    members.clear();
    return;
  }
  Connection& conn = **taken;
  conn.set_may_write(true);
  std::vector<Status> outcome(members.size());
  // Members not begun by the deadline (from `not_begun` on) are handed back. A group undone whole
  // (`undone`) hands back every member but the one that undid it (`culprit`: its statement ran past
  // the budget, or it ended or left open the transaction), which runs again alone; when nothing ran
  // (BEGIN failed), every member runs again alone.
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t not_begun = members.size();
  bool undone = false;
  size_t culprit = kNone;
  if (members.empty()) {
    // nothing to run
  } else if (members.size() == 1) {
    conn.guard().StartBudget(deadline);
    RunMember(conn, members[0], &outcome[0]);
    // Interrupted (SQLite undid its statement), or it left a transaction open (a BEGIN that got past
    // the caller's check): nothing of it may stay on the engine's connection.
    undone = conn.guard().over_budget() || !conn.autocommit();
    if (undone) culprit = 0;
  } else if (!EngineExec(conn, "BEGIN IMMEDIATE").ok()) {
    undone = true;  // nothing ran
  } else {
    conn.guard().StartBudget(deadline);
    for (size_t i = 0; i < members.size() && !undone; ++i) {
      // The progress handler counts each statement's steps afresh: between members, the clock.
      if (i > 0 && std::chrono::steady_clock::now() >= deadline) {
        not_begun = i;
        break;
      }
      // The transaction did not survive the member, or it ran past the budget (an interrupt inside a
      // transaction may undo it whole): the group is undone.
      undone = !RunMemberInSavepoint(conn, members[i], &outcome[i]) || conn.guard().over_budget();
      if (undone) culprit = i;
    }
    conn.guard().EndBudget();
    if (!undone) {
      Status committed = EngineExec(conn, "COMMIT");
      if (committed.ok()) {
        LH_LOG_DEBUG("committed a group of {} write(s) here", not_begun);
        MutexLock lock(&mu_);
        ++stats_.groups_committed;
        stats_.group_members += not_begun;
      } else {
        LH_LOG_ERROR("a group commit of {} write(s) failed: {}", not_begun, committed.ToString());
        for (size_t k = 0; k < not_begun; ++k)
          if (outcome[k].ok()) outcome[k] = committed;
      }
    }
  }
  conn.guard().EndBudget();  // also where BEGIN failed
  if (!conn.autocommit()) (void)EngineExec(conn, "ROLLBACK");
  // The connection is made clean (or closed) before the lock goes on, so that the next holder finds
  // SQLite's own lock free.
  ReturnConnection(std::move(taken).value());
  Unlock(nullptr, /*checkpoint_here=*/false);
  const Status again = Status::Cancelled("the write's group was undone; it runs again alone");
  std::vector<GroupMember> handed_back;
  for (size_t k = 0; k < members.size(); ++k) {
    if (undone ? culprit != kNone && k != culprit : k >= not_begun) {
      handed_back.push_back(std::move(members[k]));
    } else {
      members[k].done(undone ? again : outcome[k]);
    }
  }
  if (!handed_back.empty()) {
    MutexLock lock(&mu_);
    stats_.group_members_handed_back += handed_back.size();
  }
  members.swap(handed_back);
}

Database::~Database() {
  MutexLock lock(&mu_);
  // The lock may still be marked held: at shutdown a grant can go to a waiter whose executor no
  // longer runs. Every connection must be back, though.
  assert(connections_out_ == 0);
  for (auto& conn : idle_) sqlite3_wal_hook(conn->raw(), nullptr, nullptr);
  // The last connection to close checkpoints and removes the WAL file.
  idle_.clear();
}

Result<std::unique_ptr<Connection>> Database::TakeConnection() {
  {
    MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      ++connections_out_;
      return conn;
    }
  }
  auto opened = OpenConnection(Role::kWriter);
  if (!opened.ok()) return opened.status();
  MutexLock lock(&mu_);
  ++connections_out_;
  stats_.connections_open = idle_.size() + connections_out_;
  return opened;
}

bool Database::TakeSessionPlace(bool force) {
  MutexLock lock(&mu_);
  if (!force && options_.max_connections > 0 && session_places_ >= options_.max_connections) return false;
  ++session_places_;
  return true;
}

void Database::GiveSessionPlace() {
  std::function<void()> next;
  {
    MutexLock lock(&mu_);
    --session_places_;
    // Still at the bound (the place given back was a writer's, past it): nobody may take one yet.
    if (connection_waiters_.empty() || (options_.max_connections > 0 && session_places_ >= options_.max_connections)) return;
    next = std::move(connection_waiters_.front());
    connection_waiters_.pop_front();
  }
  next();
}

void Database::WaitForConnection(std::function<void()> ready) {
  {
    MutexLock lock(&mu_);
    if (options_.max_connections > 0 && session_places_ >= options_.max_connections) {
      connection_waiters_.push_back(std::move(ready));
      return;
    }
  }
  ready();
}

bool Database::Clean(Connection& conn) {
  conn.guard().EndBudget();  // an inline budget never outlives its user (one that threw before ending it)
  if (!conn.autocommit()) {
    // The holder left a transaction open (a stream that expired or closed mid-transaction).
    // Never hand an open transaction to the next holder.
    LH_LOG_WARN("releasing a connection with an open transaction: rolling it back");
    Status s = conn.Exec("ROLLBACK");
    if (!s.ok()) LH_LOG_WARN("rollback failed: {}", s.ToString());
    if (!conn.autocommit()) return false;
  }
  conn.guard().set_read_only(false);
  if (conn.TakeSettingsChanged()) {
    Status s = conn.ResetSettings();
    if (!s.ok()) {
      LH_LOG_WARN("cannot restore connection settings: {}", s.ToString());
      return false;
    }
  }
  conn.set_may_write(false);
  return conn.SetQueryOnly(false).ok();
}

void Database::ReturnConnection(std::unique_ptr<Connection> conn, bool discard) {
  bool clean = !discard && Clean(*conn);
  if (!clean && !discard) LH_LOG_WARN("closing a connection that could not be made clean for its next user");
  std::unique_ptr<Connection> closing;
  {
    MutexLock lock(&mu_);
    --connections_out_;
    if (clean && idle_.size() < options_.max_idle_connections) {
      idle_.push_back(std::move(conn));
    } else {
      sqlite3_wal_hook(conn->raw(), nullptr, nullptr);
      closing = std::move(conn);
    }
    stats_.connections_open = idle_.size() + connections_out_;
  }
  // `closing` is closed here, outside the lock.
}

void Database::GrantLocked(Session* session) {
  locked_ = true;
  lock_session_ = session;
  lock_granted_at_ = clock_.Now();
  ++stats_.write_locks;
  if (session) {
    session->AssertSameDatabase(*this);
    session->holds_lock_ = true;
    session->waiting_ = false;
  }
}

bool Database::TryLock(Session* session) {
  MutexLock lock(&mu_);
  if (locked_ || !waiters_.empty()) return false;
  GrantLocked(session);
  return true;
}

void Database::Lock(Session* session, std::function<void()> granted) {
  {
    MutexLock lock(&mu_);
    if (locked_ || !waiters_.empty()) {
      if (session) {
        session->AssertSameDatabase(*this);
        session->waiting_ = true;
      }
      waiters_.push_back(Waiter{session, std::move(granted)});
      return;
    }
    GrantLocked(session);
  }
  granted();
}

void Database::CancelWait(Session* session) {
  MutexLock lock(&mu_);
  auto it = std::find_if(waiters_.begin(), waiters_.end(), [&](const Waiter& w) { return w.session == session; });
  if (it != waiters_.end()) waiters_.erase(it);
  session->AssertSameDatabase(*this);
  session->waiting_ = false;
}

void Database::Unlock(Connection* conn, bool checkpoint_here) {
  // Still the holder here: checkpoint before anyone else may write. PASSIVE never waits for readers;
  // frames that readers still need stay in the WAL and are copied by a later checkpoint.
  // With a background executor, the checkpoint runs there, beside the next writer (a PASSIVE
  // checkpoint needs no write lock, and every frame it copies was seen by the commit observer when it
  // was committed); without one, here, before the lock goes on.
  const bool due = wal_frames_ >= checkpoint_due_at_;
  const bool overdue = options_.checkpoint_overdue_frames > 0 && wal_frames_ >= options_.checkpoint_overdue_frames;
  if (background_ && !overdue) checkpoint_here = false;
  if (conn && due && checkpoint_here) {
    if (overdue && background_) {
      MutexLock lock(&mu_);
      ++stats_.checkpoints_overdue;
    }
    (void)RunCheckpoint(*conn, SQLITE_CHECKPOINT_PASSIVE);
  }
  std::function<void()> next;
  {
    MutexLock lock(&mu_);
    locked_ = false;
    lock_session_ = nullptr;
    if (!waiters_.empty()) {
      Waiter w = std::move(waiters_.front());
      waiters_.pop_front();
      GrantLocked(w.session);
      next = std::move(w.granted);
    }
  }
  if (next) next();
  if (due && !checkpoint_here) ScheduleCheckpoint();
}

void Database::ScheduleCheckpoint() {
  {
    MutexLock lock(&mu_);
    if (checkpoint_scheduled_) return;
    checkpoint_scheduled_ = true;
  }
  // A PASSIVE checkpoint takes SQLite's checkpoint lock, not the write lock: writers go on meanwhile.
  auto job = [this] {
    auto conn = TakeConnection();
    if (conn.ok()) {
      (void)RunCheckpoint(**conn, SQLITE_CHECKPOINT_PASSIVE);
      ReturnConnection(std::move(conn).value());
    }
    MutexLock lock(&mu_);
    checkpoint_scheduled_ = false;
  };
  if (background_) return background_(job);
  job();
}

void Database::AcquireWriter(WriterCallback granted) {
  Lock(nullptr, [this, granted = std::move(granted)]() mutable {
    auto conn = TakeConnection();
    if (conn.ok()) {
      (*conn)->set_may_write(true);
      return granted(Lease(this, std::move(conn).value(), true));
    }
    LH_LOG_ERROR("cannot open a connection for the writer: {}", conn.status().ToString());
    Unlock(nullptr);
    granted(Lease());
  });
}

Result<Lease> Database::AcquireReader() {
  auto conn = TakeConnection();
  if (!conn.ok()) return conn.status();
  if (Status s = (*conn)->SetQueryOnly(true); !s.ok()) {
    ReturnConnection(std::move(conn).value());
    return s;
  }
  return Lease(this, std::move(conn).value(), false);
}

bool Database::SnapshotIsStale(Connection& conn) {
  sqlite3_snapshot* mine = nullptr;
  int mine_rc = sqlite3_snapshot_get(conn.raw(), "main", &mine);
  auto probe = TakeConnection();
  if (!probe.ok()) {
    sqlite3_snapshot_free(mine);
    return false;
  }
  Connection& p = **probe;
  // The latest snapshot: what a read transaction begun now sees.
  sqlite3_snapshot* latest = nullptr;
  p.guard().set_engine_statement(true);
  int latest_rc = SQLITE_ERROR;
  if (p.Exec("BEGIN; SELECT count(*) FROM sqlite_schema").ok()) {
    latest_rc = sqlite3_snapshot_get(p.raw(), "main", &latest);
    (void)p.Exec("COMMIT");
  }
  p.guard().set_engine_statement(false);
  ReturnConnection(std::move(probe).value());
  // A snapshot cannot be taken of a WAL no transaction was written to yet: if ours could not and the
  // latest can, something was committed since.
  bool stale = latest_rc == SQLITE_OK && (mine_rc != SQLITE_OK || sqlite3_snapshot_cmp(mine, latest) < 0);
  sqlite3_snapshot_free(mine);
  sqlite3_snapshot_free(latest);
  return stale;
}

void Database::StealExpiredLock() {
  std::unique_ptr<Connection> taken;
  std::function<void()> wake;
  {
    MutexLock lock(&mu_);
    Session* holder = lock_session_;
    if (!holder || waiters_.empty() || clock_.Now() - lock_granted_at_ < options_.txn_timeout) return;
    holder->AssertSameDatabase(*this);
    // Granted, and not yet run: it has no transaction to take back, and its request is about to
    // start (a pool saturated by long queries may delay it).
    if (!holder->busy_ && !holder->conn_) return;
    if (holder->busy_) {
      // Its request is running: stop it; Leave() rolls back and hands the lock on.
      if (!holder->steal_pending_) LH_LOG_WARN("a transaction held the write lock past the timeout: interrupting it");
      holder->steal_pending_ = true;
      if (holder->conn_) sqlite3_interrupt(holder->conn_->raw());
      return;
    }
    if (holder->held_) {
      // A cursor's statement is paused on the connection (Session::Hold): its holder ends the batch
      // in its next request, whose Leave hands the lock on. Woken here (again at every sweep).
      if (!holder->steal_pending_) LH_LOG_WARN("a cursor held the write lock past the timeout: ending its batch");
      holder->steal_pending_ = true;
      wake = holder->on_steal_;
    } else {
      taken = std::move(holder->conn_);
      holder->holds_lock_ = false;
      holder->steal_pending_ = false;
      holder->ended_ = Session::Ended::kStolen;
      ++stats_.locks_stolen;
    }
  }
  if (wake) {
    wake();
    return;
  }
  LH_LOG_WARN("a transaction held the write lock for longer than {} ms while others waited: rolling it back",
              options_.txn_timeout.count());
  // Rolled back (or closed) before the lock is handed on, so the next holder finds SQLite's own lock
  // free.
  if (taken && Clean(*taken)) {
    Unlock(taken.get());
    ReturnConnection(std::move(taken));
  } else {
    if (taken) ReturnConnection(std::move(taken));
    Unlock(nullptr);
  }
  GiveSessionPlace();  // the robbed session's connection
}

int Database::OnWalCommit(void* self, sqlite3* db, const char*, int frames) {
  auto* me = static_cast<Database*>(self);
  // One committer at a time (the write lock), so this read-modify-write needs no CAS. A WAL smaller
  // than before restarted in this commit: all its frames are new. The first commit after opening
  // adds nothing: the WAL's size before it is unknown (a WAL left from before the open is not this
  // process's growth), so one commit's frames go uncounted.
  const int64_t before = me->wal_frames_.load(std::memory_order_relaxed);
  if (me->wal_size_known_) {
    me->wal_frames_appended_.fetch_add(frames >= before ? frames - before : frames, std::memory_order_relaxed);
  }
  me->wal_size_known_ = true;
  me->wal_frames_ = frames;
  if (me->options_.commit_observer) me->options_.commit_observer->OnCommit(db, frames);
  return SQLITE_OK;
}

Status Database::RunCheckpoint(Connection& conn, int mode) {
  CommitObserver* observer = options_.commit_observer;
  if (observer && !observer->MayCheckpoint()) {
    MutexLock lock(&mu_);
    ++stats_.checkpoints_held_back;
    return Status::Busy("the commit observer holds checkpoints back");
  }
  int log_frames = 0, checkpointed = 0;
  int rc;
  {
    MutexLock one_at_a_time(&checkpoint_mu_);
    rc = sqlite3_wal_checkpoint_v2(conn.raw(), nullptr, mode, &log_frames, &checkpointed);
  }
  if ((rc & 0xff) == SQLITE_BUSY) {
    // RESTART and TRUNCATE wait for readers of older frames, and give up: nothing failed, but it is
    // counted, and said at most once a minute.
    MutexLock lock(&mu_);
    ++stats_.checkpoints_busy;
    auto now = clock_.Now();
    if (now - checkpoint_busy_logged_ >= std::chrono::minutes(1)) {
      checkpoint_busy_logged_ = now;
      LH_LOG_WARN("a checkpoint could not finish: a reader of older WAL frames held it ({} times so far)", stats_.checkpoints_busy);
    }
    return Status::Busy("a reader of older WAL frames kept the checkpoint from finishing");
  }
  Status s = rc == SQLITE_OK ? Status::OK() : conn.ErrorStatus(rc);
  if (rc == SQLITE_OK) {
    // All copied: the next writer restarts the WAL from its start, and the next commit says its size.
    checkpoint_due_at_ = checkpointed < log_frames ? log_frames + options_.checkpoint_threshold_frames
                                                   : options_.checkpoint_threshold_frames;
  }
  MutexLock lock(&mu_);
  checkpoint_status_ = s;
  if (!s.ok()) {
    ++stats_.checkpoint_failures;
    LH_LOG_ERROR("checkpoint failed: {}", s.ToString());
    return s;
  }
  ++stats_.checkpoints;
  if (checkpointed < log_frames) {
    // A reader's snapshot still needs frames the checkpoint cannot copy: the WAL cannot shrink until
    // it ends. Said at most once a minute.
    auto now = clock_.Now();
    if (now - checkpoint_stall_logged_ >= std::chrono::minutes(1)) {
      checkpoint_stall_logged_ = now;
      LH_LOG_WARN("the checkpoint copied {} of the WAL's {} frames: a read transaction holds an older snapshot",
                  checkpointed, log_frames);
    }
  }
  return s;
}

Status Database::checkpoint_status() const {
  MutexLock lock(&mu_);
  return checkpoint_status_;
}

Status Database::Checkpoint(int mode) {
  std::promise<Lease> granted;
  auto granted_future = granted.get_future();
  AcquireWriter([&granted](Lease lease) { granted.set_value(std::move(lease)); });
  Lease lease = granted_future.get();
  if (!lease) return Status::Unavailable("no connection for the checkpoint");
  return RunCheckpoint(*lease, mode);
}

namespace {

// The main database file of `conn`, as SQLite holds it open.
Result<sqlite3_file*> MainFileOf(Connection& conn) {
  sqlite3_file* file = nullptr;
  int rc = sqlite3_file_control(conn.raw(), "main", SQLITE_FCNTL_FILE_POINTER, &file);
  if (rc != SQLITE_OK || file == nullptr || file->pMethods == nullptr) {
    return Status::Internal("SQLite holds no open handle of the database file");
  }
  return file;
}

}  // namespace

Result<int64_t> Database::FileSize() {
  auto lease = AcquireReader();
  if (!lease.ok()) return lease.status();
  auto file = MainFileOf(**lease);
  if (!file.ok()) return file.status();
  sqlite3_int64 size = 0;
  int rc = (*file)->pMethods->xFileSize(*file, &size);
  if (rc != SQLITE_OK) return Status::Sqlite(rc, "cannot read the size of the database file");
  return static_cast<int64_t>(size);
}

Status Database::ReadFile(int64_t offset, size_t n, char* out) {
  auto lease = AcquireReader();
  if (!lease.ok()) return lease.status();
  auto file = MainFileOf(**lease);
  if (!file.ok()) return file.status();
  constexpr size_t kMaxRead = size_t{1} << 30;  // xRead takes an int
  while (n > 0) {
    const size_t part = std::min(n, kMaxRead);
    int rc = (*file)->pMethods->xRead(*file, out, static_cast<int>(part), offset);
    if (rc == SQLITE_IOERR_SHORT_READ) {
      return Status::IoError("the database file ends before byte " + std::to_string(offset + static_cast<int64_t>(part)));
    }
    if (rc != SQLITE_OK) return Status::Sqlite(rc, "cannot read the database file");
    out += part, offset += static_cast<int64_t>(part), n -= part;
  }
  return Status::OK();
}

Result<std::string> Database::ReadImageAtWalRestart(const std::function<void()>& at_restart, std::chrono::milliseconds reader_wait) {
  std::promise<Lease> granted;
  auto granted_future = granted.get_future();
  AcquireWriter([&granted](Lease lease) { granted.set_value(std::move(lease)); });
  Lease writer = granted_future.get();
  if (!writer) return Status::Unavailable("no connection for the snapshot");
  // RESTART waits (SQLite's busy handler) for readers of older frames; bounded here, since writers
  // wait meanwhile.
  sqlite3_busy_timeout(writer->raw(), static_cast<int>(reader_wait.count()));
  Status checkpointed = RunCheckpoint(*writer, SQLITE_CHECKPOINT_RESTART);
  sqlite3_busy_timeout(writer->raw(), 5000);
  if (!checkpointed.ok()) return checkpointed;
  auto reader = AcquireReader();
  if (!reader.ok()) return reader.status();
  Connection& r = **reader;
  // The engine's own statements (sqlite_dbpage is refused to clients) on a connection that is closed
  // after, on every way out, never pooled: no client gets it with the guard stood aside.
  struct DiscardAtEnd {
    Lease& lease;
    ~DiscardAtEnd() { lease.Discard(); }
  } discard_at_end{*reader};
  r.guard().set_engine_statement(true);
  r.guard().StopClock();
  // The read transaction begins before any commit can: its snapshot is the whole WAL checkpointed,
  // the database file alone, which no checkpoint may write while it lasts.
  Status begun = r.Exec("BEGIN; SELECT count(*) FROM sqlite_schema");
  if (!begun.ok()) return begun;
  at_restart();
  writer.Release();
  std::string image;
  Status read = [&]() -> Status {
    auto size = r.Prepare("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", nullptr);
    if (!size.ok()) return size.status();
    auto more = size->Step();
    if (!more.ok()) return more.status();
    const auto expected = static_cast<size_t>(std::get<int64_t>(size->column(0)));
    image.reserve(expected);
    auto pages = r.Prepare("SELECT data FROM sqlite_dbpage ORDER BY pgno", nullptr);
    if (!pages.ok()) return pages.status();
    while (true) {
      auto row = pages->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      const Value v = pages->column(0);
      if (const auto* blob = std::get_if<Blob>(&v)) image.append(blob->bytes);
    }
    if (image.size() != expected) {
      return Status::Internal("the snapshot read " + std::to_string(image.size()) + " bytes of a " + std::to_string(expected) + "-byte database");
    }
    return Status::OK();
  }();
  (void)r.Exec("COMMIT");
  if (!read.ok()) return read;
  return image;
}

DatabaseStats Database::stats() const {
  MutexLock lock(&mu_);
  DatabaseStats s = stats_;
  s.write_waiters = waiters_.size();
  return s;
}

}  // namespace litehouse::engine
