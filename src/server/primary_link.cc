#include "server/primary_link.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/log.h"
#include "replication/proto/replication_log.pb.h"

namespace litehouse::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

constexpr const char* kLogService = "/wal_log.ReplicationLog/";

std::string GrpcFrame(const std::string& message) {
  std::string out;
  const auto n = static_cast<uint32_t>(message.size());
  out.push_back('\0');
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out += message;
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() + 0 && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// A gRPC-web response body: its messages, and the status of its trailer (or of `header_status`, the
// grpc-status header of a trailers-only response).
Status ParseGrpcWeb(std::string_view body, std::optional<int> header_status, std::string header_message,
                    std::vector<std::string>* messages) {
  std::optional<int> status = header_status;
  std::string message = std::move(header_message);
  size_t at = 0;
  while (at < body.size()) {
    if (body.size() - at < 5) return Status::Corruption("the primary's gRPC-web reply is cut short");
    const uint8_t flag = static_cast<uint8_t>(body[at]);
    uint32_t n = 0;
    for (int i = 1; i <= 4; ++i) n = (n << 8) | static_cast<unsigned char>(body[at + i]);
    if (body.size() - at - 5 < n) return Status::Corruption("the primary's gRPC-web reply is cut short");
    std::string_view payload = body.substr(at + 5, n);
    at += 5 + n;
    if ((flag & 0x80) == 0) {
      messages->emplace_back(payload);
      continue;
    }
    // The trailer: "name:value\r\n" lines.
    size_t line = 0;
    while (line < payload.size()) {
      size_t end = payload.find("\r\n", line);
      if (end == std::string_view::npos) end = payload.size();
      std::string_view kv = payload.substr(line, end - line);
      line = end + 2;
      const size_t colon = kv.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name(kv.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = kv.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "grpc-status") status = std::atoi(std::string(value).c_str());
      if (name == "grpc-message") message = PercentDecode(value);
    }
  }
  if (!status) return Status::Corruption("the primary's gRPC-web reply has no grpc-status");
  switch (*status) {
    case 0: return Status::OK();
    case 9:  // FAILED_PRECONDITION
      if (message == "NEED_SNAPSHOT") return Status::NotFound("NEED_SNAPSHOT");
      return Status::InvalidArgument("the primary refused: " + message);
    case 16: return Status::Unauthenticated("the primary refused the replica's token (--primary-auth-token): " + message);
    default: return Status::Unavailable("the primary answered gRPC status " + std::to_string(*status) + ": " + message);
  }
}

}  // namespace

Result<PrimaryTarget> PrimaryTarget::Parse(const std::string& url, std::string auth_token) {
  PrimaryTarget t;
  t.url = url;
  t.auth_token = std::move(auth_token);
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    return Status::InvalidArgument("--primary-url " + url + ": https is not supported; replicas reach their primary over plain HTTP on a private network");
  } else {
    return Status::InvalidArgument("--primary-url " + url + ": expected http://HOST:PORT");
  }
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) t.prefix = rest.substr(slash);
  while (!t.prefix.empty() && t.prefix.back() == '/') t.prefix.pop_back();
  if (authority.empty()) return Status::InvalidArgument("--primary-url " + url + ": no host");
  size_t colon = authority.rfind(':');
  if (authority.front() == '[') {  // [v6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("--primary-url " + url + ": bad IPv6 address");
    t.host = authority.substr(1, close - 1);
    colon = authority.find(':', close);
  } else {
    t.host = authority.substr(0, colon);
  }
  t.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  if (t.host.empty() || t.port.empty() || t.port.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("--primary-url " + url + ": expected http://HOST:PORT");
  }
  return t;
}

// The kept-alive connection of the log source, on its private io_context.
struct PrimaryLogSource::Conn {
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

PrimaryLogSource::PrimaryLogSource(PrimaryTarget target, std::string name, std::chrono::milliseconds call_timeout)
    : target_(std::move(target)),
      name_(std::move(name)),
      id_(replication::UuidText(replication::NewUuid())),
      call_timeout_(call_timeout),
      conn_(std::make_unique<Conn>()) {}

PrimaryLogSource::~PrimaryLogSource() = default;

void PrimaryLogSource::Cancel() {
  std::lock_guard<std::mutex> lock(cancel_mu_);
  cancelled_ = true;
  // Wakes a call in progress: its io_context runs the close, and the pending operation fails.
  asio::post(conn_->io, [c = conn_.get()] {
    if (c->stream) c->stream->socket().close();
  });
}

void PrimaryLogSource::Resume() {
  std::lock_guard<std::mutex> lock(cancel_mu_);
  cancelled_ = false;
}

Status PrimaryLogSource::Call(const std::string& method, const std::string& request, std::vector<std::string>* messages) {
  {
    std::lock_guard<std::mutex> lock(cancel_mu_);
    if (cancelled_) return Status::Cancelled("the replica is stopping");
  }
  http::request<http::string_body> req{http::verb::post, target_.prefix + kLogService + method, 11};
  req.set(http::field::host, target_.host + ":" + target_.port);
  req.set(http::field::content_type, "application/grpc-web+proto");
  req.set("x-grpc-web", "1");
  if (!target_.auth_token.empty()) req.set("x-authorization", "Bearer " + target_.auth_token);
  if (!session_token_.empty()) req.set("x-session-token", session_token_);
  if (!name_.empty()) req.set("x-litehouse-replica", name_);
  req.set("x-litehouse-replica-id", id_);
  req.keep_alive(true);
  req.body() = GrpcFrame(request);
  req.prepare_payload();

  Conn& c = *conn_;
  Status out = Status::IoError("no answer from the primary");
  http::response<http::string_body> res;
  auto exchange = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    if (!c.stream || !c.stream->socket().is_open()) {
      c.stream.emplace(ex);
      c.buffer.clear();
      asio::ip::tcp::resolver resolver(ex);
      auto endpoints = co_await resolver.async_resolve(target_.host, target_.port, asio::use_awaitable);
      c.stream->expires_after(call_timeout_);
      co_await c.stream->async_connect(endpoints, asio::use_awaitable);
    }
    c.stream->expires_after(call_timeout_);
    co_await http::async_write(*c.stream, req, asio::use_awaitable);
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    c.stream->expires_after(call_timeout_);
    co_await http::async_read(*c.stream, c.buffer, parser, asio::use_awaitable);
    res = parser.release();
    out = Status::OK();
  };
  c.io.restart();
  asio::co_spawn(c.io, exchange(), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& err) {
      out = Status::IoError("cannot reach the primary at " + target_.url + ": " + err.what());
    }
  });
  c.io.run();
  if (!out.ok()) {
    c.stream.reset();
    std::lock_guard<std::mutex> lock(cancel_mu_);
    if (cancelled_) return Status::Cancelled("the replica is stopping");
    return out;
  }
  if (!res.keep_alive()) c.stream.reset();
  if (res.result_int() == 401 || res.result_int() == 403) {
    return Status::Unauthenticated("the primary refused the replica's token (--primary-auth-token): HTTP " +
                                   std::to_string(res.result_int()));
  }
  if (res.result_int() != 200) {
    return Status::Unavailable("the primary answered HTTP " + std::to_string(res.result_int()) + " to " + method);
  }
  std::optional<int> header_status;
  if (auto it = res.find("grpc-status"); it != res.end()) header_status = std::atoi(std::string(it->value()).c_str());
  std::string header_message;
  if (auto it = res.find("grpc-message"); it != res.end()) header_message = PercentDecode(it->value());
  return ParseGrpcWeb(res.body(), header_status, header_message, messages);
}

Result<replication::PrimaryHello> PrimaryLogSource::Hello() {
  session_token_.clear();
  wal_log::HelloRequest req;
  std::vector<std::string> messages;
  if (Status s = Call("Hello", req.SerializeAsString(), &messages); !s.ok()) return s;
  wal_log::HelloResponse resp;
  if (messages.size() != 1 || !resp.ParseFromString(messages[0])) {
    return Status::Corruption("the primary's Hello reply is not a HelloResponse");
  }
  session_token_ = resp.session_token();
  replication::PrimaryHello hello;
  hello.log_id = resp.log_id();
  if (resp.has_current_replication_index()) hello.last_frame_no = resp.current_replication_index();
  return hello;
}

Status PrimaryLogSource::FrameCall(const char* method, uint64_t next, std::vector<replication::LogFrame>* out) {
  wal_log::LogOffset offset;
  offset.set_next_offset(next);
  std::vector<std::string> messages;
  if (Status s = Call(method, offset.SerializeAsString(), &messages); !s.ok()) return s;
  for (const std::string& m : messages) {
    wal_log::Frame frame;
    if (!frame.ParseFromString(m)) return Status::Corruption("the primary sent a message that is not a Frame");
    out->push_back(std::move(*frame.mutable_data()));
  }
  return Status::OK();
}

Status PrimaryLogSource::Frames(uint64_t next, std::vector<replication::LogFrame>* out) {
  return FrameCall("LogEntries", next, out);
}

Status PrimaryLogSource::Snapshot(uint64_t next, std::vector<replication::LogFrame>* out) {
  return FrameCall("Snapshot", next, out);
}

asio::awaitable<Result<ForwardedReply>> ForwardToPrimary(const PrimaryTarget& target, std::string path,
                                                         std::vector<std::pair<std::string, std::string>> headers,
                                                         std::string body, std::chrono::milliseconds timeout) {
  http::request<http::string_body> req{http::verb::post, target.prefix + path, 11};
  req.set(http::field::host, target.host + ":" + target.port);
  bool has_auth = false;
  for (auto& [name, value] : headers) {
    if (beast::iequals(name, "authorization") || beast::iequals(name, "x-authorization")) has_auth = true;
    req.set(name, value);
  }
  if (!has_auth && !target.auth_token.empty()) req.set(http::field::authorization, "Bearer " + target.auth_token);
  req.keep_alive(false);
  req.body() = std::move(body);
  req.prepare_payload();
  Result<ForwardedReply> out = Status::IoError("no answer from the primary");
  try {
    auto ex = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(ex);
    auto endpoints = co_await resolver.async_resolve(target.host, target.port, asio::use_awaitable);
    beast::tcp_stream stream(ex);
    stream.expires_after(timeout);
    co_await stream.async_connect(endpoints, asio::use_awaitable);
    stream.expires_after(timeout);
    co_await http::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    stream.expires_after(timeout);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    auto res = parser.release();
    ForwardedReply reply;
    reply.status = res.result_int();
    if (auto it = res.find(http::field::content_type); it != res.end()) reply.content_type = std::string(it->value());
    reply.body = std::move(res.body());
    out = std::move(reply);
  } catch (const std::exception& e) {
    out = Status::IoError("cannot reach the primary at " + target.url + ": " + e.what());
  }
  co_return out;
}

}  // namespace litehouse::server
