#include "engine/session.h"

#include <optional>

#include "common/log.h"

namespace litehouse::engine {

Session::~Session() { Close(); }

Result<Connection*> Session::Enter() {
  Connection* conn;
  bool holds_lock;
  {
    MutexLock lock(&db_.mu_);
    if (ended_ != Ended::kNo) return Status::Cancelled("the session's transaction was rolled back");
    busy_ = true;
    conn = conn_.get();
    holds_lock = holds_lock_;
  }
  if (!conn) {
    // A session that holds the write lock is never refused: the bound must not stall the writer.
    if (!db_.TakeSessionPlace(/*force=*/holds_lock)) {
      MutexLock lock(&db_.mu_);
      busy_ = false;
      return Status::Busy("all " + std::to_string(db_.options_.max_connections) + " database connections are in use");
    }
    auto taken = db_.TakeConnection();
    if (!taken.ok()) {
      db_.GiveSessionPlace();
      MutexLock lock(&db_.mu_);
      busy_ = false;
      return taken.status();
    }
    MutexLock lock(&db_.mu_);
    conn_ = std::move(taken).value();
    conn = conn_.get();
  }
  if (holds_lock) conn->set_may_write(true);
  return conn;
}

bool Session::TryLockWrite() {
  if (owner_holds_lock()) return true;
  if (!db_.TryLock(this)) return false;
  owner_conn()->set_may_write(true);
  return true;
}

bool Session::SnapshotIsStale() {
  Connection* conn = owner_conn();
  if (!conn || conn->txn_state() != SQLITE_TXN_READ) return false;
  return db_.SnapshotIsStale(*conn);
}

void Session::LockWrite(std::function<void()> granted) { db_.Lock(this, std::move(granted)); }

void Session::Leave(bool checkpoint_here) {
  Connection* c = owner_conn();
  bool steal;
  bool held;
  bool holds_lock;
  {
    MutexLock lock(&db_.mu_);
    steal = steal_pending_;
    held = held_;
    holds_lock = holds_lock_;
  }
  bool stolen = false;
  if (held && steal && holds_lock) {
    // A held session's statement is paused, not finished: the holder ends it in its next request and
    // unholds first, so the steal completes there. Wake it, in case it waits for something else.
    std::function<void()> wake;
    {
      MutexLock lock(&db_.mu_);
      busy_ = false;
      wake = on_steal_;
    }
    if (wake) wake();
    return;
  }
  if (c && steal && holds_lock) {
    if (!c->autocommit()) {
      LH_LOG_WARN("a transaction held the write lock for longer than {} ms while others waited: rolling it back",
                  db_.txn_timeout().count());
      (void)c->Exec("ROLLBACK");
      stolen = true;
    } else if ((sqlite3_extended_errcode(c->raw()) & 0xff) == SQLITE_INTERRUPT) {
      // The interrupt stopped a write, and SQLite rolled the whole transaction back itself: taken
      // away all the same (a COMMIT that got in first leaves no such error, and nothing to take).
      stolen = true;
    }
  }
  const bool keep_conn = c && (!c->autocommit() || held);
  const bool unlock = holds_lock && !held && (!c || c->txn_state() != SQLITE_TXN_WRITE);
  if (unlock && keep_conn) c->set_may_write(false);
  std::unique_ptr<Connection> give_back;
  std::optional<Ended> release;
  {
    MutexLock lock(&db_.mu_);
    busy_ = false;
    if (unlock) {
      holds_lock_ = false;
      steal_pending_ = false;
    }
    if (stolen) {
      ended_ = Ended::kStolen;
      ++db_.stats_.locks_stolen;
    }
    if (!keep_conn) give_back = std::move(conn_);
    std::swap(release, pending_release_);
  }
  if (unlock) db_.Unlock(give_back ? give_back.get() : nullptr, checkpoint_here);
  if (give_back) {
    db_.ReturnConnection(std::move(give_back));
    db_.GiveSessionPlace();
  }
  if (release) Release(*release);
}

void Session::Hold(std::function<void()> on_steal) {
  MutexLock lock(&db_.mu_);
  held_ = true;
  on_steal_ = std::move(on_steal);
}

void Session::Unhold() {
  MutexLock lock(&db_.mu_);
  held_ = false;
  on_steal_ = nullptr;
}

bool Session::steal_pending() const {
  MutexLock lock(&db_.mu_);
  return steal_pending_;
}

void Session::Release(Ended why) {
  std::unique_ptr<Connection> conn;
  bool unlock = false;
  bool waiting = false;
  {
    MutexLock lock(&db_.mu_);
    // Never while held (the holder's statement is on the connection); if it were, the statement's
    // owner has gone without ending it, and the connection must not go back to the pool with it.
    held_ = false;
    on_steal_ = nullptr;
    if (busy_) {
      // A request started just before: it ends the session's transaction when it leaves.
      pending_release_ = why;
      return;
    }
    conn = std::move(conn_);
    unlock = holds_lock_;
    holds_lock_ = false;
    steal_pending_ = false;
    waiting = waiting_;
    if (why != Ended::kNo && conn && !conn->autocommit()) ended_ = why;
  }
  if (waiting) db_.CancelWait(this);
  // Clean() rolls back: SQLite's own lock is free before the write lock goes on, or the connection
  // that could not roll back is closed first.
  const bool had_conn = conn != nullptr;
  if (conn && !db_.Clean(*conn)) {
    db_.ReturnConnection(std::move(conn));
    conn.reset();
  }
  if (unlock) db_.Unlock(conn.get());
  if (conn) db_.ReturnConnection(std::move(conn));
  if (had_conn) db_.GiveSessionPlace();
}

void Session::Close() {
  Release(Ended::kNo);
  MutexLock lock(&db_.mu_);
  ended_ = Ended::kNo;
}

void Session::Expire() { Release(Ended::kExpired); }

bool Session::holds_write_lock() const {
  MutexLock lock(&db_.mu_);
  return holds_lock_;
}

bool Session::in_transaction() const {
  MutexLock lock(&db_.mu_);
  return conn_ != nullptr;
}

Session::Ended Session::ended() const {
  MutexLock lock(&db_.mu_);
  return ended_;
}

}  // namespace litehouse::engine
