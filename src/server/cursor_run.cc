#include "server/cursor_run.h"

#include <boost/asio/experimental/as_tuple.hpp>

#include <algorithm>

#include "common/log.h"
#include "protocol/errors.h"
#include "server/stream_exec.h"

namespace litehouse::server {
namespace {

using protocol::CursorEntry;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// What a value costs once encoded: JSON's {"type":...,"value":...} around it (at most 48 bytes for a
// number: {"type":"integer","value":"-9223372036854775808"}), a text's escapes (a control character
// is six bytes, \u00XX; a quote or a backslash two), base64 for a blob.
size_t ValueCost(const protocol::Value& v) {
  constexpr size_t kFraming = 32;
  if (const auto* text = std::get_if<std::string>(&v)) {
    size_t bytes = kFraming + text->size();
    for (unsigned char c : *text) {
      if (c < 0x20) bytes += 5;
      else if (c == '"' || c == '\\') bytes += 1;
    }
    return bytes;
  }
  if (const auto* blob = std::get_if<engine::Blob>(&v)) return kFraming + (blob->bytes.size() + 2) / 3 * 4;
  return 48;
}

}  // namespace

size_t CursorEntryBytes(const CursorEntry& e) {
  size_t bytes = 48;
  for (const protocol::Value& v : e.row) bytes += ValueCost(v);
  for (const protocol::Col& c : e.cols) bytes += 32 + (c.name ? c.name->size() : 0) + (c.decltype_ ? c.decltype_->size() : 0);
  bytes += e.error.message.size();
  return bytes;
}

void AppendCursorEntry(const protocol::Codec& codec, const CursorEntry& e, std::string* out) {
  switch (e.type) {
    case CursorEntry::Type::kStepBegin: codec.AppendStepBegin(e.step, e.cols, out); break;
    case CursorEntry::Type::kRow: codec.AppendRow(e.row, out); break;
    case CursorEntry::Type::kStepEnd: codec.AppendStepEnd(e.affected_row_count, e.last_insert_rowid, out); break;
    case CursorEntry::Type::kStepError: codec.AppendStepError(e.step, e.error, out); break;
    case CursorEntry::Type::kError: codec.AppendCursorError(e.error, out); break;
  }
}

namespace cursor_detail {

void EntrySink::Add(CursorEntry e) {
  const size_t cost = CursorEntryBytes(e);
  *bytes_ += cost;
  if (budget_) {
    if (e.type == CursorEntry::Type::kRow && admitted_ == cost) admitted_ = 0;  // charged by Admit
    else budget_->used.fetch_add(cost);
    *charged_ += cost;
  }
  out_->push_back(std::move(e));
}

std::optional<protocol::Error> EntrySink::Admit(const std::vector<protocol::Value>& row) {
  if (!budget_) return std::nullopt;
  size_t cost = 48;  // CursorEntryBytes of the row's entry
  for (const protocol::Value& v : row) cost += ValueCost(v);
  size_t used = budget_->used.load();
  do {
    if (used + cost > budget_->limit) {
      return protocol::MakeError("RESPONSE_TOO_LARGE",
                                 "The open cursors of this connection hold more than " + std::to_string(budget_->limit) +
                                     " bytes of entries (--max-queued-bytes-per-connection); fetch or close them first");
    }
  } while (!budget_->used.compare_exchange_weak(used, used + cost));
  admitted_ = cost;
  return std::nullopt;
}

void EntrySink::Begin(std::vector<protocol::Col> cols) {
  CursorEntry e{CursorEntry::Type::kStepBegin};
  e.step = step_;
  e.cols = std::move(cols);
  Add(std::move(e));
}

void EntrySink::Row(std::vector<protocol::Value> row) {
  CursorEntry e{CursorEntry::Type::kRow};
  e.row = std::move(row);
  Add(std::move(e));
}

void EntrySink::End(const protocol::StmtEnd& end) {
  CursorEntry e{CursorEntry::Type::kStepEnd};
  e.affected_row_count = end.affected_row_count;
  e.last_insert_rowid = end.last_insert_rowid;
  Add(std::move(e));
}

void EntrySink::StepError(uint32_t step, protocol::Error error) {
  CursorEntry e{CursorEntry::Type::kStepError};
  e.step = step;
  e.error = std::move(error);
  Add(std::move(e));
}

}  // namespace cursor_detail

CursorRun::Bounds CursorRun::BoundsFor(const ServerOptions& opts, size_t others) {
  const size_t share = opts.max_queued_bytes_per_connection / 4 / (others + 1);
  return Bounds{std::clamp(share, kMinQueueBytes, kMaxQueueBytes), kMaxQueueEntries};
}

CursorRun::CursorRun(ServerContext& ctx, Bounds bounds, std::shared_ptr<CursorBudget> budget)
    : ctx_(ctx),
      bounds_(bounds),
      budget_(std::move(budget)),
      last_taken_(ctx.clock.Now()),
      room_(ctx.network, asio::steady_timer::time_point::max()),
      ready_(ctx.network, asio::steady_timer::time_point::max()) {}

CursorRun::~CursorRun() {
  if (budget_) budget_->used.fetch_sub(budget_held_);
}

void CursorRun::DropBatch() {
  if (!batch_) return;
  batch_->Abandon();
  batch_.reset();
}

void CursorRun::SyncBudget() {
  if (!budget_) return;
  if (queued_bytes_ > budget_held_) budget_->used.fetch_add(queued_bytes_ - budget_held_);
  else budget_->used.fetch_sub(budget_held_ - queued_bytes_);
  budget_held_ = queued_bytes_;
}

std::function<void()> CursorRun::StealWaker() {
  // Called by the engine on any thread: hop to the network thread, where the cursor lives.
  return [weak = weak_from_this(), network = ctx_.network] {
    asio::post(network, [weak] {
      if (auto self = weak.lock()) {
        self->steal_ = true;
        self->room_.cancel();
      }
    });
  };
}

CursorRun::Room CursorRun::SliceRoom() const {
  return Room{std::max<size_t>(1, bounds_.queue_bytes / 2), std::max<size_t>(1, bounds_.queue_entries / 2)};
}

void CursorRun::RunSlice(engine::Session& session, engine::Connection& conn, bool stop, Room room, Slice* out) {
  auto end_here = [&](std::optional<protocol::Error> why) {
    batch_->Abandon();
    session.Unhold();
    out->ended = true;
    if (why) {
      CursorEntry e{CursorEntry::Type::kError};
      e.error = std::move(*why);
      out->bytes += CursorEntryBytes(e);
      out->entries.push_back(std::move(e));
    }
  };
  // Lock stealing took the write lock back. In a transaction, its Leave rolls it back (the stream
  // then answers TRANSACTION_TIMEOUT). In autocommit there is nothing to roll back: ending the paused
  // statement (Abandon resets it) commits what it wrote, as a finished statement would have, so the
  // error entry must not say "rolled back". Asked before Abandon, on the batch's connection.
  auto stolen = [&]() -> protocol::Error {
    if (!conn.autocommit()) return TransactionEnded(ctx_, engine::Session::Ended::kStolen);
    return protocol::MakeError(
        "TRANSACTION_TIMEOUT",
        "The cursor's batch held the write lock for longer than " + std::to_string(ctx_.db.txn_timeout().count()) +
            " ms while another writer waited, and was ended here; it ran in autocommit, so nothing was rolled back: "
            "what its statements wrote is kept, the statement it was ended in included (a step that failed says so)");
  };
  if (session.steal_pending()) return end_here(stolen());
  if (stop) return end_here(std::nullopt);
  if (const int64_t bound = ctx_.opts.max_snapshot_wal_growth_frames;
      batch_->statement_running() && conn.autocommit() && bound > 0 &&
      ctx_.db.wal_frames_appended() - wal_at_statement_ > bound) {
    // Its paused statement's snapshot keeps every checkpoint from passing it: the WAL would only grow.
    return end_here(protocol::MakeError(
        "SNAPSHOT_TOO_OLD", "Commits added more than " + std::to_string(bound) +
                                " frames to the WAL while this cursor's client read it (--max-snapshot-wal-growth-frames); "
                                "its batch was ended after the entries above so that checkpoints can go on"));
  }
  cursor_detail::EntrySink sink(&out->entries, &out->bytes, budget_.get(), &out->charged);
  auto enough = [&] { return out->bytes >= room.bytes || out->entries.size() >= room.entries; };
  const bool done = batch_->Run(conn, sink, enough);
  if (!done && session.steal_pending()) return end_here(stolen());
  if (!done && !paused_place_ && conn.autocommit()) {
    // The batch must pause, keeping a connection the session would otherwise give back: one of its
    // client's places for that. (In a transaction the session keeps its connection anyway.)
    paused_place_ = ctx_.paused_cursors.TryTake(client_);
    if (!paused_place_) {
      const std::string bound = std::to_string(ctx_.paused_cursors.max_per_key());
      return end_here(protocol::MakeError(
          "CURSORS_EXHAUSTED",
          "This client already has " + bound + " cursors paused between slices, each holding a database connection "
          "(half of --max-db-connections); this cursor's batch was ended after the entries above (it ran in "
          "autocommit: what its statements wrote is kept). Finish reading or close the other cursors first"));
    }
  }
  if (done) {
    session.Unhold();
    out->ended = true;
  }
}

void CursorRun::Append(Slice slice) {
  for (CursorEntry& e : slice.entries) queue_.push_back(std::move(e));
  queued_bytes_ += slice.bytes;
  budget_held_ += slice.charged;  // what the slice's sink charged; the rest is charged here
  SyncBudget();
  // The client's time to take them starts now: a slow slice does not count against it.
  last_taken_ = ctx_.clock.Now();
  if (slice.ended) {
    finished_ = true;
    paused_place_.Reset();  // its statement was let go
  }
  ready_.cancel();
}

void LogSpawnFailure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    LH_LOG_ERROR("a cursor's coroutine failed with an exception: {}", x.what());
  } catch (...) {
    LH_LOG_ERROR("a cursor's coroutine failed with an unknown exception");
  }
}

asio::awaitable<void> CursorRun::Pump(engine::Session& session) {
  auto self = shared_from_this();  // alive while its slices run
  // On any exit, even the coroutine destroyed unfinished: no entry will come, and WaitStopped's
  // waiters (close_cursor, close_stream, a connection's or an HTTP body's end) are woken.
  struct Finish {
    CursorRun* run;
    ~Finish() {
      run->finished_ = true;
      run->ready_.cancel();
    }
  } finish{this};
  std::string failure;
  try {
    co_await PumpSlices(session);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "an unknown exception";
  }
  if (failure.empty()) co_return;
  // Something outside a slice's SQL work threw: the batch is let go and the session no longer held,
  // in a last request of the session, so nothing stays pinned (its connection, the write lock).
  LH_LOG_ERROR("a cursor failed with an exception: {}", failure);
  try {
    co_await RunSql(ctx_, [&] {
      auto conn = session.Enter();
      if (!conn.ok()) {
        // As in PumpSlices: the batch still ends, its connection untouched by anyone else.
        if (batch_) batch_->Abandon();
        session.Unhold();
        return;
      }
      LeaveSession leave{session};
      if (batch_) batch_->Abandon();
      session.Unhold();
    });
    batch_.reset();
    paused_place_.Reset();
    if (!finished_ && !closed_) {
      Slice slice;
      slice.ended = true;
      CursorEntry error{CursorEntry::Type::kError};
      error.error = protocol::MakeError("INTERNAL_ERROR", "The server failed: " + failure);
      slice.bytes = CursorEntryBytes(error);
      slice.entries.push_back(std::move(error));
      Append(std::move(slice));
    }
  } catch (const std::exception& e) {
    LH_LOG_ERROR("a failed cursor could not let go of its batch: {}", e.what());
  }
}

asio::awaitable<void> CursorRun::PumpSlices(engine::Session& session) {
  while (!finished_) {
    bool expired = false;
    while (!closed_ && !steal_ && !HasRoom()) {
      const Clock::time_point deadline = last_taken_ + ctx_.opts.stream_expiry;
      if (ctx_.clock.Now() >= deadline) {
        expired = true;
        break;
      }
      room_.expires_after(deadline - ctx_.clock.Now());
      co_await room_.async_wait(kTuple);
    }
    steal_ = false;
    const bool stop = closed_ || expired;
    const Room room = SliceRoom();
    Slice slice;
    std::string failure;
    try {
      co_await RunSql(ctx_, [&] {
        auto conn = session.Enter();
        if (!conn.ok()) {
          // A held session is never refused (nothing ends it while held); should it be, the batch
          // still ends here, its connection untouched by anyone else.
          batch_->Abandon();
          session.Unhold();
          slice.ended = true;
          return;
        }
        LeaveSession leave{session};
        RunSlice(session, **conn, stop, room, &slice);
      });
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      // The slice's work threw (a bad_alloc): the batch ends with an error entry, and its statement
      // is let go in a last request.
      LH_LOG_ERROR("a cursor's batch failed with an exception: {}", failure);
      co_await RunSql(ctx_, [&] {
        auto conn = session.Enter();
        if (!conn.ok()) {
          batch_->Abandon();
          session.Unhold();
          return;
        }
        LeaveSession leave{session};
        batch_->Abandon();
        session.Unhold();
      });
      const size_t charged = slice.charged;  // given back by Append
      slice = Slice{};
      slice.charged = charged;
      slice.ended = true;
      CursorEntry error{CursorEntry::Type::kError};
      error.error = protocol::MakeError("INTERNAL_ERROR", "The server failed: " + failure);
      slice.entries.push_back(std::move(error));
    }
    if (expired && !closed_) {
      LH_LOG_WARN("a cursor's client took nothing for {} ms: its batch is ended", ctx_.opts.stream_expiry.count());
      CursorEntry e{CursorEntry::Type::kError};
      e.error = protocol::MakeError("STREAM_EXPIRED", "The cursor's client took no entry for longer than " +
                                                          std::to_string(ctx_.opts.stream_expiry.count()) +
                                                          " ms (the stream expiry): its batch was ended");
      slice.bytes += CursorEntryBytes(e);
      slice.entries.push_back(std::move(e));
    }
    if (closed_) {  // nobody will read them
      slice.entries.clear();
      slice.bytes = 0;
    }
    Append(std::move(slice));
  }
  batch_.reset();  // its statement was let go inside the last slice's request
}

asio::awaitable<void> CursorRun::WaitForEntries(size_t count, size_t bytes) {
  auto self = shared_from_this();
  while (!finished_ && queue_.size() < count && queued_bytes_ < bytes && HasRoom()) co_await ready_.async_wait(kTuple);
}

std::vector<CursorEntry> CursorRun::Take(size_t max_count, size_t max_bytes) {
  std::vector<CursorEntry> out;
  size_t bytes = 0;
  while (!queue_.empty() && out.size() < max_count) {
    const size_t cost = CursorEntryBytes(queue_.front());
    if (!out.empty() && bytes + cost > max_bytes) break;
    bytes += cost;
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  queued_bytes_ -= std::min(queued_bytes_, bytes);
  if (queue_.empty()) queued_bytes_ = 0;
  SyncBudget();
  last_taken_ = ctx_.clock.Now();
  room_.cancel();
  return out;
}

void CursorRun::Close() {
  closed_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  SyncBudget();
  room_.cancel();
  ready_.cancel();
}

asio::awaitable<void> CursorRun::WaitStopped() {
  auto self = shared_from_this();
  while (!finished_) co_await ready_.async_wait(kTuple);
}

}  // namespace litehouse::server
