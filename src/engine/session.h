// Session: one client stream's use of the database, as sqld gives each stream its own connection.
//
// A session holds a pooled connection only while a transaction is open on it, and the database's
// write lock only while that transaction writes (or a write request runs). SQLite's own rules then
// apply between sessions, as between sqld's connections in WAL mode:
//   - BEGIN (deferred) takes nothing: the first read takes a snapshot, the first write the lock;
//   - one writer at a time: a request that writes asks for the lock (TryLockWrite, else LockWrite,
//     which queues in FIFO order and holds no thread);
//   - a transaction that has read and whose snapshot is stale can never write: SnapshotIsStale()
//     tells so before it queues, and the caller answers SQLITE_BUSY_SNAPSHOT at once;
//   - a holder past the transaction timeout while someone waits loses the lock
//     (Database::StealExpiredLock): its transaction is rolled back, and every later Enter() fails
//     until the session is closed, so no statement of the client's runs in autocommit as if its
//     transaction were still open. Expire() does the same for a session idle past the stream expiry.
//
// A request runs between Enter() and Leave() on a thread that may run SQLite work, one request at a
// time. Waiting for the lock (LockWrite) happens between two such calls, off any thread.
//
// Thread safety: Enter, Leave, TryLockWrite, SnapshotIsStale, Close and Expire are the owner's, one
// at a time; LockWrite and CancelLockWrite may be called from any thread. The fields shared with the
// database's lock stealing are guarded by the database's mutex.
#pragma once

#include <cassert>
#include <functional>
#include <memory>
#include <optional>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "engine/connection.h"
#include "engine/database.h"

namespace litehouse::engine {

class Session {
 public:
  // Why a session's transaction was taken away: it answers an error until it is closed.
  enum class Ended {
    kNo,
    kStolen,   // it held the write lock past the transaction timeout while another waited
    kExpired,  // it was idle past the stream expiry with a transaction open (Expire)
  };

  explicit Session(Database& db) : db_(db) {}
  // Rolls back what is open and gives everything back (Close).
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts a request: the connection it runs on (the one the session holds, else a pooled one).
  // Fails with kCancelled when the session's transaction was taken away (ended() says why), or when
  // no connection can be opened.
  Result<Connection*> Enter() EXCLUDES(db_.mu_);
  // Ends the request: keeps the connection only while a transaction is open on it, the write lock
  // only while that transaction writes. Completes a steal that came while the request ran.
  // `checkpoint_here` false: a checkpoint due when the lock is given back runs later, elsewhere (the
  // caller is the server's network thread).
  void Leave(bool checkpoint_here = true) EXCLUDES(db_.mu_);

  // Inside a request: takes the write lock if it is free and nobody waits for it.
  bool TryLockWrite() EXCLUDES(db_.mu_);
  // Inside a request: true when the session's transaction has read a snapshot older than the latest
  // commit, so that it can never write.
  bool SnapshotIsStale() EXCLUDES(db_.mu_);
  // Outside a request: queues for the write lock; `granted` is called once it is held, on the thread
  // that gave it up (or at once). It must not block.
  void LockWrite(std::function<void()> granted) EXCLUDES(db_.mu_);

  // Inside a request: from now on the session keeps its connection between requests even in
  // autocommit, and the write lock if it holds it, until Unhold(): a cursor pauses its statement
  // between slices of its batch (the statement holds a read snapshot, and a writing batch keeps the
  // lock to its end, as a batch run whole does). Lock stealing never takes a held session's
  // connection from under its paused statement: it marks the steal (steal_pending()) and calls
  // `on_steal` (on any thread, under no lock of the engine; it must not block), and the holder's next
  // request ends its batch and calls Unhold() before it leaves, which completes the steal.
  void Hold(std::function<void()> on_steal) EXCLUDES(db_.mu_);
  // Inside a request: ends Hold(); the request's Leave applies the usual rules.
  void Unhold() EXCLUDES(db_.mu_);
  // True when lock stealing wants the lock back from this held session (see Hold).
  bool steal_pending() const EXCLUDES(db_.mu_);

  // Rolls back what is open and gives the connection and the lock back (the stream closed). Not
  // inside a request, nor while held (the holder's statement must be gone first).
  void Close() EXCLUDES(db_.mu_);
  // As Close, and the session then answers kCancelled (Ended::kExpired) until closed: the stream was
  // idle past its expiry with a transaction open.
  void Expire() EXCLUDES(db_.mu_);

  bool holds_write_lock() const EXCLUDES(db_.mu_);
  // True when a transaction is open: the session holds a connection between requests.
  bool in_transaction() const EXCLUDES(db_.mu_);
  Ended ended() const EXCLUDES(db_.mu_);

 private:
  friend class Database;
  void Release(Ended why) EXCLUDES(db_.mu_);
  // For the database's code, which reaches this session's fields holding its own mutex under another
  // name (`db.mu_`, not `db_.mu_`): tells the analysis they are the same mutex, and checks (in debug
  // builds) that `db` is this session's database.
  void AssertSameDatabase([[maybe_unused]] const Database& db) const REQUIRES(db.mu_) ASSERT_CAPABILITY(db_.mu_) {
    assert(&db == &db_);
  }
  // The owner's view, inside a request (between Enter and Leave: busy_). No lock is needed then:
  // nobody else writes conn_ or holds_lock_ while busy_ (the lock stealer only reads them and
  // interrupts the connection; a grant comes only while the session waits, outside a request).
  Connection* owner_conn() const NO_THREAD_SAFETY_ANALYSIS { return conn_.get(); }
  bool owner_holds_lock() const NO_THREAD_SAFETY_ANALYSIS { return holds_lock_; }

  Database& db_;
  // Guarded by db_.mu_ (the lock stealer reads them); the owner may read conn_ and holds_lock_ without
  // it while busy_ (owner_conn, owner_holds_lock).
  std::unique_ptr<Connection> conn_ GUARDED_BY(db_.mu_);
  bool busy_ GUARDED_BY(db_.mu_) = false;           // between Enter and Leave
  bool holds_lock_ GUARDED_BY(db_.mu_) = false;
  bool waiting_ GUARDED_BY(db_.mu_) = false;        // queued in LockWrite
  bool steal_pending_ GUARDED_BY(db_.mu_) = false;  // the lock is being taken back; Leave completes it
  bool held_ GUARDED_BY(db_.mu_) = false;  // Hold(): keep the connection and the lock between requests
  std::function<void()> on_steal_ GUARDED_BY(db_.mu_);  // Hold()'s callback, called while held_ and steal_pending_
  std::optional<Ended> pending_release_ GUARDED_BY(db_.mu_);  // Close/Expire came during a request; Leave completes it
  Ended ended_ GUARDED_BY(db_.mu_) = Ended::kNo;
};

}  // namespace litehouse::engine
