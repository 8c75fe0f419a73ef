// A closed-loop load generator for Hrana, so HTTP and WebSocket are driven the same way in one run:
// N connections, each sending one request, waiting for its answer, sending the next, for a fixed
// time. Each request is one point SELECT by a random key in 1..10000 or one single-row INSERT.
//
//   hrana_load URL http|ws-json|ws-protobuf|ws-idle select|insert CONNECTIONS SECONDS
//   prints: RESULT requests=N seconds=S p50_us=X p99_us=Y errors=E
//   with HRANA_LOAD_TICK_MS=T set, also a line on stderr every T ms: `TICK <ms since start> <requests
//   answered in that tick>`, to see when a run stalls (bench/stalls.sh)
//
// HTTP: what @libsql/client's execute() sends, POST /v2/pipeline {execute, close}, keep-alive.
// WebSocket: hello and open_stream once per connection, then one execute request per round trip,
// as a client holding a stream does (JSON on hrana3, Protobuf on hrana3-protobuf).
// ws-idle: every connection says hello, opens a stream, and then only holds the connection open
// until the time is up (for measuring the server's memory per idle connection).
#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <google/protobuf/arena.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "protocol/proto/hrana.pb.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace pb = litehouse::hrana::pb;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

struct Options {
  std::string host, port, mode, op;
  int connections = 1;
  double seconds = 5;
};

struct Stats {
  std::vector<uint32_t> latencies_us;
  uint64_t errors = 0;
};

const char* kSelectSql = "SELECT id, name, value FROM bench WHERE id = ?";
const char* kInsertSql = "INSERT INTO bench_ins(name, value) VALUES (?, ?)";

std::string JsonStmt(const Options& o, int key) {
  if (o.op == "select") {
    return std::string(R"({"sql":")") + kSelectSql + R"(","args":[{"type":"integer","value":")" + std::to_string(key) + R"("}],"want_rows":true})";
  }
  return std::string(R"({"sql":")") + kInsertSql + R"(","args":[{"type":"text","value":"name"},{"type":"float","value":1.5}],"want_rows":true})";
}

pb::ClientMsg ProtobufRequest(const Options& o, int request_id, int key) {
  pb::ClientMsg msg;
  auto* req = msg.mutable_request();
  req->set_request_id(request_id);
  auto* exec = req->mutable_execute();
  exec->set_stream_id(1);
  auto* stmt = exec->mutable_stmt();
  if (o.op == "select") {
    stmt->set_sql(kSelectSql);
    stmt->add_args()->set_integer(key);
  } else {
    stmt->set_sql(kInsertSql);
    stmt->add_args()->set_text("name");
    stmt->add_args()->set_float_(1.5);
  }
  stmt->set_want_rows(true);
  return msg;
}

bool IsError(std::string_view body) { return body.find("\"error\"") != std::string_view::npos; }

// Reads a response's status and body and nothing else. It is Beast's parser without the header fields
// a generic one allocates and keeps: what the generator spends per request shares the machine with
// the server, and adds to every round trip of a 1-connection run (pgbench spends a few microseconds).
class ReplyParser : public http::basic_parser<false> {
 public:
  explicit ReplyParser(std::string& body) : body_(body) { body_.clear(); }
  int status() const { return status_; }

 private:
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int, beast::error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override { status_ = code; }
  void on_field_impl(http::field, beast::string_view, beast::string_view, beast::error_code&) override {}
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
  size_t on_body_impl(beast::string_view s, beast::error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view s, beast::error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  std::string& body_;
  int status_ = 0;
};

asio::awaitable<void> HttpWorker(const Options& o, asio::ip::tcp::endpoint ep, Clock::time_point end, Stats& stats, unsigned seed) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  auto [cec] = co_await stream.async_connect(ep, kTuple);
  if (cec) {
    ++stats.errors;
    co_return;
  }
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> key(1, 10000);
  beast::flat_buffer buffer;
  // One request object for the connection: each request changes only its body (and length).
  http::request<http::string_body> req{http::verb::post, "/v2/pipeline", 11};
  req.set(http::field::host, o.host);
  req.set(http::field::content_type, "application/json");
  std::string reply;
  while (Clock::now() < end) {
    req.body() = R"({"baton":null,"requests":[{"type":"execute","stmt":)" + JsonStmt(o, key(rng)) + R"(},{"type":"close"}]})";
    req.prepare_payload();
    auto start = Clock::now();
    auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
    ReplyParser parser(reply);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (wec || rec) {
      ++stats.errors;
      co_return;
    }
    stats.latencies_us.push_back(static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count()));
    if (parser.status() != 200 || reply.find(R"("type":"error")") != std::string::npos) ++stats.errors;
  }
}

asio::awaitable<void> WsWorker(const Options& o, asio::ip::tcp::endpoint ep, Clock::time_point end, Stats& stats, unsigned seed) {
  bool protobuf = o.mode == "ws-protobuf";
  // Many connections at once: give each a moment apart so the listen backlog is never the limit.
  asio::steady_timer stagger(co_await asio::this_coro::executor, std::chrono::microseconds(200 * (seed % 1000)));
  co_await stagger.async_wait(kTuple);
  websocket::stream<beast::tcp_stream> ws(co_await asio::this_coro::executor);
  auto [cec] = co_await beast::get_lowest_layer(ws).async_connect(ep, kTuple);
  if (cec) {
    ++stats.errors;
    co_return;
  }
  ws.set_option(websocket::stream_base::decorator([protobuf](websocket::request_type& req) {
    req.set(http::field::sec_websocket_protocol, protobuf ? "hrana3-protobuf" : "hrana3");
  }));
  auto [hec] = co_await ws.async_handshake(o.host, "/", kTuple);
  if (hec) {
    ++stats.errors;
    co_return;
  }
  ws.binary(protobuf);
  beast::flat_buffer buffer;
  auto exchange = [&](const std::string& msg, int replies) -> asio::awaitable<bool> {
    auto [wec, wn] = co_await ws.async_write(asio::buffer(msg), kTuple);
    if (wec) co_return false;
    for (int i = 0; i < replies; ++i) {
      buffer.clear();
      auto [rec, rn] = co_await ws.async_read(buffer, kTuple);
      if (rec) co_return false;
    }
    co_return true;
  };
  std::string hello, open;
  if (protobuf) {
    pb::ClientMsg h;
    h.mutable_hello();
    hello = h.SerializeAsString();
    pb::ClientMsg os;
    os.mutable_request()->set_request_id(1);
    os.mutable_request()->mutable_open_stream()->set_stream_id(1);
    open = os.SerializeAsString();
  } else {
    hello = R"({"type":"hello","jwt":null})";
    open = R"({"type":"request","request_id":1,"request":{"type":"open_stream","stream_id":1}})";
  }
  if (!co_await exchange(hello, 1) || !co_await exchange(open, 1)) {
    ++stats.errors;
    co_return;
  }
  if (o.mode == "ws-idle") {
    asio::steady_timer idle(co_await asio::this_coro::executor, end);
    co_await idle.async_wait(kTuple);
    stats.latencies_us.push_back(0);  // one connection held: counted as one "request"
    co_await ws.async_close(websocket::close_code::normal, kTuple);
    co_return;
  }
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> key(1, 10000);
  int request_id = 2;
  // One request message for the connection (Protobuf), changed and serialized into the same string
  // each time; a reply is decoded into an arena whose first block is a local buffer.
  pb::ClientMsg request = ProtobufRequest(o, request_id, 1);
  std::string msg;
  while (Clock::now() < end) {
    if (protobuf) {
      request.mutable_request()->set_request_id(request_id);
      if (o.op == "select") request.mutable_request()->mutable_execute()->mutable_stmt()->mutable_args(0)->set_integer(key(rng));
      request.SerializeToString(&msg);
    } else {
      msg = R"({"type":"request","request_id":)" + std::to_string(request_id) +
            R"(,"request":{"type":"execute","stream_id":1,"stmt":)" + JsonStmt(o, key(rng)) + "}}";
    }
    ++request_id;
    auto start = Clock::now();
    if (!co_await exchange(msg, 1)) {
      ++stats.errors;
      co_return;
    }
    stats.latencies_us.push_back(static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count()));
    if (protobuf) {
      alignas(std::max_align_t) char first_block[1024];
      google::protobuf::ArenaOptions arena_options;
      arena_options.initial_block = first_block;
      arena_options.initial_block_size = sizeof first_block;
      google::protobuf::Arena arena(arena_options);
      auto* reply = google::protobuf::Arena::CreateMessage<pb::ServerMsg>(&arena);
      if (!reply->ParseFromArray(buffer.data().data(), static_cast<int>(buffer.size())) || !reply->has_response_ok()) ++stats.errors;
    } else if (IsError(std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size()))) {
      ++stats.errors;
    }
  }
  co_await ws.async_close(websocket::close_code::normal, kTuple);
}

// Every `tick` until `end`, the count of requests answered since the last tick, on stderr.
asio::awaitable<void> Ticker(std::chrono::milliseconds tick, Clock::time_point start, Clock::time_point end, const Stats& stats) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  size_t seen = 0;
  for (auto at = start + tick; at <= end; at += tick) {
    timer.expires_at(at);
    co_await timer.async_wait(kTuple);
    const size_t now = stats.latencies_us.size();
    std::fprintf(stderr, "TICK %lld %zu\n",
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(at - start).count()), now - seen);
    seen = now;
  }
}

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s URL http|ws-json|ws-protobuf select|insert CONNECTIONS SECONDS\n", argv[0]);
    return 2;
  }
  Options o;
  std::string url = argv[1];
  size_t hostpos = url.find("://");
  std::string hostport = url.substr(hostpos == std::string::npos ? 0 : hostpos + 3);
  o.host = hostport.substr(0, hostport.rfind(':'));
  o.port = hostport.substr(hostport.rfind(':') + 1);
  o.mode = argv[2];
  o.op = argv[3];
  o.connections = std::max(1, std::atoi(argv[4]));
  o.seconds = std::atof(argv[5]);

  asio::io_context io(1);
  asio::ip::tcp::endpoint ep(asio::ip::make_address(o.host), static_cast<unsigned short>(std::stoi(o.port)));
  Stats stats;
  auto start = Clock::now();
  auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int i = 0; i < o.connections; ++i) {
    auto seed = static_cast<unsigned>(i + 1);
    if (o.mode == "http") asio::co_spawn(io, HttpWorker(o, ep, end, stats, seed), asio::detached);
    else asio::co_spawn(io, WsWorker(o, ep, end, stats, seed), asio::detached);
  }
  if (const char* t = std::getenv("HRANA_LOAD_TICK_MS"); t && std::atoi(t) > 0)
    asio::co_spawn(io, Ticker(std::chrono::milliseconds(std::atoi(t)), start, end, stats), asio::detached);
  io.run();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  auto& l = stats.latencies_us;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) { return l.empty() ? 0u : l[std::min(l.size() - 1, static_cast<size_t>(p * static_cast<double>(l.size())))]; };
  std::printf("RESULT requests=%zu seconds=%.3f p50_us=%u p99_us=%u errors=%llu\n", l.size(), elapsed, pct(0.50), pct(0.99),
              static_cast<unsigned long long>(stats.errors));
  return stats.errors ? 1 : 0;
}
