#include "server/grpc_web.h"

#include <cstdint>
#include <string>

#include "protocol/proxy_codec.h"
#include "protocol/stream.h"
#include "server/client_address.h"
#include "server/primary_link.h"
#include "server/stream_exec.h"

namespace litehouse::server {
namespace {

namespace http = boost::beast::http;
using replication::GrpcCode;
using replication::ReplicationService;
using replication::RpcReply;

void AppendFrame(std::string* out, uint8_t flag, std::string_view payload) {
  const auto n = static_cast<uint32_t>(payload.size());
  out->push_back(static_cast<char>(flag));
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((n >> shift) & 0xff));
  out->append(payload);
}

// grpc-message is percent-encoded (the gRPC spec): printable ASCII but '%' as is, the rest %XX.
std::string PercentEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

HttpReply Reply(const RpcReply& rpc) {
  std::string body;
  if (rpc.code == GrpcCode::kOk)
    for (const std::string& m : rpc.messages) AppendFrame(&body, 0x00, m);
  std::string trailer = "grpc-status:" + std::to_string(static_cast<int>(rpc.code)) + "\r\n";
  if (rpc.code != GrpcCode::kOk) trailer += "grpc-message:" + PercentEncode(rpc.message) + "\r\n";
  AppendFrame(&body, 0x80, trailer);
  return HttpReply{200, "application/grpc-web+proto", std::move(body)};
}

std::string_view Header(const http::request<http::string_body>& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string_view() : std::string_view(it->value());
}

constexpr std::string_view kProxyPrefix = "/proxy.Proxy/";
// How long LogEntries waits for a commit when the caller is up to date (a read replica's long poll).
constexpr auto kLogEntriesWait = std::chrono::seconds(5);

// The reply to a stream's refusal (a stream limit, a stale baton) on the proxy service.
RpcReply Refused(const HttpReply& refusal) { return {GrpcCode::kUnavailable, refusal.body, {}}; }

// The stream of `client_id`: the one its earlier calls left parked, or a new one. Null with *reply
// set when there is none to be had, or with *expired set (and *reply not) when the client's
// transaction was rolled back meanwhile.
std::unique_ptr<HttpStream> ProxyStream(ServerContext& ctx, const std::string& client_id, const Caller& caller, RpcReply* reply,
                                        bool* expired) {
  *expired = false;
  if (auto entry = ctx.proxy_clients.Take(client_id)) {
    StreamRegistry::TakeError why = StreamRegistry::TakeError::kNone;
    if (auto s = ctx.streams.Take(entry->baton, caller.principal, &why)) return s;
    if (why == StreamRegistry::TakeError::kForeign) {
      ctx.proxy_clients.Put(client_id, std::move(*entry));  // the owner's, untouched
      *reply = {GrpcCode::kUnauthenticated, "AuthError: this client_id belongs to other credentials", {}};
      return nullptr;
    }
    // Expired (or swept) with a transaction open: the transaction is gone.
    if (entry->in_transaction) {
      *expired = true;
      return nullptr;
    }
  }
  HttpReply refusal;
  auto s = NewStream(ctx, caller, &refusal);
  if (!s) *reply = Refused(refusal);
  return s;
}

// Parks the client's stream for its next call.
void ParkProxyStream(ServerContext& ctx, const std::string& client_id, std::unique_ptr<HttpStream> s) {
  const bool in_transaction = s->session.in_transaction();
  HttpReply ignored;
  if (auto baton = Park(ctx, std::move(s), &ignored)) ctx.proxy_clients.Put(client_id, {std::move(*baton), in_transaction});
}

asio::awaitable<RpcReply> CallProxy(ServerContext& ctx, std::string_view method, const std::string& message, Caller caller) {
  namespace proxy = protocol::proxy;
  if (method == "Disconnect") {
    auto client_id = proxy::ParseDisconnect(message);
    if (!client_id.ok()) co_return RpcReply{GrpcCode::kInvalidArgument, client_id.status().message(), {}};
    if (auto entry = ctx.proxy_clients.Take(*client_id)) {
      StreamRegistry::TakeError why = StreamRegistry::TakeError::kNone;
      if (auto s = ctx.streams.Take(entry->baton, caller.principal, &why)) {
        DisposeOne(ctx, std::move(s), "disconnected");
      } else if (why == StreamRegistry::TakeError::kForeign) {
        ctx.proxy_clients.Put(*client_id, std::move(*entry));  // another token's client: left as it was
      }
    }
    co_return RpcReply{GrpcCode::kOk, "", {proxy::EncodeAck()}};
  }
  if (method != "Execute" && method != "Describe") co_return RpcReply{GrpcCode::kUnimplemented, "unknown method " + std::string(method), {}};

  protocol::StreamRequest request;
  std::string client_id;
  if (method == "Execute") {
    auto program = proxy::ParseProgramReq(message);
    if (!program.ok()) co_return RpcReply{GrpcCode::kInvalidArgument, program.status().message(), {}};
    if (auto bad = protocol::CheckBatch(program->batch)) co_return RpcReply{GrpcCode::kInvalidArgument, bad->message, {}};
    client_id = std::move(program->client_id);
    request.type = protocol::StreamRequest::Type::kBatch;
    request.batch = std::move(program->batch);
  } else {
    auto describe = proxy::ParseDescribeRequest(message);
    if (!describe.ok()) co_return RpcReply{GrpcCode::kInvalidArgument, describe.status().message(), {}};
    client_id = std::move(describe->client_id);
    request.type = protocol::StreamRequest::Type::kDescribe;
    request.sql = std::move(describe->sql);
  }
  // One call at a time per client_id: a second one waits (holding no thread) for the first to park
  // the stream, so both run on it in turn.
  asio::steady_timer turn(co_await asio::this_coro::executor);
  for (int waited_ms = 0; !ctx.proxy_clients.TryBegin(client_id); waited_ms += 5) {
    if (waited_ms > 60'000) co_return RpcReply{GrpcCode::kUnavailable, "another call of this client_id has run for a minute", {}};
    turn.expires_after(std::chrono::milliseconds(5));
    co_await turn.async_wait(asio::use_awaitable);
  }
  struct EndTurn {
    ServerContext& ctx;
    const std::string& id;
    ~EndTurn() { ctx.proxy_clients.End(id); }
  } end_turn{ctx, client_id};
  RpcReply reply;
  bool expired = false;
  auto s = ProxyStream(ctx, client_id, caller, &reply, &expired);
  const auto frame_no = [&] {
    const replication::ReplicationService* service = ctx.replication();
    return service ? service->last_frame_no() : std::nullopt;
  };
  if (expired) {
    // The client's transaction was rolled back while idle. Its statements must not run in autocommit
    // as if it were still open: each call fails TRANSACTION_TIMEOUT until the client ends the
    // transaction with a ROLLBACK, which succeeds (there is nothing left to roll back).
    const auto& steps = request.batch.steps;
    if (request.type == protocol::StreamRequest::Type::kDescribe && protocol::FirstKeyword(request.sql.value_or("")) == "ROLLBACK") {
      ctx.proxy_clients.Put(client_id, {"", true});  // the client describes its ROLLBACK before it runs it
      co_return RpcReply{GrpcCode::kOk, "", {proxy::EncodeDescribeResult(protocol::DescribeResult{})}};
    }
    if (request.type == protocol::StreamRequest::Type::kBatch && steps.size() == 1 && !steps[0].condition &&
        protocol::FirstKeyword(steps[0].stmt.sql.value_or("")) == "ROLLBACK") {
      protocol::BatchResult done;
      done.step_results.emplace_back(protocol::StmtResult{});
      done.step_errors.emplace_back();
      co_return RpcReply{GrpcCode::kOk, "", {proxy::EncodeExecuteResults(done, true, frame_no())}};
    }
    ctx.proxy_clients.Put(client_id, {"", true});
    protocol::Error gone = protocol::MakeError(
        "TRANSACTION_TIMEOUT", "The transaction was rolled back after being idle for longer than " +
                                   std::to_string(ctx.opts.stream_expiry.count()) + " ms; roll it back and start again");
    if (request.type == protocol::StreamRequest::Type::kDescribe) co_return RpcReply{GrpcCode::kOk, "", {proxy::EncodeDescribeError(gone)}};
    co_return RpcReply{GrpcCode::kOk, "", {proxy::EncodeExecuteFailure(gone, steps.size(), false, frame_no())}};
  }
  if (!s) co_return reply;
  s->stream.set_read_only(caller.principal.grant == Grant::kReadOnly);
  protocol::StreamResult result;
  auto refused = co_await RunOnStream(
      ctx, *s, request, [&](engine::Connection* conn) { result = s->stream.Handle(request, conn); }, /*restartable=*/true);
  const bool autocommit = !s->session.in_transaction();
  ParkProxyStream(ctx, client_id, std::move(s));
  if (refused) {
    result.ok = false;
    result.error = std::move(*refused);
  }
  if (request.type == protocol::StreamRequest::Type::kDescribe) {
    co_return RpcReply{GrpcCode::kOk, "", {result.ok ? proxy::EncodeDescribeResult(result.response.describe_result)
                                                     : proxy::EncodeDescribeError(result.error)}};
  }
  if (!result.ok) co_return RpcReply{GrpcCode::kOk, "", {proxy::EncodeExecuteFailure(result.error, request.batch.steps.size(), autocommit, frame_no())}};
  co_return RpcReply{GrpcCode::kOk, "", {proxy::EncodeExecuteResults(result.response.batch_result, autocommit, frame_no())}};
}

}  // namespace

bool IsGrpcWebPath(std::string_view path) {
  return path.substr(0, ReplicationService::kPrefix.size()) == ReplicationService::kPrefix ||
         path.substr(0, kProxyPrefix.size()) == kProxyPrefix;
}

asio::awaitable<HttpReply> HandleGrpcWeb(ServerContext& ctx, const http::request<http::string_body>& req, std::string_view path,
                                         std::string client) {
  std::string_view token = Header(req, "x-authorization");
  if (token.empty()) token = Header(req, "authorization");
  Principal who;
  if (auto refusal = ctx.opts.auth->CheckHeader(token, &who)) {
    co_return Reply({GrpcCode::kUnauthenticated, "AuthError: " + refusal->message, {}});
  }
  std::string_view content_type = Header(req, "content-type");
  if (content_type.substr(0, 16) != "application/grpc" || content_type.find("text") != std::string_view::npos) {
    co_return Reply({GrpcCode::kInvalidArgument, "expected application/grpc-web (binary), got " + std::string(content_type), {}});
  }
  std::string_view body = req.body();
  if (body.size() < 5 || body[0] != 0) co_return Reply({GrpcCode::kInvalidArgument, "the request holds no gRPC message frame", {}});
  uint32_t n = 0;
  for (int i = 1; i <= 4; ++i) n = (n << 8) | static_cast<unsigned char>(body[i]);
  if (body.size() - 5 < n) co_return Reply({GrpcCode::kInvalidArgument, "the request's gRPC message is cut short", {}});
  std::string message(body.substr(5, n));
  if (const ReplicaLink* link = ctx.replica()) {
    // A read replica serves no log of its own and runs no write: embedded replicas syncing from it
    // are relayed to the primary, as sqld's replicas do, with their own token.
    std::vector<std::pair<std::string, std::string>> headers{{"content-type", std::string(content_type)}};
    for (const char* name : {"x-authorization", "authorization", "x-session-token", "x-namespace-bin", "x-grpc-web",
                             "x-litehouse-replica", "x-litehouse-replica-id"}) {
      if (auto value = Header(req, name); !value.empty()) headers.emplace_back(name, std::string(value));
    }
    if (std::string forwarded = ForwardedForOf(client); !forwarded.empty()) headers.emplace_back("x-forwarded-for", forwarded);
    std::string relayed_path(path);
    std::string relayed_body(body);
    auto reply = co_await ForwardToPrimary(link->primary, std::move(relayed_path), std::move(headers),
                                           std::move(relayed_body), link->forward_timeout);
    if (!reply.ok()) co_return Reply({GrpcCode::kUnavailable, "this replica cannot reach its primary: " + reply.status().message(), {}});
    co_return HttpReply{reply->status, reply->content_type.empty() ? "application/grpc-web+proto" : reply->content_type,
                        std::move(reply->body)};
  }
  if (path.substr(0, kProxyPrefix.size()) == kProxyPrefix) {
    // Named locals, not temporaries, in the co_await: GCC 12 mishandles temporaries there.
    Caller caller{std::move(who), std::move(client)};
    std::string_view proxy_method = path.substr(kProxyPrefix.size());
    RpcReply rpc = co_await CallProxy(ctx, proxy_method, message, std::move(caller));
    co_return Reply(rpc);
  }
  const replication::ReplicationService* service = ctx.replication();
  if (!service) co_return Reply({GrpcCode::kUnimplemented, "this server serves no replication", {}});
  std::string method(path.substr(ReplicationService::kPrefix.size()));
  std::string session(Header(req, "x-session-token"));
  // Reading frames is file I/O: on the SQL pool, never the network thread. LogEntries that finds no
  // frame waits for the next commit here, holding no thread (ProgressSignal), then reads again.
  if (method == "LogEntries" || method == "BatchLogEntries") {
    if (auto next = ReplicationService::RequestedOffset(message)) {
      std::string_view name = Header(req, "x-litehouse-replica");
      std::string_view id = Header(req, "x-litehouse-replica-id");
      std::string label = name.empty() ? "embedded replica at " + client : "replica " + std::string(name.substr(0, 200));
      ctx.replica_peers.Note(id.empty() ? label : std::string(id.substr(0, 64)), label, *next, service->last_frame_no(),
                             ctx.clock.Now());
    }
  }
  auto call = [&] { return service->Call(method, message, session, std::chrono::milliseconds(0)); };
  RpcReply rpc = co_await RunSql(ctx, call);
  if (method == "LogEntries" && rpc.code == GrpcCode::kOk && rpc.messages.empty()) {
    // None from `next` on: wait until the log holds frame `next` (a condition, not "something
    // changed", so a commit between the read and the wait is not missed).
    const uint64_t next = ReplicationService::RequestedOffset(message).value_or(0);
    auto has_next = [service, next] {
      auto last = service->last_frame_no();
      return last && *last >= next;
    };
    co_await ctx.progress.WaitUntil(has_next, std::chrono::steady_clock::now() + kLogEntriesWait);
    if (has_next()) rpc = co_await RunSql(ctx, call);
  }
  co_return Reply(rpc);
}

}  // namespace litehouse::server
