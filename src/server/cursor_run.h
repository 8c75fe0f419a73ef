// CursorRun: one open Hrana cursor, its entries passed from the SQL pool, which makes them, to the
// transport, which sends them (HTTP: a chunked body; WebSocket: fetch_cursor pages).
//
// The batch runs on the stream's session in slices (protocol::BatchCursor): a slice runs on the SQL
// pool until it has made about half the queue's room of entries, then the statement pauses, still
// prepared on the connection, which the session keeps meanwhile (engine::Session::Hold), with the
// write lock if the batch took it. The next slice starts only when the queue has room again, so what
// a cursor holds is its queue, however large its output: no total size limit, and a client that
// stops reading stops the SQL work, holding no thread. A cursor whose queue stays full for the
// stream expiry (nobody takes anything) is ended: its statement abandoned, an error entry queued.
// A paused cursor in autocommit keeps a database connection its session would otherwise give back,
// so one client may have only so many paused at once (ServerContext::paused_cursors, half of
// --max-db-connections): a cursor that would pause past that bound is ended instead, with a
// CURSORS_EXHAUSTED error entry after the rows it made. (In a transaction the connection is kept
// anyway, as for any open transaction.) Paused in autocommit, its statement's snapshot holds every
// checkpoint back: once commits have added --max-snapshot-wal-growth-frames to the WAL since that
// statement started, its next slice ends it with a SNAPSHOT_TOO_OLD error entry.
//
// Lifecycle: Open (the first slice, through RunCursorBatch: where it runs, the connection, the write
// lock), then Pump, once, until the batch ends or Close() stops it; the consumer waits with
// WaitForEntries and takes with Take. Lock stealing (--txn-timeout-s) ends a paused batch that holds
// the write lock: its next slice abandons it with a TRANSACTION_TIMEOUT error entry.
//
// Thread safety: network thread only; the slices touch the session and the connection on the SQL
// pool while the network thread awaits them. The Holder given to Open and the session given to Pump
// must outlive Pump.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/session.h"
#include "protocol/codec.h"
#include "protocol/hrana.h"
#include "protocol/stream.h"
#include "server/context.h"
#include "server/replica_forward.h"

namespace litehouse::server {

// The estimated bytes of an entry once encoded (JSON, base64 blobs): what a cursor's queue counts.
size_t CursorEntryBytes(const protocol::CursorEntry& entry);
// The completion handler of a co_spawned Pump (and what wraps it): logs an exception instead of
// losing it, as asio::detached would.
void LogSpawnFailure(std::exception_ptr e);
// Appends `entry` to `out` in `codec`'s cursor framing (HTTP cursor bodies).
void AppendCursorEntry(const protocol::Codec& codec, const protocol::CursorEntry& entry, std::string* out);

// The room all the cursors of one WebSocket connection share (--max-queued-bytes-per-connection):
// the estimated bytes (CursorEntryBytes) of the entries their queues hold. A row that would take
// them past it is refused (its step fails RESPONSE_TOO_LARGE), so what a connection's cursors hold
// stays within the limit however many cursors it opens. Rows are charged on the SQL pool as they are
// made, taken entries given back on the network thread: hence the atomic.
struct CursorBudget {
  explicit CursorBudget(size_t l) : limit(l) {}
  const size_t limit;
  std::atomic<size_t> used{0};
};

class CursorRun : public std::enable_shared_from_this<CursorRun> {
 public:
  struct Bounds {
    size_t queue_bytes;    // estimated bytes of entries waiting (CursorEntryBytes)
    size_t queue_entries;  // entries waiting
  };
  static constexpr size_t kMaxQueueBytes = 256 << 10;
  static constexpr size_t kMinQueueBytes = 16 << 10;
  static constexpr size_t kMaxQueueEntries = 4096;
  // The bounds of a new cursor on a connection whose other cursors are `others`: the connection's
  // share of --max-queued-bytes-per-connection for cursors (a quarter) divided among them, within
  // [kMinQueueBytes, kMaxQueueBytes].
  static Bounds BoundsFor(const ServerOptions& opts, size_t others);

  // `budget`, when given, is the connection's room the cursor's queue counts against (WebSocket).
  CursorRun(ServerContext& ctx, Bounds bounds, std::shared_ptr<CursorBudget> budget = nullptr);
  ~CursorRun();
  CursorRun(const CursorRun&) = delete;
  CursorRun& operator=(const CursorRun&) = delete;

  // Runs the batch's first slice on `s` (HttpStream or WsStream, as RunOnStream), or on the primary
  // when a replica relays it (then every entry is queued at once: a relayed cursor is buffered).
  // Returns the refusal when nothing ran (the cursor is then finished); else Pump must follow.
  template <typename Holder>
  asio::awaitable<std::optional<protocol::Error>> Open(Holder& s, const protocol::SqlStore& sqls,
                                                       const protocol::StreamRequest& request, const Relay& relay);
  // Makes the rest of the entries, a slice whenever the queue has room, until the batch ends or the
  // cursor is closed or ended; the session is then left as after any request (Unhold). Once.
  // Pump never throws: should its work fail, the batch is let go and the cursor finished whatever
  // happens (an INTERNAL_ERROR entry queued when the error is known), so WaitStopped returns.
  asio::awaitable<void> Pump(engine::Session& session);

  // Waits until `count` entries, or `bytes` of them, wait, or the queue is full, or no more will come.
  asio::awaitable<void> WaitForEntries(size_t count, size_t bytes);
  // Takes up to `max_count` entries, within `max_bytes` (but at least one when any is taken).
  std::vector<protocol::CursorEntry> Take(size_t max_count, size_t max_bytes);
  // True once every entry was made and taken.
  bool exhausted() const { return finished_ && queue_.empty(); }
  // The consumer is gone (close_cursor, a closed connection, a failed write): the batch stops at
  // its next slice.
  void Close();
  // True while the batch may still run on the session (Pump has not returned).
  bool running() const { return !finished_; }
  // True once Close() was called: nobody will take its entries.
  bool closed() const { return closed_; }
  asio::awaitable<void> WaitStopped();
  const Bounds& bounds() const { return bounds_; }
  // Teardown only, on the thread that destroys the stream, when no slice can be running (nothing
  // holds the stream for a Pump any more, or the SQL pool was joined at shutdown), and before the
  // stream's session is destroyed: lets a paused statement go on its connection. Without it, the
  // statement would outlive its connection: the session gives the connection back (maybe closing
  // it) and the statement's destructor then resets it through freed memory. A no-op once the batch
  // ended.
  void DropBatch();

 private:
  // One slice's output, made on the SQL pool.
  struct Slice {
    std::vector<protocol::CursorEntry> entries;
    size_t bytes = 0;
    size_t charged = 0;  // of `bytes`, what the sink charged to the budget already
    bool ended = false;
  };
  // The room a slice may fill: half the queue (the network sends one half while the pool makes the
  // other). Network thread.
  struct Room {
    size_t bytes;
    size_t entries;
  };
  Room SliceRoom() const;
  // Pump's loop: a slice whenever the queue has room, until the batch ends.
  asio::awaitable<void> PumpSlices(engine::Session& session);
  // Runs a slice of the batch on `conn` inside a request of `session` (SQL pool): within `room`, or
  // only ending the batch when `stop`.
  void RunSlice(engine::Session& session, engine::Connection& conn, bool stop, Room room, Slice* out);
  void Append(Slice slice);
  // True when the queue is at most half full: a slice may run (and fill the other half).
  bool HasRoom() const { return queued_bytes_ <= bounds_.queue_bytes / 2 && queue_.size() <= bounds_.queue_entries / 2; }
  std::function<void()> StealWaker();
  // Makes what the cursor holds of the budget its queued bytes again (network thread).
  void SyncBudget();

  ServerContext& ctx_;
  const Bounds bounds_;
  std::unique_ptr<protocol::BatchCursor> batch_;  // touched only inside the session's requests
  std::deque<protocol::CursorEntry> queue_;
  size_t queued_bytes_ = 0;
  const std::shared_ptr<CursorBudget> budget_;
  size_t budget_held_ = 0;  // what this cursor holds of budget_: its queued bytes, once synced
  bool finished_ = false;  // no entry will be added
  bool closed_ = false;
  bool steal_ = false;     // lock stealing asked for the write lock (Session::Hold's callback)
  std::string client_;     // who opened it (StreamSlot::client_key): charged for its pause
  // Database::wal_frames_appended() as its running statement started (its snapshot): touched on the
  // SQL pool inside slices only.
  int64_t wal_at_statement_ = 0;
  // Its place among its client's paused cursors (ServerContext::paused_cursors), taken by the first
  // slice that pauses, given back when the batch ends. Touched on the SQL pool inside a slice, else
  // on the network thread, never both at once (the network thread awaits the slice).
  KeyedLimit::Ticket paused_place_;
  Clock::time_point last_taken_;  // the last Take or Append: the idle expiry counts from it
  asio::steady_timer room_;     // the producer waits on it; cancelled when entries are taken
  asio::steady_timer ready_;    // consumers wait on it; cancelled when entries come
};

namespace cursor_detail {
// Records a batch's output as cursor entries, with their estimated bytes.
class EntrySink : public protocol::BatchSink {
 public:
  // With a budget, every entry is charged to it (and counted in *charged), and a row past its room
  // is refused (Admit).
  EntrySink(std::vector<protocol::CursorEntry>* out, size_t* bytes, CursorBudget* budget = nullptr,
            size_t* charged = nullptr)
      : out_(out), bytes_(bytes), budget_(budget), charged_(charged) {}
  void StepBegin(uint32_t step) override { step_ = step; }
  void Begin(std::vector<protocol::Col> cols) override;
  void Row(std::vector<protocol::Value> row) override;
  void End(const protocol::StmtEnd& end) override;
  void StepError(uint32_t step, protocol::Error error) override;
  std::optional<protocol::Error> Admit(const std::vector<protocol::Value>& row) override;

 private:
  void Add(protocol::CursorEntry e);
  std::vector<protocol::CursorEntry>* out_;
  size_t* bytes_;
  CursorBudget* budget_;
  size_t* charged_;
  size_t admitted_ = 0;  // the row Admit charged already, given to Row next
  uint32_t step_ = 0;
};
}  // namespace cursor_detail

template <typename Holder>
asio::awaitable<std::optional<protocol::Error>> CursorRun::Open(Holder& s, const protocol::SqlStore& sqls,
                                                                 const protocol::StreamRequest& request,
                                                                 const Relay& relay) {
  Slice first;
  const Room room = SliceRoom();
  client_ = s.slot.client_key();
  // The stored SQL it names, copied now, here (the store's thread): the batch never reads the store.
  protocol::StreamRequest inlined = request;
  protocol::InlineStoredSql(sqls, &inlined);
  cursor_detail::EntrySink replayed(&first.entries, &first.bytes, budget_.get(), &first.charged);
  std::optional<protocol::Error> refused;
  bool failed = false;
  try {
    refused = co_await RunCursorBatch(ctx_, s, sqls, inlined, relay, replayed, [&](engine::Connection& conn) {
      batch_ = std::make_unique<protocol::BatchCursor>(s.stream, inlined.batch);
      batch_->set_on_statement_start([this] { wal_at_statement_ = ctx_.db.wal_frames_appended(); });
      s.session.Hold(StealWaker());
      // Should the slice throw (a bad_alloc), its statement is let go and the session no longer held
      // before the request leaves the session (RunCursorBatch's LeaveSession): else nothing would
      // ever end the held session, which would pin its connection and maybe the write lock.
      struct AbandonOnThrow {
        CursorRun* run;
        engine::Session& session;
        int uncaught = std::uncaught_exceptions();
        ~AbandonOnThrow() {
          if (std::uncaught_exceptions() == uncaught) return;
          run->batch_->Abandon();
          session.Unhold();
        }
      } guard{this, s.session};
      RunSlice(s.session, conn, /*stop=*/false, room, &first);
    });
  } catch (...) {
    failed = true;
  }
  if (failed) {
    // No Pump follows: nobody may wait for this cursor's batch.
    finished_ = true;
    ready_.cancel();
    throw;
  }
  if (refused || !batch_) first.ended = true;  // refused, or relayed to the primary whole
  Append(std::move(first));
  co_return refused;
}

}  // namespace litehouse::server
