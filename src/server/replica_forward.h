// On a read replica (--primary-url), where a stream's request runs, as sqld's replicas decide it
// (libsql-server connection/write_proxy.rs):
//
//   - a write, and everything from a `BEGIN` (or a SAVEPOINT outside a transaction) to the end of the
//     transaction it opens, runs on the primary: the replica relays it over Hrana over HTTP
//     (/v3/pipeline) with the client's own credential, on one stream of the primary per replica
//     stream while a transaction is open there. A transaction is never split between the two;
//   - a read, and a `BEGIN TRANSACTION READONLY` transaction, run here, on the replica's snapshot,
//     once the replica has applied the stream's own last write (read-your-writes): the primary's
//     replication_index after that write, or after its client's last write on any stream (a client
//     is an address and a credential: @libsql/client opens a stream per statement). A wait is bounded (ReplicaLink::read_wait), then
//     REPLICATION_TIMEOUT;
//   - a read-only credential is refused any write, here as on the primary: its writes are never
//     relayed, and fail against the replica's read-only guard.
#pragma once

#include <boost/asio.hpp>

#include <optional>
#include <string>

#include "protocol/hrana.h"
#include "protocol/stream.h"
#include "server/context.h"
#include "server/stream_exec.h"

namespace litehouse::server {

// Who asks, for a relayed request: the client's credential as its Authorization header carried it
// ("Bearer ..." or "Basic ..."; empty: none), and whether it may only read.
struct Relay {
  std::string credential;
  bool read_only = false;
  // Who the client is for read-your-writes across its streams (ClientIndexes): its address and its
  // credential's id; empty: its streams only.
  std::string client = {};
  // The client's key (client_address.h), named to the primary in X-Forwarded-For; empty: none.
  std::string address = {};
};

// Runs `request` (its stored SQL taken from `sqls`) on the primary if it must go there, updating
// `remote`; nullopt when it runs here (the caller runs it on `stream`, which is then read-only, after
// WaitForReplica). Only on a replica; on a primary always nullopt.
asio::awaitable<std::optional<protocol::StreamResult>> RouteOnReplica(ServerContext& ctx, RemoteStream& remote,
                                                                      protocol::Stream& stream, bool local_transaction,
                                                                      const protocol::SqlStore& sqls,
                                                                      const protocol::StreamRequest& request,
                                                                      const Relay& relay);

// Waits until the replica has applied frame `index` (nullopt, or on a primary: at once); an error
// when it has not within ReplicaLink::read_wait.
asio::awaitable<std::optional<protocol::Error>> WaitForReplica(ServerContext& ctx, std::optional<uint64_t> index);

// Feeds a batch's result, as the primary answered it, to a cursor's sink, step by step.
void ReplayBatch(const protocol::BatchResult& result, protocol::BatchSink& sink);

// Closes the stream's stream on the primary, if any, without waiting for the answer.
void CloseRemote(ServerContext& ctx, RemoteStream& remote, const Relay& relay);

// How every transport runs a stream request: on the primary when RouteOnReplica sends it there,
// else here on the stream's session (RunOnStream, protocol::Stream::Handle), a refusal becoming the
// result's error and the result noting the replication index. `Holder` is a transport's stream, as
// for RunOnStream, with a `RemoteStream remote`.
template <typename Holder>
asio::awaitable<protocol::StreamResult> RunStreamRequest(ServerContext& ctx, Holder& s, const protocol::SqlStore& sqls,
                                                         const protocol::StreamRequest& request, const Relay& relay) {
  if (ctx.replica()) {
    const bool local_transaction = s.session.in_transaction();
    std::optional<protocol::StreamResult> routed =
        co_await RouteOnReplica(ctx, s.remote, s.stream, local_transaction, sqls, request, relay);
    if (routed) co_return std::move(*routed);
  }
  protocol::StreamResult result;
  auto refused = co_await RunOnStream(
      ctx, s, request, [&](engine::Connection* conn) { result = s.stream.Handle(request, conn); }, /*restartable=*/true);
  if (refused) {
    result.ok = false;
    result.error = std::move(*refused);
  }
  StampReplicationIndex(ctx, result);
  co_return result;
}

// How every transport starts a cursor's batch: refused at once if a condition names a later step
// (CheckBatch); on the primary when RouteOnReplica sends it there (its steps, as the primary
// answered them, replayed into `relayed`: a relayed cursor is buffered whole, within the primary's
// response limit); else here, `run_here(conn)` called on the stream's session (RunOnStream) to start
// it. Returns the refusal, nothing having run.
template <typename Holder, typename RunHere>
asio::awaitable<std::optional<protocol::Error>> RunCursorBatch(ServerContext& ctx, Holder& s, const protocol::SqlStore& sqls,
                                                               const protocol::StreamRequest& request, const Relay& relay,
                                                               protocol::BatchSink& relayed, RunHere run_here) {
  if (std::optional<protocol::Error> bad = protocol::CheckBatch(request.batch)) co_return bad;
  if (ctx.replica()) {
    const bool local_transaction = s.session.in_transaction();
    std::optional<protocol::StreamResult> routed =
        co_await RouteOnReplica(ctx, s.remote, s.stream, local_transaction, sqls, request, relay);
    if (routed) {
      if (!routed->ok) co_return std::move(routed->error);
      ReplayBatch(routed->response.batch_result, relayed);
      co_return std::nullopt;
    }
  }
  std::optional<protocol::Error> refused = co_await RunOnStream(ctx, s, request, [&](engine::Connection* conn) { run_here(*conn); });
  co_return refused;
}

}  // namespace litehouse::server
