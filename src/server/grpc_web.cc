#include "server/grpc_web.h"

#include <cstdint>
#include <string>

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

}  // namespace

bool IsGrpcWebPath(std::string_view path) { return path.substr(0, ReplicationService::kPrefix.size()) == ReplicationService::kPrefix; }

asio::awaitable<HttpReply> HandleGrpcWeb(ServerContext& ctx, const http::request<http::string_body>& req, std::string_view path) {
  if (!ctx.opts.replication) co_return Reply({GrpcCode::kUnimplemented, "this server serves no replication", {}});
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
  std::string method(path.substr(ReplicationService::kPrefix.size()));
  std::string session(Header(req, "x-session-token"));
  // Reading frames is file I/O: on the SQL pool, never the network thread. LogEntries does not wait
  // for new frames here (that would hold a pool thread): it returns what there is, and the replica
  // asks again.
  RpcReply rpc = co_await RunSql(ctx, [&] {
    return ctx.opts.replication->Call(method, message, session, std::chrono::milliseconds(0));
  });
  co_return Reply(rpc);
}

}  // namespace litehouse::server
