#include "server/hrana_http.h"

#include <algorithm>

#include "common/log.h"
#include "protocol/errors.h"
#include "protocol/json_codec.h"
#include "server/replica_forward.h"
#include "server/stream_exec.h"

namespace litehouse::server {

HttpReply ErrorReply(unsigned status, const protocol::Error& error) {
  return HttpReply{status, "application/json", protocol::json::EncodeError(error)};
}

namespace {

using protocol::Error;
using protocol::MakeError;
using protocol::StreamRequest;
using protocol::StreamResult;

HttpReply BatonError(StreamRegistry::TakeError why) {
  if (why == StreamRegistry::TakeError::kExpired) {
    return ErrorReply(400, MakeError("STREAM_EXPIRED", "The stream has expired due to inactivity"));
  }
  if (why == StreamRegistry::TakeError::kUsed) {
    return ErrorReply(400, MakeError("BATON_REUSED", "Received a baton that has already been used"));
  }
  if (why == StreamRegistry::TakeError::kForeign) {
    return ErrorReply(403, MakeError("BATON_FORBIDDEN",
                                     "The baton belongs to a stream opened with other credentials; open a stream of your own"));
  }
  return ErrorReply(400, MakeError("INVALID_BATON", "Received an invalid baton"));
}

}  // namespace

// A new stream of `caller` with its settings, or null with *reply set when a stream limit is full.
std::unique_ptr<HttpStream> NewStream(ServerContext& ctx, const Caller& caller, HttpReply* reply) {
  Error refusal;
  unsigned status = 503;
  StreamSlot slot = TakeStreamSlot(ctx, caller.client, caller.principal, &refusal, &status);
  if (!slot) {
    *reply = ErrorReply(status, refusal);
    return nullptr;
  }
  auto s = ctx.streams.Create(caller.principal);
  s->slot = std::move(slot);
  s->stream.set_max_response_bytes(ctx.opts.max_response_bytes);
  s->sqls.set_limits(ctx.opts.max_sql_length, ctx.opts.max_stored_sql_bytes);
  return s;
}

namespace {

// Finds the request's stream: the one its baton names, or a new one. Null with *reply set if none.
std::unique_ptr<HttpStream> OpenStream(ServerContext& ctx, const std::optional<std::string>& baton, const Caller& caller,
                                       HttpReply* reply) {
  if (!baton) return NewStream(ctx, caller, reply);
  StreamRegistry::TakeError why = StreamRegistry::TakeError::kNone;
  auto s = ctx.streams.Take(*baton, caller.principal, &why);
  if (!s) *reply = BatonError(why);
  return s;
}

}  // namespace

void DisposeOne(ServerContext& ctx, std::unique_ptr<HttpStream> s, const char* why) {
  std::vector<std::unique_ptr<HttpStream>> done;
  done.push_back(std::move(s));
  DisposeStreams(ctx, std::move(done), why);
}

// Parks `s` again and returns its baton; if no baton can be made, disposes of it and sets *reply.
std::optional<std::string> Park(ServerContext& ctx, std::unique_ptr<HttpStream> s, HttpReply* reply) {
  auto baton = ctx.streams.Put(&s);
  if (baton.ok()) return std::move(baton).value();
  DisposeOne(ctx, std::move(s), "closed (no baton could be made)");
  *reply = ErrorReply(500, MakeError("INTERNAL_ERROR", "The server could not make a baton: " + baton.status().message()));
  return std::nullopt;
}

void DisposeStreams(ServerContext& ctx, std::vector<std::unique_ptr<HttpStream>> streams, const char* why) {
  // A stream without a transaction holds no connection: it is destroyed here, with no SQLite work.
  // One with a transaction is rolled back on the SQL pool.
  std::vector<std::unique_ptr<HttpStream>> open;
  for (auto& s : streams) {
    ctx.streams.Drop(s->id);
    s->slot = StreamSlot();  // its place among the stream limits is free now, not once the pool gets to it
    if (!s->session.in_transaction()) continue;
    LH_LOG_WARN("stream {} {} with a transaction open: rolling it back", s->id, why);
    open.push_back(std::move(s));
  }
  streams.clear();
  if (!open.empty()) asio::post(ctx.sql_pool, [open = std::move(open)]() mutable { open.clear(); });
}

namespace {

// What a read replica relays with `caller`'s writes (replica_forward.h).
Relay RelayOf(const Caller& caller) {
  return Relay{caller.credential, caller.principal.grant == Grant::kReadOnly, caller.client + "|" + caller.principal.id, caller.client};
}

}  // namespace

asio::awaitable<HttpReply> HandlePipeline(ServerContext& ctx, std::string body, protocol::Encoding encoding, Caller caller) {
  const protocol::Codec& codec = protocol::CodecFor(encoding);
  auto parsed = codec.ParsePipelineRequest(body);
  if (!parsed.ok()) co_return ErrorReply(400, MakeError("INVALID_REQUEST", parsed.status().message()));
  protocol::PipelineRequest& req = *parsed;

  HttpReply refusal;
  std::unique_ptr<HttpStream> s = OpenStream(ctx, req.baton, caller, &refusal);
  if (!s) co_return refusal;
  // The stream's owner (checked by Take) is the request's principal, so this is the owner's grant.
  s->stream.set_read_only(caller.principal.grant == Grant::kReadOnly);
  const Relay relay = RelayOf(caller);

  std::vector<StreamResult> results;
  results.reserve(req.requests.size());
  bool closed = false;
  // The whole response is held until it is written: its rows together stay within the connection's
  // queued-bytes bound. Each request may use what the rows of the ones before it left, up to
  // --max-response-size; past that it fails RESPONSE_TOO_LARGE (its statement stopped, as for one
  // request over the limit), and takes nothing.
  const size_t per_request = s->stream.max_response_bytes();
  size_t pipeline_left = ctx.opts.max_queued_bytes_per_connection;
  for (const StreamRequest& request : req.requests) {
    StreamResult result;
    if (closed) {
      result.ok = false;
      result.error = MakeError("STREAM_CLOSED", "The stream was closed by an earlier request of this pipeline");
    } else if (request.type == StreamRequest::Type::kClose) {
      closed = true;
      result.response.type = StreamRequest::Type::kClose;
    } else {
      s->stream.set_max_response_bytes(ResponseBudget(per_request, pipeline_left));
      result = co_await RunStreamRequest(ctx, *s, s->sqls, request, relay);
      pipeline_left -= std::min(pipeline_left, protocol::ResultRowBytes(result));
    }
    results.push_back(std::move(result));
  }
  s->stream.set_max_response_bytes(per_request);

  std::optional<std::string> baton;
  if (closed) {
    CloseRemote(ctx, s->remote, relay);
    DisposeOne(ctx, std::move(s), "closed");
  } else {
    baton = Park(ctx, std::move(s), &refusal);
    if (!baton) co_return refusal;
  }
  co_return HttpReply{200, codec.content_type(), codec.EncodePipelineResponse(baton, std::nullopt, results)};
}

asio::awaitable<HttpReply> HandleCursor(ServerContext& ctx, std::string body, protocol::Encoding encoding, Caller caller) {
  const protocol::Codec& codec = protocol::CodecFor(encoding);
  auto parsed = codec.ParseCursorRequest(body);
  if (!parsed.ok()) co_return ErrorReply(400, MakeError("INVALID_REQUEST", parsed.status().message()));

  HttpReply refusal;
  std::unique_ptr<HttpStream> s = OpenStream(ctx, parsed->baton, caller, &refusal);
  if (!s) co_return refusal;
  s->stream.set_read_only(caller.principal.grant == Grant::kReadOnly);
  // The head names the baton before the batch runs; until the cursor is done, it is refused as used.
  auto baton = ctx.streams.MakeBaton(s->id);
  if (!baton.ok()) {
    DisposeOne(ctx, std::move(s), "closed (no baton could be made)");
    co_return ErrorReply(500, MakeError("INTERNAL_ERROR", "The server could not make a baton: " + baton.status().message()));
  }

  StreamRequest request;
  request.type = StreamRequest::Type::kBatch;
  request.batch = std::move(parsed->batch);
  const Relay relay = RelayOf(caller);
  auto run = std::make_shared<CursorRun>(ctx, CursorRun::BoundsFor(ctx.opts, 0));
  std::optional<Error> refused = co_await run->Open(*s, s->sqls, request, relay);

  HttpReply reply{200, encoding == protocol::Encoding::kJson ? "text/plain" : "application/octet-stream", ""};
  codec.AppendCursorHead(*baton, std::nullopt, &reply.body);
  if (refused) codec.AppendCursorError(*refused, &reply.body);  // nothing ran; the stream goes on
  if (refused || !run->running()) {
    // Done in its first slice: the whole body at once.
    for (const protocol::CursorEntry& e : run->Take(SIZE_MAX, SIZE_MAX)) AppendCursorEntry(codec, e, &reply.body);
    ctx.streams.Park(std::move(s), std::move(baton).value());
    co_return reply;
  }
  reply.cursor = std::make_shared<HttpCursorBody>(ctx, codec, std::move(s), std::move(run), std::move(baton).value());
  reply.cursor->Start();
  co_return reply;
}

HttpCursorBody::HttpCursorBody(ServerContext& ctx, const protocol::Codec& codec, std::unique_ptr<HttpStream> stream,
                               std::shared_ptr<CursorRun> run, std::string baton)
    : ctx_(ctx), codec_(codec), stream_(std::move(stream)), run_(std::move(run)), baton_(std::move(baton)) {}

void HttpCursorBody::Start() {
  // The coroutine keeps this body, and so the stream whose session it runs on, alive.
  asio::co_spawn(
      ctx_.network, [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->run_->Pump(self->stream_->session); },
      LogSpawnFailure);
}

asio::awaitable<std::string> HttpCursorBody::Next() {
  std::string out;
  while (out.empty() && !run_->exhausted()) {
    co_await run_->WaitForEntries(1, SIZE_MAX);
    for (const protocol::CursorEntry& e : run_->Take(SIZE_MAX, run_->bounds().queue_bytes)) AppendCursorEntry(codec_, e, &out);
  }
  co_return out;
}

asio::awaitable<void> HttpCursorBody::Finish() {
  if (run_->running()) run_->Close();
  co_await run_->WaitStopped();
  if (stream_) ctx_.streams.Park(std::move(stream_), baton_);
}

asio::awaitable<HttpReply> HandleLegacy(ServerContext& ctx, std::string body, Caller caller) {
  auto parsed = protocol::json::ParseLegacyRequest(body);
  if (!parsed.ok()) co_return ErrorReply(400, MakeError("INVALID_REQUEST", parsed.status().message()));

  // As sqld: each statement runs only if the one before it succeeded, and a transaction the
  // statements leave open is rolled back (a ROLLBACK step conditioned on not being in autocommit).
  StreamRequest request;
  request.type = StreamRequest::Type::kBatch;
  auto& steps = request.batch.steps;
  for (auto& st : *parsed) {
    std::optional<protocol::BatchCond> cond;
    if (!steps.empty()) cond = protocol::BatchCond{protocol::BatchCond::Kind::kOk, static_cast<uint32_t>(steps.size() - 1), {}};
    steps.push_back({std::move(cond), protocol::Stmt{std::move(st.sql), {}, std::move(st.args), std::move(st.named_args), true}});
  }
  size_t n = steps.size();
  protocol::BatchCond in_txn{protocol::BatchCond::Kind::kNot, 0, {{protocol::BatchCond::Kind::kIsAutocommit, 0, {}}}};
  steps.push_back({std::move(in_txn), protocol::Stmt{"ROLLBACK", {}, {}, {}, false}});

  HttpReply refusal;
  auto s = NewStream(ctx, caller, &refusal);
  if (!s) co_return refusal;
  s->stream.set_read_only(caller.principal.grant == Grant::kReadOnly);
  StreamResult result;
  std::optional<protocol::Error> refused;
  std::optional<StreamResult> routed;
  const Relay relay = RelayOf(caller);
  if (ctx.replica()) routed = co_await RouteOnReplica(ctx, s->remote, s->stream, false, s->sqls, request, relay);
  if (routed) {
    if (!routed->ok) refused = routed->error;
    result = std::move(*routed);
    CloseRemote(ctx, s->remote, relay);
  } else {
    refused = co_await RunOnStream(ctx, *s, request, [&](engine::Connection* conn) { result = s->stream.Handle(request, conn); });
  }
  DisposeOne(ctx, std::move(s), "closed");
  if (refused) co_return ErrorReply(429, *refused);

  auto& br = result.response.batch_result;
  std::vector<protocol::json::LegacyOutcome> outcomes(n);
  for (size_t i = 0; i < n && i < br.step_results.size(); ++i) {
    outcomes[i].result = std::move(br.step_results[i]);
    if (br.step_errors[i]) outcomes[i].error = br.step_errors[i]->message;
  }
  co_return HttpReply{200, "application/json", protocol::json::EncodeLegacyResults(outcomes)};
}

namespace {

// The reply to a /v1 request that failed with `error`, as sqld gives it (http/user/hrana_over_http_1.rs):
// a statement's error is a JSON Error with a status by its kind; a request that breaks the protocol
// (a body that cannot be decoded, `sql_id` or `is_autocommit` in version 1, an unknown SQL text) is
// 400 with the message as plain text.
HttpReply V1ErrorReply(const Error& error) {
  static constexpr std::string_view kBadRequest[] = {"SQL_PARSE_ERROR", "SQL_NO_STATEMENT", "SQL_MANY_STATEMENTS",
                                                     "ARGS_INVALID",    "SQL_INPUT_ERROR",  "RESPONSE_TOO_LARGE",
                                                     "BLOCKED",         "SQLITE_TOOBIG"};
  const std::string_view code = error.code;
  if (std::find(std::begin(kBadRequest), std::end(kBadRequest), code) != std::end(kBadRequest)) return ErrorReply(400, error);
  if (code == "ARGS_BOTH_POSITIONAL_AND_NAMED") return ErrorReply(501, error);
  if (code == "TRANSACTION_TIMEOUT" || code == "TRANSACTION_BUSY" || code == "WRITER_QUEUE_FULL") return ErrorReply(503, error);
  // The guard refused the statement: a write with a read-only token, or an operation the server
  // never runs. sqld answers its own authorization failures 401/403, never 500.
  if (code == "SQLITE_AUTH") return ErrorReply(403, error);
  if (code.rfind("SQLITE_", 0) == 0 || code == "INTERNAL_ERROR") return ErrorReply(500, error);
  return HttpReply{400, "text/plain", error.message};
}

}  // namespace

asio::awaitable<HttpReply> HandleV1(ServerContext& ctx, std::string body, V1Endpoint endpoint, Caller caller) {
  StreamRequest request;
  if (endpoint == V1Endpoint::kExecute) {
    auto stmt = protocol::json::ParseV1Execute(body);
    if (!stmt.ok()) co_return HttpReply{400, "text/plain", stmt.status().message()};
    request.type = StreamRequest::Type::kExecute;
    request.stmt = std::move(stmt).value();
  } else {
    auto batch = protocol::json::ParseV1Batch(body);
    if (!batch.ok()) co_return HttpReply{400, "text/plain", batch.status().message()};
    request.type = StreamRequest::Type::kBatch;
    request.batch = std::move(batch).value();
  }
  // A fresh stream for the one request, closed after it: autocommit, and a transaction the request
  // leaves open is rolled back, as sqld drops its connection.
  HttpReply refusal;
  auto s = NewStream(ctx, caller, &refusal);
  if (!s) co_return refusal;
  s->stream.set_read_only(caller.principal.grant == Grant::kReadOnly);
  const Relay relay = RelayOf(caller);
  StreamResult result = co_await RunStreamRequest(ctx, *s, s->sqls, request, relay);
  CloseRemote(ctx, s->remote, relay);
  DisposeOne(ctx, std::move(s), "closed");
  if (!result.ok) co_return V1ErrorReply(result.error);
  if (endpoint == V1Endpoint::kExecute) {
    co_return HttpReply{200, "application/json", protocol::json::EncodeV1Result(result.response.stmt_result)};
  }
  co_return HttpReply{200, "application/json", protocol::json::EncodeV1Result(result.response.batch_result)};
}

namespace {

// Suspends the calling coroutine until the callback handed to `start` is called, on any thread (the
// engine calls it where the lock or the connection is given up), and resumes it on its own executor:
// a wait that holds no thread.
template <typename Start>
asio::awaitable<void> AwaitCallback(Start start) {
  auto ex = co_await asio::this_coro::executor;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&start, ex](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        start([h, ex] { asio::post(ex, [h]() mutable { (*h)(); }); });
      },
      asio::use_awaitable);
}

}  // namespace

asio::awaitable<Status> GroupWrite(ServerContext& ctx, std::function<void(engine::Connection&)> run) {
  Status outcome;  // written before the resuming post, read after it
  co_await AwaitCallback([&](std::function<void()> resume) {
    ctx.db.GroupWrite(engine::GroupMember{std::move(run), [&outcome, resume](Status s) {
                                            outcome = std::move(s);
                                            resume();
                                          }});
  });
  co_return outcome;
}

namespace {

void FlushPendingWrites(ServerContext& ctx);

// Queues `members` (handed back by a group, or new) for the network thread's next flush, the
// earliest first, and posts that flush unless one is posted already.
void QueueForFlush(ServerContext& ctx, std::vector<engine::GroupMember> members, bool in_front) {
  auto& pending = ctx.pending_writes;
  pending.members.insert(in_front ? pending.members.begin() : pending.members.end(), std::make_move_iterator(members.begin()),
                         std::make_move_iterator(members.end()));
  if (pending.flush_posted || pending.members.empty()) return;
  pending.flush_posted = true;
  // Behind every handler already queued: the other connections' requests read in this turn.
  asio::post(ctx.network, [&ctx] { FlushPendingWrites(ctx); });
}

// Runs the writes queued in this turn as one group on the network thread. When the write lock is
// held (a write alone on the pool, a transaction), the group waits for it in the lock's queue
// (holding no thread) and runs here when its turn comes: sending each write to the pool instead made
// every write of the next turns find the lock taken too, each then committing alone, with two thread
// handoffs, at a quarter of the rate, for as long as the load lasted (BENCHMARKS, "the relaxed
// INSERT's stalls"). Members a group hands back (not begun by the budget, or undone by another
// member) come first in the next flush.
void FlushPendingWrites(ServerContext& ctx) {
  std::vector<engine::GroupMember> members;
  members.swap(ctx.pending_writes.members);
  ctx.pending_writes.flush_posted = false;
  if (ctx.db.TryGroupWriteHere(members, std::chrono::steady_clock::now() + ctx.opts.inline_budget)) {
    QueueForFlush(ctx, std::move(members), /*in_front=*/true);
    return;
  }
  LH_LOG_DEBUG("a group of {} write(s) waits for the write lock", members.size());
  auto group = std::make_shared<std::vector<engine::GroupMember>>(std::move(members));
  ctx.db.LockForGroup([&ctx, group] {
    asio::post(ctx.network, [&ctx, group] {
      ctx.db.RunGroupHere(*group, std::chrono::steady_clock::now() + ctx.opts.inline_budget);
      QueueForFlush(ctx, std::move(*group), /*in_front=*/true);
    });
  });
}

}  // namespace

asio::awaitable<Status> BatchWrite(ServerContext& ctx, std::function<void(engine::Connection&)> run) {
  Status outcome;  // written before the resuming post, read after it
  co_await AwaitCallback([&](std::function<void()> resume) {
    std::vector<engine::GroupMember> one;
    one.push_back(engine::GroupMember{std::move(run), [&outcome, resume](Status s) {
                                        outcome = std::move(s);
                                        resume();
                                      }});
    QueueForFlush(ctx, std::move(one), /*in_front=*/false);
  });
  co_return outcome;
}

asio::awaitable<void> WaitForConnection(ServerContext& ctx) {
  co_await AwaitCallback([&](std::function<void()> resume) { ctx.db.WaitForConnection(std::move(resume)); });
}

asio::awaitable<void> LockWrite(engine::Session& session) {
  co_await AwaitCallback([&](std::function<void()> resume) { session.LockWrite(std::move(resume)); });
}

}  // namespace litehouse::server
