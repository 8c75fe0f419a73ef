// Database: owns every SQLite connection to one database file and decides who may use which, and who
// may write.
//
//   - a pool of connections, opened on demand, kept while idle up to a bound; a write commits on one
//     only while the one holding it holds the write lock (a commit hook refuses it otherwise);
//   - the write lock: at most one holder at a time (a Session, or a writer Lease), granted in FIFO
//     order to waiters that hold no thread while they wait, and taken back from a holder that keeps
//     it past the transaction timeout while others wait (lock stealing, as sqld's);
//   - checkpoints under our control: wal_autocheckpoint is off on every connection, and the holder of
//     the write lock runs a PASSIVE checkpoint when it gives the lock back with the WAL past a threshold.
//
// Small API, as dqlite's vfs.h: a Session is one client stream's use of the database (session.h);
// AcquireReader / AcquireWriter hand out RAII leases for the server's own work (a dump, a checkpoint)
// and for tests. See DESIGN.md for why.
//
// Thread safety: all methods may be called from any thread. A lease, like the connection it holds,
// is used by one thread at a time; it may be moved to another thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "engine/connection.h"
#include "engine/vfs.h"

namespace litehouse::engine {

class Database;
class Session;

// Exclusive use of one pooled connection until destroyed, with the write lock if it came from
// AcquireWriter. Moving transfers it; a moved-from lease is empty.
class Lease {
 public:
  Lease() = default;
  Lease(Lease&& o) noexcept : db_(o.db_), conn_(std::move(o.conn_)), writes_(o.writes_) { o.db_ = nullptr; }
  Lease& operator=(Lease&& o) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { Release(); }

  explicit operator bool() const { return conn_ != nullptr; }
  Connection* operator->() const { return conn_.get(); }
  Connection& operator*() const { return *conn_; }
  Connection* get() const { return conn_.get(); }
  // Gives the connection (and the write lock) back now. If a transaction is still open it is rolled
  // back first.
  void Release();
  // As Release, but the connection is closed rather than pooled: for one whose caches can no longer be
  // trusted (a replica writes pages through sqlite_dbpage, under the b-tree layer, whose parsed
  // pages and schema then no longer match them).
  void Discard() {
    discard_ = true;
    Release();
  }

 private:
  friend class Database;
  Lease(Database* db, std::unique_ptr<Connection> conn, bool writes) : db_(db), conn_(std::move(conn)), writes_(writes) {}
  Database* db_ = nullptr;
  std::unique_ptr<Connection> conn_;
  bool writes_ = false;
  bool discard_ = false;
};

// Sees every commit, for the modules that capture committed pages (replication, backup), and says
// when the engine may checkpoint, so that no frame leaves the WAL before it was captured.
class CommitObserver {
 public:
  virtual ~CommitObserver() = default;
  // After each commit, on the committing connection's thread, while its session still holds the
  // write lock (so before any other write): `wal_frames` is the size of the WAL in frames now.
  virtual void OnCommit(sqlite3* db, int wal_frames) = 0;
  // Asked before every checkpoint the engine runs; false holds it back for now.
  virtual bool MayCheckpoint() { return true; }
};

// sqld's durability modes (`--durability`): SQLite's `synchronous` on every connection.
enum class Durability {
  kOff,      // synchronous=OFF: nothing is synced; a power loss may corrupt the database
  kRelaxed,  // synchronous=NORMAL (the default, sqld's too): a crash of the process loses nothing; a
             // power loss may lose the last commits, never the database
  kStrong,   // synchronous=FULL: every acknowledged commit is on disk; concurrent autocommit writes
             // share one transaction and one sync (group commit, GroupWrite)
  kExtra,    // synchronous=EXTRA: as strong, and the directory is synced too
};

// One write of a group commit (Database::GroupWrite).
struct GroupMember {
  // Runs the write on `conn`, inside the group's transaction and its own savepoint. May be called a
  // second time, alone in its own transaction, if another member's ROLLBACK undid the group: it
  // must produce its outcome afresh each time.
  std::function<void(Connection& conn)> run;
  // Called once, on a SQL thread, when the member's outcome is final: after the sync of its group's
  // COMMIT returned. A non-OK status replaces whatever `run` produced: the member's own deferred
  // foreign keys failed (SQLITE_CONSTRAINT_FOREIGNKEY), or its group's COMMIT failed.
  std::function<void(Status)> done;
};

struct DatabaseOptions {
  std::string path;                       // the database file; its directory must exist
  size_t max_idle_connections = 8;        // idle pooled connections kept open
  // Connections that sessions (clients' streams) may hold at once: their transactions' and their
  // running requests'; 0: no bound. A session past it waits (WaitForConnection) without a thread. The
  // engine's own short uses (a group commit, a checkpoint, a dump's lease) are not counted, and a
  // session holding the write lock is never refused, so the bound cannot stall the writer.
  size_t max_connections = 64;
  // PASSIVE checkpoint once the WAL holds this many frames. Each checkpoint syncs the WAL and the file
  // (two fsyncs, in every durability mode) and copies each page once however often the WAL holds it:
  // at 3000 rather than SQLite's 1000, a write-heavy load pays a third of them (docs/BENCHMARKS.md).
  int64_t checkpoint_threshold_frames = 3000;
  // With a background executor, the checkpoint runs beside the next writer, and back-to-back writers
  // can keep it from ever finishing before a write begins: the WAL then never restarts and only
  // grows. Past this many frames the committing writer checkpoints before it lets the next one in,
  // as SQLite's own autocheckpoint always does, so the next writer restarts the WAL (unless a reader
  // still holds an older snapshot). 0: never.
  int64_t checkpoint_overdue_frames = 4000;
  GuardOptions guard;                          // limits every client connection gets (sql_guard.h)
  // Open the file through a HiddenDirVfs (vfs.h), so that SQLite, and PRAGMA database_list, know it
  // by its file name alone, never by the server's directory.
  bool hide_directory = false;
  // A session that has held the write lock this long while another waits for it loses it: its
  // transaction is rolled back (sqld's TXN_TIMEOUT, 5 s; `--txn-timeout-s`).
  std::chrono::milliseconds txn_timeout{5000};
  // Where lock stealing reads the time; null: Clock::Steady(). Must outlive the Database.
  const Clock* clock = nullptr;
  // Told of every commit and asked before every checkpoint; null: none. Must outlive the Database.
  CommitObserver* commit_observer = nullptr;
  // The SQLite VFS every connection opens the file with (a registered name); empty: the default.
  // Not with hide_directory, which brings its own.
  std::string vfs;
  // Hold the file for this process alone, on SQLite's "unix-excl" VFS (under hide_directory's, or
  // instead of the default): the first lock takes an exclusive lock on the file that lasts until the
  // last connection closes, so no other process can open it meanwhile (SQLITE_BUSY, "database is
  // locked"), and the WAL index lives in this process's memory (no -shm file). Every later lock
  // between this process's connections is taken in memory, with no system call: a read
  // transaction's two fcntl(F_SETLK) on the -shm file were 7% of the server's CPU serving point
  // SELECTs. Not with `vfs`.
  bool exclusive_file = false;
  Durability durability = Durability::kRelaxed;
  // Where the engine runs work it starts itself (a group commit): the server's SQL pool. Null: at
  // once, on the calling thread.
  std::function<void(std::function<void()>)> background;
};

struct DatabaseStats {
  uint64_t write_locks = 0;      // times the write lock was granted
  uint64_t locks_stolen = 0;     // times it was taken back from a holder past the timeout
  uint64_t checkpoints = 0;
  uint64_t checkpoints_held_back = 0;  // the commit observer said not yet
  uint64_t checkpoint_failures = 0;
  uint64_t checkpoints_overdue = 0;  // run by the committing writer, past checkpoint_overdue_frames
  uint64_t checkpoints_busy = 0;     // RESTART/TRUNCATE that readers of older frames kept from finishing
  uint64_t groups_committed = 0;     // group commits (one transaction, one sync each)
  uint64_t group_members = 0;        // writes committed in them
  uint64_t group_members_handed_back = 0;  // of a relaxed group run here, handed back to run in the next
  size_t connections_open = 0;
  size_t write_waiters = 0;
};

class Database {
 public:
  // Opens the file (creating it, switching it to WAL) and one pooled connection.
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  // Requires every lease and session to have been released.
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  using WriterCallback = std::function<void(Lease)>;
  // Hands a connection holding the write lock to `granted` as soon as the lock is free, in request
  // order with sessions' requests: at once on the calling thread if nobody holds it, otherwise on the
  // thread that gives it back. `granted` must not block. For the server's own writes and tests; a
  // writer lease is never stolen.
  void AcquireWriter(WriterCallback granted) EXCLUDES(mu_);
  // A pooled connection for reading (query_only): an idle one, or a newly opened one.
  Result<Lease> AcquireReader() EXCLUDES(mu_);
  // Calls `ready` (at once, or on the thread where a session gives a connection back) once a session
  // may take a connection again within `max_connections`. `ready` must not block. A session's Enter
  // may still find the place taken by another by then, and wait again.
  void WaitForConnection(std::function<void()> ready) EXCLUDES(mu_);

  // Runs a checkpoint now (mode: SQLITE_CHECKPOINT_PASSIVE/FULL/RESTART/TRUNCATE), under the write
  // lock. Only for callers holding no lease or session with the lock: it waits for it, blocking.
  Status Checkpoint(int mode) EXCLUDES(mu_);

  // The database file's own bytes, whatever the WAL holds: its size, and `n` bytes at `offset` into
  // `out` (past the end: IoError). Read with SQLite's own handle of the file, on a pooled connection.
  // Code that reads the file comes here, never to a descriptor of its own: closing any descriptor of
  // a file drops every POSIX lock the process holds on it (POSIX's rule), SQLite's and
  // exclusive_file's among them, after which another process could take the file and, say,
  // checkpoint and delete the WAL under the server.
  Result<int64_t> FileSize() EXCLUDES(mu_);
  Status ReadFile(int64_t offset, size_t n, char* out) EXCLUDES(mu_);

  // A consistent image of the database for a backup's snapshot, taken where the next commit begins a
  // new WAL: under the write lock, a RESTART checkpoint copies the whole WAL into the file (waiting
  // at most `reader_wait` for readers of older frames); `at_restart` then runs with no commit
  // possible, a read transaction begins on a reader, and writers go on. Returns the file's pages as
  // that transaction sees them (PRAGMA page_count of them, read through sqlite_dbpage). Blocking; not
  // for a caller holding the write lock. Busy when a reader kept the checkpoint from finishing.
  Result<std::string> ReadImageAtWalRestart(const std::function<void()>& at_restart,
                                            std::chrono::milliseconds reader_wait = std::chrono::milliseconds(200))
      EXCLUDES(mu_);

  // Strong durability's group commit: runs `member` under the write lock, in one transaction with
  // the other members that arrive while a commit is in flight, each under its own SAVEPOINT, with one
  // COMMIT (one sync) for them all; `done` follows that sync. For autocommit writes only, of streams
  // with default settings, that may run inside a transaction (not VACUUM, not transaction control):
  // the caller checks. A member whose deferred foreign keys fail is rolled back alone; a member whose
  // conflict resolution (OR ROLLBACK, RAISE(ROLLBACK)) ends the group's transaction keeps its own
  // error, and the members before it run again, each alone.
  void GroupWrite(GroupMember member) EXCLUDES(mu_);
  // Relaxed durability's group commit, on the calling thread: when the write lock is free and nobody
  // waits for it, runs `members` at once as one transaction (RunGroupHere) and returns true; otherwise
  // runs nothing, leaves `members` as they were and returns false.
  bool TryGroupWriteHere(std::vector<GroupMember>& members, std::chrono::steady_clock::time_point deadline)
      EXCLUDES(mu_);
  // Waits in the write lock's FIFO queue, as a session's write does, holding no thread, for a group to
  // run on the caller's own thread: `granted` is called once the lock is held for it (on the thread
  // that gave the lock back, or at once), and must lead to exactly one RunGroupHere, which releases it.
  void LockForGroup(std::function<void()> granted) EXCLUDES(mu_);
  // Runs `members` under the write lock (TryGroupWriteHere's, or LockForGroup's) and gives it back:
  // one transaction, each member under its own SAVEPOINT with the same four cases handled as
  // GroupWrite's (a single member runs as its own autocommit statement), within `deadline` (SqlGuard's
  // budget, and the clock read between members). Every member is either `done` with its outcome or
  // handed back: on return `members` holds, in order, those the caller queues again for its next
  // group, nothing of them having stayed. Handed back: the members not begun by the deadline (those
  // before them commit); and when the group is undone whole by one member (its statement ran past
  // the deadline, it ended the transaction with OR ROLLBACK, RAISE(ROLLBACK) or an I/O error, or, alone,
  // left one open), every other member, while that one is `done` with Status::Cancelled: nothing of it
  // stayed, and the caller runs it again alone. When nothing could run (BEGIN failed), every member is
  // Cancelled. For the server's network thread, which gives the writes that arrived in one turn of its
  // event loop: a checkpoint that comes due is left to the background executor, and nothing waits or
  // syncs (never with strong or extra durability, whose commits sync).
  void RunGroupHere(std::vector<GroupMember>& members, std::chrono::steady_clock::time_point deadline) EXCLUDES(mu_);
  Durability durability() const { return options_.durability; }
  // Replaces DatabaseOptions::background; before any GroupWrite.
  void set_background(std::function<void(std::function<void()>)> background) { background_ = std::move(background); }

  // Takes the write lock back from a session that has held it past the transaction timeout while
  // others wait: an idle holder's transaction is rolled back here and the next waiter goes on; a
  // holder running a request is interrupted, and loses the lock when that request ends. Call it
  // periodically, from a thread that may run SQLite work (never the network thread).
  void StealExpiredLock() EXCLUDES(mu_);

  // The error of the last checkpoint that failed, or OK if the last one succeeded: a failed
  // checkpoint is remembered here, not only logged.
  Status checkpoint_status() const EXCLUDES(mu_);

  DatabaseStats stats() const EXCLUDES(mu_);
  const std::string& path() const { return options_.path; }
  std::chrono::milliseconds txn_timeout() const { return options_.txn_timeout; }
  // Connections sessions may hold at once (DatabaseOptions::max_connections); 0: no bound.
  size_t max_connections() const { return options_.max_connections; }
  // Frames every commit has appended to the WAL since the database was opened (restarts do not undo
  // it): frames appended while a reader holds one snapshot cannot be checkpointed before it ends, so
  // the difference between two readings measures that reader's cost in WAL. Approximate: a restart is
  // seen only as a WAL smaller than before, so a first commit after a restart that writes more frames
  // than the old WAL held counts only the difference; the first commit after opening counts none.
  // (Used for bounds of hundreds of MB, where that is noise.)
  int64_t wal_frames_appended() const { return wal_frames_appended_.load(std::memory_order_relaxed); }

 private:
  friend class Lease;
  friend class Session;

  // Someone waiting for the write lock: a session, or a writer lease being made (session null).
  struct Waiter {
    Session* session;
    std::function<void()> granted;
  };

  explicit Database(DatabaseOptions options)
      : options_(std::move(options)),
        clock_(options_.clock ? *options_.clock : Clock::Steady()),
        background_(options_.background) {}

  Result<std::unique_ptr<Connection>> OpenConnection(Role role);
  // A pooled connection: an idle one, or a newly opened one (it may not commit a write until
  // set_may_write).
  Result<std::unique_ptr<Connection>> TakeConnection() EXCLUDES(mu_);
  // A session's place among max_connections: taken (false when none is left, unless `force`), and
  // given back (waking a waiter).
  bool TakeSessionPlace(bool force) EXCLUDES(mu_);
  void GiveSessionPlace() EXCLUDES(mu_);
  // Takes a connection back from whoever used it: rolls back what was left open, restores the
  // settings and query_only, and pools it (or closes it if it cannot be made clean).
  void ReturnConnection(std::unique_ptr<Connection> conn, bool discard = false) EXCLUDES(mu_);
  // Makes `conn` clean for the next user; false when it could not be (it must then be closed).
  bool Clean(Connection& conn);

  // The write lock. TryLock takes it only when it is free and nobody waits (so waiters keep their
  // turn); Lock queues `granted` if not, or calls it at once. Unlock is called by the holder, on a
  // thread that may run SQLite, with no transaction open on `conn` (the connection it wrote
  // through): it first checkpoints there if the WAL is past the threshold, then hands the lock to
  // the next waiter. `session` is the holder-to-be, or null for a writer lease.
  bool TryLock(Session* session) EXCLUDES(mu_);
  void Lock(Session* session, std::function<void()> granted) EXCLUDES(mu_);
  // With `checkpoint_here` false (the caller is the server's network thread), a checkpoint that is due
  // runs later on the background executor, under the lock like any other (ScheduleCheckpoint).
  void Unlock(Connection* conn, bool checkpoint_here = true) EXCLUDES(mu_);
  void ScheduleCheckpoint() EXCLUDES(mu_);
  // Marks the lock held by `session` (or a lease, when null). Requires the lock free.
  void GrantLocked(Session* session) REQUIRES(mu_);
  // Forgets the wait of `session` (it closed while waiting).
  void CancelWait(Session* session) EXCLUDES(mu_);
  // True when `conn`, inside a read transaction, reads a snapshot older than the latest commit: it
  // can never write (SQLITE_BUSY_SNAPSHOT). Uses another pooled connection to read the latest one.
  bool SnapshotIsStale(Connection& conn) EXCLUDES(mu_);

  // Called by SQLite on every connection after each commit (sqlite3_wal_hook).
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int frames);
  // Queues the group commit's leader for the write lock; once granted it runs on the background
  // executor.
  void QueueGroupLeader() EXCLUDES(mu_);
  // The group commit's leader, holding the write lock: runs the queued members, group after group,
  // then gives the lock on.
  void RunGroups() EXCLUDES(mu_);
  // Runs `members` on `conn` as one transaction (or several, see GroupWrite); calls their `done`.
  void RunGroup(Connection& conn, std::vector<GroupMember>& members) EXCLUDES(mu_);
  // Runs `member` on `conn` into *outcome; an exception (bad_alloc building its result) is its
  // failure alone.
  static void RunMember(Connection& conn, GroupMember& member, Status* outcome);
  // Runs `member` inside a group's open transaction under its own savepoint; one that failed, or left
  // a deferred foreign key violation (what its own COMMIT would refuse), is rolled back to it alone.
  // False when the transaction did not survive: the member ended it (OR ROLLBACK, RAISE(ROLLBACK), an
  // interrupt), or a savepoint statement failed (a failed SAVEPOINT is the member's error: it never ran).
  bool RunMemberInSavepoint(Connection& conn, GroupMember& member, Status* outcome) EXCLUDES(mu_);
  // Runs `body` under the guard's engine-statement mode (no client authorizer).
  Status EngineExec(Connection& conn, const char* sql);

  // Runs a checkpoint of `mode` on `conn`, the write lock held, if the commit observer allows it;
  // remembers its outcome.
  Status RunCheckpoint(Connection& conn, int mode) EXCLUDES(mu_, checkpoint_mu_);

  // Constant after construction.
  const DatabaseOptions options_;
  const Clock& clock_;
  std::function<void(std::function<void()>)> background_;  // options_.background, or set_background's
  std::unique_ptr<HiddenDirVfs> vfs_;  // when hide_directory; outlives every connection
  std::string open_name_;              // what connections open: the path, or its name under vfs_

  // The WAL's size in frames after the last commit (written by the lock's holder).
  std::atomic<int64_t> wal_frames_{0};
  std::atomic<int64_t> wal_frames_appended_{0};  // wal_frames_appended()
  bool wal_size_known_ = false;  // a commit has set wal_frames_ (written under the write lock only)
  // The WAL size (frames) at which the next checkpoint is due: the threshold, or, after a checkpoint a
  // reader held back, that many frames past where it stopped (no retry on every commit meanwhile).
  std::atomic<int64_t> checkpoint_due_at_{0};

  // Guards the fields below, with the fields of Session that say so. Held for bookkeeping only: never
  // while a statement runs, nor while a caller's callback (a grant, a waiter) runs. (The destructor,
  // with nobody else left, closes the idle connections under it.)
  mutable Mutex mu_;
  bool locked_ GUARDED_BY(mu_) = false;
  Session* lock_session_ GUARDED_BY(mu_) = nullptr;  // the holder, when it is a session (only those are stolen from)
  Clock::time_point lock_granted_at_ GUARDED_BY(mu_){};
  std::deque<Waiter> waiters_ GUARDED_BY(mu_);
  std::vector<GroupMember> group_queue_ GUARDED_BY(mu_);  // members waiting for the next group
  bool group_pending_ GUARDED_BY(mu_) = false;            // a leader is queued for the lock, or running
  bool checkpoint_scheduled_ GUARDED_BY(mu_) = false;     // ScheduleCheckpoint's job is queued or running
  Status checkpoint_status_ GUARDED_BY(mu_);
  Clock::time_point checkpoint_stall_logged_ GUARDED_BY(mu_){};
  Clock::time_point checkpoint_busy_logged_ GUARDED_BY(mu_){};
  std::vector<std::unique_ptr<Connection>> idle_ GUARDED_BY(mu_);
  size_t connections_out_ GUARDED_BY(mu_) = 0;  // taken from the pool, not yet returned
  size_t session_places_ GUARDED_BY(mu_) = 0;   // connections sessions hold (max_connections)
  std::deque<std::function<void()>> connection_waiters_ GUARDED_BY(mu_);
  DatabaseStats stats_ GUARDED_BY(mu_);

  // Held across each sqlite3_wal_checkpoint_v2: an overdue checkpoint waits for a background one
  // instead of failing with SQLITE_BUSY on SQLite's checkpoint lock. Guards no field. Never held
  // while waiting for the write lock, nor with mu_ (neither is taken while the other is held).
  Mutex checkpoint_mu_;
};

}  // namespace litehouse::engine
