// RunOnStream: how a request of any transport gets its SQLite connection. Shared by Hrana over HTTP
// (hrana_http.cc) and over WebSocket (ws_session.cc).
#pragma once

#include <boost/asio.hpp>

#include <algorithm>
#include <optional>
#include <string>

#include "common/log.h"
#include "engine/database.h"
#include "engine/session.h"
#include "protocol/errors.h"
#include "protocol/stream.h"
#include "server/context.h"

namespace litehouse::server {

// A slot for a new stream that `client` opens with credential `principal` (limits.h), or an empty
// one with the refusal in *refusal: STREAMS_EXHAUSTED, its message naming the bound that is full.
// *http_status is 429 when the client's or the credential's own bound refused, 503 when the server's.
inline StreamSlot TakeStreamSlot(ServerContext& ctx, const std::string& client, const Principal& principal,
                                 protocol::Error* refusal, unsigned* http_status) {
  StreamLimits::Refusal why = StreamLimits::Refusal::kNone;
  StreamSlot slot = ctx.stream_limits.TryTake(client, principal.id, &why);
  if (slot) return slot;
  std::string message;
  switch (why) {
    case StreamLimits::Refusal::kClient:
      message = "This client already has " + std::to_string(ctx.stream_limits.max_per_client()) +
                " streams open (the limit per client); close some before opening more";
      break;
    case StreamLimits::Refusal::kPrincipal:
      message = "This token already has " + std::to_string(ctx.stream_limits.max_per_principal()) +
                " streams open (the limit per token); close some before opening more";
      break;
    default:
      message = "The server already has " + std::to_string(ctx.stream_limits.max_streams()) + " streams open; try again later";
  }
  *http_status = why == StreamLimits::Refusal::kServer ? 503 : 429;
  *refusal = protocol::MakeError("STREAMS_EXHAUSTED", std::move(message));
  return slot;
}

// The response limit of a request that may use `left` more bytes of what its connection may hold,
// under the stream's own limit `per_request` (0: none). Never 0, which would mean no limit: an
// exhausted budget is 1 byte, so any row fails RESPONSE_TOO_LARGE.
inline size_t ResponseBudget(size_t per_request, size_t left) {
  return std::max<size_t>(1, per_request == 0 ? left : std::min(per_request, left));
}

// The error a request of a stream whose transaction was taken away gets, until the stream is closed:
// the client's next statements must not run in autocommit as if its transaction were still open.
inline protocol::Error TransactionEnded(const ServerContext& ctx, engine::Session::Ended why) {
  if (why == engine::Session::Ended::kStolen) {
    return protocol::MakeError("TRANSACTION_TIMEOUT",
                               "The transaction held the write lock for longer than " +
                                   std::to_string(ctx.db.txn_timeout().count()) +
                                   " ms while another writer waited, and was rolled back; close this stream and open another");
  }
  return protocol::MakeError("TRANSACTION_TIMEOUT", "The transaction was rolled back after being idle for longer than " +
                                                        std::to_string(ctx.opts.stream_expiry.count()) +
                                                        " ms; close this stream and open another");
}

// The answer to a write in a transaction that read a snapshot older than the latest commit: it can
// never take the write lock, so it is told at once instead of waiting for it (as SQLite and sqld do).
inline protocol::Error StaleSnapshot() {
  return protocol::MakeError("SQLITE_BUSY",
                             "SQLite error: database is locked (SQLITE_BUSY_SNAPSHOT: the transaction read a snapshot "
                             "older than the latest commit, so it cannot write; roll it back and retry)");
}

// The answer to a write whose client already has --max-writer-waits-per-client requests waiting.
inline protocol::Error WriterQueueFull(const ServerContext& ctx) {
  return protocol::MakeError("WRITER_QUEUE_FULL", "This client already has " + std::to_string(ctx.writer_waits.max_per_key()) +
                                                      " requests waiting for the database's writer; retry when some of them have finished");
}

// Notes in an execute's or a batch's result where the replication log stands after it (sqld's
// `replication_index`), so a client may wait for a replica to reach its writes; on a replica, the
// frame it had applied (what the read saw at least), which the client may pass to another replica.
inline void StampReplicationIndex(const ServerContext& ctx, protocol::StreamResult& result) {
  if (!result.ok) return;
  std::optional<uint64_t> index;
  if (const replication::ReplicationService* service = ctx.replication()) {
    index = service->last_frame_no();
  } else if (const ReplicaLink* link = ctx.replica(); link && link->replica) {
    index = link->replica->applied_frame_no();
  } else {
    return;
  }
  if (result.response.type == protocol::StreamRequest::Type::kExecute) result.response.stmt_result.replication_index = index;
  if (result.response.type == protocol::StreamRequest::Type::kBatch) result.response.batch_result.replication_index = index;
}

// Ends the request begun by Session::Enter when it goes out of scope, even if the work threw.
struct LeaveSession {
  engine::Session& session;
  bool checkpoint_here = true;
  ~LeaveSession() { session.Leave(checkpoint_here); }
};

// Waits, without holding a thread, until `session` holds the write lock.
asio::awaitable<void> LockWrite(engine::Session& session);
// Waits, without holding a thread, until a session may take a database connection again
// (--max-db-connections).
asio::awaitable<void> WaitForConnection(ServerContext& ctx);
// Runs `run` as a member of the engine's group commit (strong durability), without holding a thread
// while it waits; resumes once the member's group is committed and synced, with its final status.
asio::awaitable<Status> GroupWrite(ServerContext& ctx, std::function<void(engine::Connection&)> run);

// Relaxed (and off) durability's group commit, on the network thread: queues `run`, an autocommit
// write of a stream with default settings, until the end of the event loop's turn, then runs it with
// the other writes queued in that turn as one transaction, each under its own savepoint
// (engine::Database::RunGroupHere), within --inline-budget; when the write lock is held, the group
// waits for it in the lock's queue and runs on the network thread when granted. A write the group
// hands back (not begun within the budget, or undone by another member) is queued for the next one.
// Resumes with the write's final status; Status::Cancelled when nothing of it stayed and it must not
// be tried in a group again (it ran past the budget, the group's BEGIN failed, or its own ROLLBACK
// undid the group): the caller then runs it again alone, on the pool.
asio::awaitable<Status> BatchWrite(ServerContext& ctx, std::function<void(engine::Connection&)> run);

// True when the database's durability groups concurrent autocommit writes (strong, extra).
inline bool GroupsCommits(const ServerContext& ctx) {
  return ctx.db.durability() == engine::Durability::kStrong || ctx.db.durability() == engine::Durability::kExtra;
}

// Whether a request may run on the network thread, with no thread handoff: one that is short unless
// proven otherwise, and that can be run again from the start if it turns out long (the inline budget
// interrupts it, which undoes its statement). So: a single execute or describe, or a request that runs
// no SQL; a read, or a write that is its own transaction (autocommit); and nothing that syncs the
// disk (strong durability's commits go to the pool).
inline bool RunsInline(const ServerContext& ctx, const protocol::StreamRequest& request, const engine::Connection& conn,
                       bool writes) {
  using T = protocol::StreamRequest::Type;
  switch (request.type) {
    case T::kExecute:
    case T::kDescribe:
    case T::kStoreSql:
    case T::kCloseSql:
    case T::kGetAutocommit:
    case T::kClose: break;
    default: return false;
  }
  if (GroupsCommits(ctx)) return !writes && conn.autocommit();
  return !writes || conn.autocommit();
}

// `Holder` is a transport's stream: it has `protocol::Stream stream`, `engine::Session session` and
// `StreamSlot slot`. Runs `work` on the stream's session: on the connection its transaction holds, or
// a pooled one. A request that writes (Stream::Classify, on that connection) first takes the write
// lock, waiting for it in FIFO order if another session holds it; a write in a transaction whose
// snapshot is already stale fails at once with SQLITE_BUSY_SNAPSHOT instead. Afterwards the session
// keeps the connection only while a transaction is open, and the lock only while it writes.
//
// Returns an error, without running `work`, when the stream's transaction was taken away (lock
// stealing, idle expiry), when the snapshot is stale, or when the request would wait for the lock
// while the stream's client already has --max-writer-waits-per-client requests waiting
// (WRITER_QUEUE_FULL): one client cannot fill the queue ahead of everyone else. The caller reports it
// as the request's error.
//
// `restartable`: `work` may be called a second time, producing its outcome afresh (it assigns a
// result rather than appending to a sink). Such a request is first tried on the calling network
// thread within --inline-budget (RunsInline), which saves two thread handoffs; one that runs past it
// is interrupted and run again on the SQL pool.
template <typename Holder, typename Work>
[[nodiscard]] asio::awaitable<std::optional<protocol::Error>> RunOnStream(ServerContext& ctx, Holder& s,
                                                                          const protocol::StreamRequest& request, Work work,
                                                                          bool restartable = false) {
  enum class Next { kDone, kWaitForLock, kGroup, kBatch, kRefused, kToPool, kNoConnection };
  std::optional<protocol::Error> refusal;
  bool no_connection = false;  // every connection sessions may hold is held: wait for one
  auto enter = [&]() -> engine::Connection* {
    auto conn = s.session.Enter();
    if (conn.ok()) return *conn;
    if (conn.status().IsBusy()) {
      no_connection = true;
      return nullptr;
    }
    engine::Session::Ended why = s.session.ended();
    refusal = why != engine::Session::Ended::kNo
                  ? TransactionEnded(ctx, why)
                  : protocol::MakeError("INTERNAL_ERROR", "No database connection: " + conn.status().message());
    return nullptr;
  };
  // The connection, the classification, the lock if it is free, and the work. `here`: on the network
  // thread, within the inline budget; what could block there (a sync, a lock wait) or could not be
  // run again (a write inside a transaction, a cursor) goes to the SQL pool instead (kToPool).
  auto first = [&](bool here) -> Next {
    engine::Connection* conn = enter();
    if (!conn) return no_connection ? Next::kNoConnection : Next::kRefused;
    LeaveSession leave{s.session, /*checkpoint_here=*/!here};
    const bool writes =
        s.session.holds_write_lock() || s.stream.Classify(request, *conn) == protocol::Access::kWrite;
    const bool joins_group =
        writes && !s.session.holds_write_lock() && GroupsCommits(ctx) && s.stream.CanJoinGroup(request, *conn);
    // A write that joins a group commit needs nothing more of this thread than its classification:
    // it goes to the group's queue from here, with no trip through the pool.
    if (here && !joins_group && !RunsInline(ctx, request, *conn, writes)) return Next::kToPool;
    if (writes && !s.session.holds_write_lock()) {
      if (joins_group) return Next::kGroup;
      if (here && s.stream.CanJoinGroup(request, *conn)) return Next::kBatch;  // relaxed: this turn's group
      if (!s.session.TryLockWrite()) {
        if (!s.session.SnapshotIsStale()) return Next::kWaitForLock;
        refusal = StaleSnapshot();
        return Next::kRefused;
      }
    }
    LH_LOG_TRACE("stream request on a connection of its session ({}{})",
                 s.session.holds_write_lock() ? "holding the write lock" : "reading", here ? ", inline" : "");
    if (!here) {
      work(conn);
      return Next::kDone;
    }
    {
      struct Budget {  // ended however `work` leaves (an exception too)
        engine::SqlGuard& guard;
        ~Budget() { guard.EndBudget(); }
      } budget{conn->guard()};
      conn->guard().StartBudget(std::chrono::steady_clock::now() + ctx.opts.inline_budget);
      work(conn);
    }
    // Interrupted past its budget: its statement was undone (a read, or an autocommit write); it runs
    // again, from the start, on the pool.
    if (!conn->guard().over_budget()) return Next::kDone;
    LH_LOG_DEBUG("a request ran past its {} us on the network thread: it runs again on the SQL pool",
                 ctx.opts.inline_budget.count());
    return Next::kToPool;
  };
  Next next = Next::kToPool;
  while (true) {
    no_connection = false;
    next = restartable && ctx.opts.inline_budget.count() > 0 ? first(/*here=*/true) : Next::kToPool;
    if (next == Next::kBatch) {
      LH_LOG_TRACE("stream request queued to commit with the writes read in this turn");
      // Queued for the writer, as a strong group's member is: it counts against the client's bound,
      // the more so as its group may wait behind a holder of the lock.
      KeyedLimit::Ticket waiting = ctx.writer_waits.TryTake(s.slot.client_key());
      if (!waiting) co_return WriterQueueFull(ctx);
      const int64_t rowid_before = s.stream.last_insert_rowid();
      std::function<void(engine::Connection&)> run = [&](engine::Connection& conn) { work(&conn); };
      Status batched = co_await BatchWrite(ctx, std::move(run));
      if (!batched.ok()) s.stream.set_last_insert_rowid(rowid_before);  // nothing of it stayed
      if (!batched.IsCancelled()) {
        if (!batched.ok()) co_return protocol::ErrorFromStatus(batched);
        co_return std::nullopt;
      }
      LH_LOG_DEBUG("a write's group was undone ({}): it runs again on the SQL pool", batched.message());
      next = Next::kToPool;  // nothing of it stayed: it runs again, alone
    }
    if (next == Next::kToPool) next = co_await RunSql(ctx, [&] { return first(/*here=*/false); });
    if (next != Next::kNoConnection) break;
    LH_LOG_TRACE("stream request waits for a database connection");
    co_await WaitForConnection(ctx);
  }
  if (next == Next::kRefused) co_return refusal;
  if (next == Next::kDone) co_return std::nullopt;
  KeyedLimit::Ticket waiting = ctx.writer_waits.TryTake(s.slot.client_key());
  if (!waiting) co_return WriterQueueFull(ctx);
  if (next == Next::kGroup) {
    const int64_t rowid_before = s.stream.last_insert_rowid();
    std::function<void(engine::Connection&)> run = [&](engine::Connection& conn) { work(&conn); };
    Status outcome = co_await GroupWrite(ctx, std::move(run));
    if (!outcome.ok()) {
      s.stream.set_last_insert_rowid(rowid_before);  // nothing of it stayed
      co_return protocol::ErrorFromStatus(outcome);
    }
    co_return std::nullopt;
  }
  co_await LockWrite(s.session);
  LH_LOG_TRACE("stream request granted the write lock");
  waiting.Reset();
  co_await RunSql(ctx, [&] {
    engine::Connection* conn = enter();
    if (!conn) return;
    LeaveSession leave{s.session};
    work(conn);
  });
  co_return refusal;
}

}  // namespace litehouse::server
