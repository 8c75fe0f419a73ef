// The remote backend: Hrana over HTTP, JSON, /v2/pipeline, as @libsql/client speaks it. One
// keep-alive connection per Client (reopened when the server closed it); a channel is a stream,
// named by the baton of its last response.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "client/channel.h"
#include "client/timed.h"
#include "client/tls.h"
#include "protocol/json_client_codec.h"

namespace litehouse::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// A reply other than 200: the server's Hrana error when its body holds one; 401/403 are
// authentication failures.
Status HttpErrorStatus(http::status status, std::string_view body) {
  StatusCode code = status == http::status::unauthorized || status == http::status::forbidden
                        ? StatusCode::kUnauthenticated
                        : StatusCode::kUnavailable;
  auto error = protocol::json::ParseErrorBody(body);
  if (error.ok()) return Status::WithCodeName(code, error->code, error->message);
  return Status::WithCodeName(code, "HTTP_ERROR", "Server returned HTTP status " + std::to_string(static_cast<int>(status)));
}

class HttpConnection {
 public:
  HttpConnection(const RemoteOptions& options, std::shared_ptr<asio::ssl::context> tls)
      : host_(options.host), port_(options.port), auth_token_(options.auth_token), timeout_(options.timeout),
        tls_(std::move(tls)) {}

  // GETs `target`, handing the body to `sink` as it arrives. A status other than 200 is an error
  // carrying the server's error body; a body cut short is an IoError.
  Status Get(const std::string& target, const std::function<Status(std::string_view)>& sink) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, host_);
    req.set(http::field::user_agent, "litehouse-client");
    if (!auth_token_.empty()) req.set(http::field::authorization, "Bearer " + auth_token_);
    req.keep_alive(true);
    Disconnect();  // a fresh connection: a GET is not worth the retry logic of a reused one
    if (Status s = Connect(); !s.ok()) return s;
    beast::error_code ec;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    std::string error_body;
    char buf[64 << 10];
    auto exchange = [&](auto& stream) -> Status {
      auto& tcp = beast::get_lowest_layer(stream);
      ec = RunTimed(io_, tcp, timeout_, [&](auto handler) { http::async_write(stream, req, std::move(handler)); });
      if (!ec) {
        ec = RunTimed(io_, tcp, timeout_,
                      [&](auto handler) { http::async_read_header(stream, buffer_, parser, std::move(handler)); });
      }
      if (ec) return Status::IoError("GET " + target + " from " + host_ + ":" + port_ + " failed: " + ec.message());
      const bool ok = parser.get().result() == http::status::ok;
      while (!parser.is_done()) {
        parser.get().body().data = buf;
        parser.get().body().size = sizeof buf;
        ec = RunTimed(io_, tcp, timeout_, [&](auto handler) { http::async_read(stream, buffer_, parser, std::move(handler)); });
        if (ec == http::error::need_buffer) ec = {};
        if (ec) return Status::IoError("GET " + target + " from " + host_ + ":" + port_ + " ended early: " + ec.message());
        std::string_view got(buf, sizeof buf - parser.get().body().size);
        if (!ok) {
          if (error_body.size() < (1 << 20)) error_body.append(got);
        } else if (Status s = sink(got); !s.ok()) {
          return s;
        }
      }
      return ok ? Status::OK() : HttpErrorStatus(parser.get().result(), error_body);
    };
    Status s = secure_ ? exchange(*secure_) : exchange(*plain_);
    Disconnect();
    return s;
  }

  // POSTs `body` to `target`; the response, or an IoError.
  Result<http::response<http::string_body>> Post(const std::string& target, std::string body) {
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, host_);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "litehouse-client");
    if (!auth_token_.empty()) req.set(http::field::authorization, "Bearer " + auth_token_);
    req.body() = std::move(body);
    req.keep_alive(true);
    req.prepare_payload();
    // A kept-alive connection the server has since closed fails on first use: reconnect once. Only
    // a reused connection is retried: on a fresh one a failure may mean the request did run, and
    // repeating it could apply a write twice.
    for (int attempt = 0; attempt < 2; ++attempt) {
      beast::error_code ec;
      bool reused = plain_ || secure_;
      if (!reused) {
        if (Status s = Connect(); !s.ok()) return s;
      }
      http::response<http::string_body> res;
      auto exchange = [&](auto& stream) {
        auto& tcp = beast::get_lowest_layer(stream);
        ec = RunTimed(io_, tcp, timeout_, [&](auto handler) { http::async_write(stream, req, std::move(handler)); });
        if (!ec) {
          ec = RunTimed(io_, tcp, timeout_, [&](auto handler) { http::async_read(stream, buffer_, res, std::move(handler)); });
        }
      };
      if (secure_) exchange(*secure_);
      else exchange(*plain_);
      if (!ec) {
        if (!res.keep_alive()) Disconnect();
        return res;
      }
      Disconnect();
      if (attempt == 1 || !reused) {
        return Status::IoError("HTTP request to " + host_ + ":" + port_ + " failed: " + ec.message());
      }
    }
    return Status::Internal("unreachable");
  }

 private:
  Status Connect() {
    beast::error_code ec;
    asio::ip::tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(host_, port_, ec);
    if (ec) return Status::Unavailable("cannot resolve " + host_ + ": " + ec.message());
    buffer_.clear();
    // Room for 64 KiB reads: Beast reads only what the buffer has room for (at least 512 bytes), and
    // a response of a few hundred KiB read 512 bytes at a time costs a system call each.
    buffer_.reserve(64 << 10);
    if (tls_) {
      secure_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, *tls_);
      auto& tcp = beast::get_lowest_layer(*secure_);
      ec = RunTimed(io_, tcp, timeout_, [&](auto handler) { tcp.async_connect(endpoints, std::move(handler)); });
      if (!ec) tcp.socket().set_option(asio::ip::tcp::no_delay(true));
      Status s = ec ? Status::Unavailable("cannot connect to " + host_ + ":" + port_ + ": " + ec.message())
                    : TlsHandshake(io_, *secure_, host_, timeout_);
      if (!s.ok()) secure_.reset();
      return s;
    }
    plain_ = std::make_unique<beast::tcp_stream>(io_);
    ec = RunTimed(io_, *plain_, timeout_, [&](auto handler) { plain_->async_connect(endpoints, std::move(handler)); });
    if (ec) {
      plain_.reset();
      return Status::Unavailable("cannot connect to " + host_ + ":" + port_ + ": " + ec.message());
    }
    plain_->socket().set_option(asio::ip::tcp::no_delay(true));
    return Status::OK();
  }

  void Disconnect() {
    plain_.reset();
    secure_.reset();
  }

  const std::string host_, port_, auth_token_;
  const std::chrono::milliseconds timeout_;
  const std::shared_ptr<asio::ssl::context> tls_;  // null: plain HTTP
  asio::io_context io_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure_;
  beast::flat_buffer buffer_;
};

class HttpChannel : public Channel {
 public:
  explicit HttpChannel(HttpConnection* conn) : conn_(conn) {}

  Result<std::vector<protocol::StreamResult>> Send(std::vector<protocol::StreamRequest> requests, bool close) override {
    if (closed_) return Status::WithCodeName(StatusCode::kInvalidArgument, "STREAM_CLOSED", "The stream is closed");
    size_t wanted = requests.size();
    protocol::PipelineRequest pipeline;
    pipeline.baton = baton_;
    pipeline.requests = std::move(requests);
    if (close) pipeline.requests.push_back(protocol::StreamRequest{protocol::StreamRequest::Type::kClose});
    auto res = conn_->Post("/v2/pipeline", protocol::json::EncodePipelineRequest(pipeline));
    if (!res.ok()) return res.status();
    if (res->result() != http::status::ok) {
      closed_ = true;  // the spec: after an HTTP error the stream is no longer valid
      return HttpErrorStatus(res->result(), res->body());
    }
    auto parsed = protocol::json::ParsePipelineResponse(res->body(), pipeline);
    if (!parsed.ok()) return parsed.status();
    baton_ = parsed->baton;
    if (close || !baton_) closed_ = true;
    parsed->results.resize(wanted);  // the close's own result is not the caller's
    return std::move(parsed->results);
  }

 private:
  HttpConnection* conn_;
  std::optional<std::string> baton_;
  bool closed_ = false;
};

class HttpBackend : public Backend {
 public:
  HttpBackend(const RemoteOptions& options, std::shared_ptr<asio::ssl::context> tls) : conn_(options, std::move(tls)) {}
  Result<std::unique_ptr<Channel>> OpenChannel() override { return std::unique_ptr<Channel>(new HttpChannel(&conn_)); }
  Status Dump(const std::function<Status(std::string_view)>& sink) override { return conn_.Get("/dump", sink); }

 private:
  HttpConnection conn_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenHttpBackend(const RemoteOptions& options) {
  std::shared_ptr<asio::ssl::context> context;
  if (options.tls) {
    auto made = MakeTlsContext();
    if (!made.ok()) return made.status();
    context = std::move(made).value();
  }
  return std::unique_ptr<Backend>(new HttpBackend(options, std::move(context)));
}

}  // namespace litehouse::client
