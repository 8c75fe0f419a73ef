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

#include <functional>
#include <memory>
#include <optional>

#include "common/status.h"
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
  Result<Connection*> Enter();
  // Ends the request: keeps the connection only while a transaction is open on it, the write lock
  // only while that transaction writes. Completes a steal that came while the request ran.
  // `checkpoint_here` false: a checkpoint due when the lock is given back runs later, elsewhere (the
  // caller is the server's network thread).
  void Leave(bool checkpoint_here = true);

  // Inside a request: takes the write lock if it is free and nobody waits for it.
  bool TryLockWrite();
  // Inside a request: true when the session's transaction has read a snapshot older than the latest
  // commit, so that it can never write.
  bool SnapshotIsStale();
  // Outside a request: queues for the write lock; `granted` is called once it is held, on the thread
  // that gave it up (or at once). It must not block.
  void LockWrite(std::function<void()> granted);

  // Inside a request: from now on the session keeps its connection between requests even in
  // autocommit, and the write lock if it holds it, until Unhold(): a cursor pauses its statement
  // between slices of its batch (the statement holds a read snapshot, and a writing batch keeps the
  // lock to its end, as a batch run whole does). Lock stealing never takes a held session's
  // connection from under its paused statement: it marks the steal (steal_pending()) and calls
  // `on_steal` (on any thread, under no lock of the engine; it must not block), and the holder's next
  // request ends its batch and calls Unhold() before it leaves, which completes the steal.
  void Hold(std::function<void()> on_steal);
  // Inside a request: ends Hold(); the request's Leave applies the usual rules.
  void Unhold();
  // True when lock stealing wants the lock back from this held session (see Hold).
  bool steal_pending() const;

  // Rolls back what is open and gives the connection and the lock back (the stream closed). Not
  // inside a request, nor while held (the holder's statement must be gone first).
  void Close();
  // As Close, and the session then answers kCancelled (Ended::kExpired) until closed: the stream was
  // idle past its expiry with a transaction open.
  void Expire();

  bool holds_write_lock() const;
  // True when a transaction is open: the session holds a connection between requests.
  bool in_transaction() const;
  Ended ended() const;

 private:
  friend class Database;
  void Release(Ended why);

  Database& db_;
  // Guarded by db_.mu_ (the lock stealer reads them); the owner may read conn_ without it while busy_.
  std::unique_ptr<Connection> conn_;
  bool busy_ = false;           // between Enter and Leave
  bool holds_lock_ = false;
  bool waiting_ = false;        // queued in LockWrite
  bool steal_pending_ = false;  // the lock is being taken back; Leave completes it
  bool held_ = false;           // Hold(): keep the connection and the lock between requests
  std::function<void()> on_steal_;  // Hold()'s callback, called while held_ and steal_pending_
  std::optional<Ended> pending_release_;  // Close/Expire came during a request; Leave completes it
  Ended ended_ = Ended::kNo;
};

}  // namespace litehouse::engine
