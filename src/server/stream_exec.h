// RunOnStream: how a request of any transport gets its SQLite connection. Shared by Hrana over HTTP
// (hrana_http.cc) and over WebSocket (ws_session.cc).
#pragma once

#include <boost/asio.hpp>

#include <algorithm>
#include <optional>
#include <string>

#include "common/log.h"
#include "engine/database.h"
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

// `Holder` is a transport's stream: it has `protocol::Stream stream`, `engine::Lease lease` and
// `StreamSlot slot`. Runs `work` on the connection `request` needs: the one the stream holds, else a
// reader if the request only reads, else the writer once it is free. Afterwards the stream keeps the
// connection only if a transaction is open on it. `work` receives null for requests that run no SQL.
//
// Returns an error, without running `work`, when the request would wait for the writer while the
// stream's client already has --max-writer-waits-per-client requests waiting (WRITER_QUEUE_FULL):
// one client cannot fill the writer's queue ahead of everyone else. The caller reports it as the
// request's error.
template <typename Holder, typename Work>
[[nodiscard]] asio::awaitable<std::optional<protocol::Error>> RunOnStream(ServerContext& ctx, Holder& s,
                                                                          const protocol::StreamRequest& request, Work work) {
  bool need_writer = co_await RunSql(ctx, [&]() -> bool {
    if (s.lease) {
      LH_LOG_TRACE("stream request on the connection its transaction holds");
      work(s.lease.get());
      if (s.lease->autocommit()) s.lease.Release();
      return false;
    }
    auto reader = ctx.db.AcquireReader();
    if (!reader.ok()) return true;  // cannot open a reader: the writer still can serve this
    switch (s.stream.Classify(request, **reader)) {
      case protocol::Access::kNone: work(nullptr); return false;
      case protocol::Access::kRead:
        LH_LOG_TRACE("stream request on a reader");
        work(reader->get());
        if (!(*reader)->autocommit()) s.lease = std::move(*reader);
        return false;
      case protocol::Access::kWrite: return true;
    }
    return true;
  });
  if (!need_writer) co_return std::nullopt;
  KeyedLimit::Ticket waiting = ctx.writer_waits.TryTake(s.slot.client_key());
  if (!waiting) {
    co_return protocol::MakeError(
        "WRITER_QUEUE_FULL", "This client already has " + std::to_string(ctx.writer_waits.max_per_key()) +
                                 " requests waiting for the database's writer; retry when some of them have finished");
  }
  engine::Lease writer = co_await AcquireWriter(ctx);
  LH_LOG_TRACE("stream request on the writer");
  waiting.Reset();
  co_await RunSql(ctx, [&] {
    work(writer.get());
    if (!writer->autocommit()) s.lease = std::move(writer);
    else writer.Release();  // here, on the SQL pool: a checkpoint may run in Release
  });
  co_return std::nullopt;
}

}  // namespace litehouse::server
