#include "server/replica_forward.h"

#include <algorithm>
#include <cctype>

#include "common/log.h"
#include "protocol/errors.h"
#include "protocol/json_client_codec.h"
#include "server/client_address.h"

namespace litehouse::server {
namespace {

using protocol::Error;
using protocol::MakeError;
using protocol::StreamRequest;
using protocol::StreamResult;

// True when `sql` opens a transaction that must run on the primary: BEGIN (deferred, IMMEDIATE,
// EXCLUSIVE), or a SAVEPOINT, which opens one outside a transaction. `BEGIN TRANSACTION READONLY`
// stays here.
bool OpensTransaction(const std::optional<std::string>& sql) {
  if (!sql) return false;
  const std::string kw = protocol::FirstKeyword(*sql);
  if (kw == "SAVEPOINT") return true;
  if (kw != "BEGIN") return false;
  std::string upper = sql->substr(0, sql->find(';'));  // the BEGIN statement's own words only
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  return upper.find("READONLY") == std::string::npos;
}

bool RequestOpensTransaction(const StreamRequest& r) {
  switch (r.type) {
    case StreamRequest::Type::kExecute: return OpensTransaction(r.stmt.sql);
    case StreamRequest::Type::kSequence: return OpensTransaction(r.sql);
    case StreamRequest::Type::kBatch:
      return std::any_of(r.batch.steps.begin(), r.batch.steps.end(),
                         [](const protocol::BatchStep& step) { return OpensTransaction(step.stmt.sql); });
    default: return false;
  }
}

std::vector<std::pair<std::string, std::string>> RelayHeaders(const Relay& relay) {
  std::vector<std::pair<std::string, std::string>> headers{{"content-type", "application/json"}};
  if (!relay.credential.empty()) headers.emplace_back("authorization", relay.credential);
  // The client, for a primary that trusts this replica as a proxy (its per-client limits).
  if (std::string forwarded = ForwardedForOf(relay.address); !forwarded.empty()) headers.emplace_back("x-forwarded-for", forwarded);
  return headers;
}

// Sends a pipeline that closes a stream of the primary; nobody waits for the answer.
asio::awaitable<void> CloseDetached(PrimaryTarget primary, std::chrono::milliseconds timeout, std::string body,
                                    std::vector<std::pair<std::string, std::string>> headers) {
  auto done = co_await ForwardToPrimary(primary, "/v3/pipeline", std::move(headers), std::move(body), timeout);
  if (!done.ok()) LH_LOG_DEBUG("closing a stream on the primary: {}", done.status().ToString());
}

// True once the replica has applied frame `index`.
bool ReplicaReached(const ReplicaLink& link, uint64_t index) {
  auto applied = link.replica->applied_frame_no();
  return applied && *applied >= index;
}

StreamResult Failed(Error e) {
  StreamResult r;
  r.ok = false;
  r.error = std::move(e);
  return r;
}

// Runs `request` (stored SQL inlined) on the primary, on the stream `remote` names (a new one if
// none); keeps that stream only while a transaction is open there.
asio::awaitable<StreamResult> RunOnPrimary(ServerContext& ctx, const ReplicaLink& link, RemoteStream& remote,
                                           StreamRequest request, const Relay& relay) {
  protocol::PipelineRequest pipeline;
  pipeline.baton = remote.baton;
  const bool keep = remote.in_transaction || RequestOpensTransaction(request);
  pipeline.requests.push_back(std::move(request));
  StreamRequest tail;
  tail.type = keep ? StreamRequest::Type::kGetAutocommit : StreamRequest::Type::kClose;
  pipeline.requests.push_back(tail);
  std::string body = protocol::json::EncodePipelineRequest(pipeline);
  auto headers = RelayHeaders(relay);
  auto reply = co_await ForwardToPrimary(link.primary, "/v3/pipeline", std::move(headers), std::move(body), link.forward_timeout);
  if (!reply.ok()) {
    // Whether it ran there is unknown; a transaction open there is lost to this stream either way.
    remote.baton.reset();
    remote.in_transaction = false;
    co_return Failed(MakeError("PRIMARY_UNAVAILABLE", "This replica could not reach its primary to run the write: " +
                                                          reply.status().message()));
  }
  if (reply->status != 200) {
    remote.baton.reset();
    remote.in_transaction = false;
    auto error = protocol::json::ParseErrorBody(reply->body);
    if (error.ok()) co_return Failed(std::move(*error));
    co_return Failed(MakeError("PRIMARY_ERROR", "The primary answered HTTP " + std::to_string(reply->status) + ": " +
                                                    reply->body.substr(0, 200)));
  }
  auto parsed = protocol::json::ParsePipelineResponse(reply->body, pipeline);
  if (!parsed.ok() || parsed->results.size() != 2) {
    remote.baton.reset();
    remote.in_transaction = false;
    co_return Failed(MakeError("PRIMARY_ERROR", "The primary's answer could not be read: " +
                                                    (parsed.ok() ? std::string("wrong number of results") : parsed.status().message())));
  }
  StreamResult out = std::move(parsed->results[0]);
  remote.baton = parsed->baton;
  remote.in_transaction = keep && parsed->results[1].ok && !parsed->results[1].response.is_autocommit;
  if (!remote.in_transaction && remote.baton) CloseRemote(ctx, remote, relay);
  std::optional<uint64_t> index;
  if (out.ok && out.response.type == StreamRequest::Type::kExecute) index = out.response.stmt_result.replication_index;
  if (out.ok && out.response.type == StreamRequest::Type::kBatch) index = out.response.batch_result.replication_index;
  const uint64_t history = link.replica ? link.replica->history() : 0;
  if (index && (!remote.min_index || remote.min_index_history != history || *remote.min_index < *index)) {
    remote.min_index = index;
    remote.min_index_history = history;
  }
  if (index && !relay.client.empty()) ctx.client_indexes.Raise(relay.client, *index, history, std::chrono::steady_clock::now());
  co_return out;
}

}  // namespace

asio::awaitable<std::optional<StreamResult>> RouteOnReplica(ServerContext& ctx, RemoteStream& remote, protocol::Stream& stream,
                                                            bool local_transaction, const protocol::SqlStore& sqls,
                                                            const StreamRequest& request, const Relay& relay) {
  using T = StreamRequest::Type;
  const ReplicaLink* link = ctx.replica();  // null on a primary, or once this replica is promoted
  if (!link) co_return std::nullopt;
  switch (request.type) {
    case T::kClose:
      CloseRemote(ctx, remote, relay);
      co_return std::nullopt;
    case T::kStoreSql:
    case T::kCloseSql: co_return std::nullopt;
    case T::kGetAutocommit:
      if (remote.in_transaction) {
        StreamResult r;
        r.response.type = T::kGetAutocommit;
        r.response.is_autocommit = false;
        co_return r;
      }
      co_return std::nullopt;
    default: break;
  }
  StreamRequest inlined = request;
  protocol::InlineStoredSql(sqls, &inlined);
  // The index this stream's reads wait for: its own last write's, or its client's on any stream.
  // (Indexes of an earlier history of the primary mean nothing now.)
  const uint64_t history = link->replica ? link->replica->history() : 0;
  std::optional<uint64_t> wait_for = remote.min_index_history == history ? remote.min_index : std::nullopt;
  if (!relay.client.empty()) {
    if (auto mine = ctx.client_indexes.Get(relay.client, history); mine && (!wait_for || *wait_for < *mine)) wait_for = mine;
  }
  // ... or the request's own (sqld's replication_index on a statement or a batch).
  std::optional<uint64_t> asked;
  if (request.type == T::kExecute) asked = request.stmt.replication_index;
  if (request.type == T::kBatch) asked = request.batch.replication_index;
  if (asked && (!wait_for || *wait_for < *asked)) wait_for = asked;
  bool to_primary = remote.in_transaction;
  if (!to_primary && !local_transaction && !relay.read_only) {
    if (RequestOpensTransaction(inlined)) {
      to_primary = true;
    } else if (request.type != T::kDescribe) {
      // Classified as the primary would: by preparing it, here, on a reader.
      auto classify = [&] {
        auto reader = ctx.db.AcquireReader();
        if (!reader.ok()) return false;  // run here: the local run reports what is wrong
        stream.set_read_only(false);
        return stream.Classify(inlined, **reader) == protocol::Access::kWrite;
      };
      to_primary = classify();
      // What cannot be prepared counts as a write: a table the client created moments ago, which the
      // replica has not applied yet. Once it has, the statement is classified again.
      if (to_primary && wait_for && !ReplicaReached(*link, *wait_for)) {
        if (!(co_await WaitForReplica(ctx, wait_for))) to_primary = classify();
      }
    }
  }
  if (to_primary) {
    StreamResult result = co_await RunOnPrimary(ctx, *link, remote, std::move(inlined), relay);
    co_return result;
  }
  // Here: read-only (a write that got this far is refused by the guard), after the client's writes.
  stream.set_read_only(true);
  if (auto late = co_await WaitForReplica(ctx, wait_for)) co_return Failed(std::move(*late));
  co_return std::nullopt;
}

asio::awaitable<std::optional<Error>> WaitForReplica(ServerContext& ctx, std::optional<uint64_t> index) {
  const ReplicaLink* link = ctx.replica();
  if (!link || !link->replica || !index) co_return std::nullopt;
  const replication::Replica* replica = link->replica;
  const uint64_t want = *index;
  auto reached = [replica, want] {
    auto applied = replica->applied_frame_no();
    return applied && *applied >= want;
  };
  if (reached()) co_return std::nullopt;
  const auto wait = link->read_wait;
  co_await ctx.progress.WaitUntil(reached, std::chrono::steady_clock::now() + wait);
  if (reached()) co_return std::nullopt;
  auto applied = replica->applied_frame_no();
  co_return MakeError("REPLICATION_TIMEOUT",
                      "This replica has not applied the primary's frame " + std::to_string(want) + " within " +
                          std::to_string(wait.count()) + " ms (it is at " + (applied ? std::to_string(*applied) : "none") +
                          "); retry, or read from the primary");
}

void ReplayBatch(const protocol::BatchResult& result, protocol::BatchSink& sink) {
  for (size_t i = 0; i < result.step_results.size(); ++i) {
    const auto step = static_cast<uint32_t>(i);
    if (const auto& r = result.step_results[i]) {
      sink.StepBegin(step);
      sink.Begin(r->cols);
      for (const auto& row : r->rows) sink.Row(row);
      sink.End(*r);
    } else if (i < result.step_errors.size() && result.step_errors[i]) {
      sink.StepBegin(step);
      sink.StepError(step, *result.step_errors[i]);
    }
  }
}

void CloseRemote(ServerContext& ctx, RemoteStream& remote, const Relay& relay) {
  std::optional<std::string> baton = std::move(remote.baton);
  remote.baton.reset();
  remote.in_transaction = false;
  const ReplicaLink* link = ctx.replica();
  if (!link || !baton) return;
  protocol::PipelineRequest pipeline;
  pipeline.baton = std::move(baton);
  pipeline.requests.emplace_back();  // close
  asio::co_spawn(ctx.network, CloseDetached(link->primary, link->forward_timeout, protocol::json::EncodePipelineRequest(pipeline), RelayHeaders(relay)),
                 asio::detached);
}

}  // namespace litehouse::server
