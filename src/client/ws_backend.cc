// The remote backend over WebSocket: Hrana 3 (or 2) with JSON text frames, one connection per
// Client, a channel per stream. Requests go one at a time (a Client is used by one thread), so each
// answer is the next message; the request id is still checked.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <type_traits>

#include "client/channel.h"
#include "client/timed.h"
#include "client/tls.h"
#include "protocol/json_client_codec.h"

namespace litehouse::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using protocol::StreamRequest;
using protocol::json::WsServerReply;

// Room reserved for reading one message, so a large answer is not read a few hundred bytes at a time.
constexpr size_t kReadReserve = 64 << 10;

class WsConnection {
 public:
  WsConnection(const RemoteOptions& options, std::shared_ptr<asio::ssl::context> tls)
      : host_(options.host), port_(options.port), auth_token_(options.auth_token), timeout_(options.timeout),
        tls_(std::move(tls)) {}

  // Connects (again, if the connection broke) and says hello.
  Status Ensure() {
    if (connected()) return Status::OK();
    beast::error_code ec;
    asio::ip::tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(host_, port_, ec);
    if (ec) return Status::Unavailable("cannot resolve " + host_ + ": " + ec.message());
    auto decorate = websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::sec_websocket_protocol, "hrana3, hrana2");
      req.set(beast::http::field::user_agent, "litehouse-client");
    });
    // The same steps over TCP and over TLS; only the TLS handshake is extra.
    auto open = [&](auto& ws) -> Status {
      auto& tcp = beast::get_lowest_layer(*ws);
      ec = RunTimed(io_, tcp, timeout_, [&](auto handler) { tcp.async_connect(endpoints, std::move(handler)); });
      if (ec) return Status::Unavailable("cannot connect to " + host_ + ":" + port_ + ": " + ec.message());
      // A request split over several segments must not wait for an ACK (Nagle vs delayed ACK: 40 ms).
      tcp.socket().set_option(asio::ip::tcp::no_delay(true));
      if constexpr (!std::is_same_v<std::decay_t<decltype(ws->next_layer())>, beast::tcp_stream>) {
        if (Status s = TlsHandshake(io_, ws->next_layer(), host_, timeout_); !s.ok()) return s;
      }
      ws->set_option(std::move(decorate));
      ec = RunTimed(io_, tcp, timeout_,
                    [&](auto handler) { ws->async_handshake(host_ + ":" + port_, "/", std::move(handler)); });
      if (ec) return Status::Unavailable("WebSocket handshake with " + host_ + ":" + port_ + " failed: " + ec.message());
      ws->text(true);
      return Status::OK();
    };
    if (tls_) {
      auto ws = std::make_unique<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>(io_, *tls_);
      if (Status s = open(ws); !s.ok()) return s;
      wss_ = std::move(ws);
    } else {
      auto ws = std::make_unique<websocket::stream<beast::tcp_stream>>(io_);
      if (Status s = open(ws); !s.ok()) return s;
      ws_ = std::move(ws);
    }
    ++generation_;  // streams opened on an earlier connection are gone
    std::optional<std::string> jwt;
    if (!auth_token_.empty()) jwt = auth_token_;
    auto hello = Exchange(protocol::json::EncodeWsHello(jwt), StreamRequest::Type::kClose, std::nullopt);
    if (!hello.ok()) return hello.status();
    if (hello->type == WsServerReply::Type::kHelloError) {
      Disconnect();
      return Status::WithCodeName(StatusCode::kUnauthenticated, hello->result.error.code, hello->result.error.message);
    }
    return Status::OK();
  }

  // Sends `message` and reads the reply (for a request, the one with `request_id`).
  Result<WsServerReply> Exchange(const std::string& message, StreamRequest::Type expected, std::optional<int32_t> request_id) {
    if (!connected()) return Status::IoError("the WebSocket connection to " + host_ + ":" + port_ + " was lost");
    beast::error_code ec;
    Write(message, ec);
    while (!ec) {
      beast::flat_buffer buffer;
      buffer.reserve(kReadReserve);
      Read(buffer, ec);
      if (ec) break;
      std::string_view text(static_cast<const char*>(buffer.data().data()), buffer.size());
      auto reply = protocol::json::ParseWsServerMsg(text, expected);
      if (!reply.ok()) return reply.status();
      if (!request_id || reply->request_id == *request_id) return reply;
    }
    Disconnect();
    return Status::IoError("WebSocket connection to " + host_ + ":" + port_ + " failed: " + ec.message());
  }

  // Writes every message at once, then reads until each request id has its reply: a stream's open,
  // requests and close cost one round trip, as @libsql/client pipelines them.
  Result<std::vector<WsServerReply>> ExchangeAll(const std::vector<std::string>& messages,
                                                 const std::vector<std::pair<int32_t, StreamRequest::Type>>& ids) {
    if (!connected()) return Status::IoError("the WebSocket connection to " + host_ + ":" + port_ + " was lost");
    beast::error_code ec;
    for (const auto& m : messages) {
      Write(m, ec);
      if (ec) break;
    }
    std::vector<WsServerReply> replies(ids.size());
    std::vector<bool> seen(ids.size(), false);
    size_t pending = ids.size();
    while (!ec && pending > 0) {
      beast::flat_buffer buffer;
      buffer.reserve(kReadReserve);
      Read(buffer, ec);
      if (ec) break;
      std::string_view text(static_cast<const char*>(buffer.data().data()), buffer.size());
      // Which request is this? Peek at the id first, then parse as that request's answer.
      std::optional<int32_t> id = protocol::json::PeekWsRequestId(text);
      if (!id) return Status::InvalidArgument("A server message without a request id, in the middle of requests");
      for (size_t i = 0; i < ids.size(); ++i) {
        if (seen[i] || ids[i].first != id) continue;
        auto reply = protocol::json::ParseWsServerMsg(text, ids[i].second);
        if (!reply.ok()) return reply.status();
        replies[i] = std::move(reply).value();
        seen[i] = true;
        --pending;
        break;
      }
    }
    if (pending == 0) return replies;
    Disconnect();
    return Status::IoError("WebSocket connection to " + host_ + ":" + port_ + " failed: " + ec.message());
  }

  int32_t NextRequestId() { return next_request_id_++; }
  int32_t NextStreamId() { return next_stream_id_++; }
  // Which connection is current: a stream belongs to the connection it was opened on.
  uint64_t generation() const { return generation_; }
  bool connected() const { return ws_ != nullptr || wss_ != nullptr; }

 private:
  void Write(const std::string& message, beast::error_code& ec) {
    auto write = [&](auto& ws) {
      ec = RunTimed(io_, beast::get_lowest_layer(ws), timeout_,
                    [&](auto handler) { ws.async_write(asio::buffer(message), std::move(handler)); });
    };
    if (wss_) write(*wss_);
    else write(*ws_);
  }
  void Read(beast::flat_buffer& buffer, beast::error_code& ec) {
    auto read = [&](auto& ws) {
      ec = RunTimed(io_, beast::get_lowest_layer(ws), timeout_,
                    [&](auto handler) { ws.async_read(buffer, std::move(handler)); });
    };
    if (wss_) read(*wss_);
    else read(*ws_);
  }
  void Disconnect() {
    ws_.reset();
    wss_.reset();
  }

  const std::string host_, port_, auth_token_;
  const std::chrono::milliseconds timeout_;
  const std::shared_ptr<asio::ssl::context> tls_;  // null: plain ws://
  asio::io_context io_;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws_;
  std::unique_ptr<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> wss_;
  int32_t next_request_id_ = 1;
  int32_t next_stream_id_ = 1;
  uint64_t generation_ = 0;
};

class WsChannel : public Channel {
 public:
  explicit WsChannel(WsConnection* conn) : conn_(conn) {}
  ~WsChannel() override {
    // An unfinished stream is closed, so the server rolls back what it holds.
    if (stream_id_ && !closed_ && conn_->connected() && conn_->generation() == generation_) (void)Control(false);
  }

  Result<std::vector<protocol::StreamResult>> Send(std::vector<StreamRequest> requests, bool close) override {
    if (closed_) return Status::WithCodeName(StatusCode::kInvalidArgument, "STREAM_CLOSED", "The stream is closed");
    if (stream_id_ && (!conn_->connected() || conn_->generation() != generation_)) {
      // The connection this stream lived on is gone, and the stream (and its transaction) with it.
      closed_ = true;
      return Status::WithCodeName(StatusCode::kUnavailable, "STREAM_CLOSED",
                                  "The WebSocket connection was lost; the stream and its transaction are gone");
    }
    std::vector<std::string> messages;
    std::vector<std::pair<int32_t, StreamRequest::Type>> ids;  // the control messages use kClose
    bool opening = !stream_id_;
    if (opening) {
      if (Status s = conn_->Ensure(); !s.ok()) return s;
      stream_id_ = conn_->NextStreamId();
      generation_ = conn_->generation();
      int32_t id = conn_->NextRequestId();
      messages.push_back(protocol::json::EncodeWsStreamControl(id, true, *stream_id_));
      ids.emplace_back(id, StreamRequest::Type::kClose);
    }
    for (const auto& r : requests) {
      int32_t id = conn_->NextRequestId();
      messages.push_back(protocol::json::EncodeWsStreamRequest(id, *stream_id_, r));
      ids.emplace_back(id, r.type);
    }
    if (close) {
      closed_ = true;
      int32_t id = conn_->NextRequestId();
      messages.push_back(protocol::json::EncodeWsStreamControl(id, false, *stream_id_));
      ids.emplace_back(id, StreamRequest::Type::kClose);
    }
    auto replies = conn_->ExchangeAll(messages, ids);
    if (!replies.ok()) {
      closed_ = true;
      return replies.status();
    }
    size_t first = opening ? 1 : 0;
    if (opening && (*replies)[0].type != WsServerReply::Type::kResponseOk) {
      closed_ = true;
      const auto& e = (*replies)[0].result.error;
      return Status::WithCodeName(StatusCode::kUnavailable, e.code, e.message);
    }
    std::vector<protocol::StreamResult> results;
    for (size_t i = 0; i < requests.size(); ++i) {
      results.push_back(std::move((*replies)[first + i].result));
      results.back().response.type = requests[i].type;
    }
    return results;
  }

 private:
  Status Control(bool open) {
    int32_t id = conn_->NextRequestId();
    auto reply = conn_->Exchange(protocol::json::EncodeWsStreamControl(id, open, *stream_id_), StreamRequest::Type::kClose, id);
    if (!reply.ok()) return reply.status();
    if (reply->type != WsServerReply::Type::kResponseOk) {
      return Status::WithCodeName(StatusCode::kUnavailable, reply->result.error.code, reply->result.error.message);
    }
    return Status::OK();
  }

  WsConnection* conn_;
  std::optional<int32_t> stream_id_;
  uint64_t generation_ = 0;
  bool closed_ = false;
};

class WsBackend : public Backend {
 public:
  WsBackend(const RemoteOptions& options, std::shared_ptr<asio::ssl::context> tls) : conn_(options, std::move(tls)) {}
  Result<std::unique_ptr<Channel>> OpenChannel() override { return std::unique_ptr<Channel>(new WsChannel(&conn_)); }
  // A dump is plain HTTP (GET /dump): the client asks an HTTP backend on the same address instead.
  Status Dump(const std::function<Status(std::string_view)>&) override {
    return Status::Internal("a dump goes over HTTP, not WebSocket");
  }

 private:
  WsConnection conn_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenWsBackend(const RemoteOptions& options) {
  std::shared_ptr<asio::ssl::context> context;
  if (options.tls) {
    auto made = MakeTlsContext();
    if (!made.ok()) return made.status();
    context = std::move(made).value();
  }
  return std::unique_ptr<Backend>(new WsBackend(options, std::move(context)));
}

}  // namespace litehouse::client
