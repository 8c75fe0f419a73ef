#include "server/http_session.h"

#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <tuple>
#include <vector>

#include "common/log.h"
#include "engine/dump.h"
#include "protocol/errors.h"
#include "server/grpc_web.h"
#include "server/replication_status.h"
#include "server/hrana_http.h"
#include "server/response_layers.h"
#include "server/ws_session.h"

#include <boost/beast/websocket.hpp>

namespace litehouse::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// A connection's read buffer: room for a large request body while it is read, at most this much...
constexpr uint64_t kMaxReadReserve = 1 << 20;
// ...and no more than this kept between requests, so idle keep-alive connections stay small.
constexpr size_t kIdleBufferBytes = 16 << 10;
// The request line and headers together: more is 431.
constexpr uint32_t kHeaderLimitBytes = 64 << 10;

HttpReply NotFound() { return ErrorReply(404, protocol::MakeError("NOT_FOUND", "No such endpoint")); }

HttpReply MethodNotAllowed() { return ErrorReply(405, protocol::MakeError("METHOD_NOT_ALLOWED", "Method not allowed")); }

// The refusal of a request whose credentials the server does not accept, or nullopt with `*who`
// set to its principal.
std::optional<HttpReply> CheckCredentials(ServerContext& ctx, const http::request<http::string_body>& req, Principal* who) {
  // sqld reads `x-authorization` when `authorization` is absent (the libsql client sends it there).
  auto auth = req.find(http::field::authorization);
  if (auth == req.end()) auth = req.find("x-authorization");
  std::string_view header = auth == req.end() ? std::string_view() : std::string_view(auth->value());
  if (auto refusal = ctx.opts.auth->CheckHeader(header, who)) {
    return ErrorReply(refusal->http_status, protocol::MakeError(refusal->code, refusal->message));
  }
  return std::nullopt;
}

// `reply` as an HTTP response of `version`, keeping the connection open if `keep_alive`.
http::response<http::string_body> ResponseOf(HttpReply reply, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
  res.set(http::field::server, "litehouse");
  res.set(http::field::content_type, reply.content_type);
  res.set(http::field::access_control_allow_origin, kAllowOrigin);
  for (auto& [name, value] : reply.headers) res.set(name, value);
  res.body() = std::move(reply.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// Writes `reply` as the response to `req`. True when the connection can carry another request.
asio::awaitable<bool> WriteReply(ServerContext& ctx, beast::tcp_stream& stream, const http::request<http::string_body>& req,
                                 HttpReply reply) {
  // Compressed for a client that accepts gzip (response_layers.h); a large body is compressed on the
  // SQL pool, so the network thread goes on serving other connections meanwhile.
  constexpr size_t kCompressHereBytes = 256 << 10;
  if (req.method() != http::verb::head && WorthCompressing(reply.content_type, reply.body.size())) {
    reply.headers.emplace_back("Vary", "Accept-Encoding");
    auto accept = req.find(http::field::accept_encoding);
    if (accept != req.end() && AcceptsGzip(accept->value())) {
      std::optional<std::string> packed;
      if (reply.body.size() <= kCompressHereBytes) {
        packed = Gzip(reply.body);
      } else {
        packed = co_await RunSql(ctx, [&body = reply.body] { return Gzip(body); });
      }
      if (packed && packed->size() < reply.body.size()) {
        reply.body = std::move(*packed);
        reply.headers.emplace_back("Content-Encoding", "gzip");
      }
    }
  }
  auto res = ResponseOf(std::move(reply), req.version(), req.keep_alive());
  if (req.method() == http::verb::head) {
    // The headers of the GET, Content-Length included, without its body.
    const size_t length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  // The head as Beast formats it (its Fields writer, what its serializer and its operator<< for a
  // header use), copied out once; then head and body in one gathered write. Beast's serializer would
  // write the same bytes, walking a chain of buffer views for every write: 6% of the server's CPU at
  // 32 connections of point SELECTs. (An ostringstream, as before, cost ~2,000 instructions a reply
  // to construct.)
  const std::string head = beast::buffers_to_string(http::fields::writer(res.base(), res.version(), res.result_int()).get());
  const std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(res.body())};
  stream.expires_after(ctx.opts.idle_connection_timeout);
  auto [ec, n] = co_await asio::async_write(stream, parts, kTuple);
  co_return !ec && res.keep_alive();
}

// A response whose body is written in parts as they are made (a streamed cursor, a dump): in
// HTTP/1.1 chunks, or, for an HTTP/1.0 client, which cannot read chunks, a body that ends when the
// connection closes. Each write gets the connection's idle timeout.
class StreamedBody {
 public:
  StreamedBody(ServerContext& ctx, beast::tcp_stream& stream, const http::request<http::string_body>& req)
      : ctx_(ctx), stream_(stream), req_(req), chunked_(req.version() >= 11) {}

  // Writes the head: `status`, `content_type` and `headers`. False when the write failed.
  asio::awaitable<bool> Head(unsigned status, std::string_view content_type,
                             const std::vector<std::pair<std::string, std::string>>& headers) {
    http::response<http::empty_body> res{static_cast<http::status>(status), req_.version()};
    res.set(http::field::server, "litehouse");
    res.set(http::field::content_type, content_type);
    res.set(http::field::access_control_allow_origin, kAllowOrigin);
    for (const auto& [name, value] : headers) res.set(name, value);
    res.keep_alive(chunked_ && req_.keep_alive());
    res.chunked(chunked_);
    http::response_serializer<http::empty_body> serializer{res};
    stream_.expires_after(ctx_.opts.idle_connection_timeout);
    auto [ec, n] = co_await http::async_write_header(stream_, serializer, kTuple);
    co_return !ec;
  }
  // Writes `bytes` as the body's next part; nothing for no bytes, since an empty chunk would end the
  // body. False when the write failed.
  asio::awaitable<bool> Part(const std::string& bytes) {
    if (bytes.empty()) co_return true;
    stream_.expires_after(ctx_.opts.idle_connection_timeout);
    beast::error_code ec;
    if (chunked_) {
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, http::make_chunk(asio::buffer(bytes)), kTuple);
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(bytes), kTuple);
    }
    co_return !ec;
  }
  // Ends a body written whole: its last chunk. True when the connection can carry another request
  // (never after an HTTP/1.0 body, which only the connection's close ends).
  asio::awaitable<bool> End() {
    if (!chunked_) co_return false;
    stream_.expires_after(ctx_.opts.idle_connection_timeout);
    auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk_last(), kTuple);
    co_return !ec && req_.keep_alive();
  }

 private:
  ServerContext& ctx_;
  beast::tcp_stream& stream_;
  const http::request<http::string_body>& req_;
  const bool chunked_;
};

// Writes a cursor's response to `req`: the start of it in `reply`, then the entries as the cursor's
// batch makes them, in HTTP/1.1 chunks (an HTTP/1.0 client's body ends with the connection). Each
// piece is made only once the previous one was written, so a client that does not read holds the
// batch, not the server's memory. A failed write ends the cursor (its batch stops) and the
// connection; the stream is parked under the baton the head named either way. For a client that
// accepts gzip (as WriteReply decides) the body is one gzip member, each piece deflated and flushed
// (Z_SYNC_FLUSH) into its own chunk, so the client decodes every entry as it arrives. True when the
// connection can carry another request.
asio::awaitable<bool> WriteCursorReply(ServerContext& ctx, beast::tcp_stream& stream,
                                       const http::request<http::string_body>& req, HttpReply reply) {
  // A piece is compressed on the network thread up to this size (about a millisecond), on the SQL
  // pool past it (a single row of up to --max-response-size), as WriteReply does.
  constexpr size_t kCompressHereBytes = 256 << 10;
  std::shared_ptr<HttpCursorBody> cursor = std::move(reply.cursor);
  std::unique_ptr<GzipStream> gzip;
  // The body's size is not known yet: its type decides, as a body of kMinCompressBytes would.
  if (WorthCompressing(reply.content_type, kMinCompressBytes)) {
    reply.headers.emplace_back("Vary", "Accept-Encoding");
    auto accept = req.find(http::field::accept_encoding);
    if (accept != req.end() && AcceptsGzip(accept->value())) gzip = GzipStream::Make();
    if (gzip) reply.headers.emplace_back("Content-Encoding", "gzip");
  }
  StreamedBody body(ctx, stream, req);
  bool ok = co_await body.Head(reply.status, reply.content_type, reply.headers);
  std::string piece = std::move(reply.body);
  // Finish must run whatever happens (it stops the cursor and parks the stream): an exception here
  // (a bad_alloc from Next or from compressing) ends the body unfinished, as a failed write does.
  try {
    while (ok && !piece.empty()) {
      if (gzip) {
        std::optional<std::string> packed;
        if (piece.size() <= kCompressHereBytes) {
          packed = gzip->Flush(piece);
        } else {
          GzipStream* z = gzip.get();
          packed = co_await RunSql(ctx, [z, &piece] { return z->Flush(piece); });
        }
        // zlib failed (it does not, short of memory): the body ends unfinished, as a failed write's.
        ok = packed.has_value();
        if (ok) piece = std::move(*packed);
      }
      if (ok) ok = co_await body.Part(piece);
      if (ok) piece = co_await cursor->Next();
    }
  } catch (const std::exception& e) {
    LH_LOG_ERROR("a streamed cursor body failed: {}", e.what());
    ok = false;
  }
  co_await cursor->Finish();
  if (ok && gzip) {
    std::optional<std::string> end = gzip->Finish();
    ok = end.has_value();
    if (ok) ok = co_await body.Part(*end);
  }
  if (!ok) co_return false;
  co_return co_await body.End();
}

// The client key of a request from `peer` (client_address.h): the peer's (`peer_key`, made once per
// connection), or what a trusted proxy reports in Fly-Client-IP / X-Forwarded-For.
std::string ClientOf(ServerContext& ctx, const asio::ip::address& peer, const std::string& peer_key,
                     const http::request<http::string_body>& req) {
  const TrustedProxies& proxies = ctx.opts.trusted_proxies;
  if (proxies.empty()) return peer_key;
  auto fly = req.find("Fly-Client-IP");
  std::vector<std::string_view> forwarded;
  for (auto [it, end] = req.equal_range("X-Forwarded-For"); it != end; ++it) forwarded.push_back(it->value());
  return proxies.ClientKey(peer, fly == req.end() ? std::string_view() : std::string_view(fly->value()), forwarded);
}

// The routing table. Each endpoint is what sqld serves at the same path.
asio::awaitable<HttpReply> Route(ServerContext& ctx, http::request<http::string_body>& req, std::string client) {
  std::string_view target = req.target();
  if (size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  // HEAD is answered as GET without the body (as sqld's router does).
  bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  bool post = req.method() == http::verb::post;

  // A CORS preflight: answered for any path, before credentials (a browser sends none with it).
  if (req.method() == http::verb::options && req.count(http::field::origin) > 0 &&
      req.count(http::field::access_control_request_method) > 0) {
    auto asked = req.find(http::field::access_control_request_headers);
    co_return HttpReply{200, "text/plain", "", {{"Access-Control-Allow-Methods", "*"},
                                               {"Access-Control-Allow-Headers",
                                                AllowedHeaders(asked == req.end() ? std::string_view() : std::string_view(asked->value()))},
                                               {"Access-Control-Max-Age", "7200"},
                                               {"Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}}};
  }
  if (target == "/health") co_return get ? HttpReply{200, "text/plain", ""} : MethodNotAllowed();
  if (target == "/version") co_return get ? HttpReply{200, "text/plain", "litehouse " LITEHOUSE_VERSION} : MethodNotAllowed();
  if (target == "/v1") co_return get ? HttpReply{200, "text/plain", "This is sqld HTTP API v1"} : MethodNotAllowed();
  if (target == "/v2" || target == "/v3" || target == "/v3-protobuf") {
    co_return get ? HttpReply{200, "text/plain", "Hello, this is HTTP API v2 (Hrana over HTTP)"} : MethodNotAllowed();
  }
  if (target == "/replication/promote") {
    if (!post) co_return MethodNotAllowed();
    Principal who;
    if (auto refusal = CheckCredentials(ctx, req, &who)) co_return std::move(*refusal);
    co_return co_await PromoteReplica(ctx, who);
  }
  if (target == "/backup/status") {
    if (!get) co_return MethodNotAllowed();
    Principal who;
    if (auto refusal = CheckCredentials(ctx, req, &who)) co_return std::move(*refusal);
    co_return HttpReply{200, "application/json", ctx.opts.backup_status ? ctx.opts.backup_status() : std::string(R"({"backups":[]})")};
  }
  if (target == "/replication/status") {
    if (!get) co_return MethodNotAllowed();
    Principal who;
    if (auto refusal = CheckCredentials(ctx, req, &who)) co_return std::move(*refusal);
    co_return ReplicationStatus(ctx);
  }
  // gRPC-web (embedded replicas' sync): credentials checked there, refused in gRPC's own shape.
  if (IsGrpcWebPath(target)) {
    if (!post) co_return MethodNotAllowed();
    co_return co_await HandleGrpcWeb(ctx, req, target, std::move(client));  // (never co_await inside ?:, which GCC 12 miscompiles)
  }
  using protocol::Encoding;
  static constexpr std::string_view kSqlPaths[] = {"/",          "/v1/execute",          "/v1/batch",  "/v2/pipeline",
                                                   "/v3/pipeline", "/v3-protobuf/pipeline", "/v3/cursor", "/v3-protobuf/cursor"};
  if (std::find(std::begin(kSqlPaths), std::end(kSqlPaths), target) == std::end(kSqlPaths)) co_return NotFound();
  // Everything below runs SQL: it needs credentials when the server has any configured.
  Caller caller{Principal{}, std::move(client)};
  if (ctx.replica()) {
    // A replica relays writes with the client's own credential.
    if (auto it = req.find(http::field::authorization); it != req.end()) caller.credential = std::string(it->value());
    else if (auto x = req.find("x-authorization"); x != req.end()) caller.credential = std::string(x->value());
  }
  if (post) {
    if (auto refusal = CheckCredentials(ctx, req, &caller.principal)) co_return std::move(*refusal);
  }
  if (target == "/v2/pipeline" || target == "/v3/pipeline" || target == "/v3-protobuf/pipeline") {
    if (!post) co_return MethodNotAllowed();
    Encoding enc = target == "/v3-protobuf/pipeline" ? Encoding::kProtobuf : Encoding::kJson;
    co_return co_await HandlePipeline(ctx, std::move(req.body()), enc, std::move(caller));
  }
  if (target == "/v1/execute" || target == "/v1/batch") {
    if (!post) co_return MethodNotAllowed();
    V1Endpoint endpoint = target == "/v1/execute" ? V1Endpoint::kExecute : V1Endpoint::kBatch;
    co_return co_await HandleV1(ctx, std::move(req.body()), endpoint, std::move(caller));
  }
  if (target == "/v3/cursor" || target == "/v3-protobuf/cursor") {
    if (!post) co_return MethodNotAllowed();
    Encoding enc = target == "/v3-protobuf/cursor" ? Encoding::kProtobuf : Encoding::kJson;
    co_return co_await HandleCursor(ctx, std::move(req.body()), enc, std::move(caller));
  }
  if (target == "/") {
    // GET / without a WebSocket upgrade is sqld's 404.
    if (!post) co_return get ? NotFound() : MethodNotAllowed();
    co_return co_await HandleLegacy(ctx, std::move(req.body()), std::move(caller));
  }
  co_return NotFound();
}

// GET /dump, as sqld: the database as SQL text (engine/dump.h), sent in chunks as the dumper makes
// them, so memory stays bounded by one chunk whatever the size of the database. The dump reads one
// snapshot on a reader connection; other clients go on meanwhile. A failure before the first byte is
// a JSON error; after it, the connection is cut without the last chunk, so the client sees an
// incomplete transfer rather than a short dump it could take for whole (an HTTP/1.0 client, which
// gets no chunks, cannot tell: only its closed connection ends the body). False: close the connection.
asio::awaitable<bool> ServeDump(ServerContext& ctx, beast::tcp_stream& stream,
                                const http::request<http::string_body>& req) {
  constexpr size_t kChunkBytes = 256 << 10;
  if (req.method() != http::verb::get) co_return co_await WriteReply(ctx, stream, req, MethodNotAllowed());
  Principal who;  // a dump only reads: a read-only token may take one
  if (auto refusal = CheckCredentials(ctx, req, &who)) co_return co_await WriteReply(ctx, stream, req, std::move(*refusal));

  struct Job {
    engine::Lease lease;
    std::unique_ptr<engine::Dumper> dumper;
    int64_t wal_at_start = 0;  // Database::wal_frames_appended() when its snapshot began
  } job;
  std::string chunk;
  auto next = [&]() -> Result<bool> {
    if (!job.dumper) {
      auto lease = ctx.db.AcquireReader();
      if (!lease.ok()) return lease.status();
      job.lease = std::move(lease).value();
      job.dumper = std::make_unique<engine::Dumper>(job.lease.get());
      job.wal_at_start = ctx.db.wal_frames_appended();
    } else if (const int64_t bound = ctx.opts.max_snapshot_wal_growth_frames;
               bound > 0 && ctx.db.wal_frames_appended() - job.wal_at_start > bound) {
      // A slow reader's snapshot keeps every checkpoint from passing it: the WAL would only grow.
      return Status::Busy("the WAL grew by more than " + std::to_string(bound) +
                          " frames while the dump's client read it (--max-snapshot-wal-growth-frames); the dump was cut short "
                          "so that checkpoints can go on");
    }
    chunk.clear();
    return job.dumper->Next(&chunk, kChunkBytes);
  };
  auto finish = [&] {
    job.dumper.reset();
    job.lease.Release();
  };
  Result<bool> more = co_await RunSql(ctx, next);
  if (!more.ok()) {
    co_await RunSql(ctx, finish);
    co_return co_await WriteReply(
        ctx, stream, req, ErrorReply(500, protocol::MakeError("INTERNAL_ERROR", "The dump failed: " + more.status().message())));
  }
  StreamedBody body(ctx, stream, req);
  const std::vector<std::pair<std::string, std::string>> no_headers;  // a named local: GCC 12 and co_await
  bool ok = co_await body.Head(200, "text/plain; charset=utf-8", no_headers);
  while (ok) {
    ok = co_await body.Part(chunk);
    if (!ok || !*more) break;
    more = co_await RunSql(ctx, next);
    if (!more.ok()) {
      LH_LOG_WARN("dump failed midway: {}", more.status().message());
      ok = false;
    }
  }
  co_await RunSql(ctx, finish);
  if (!ok) co_return false;
  co_return co_await body.End();
}

// The reply to a request that could not be read (`ec` from Beast's parser), or nullopt when there
// is no one to answer (the peer left, or timed out). A malformed request gets its status before the
// connection closes, as sqld's hyper does: 413 for a body past --max-request-size, 431 for a request
// line or header section past the header limit, 400 for the rest (both Content-Length and
// Transfer-Encoding, a bad chunk, an invalid method or field).
std::optional<HttpReply> RefusalOfUnreadable(ServerContext& ctx, const beast::error_code& ec) {
  if (!ec || ec.category() != beast::http::make_error_code(http::error::body_limit).category()) return std::nullopt;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == http::error::short_read ||
      ec == http::error::need_more) {
    return std::nullopt;  // the peer closed mid-request: nothing to answer
  }
  if (ec == http::error::body_limit) {
    return ErrorReply(413, protocol::MakeError("REQUEST_TOO_LARGE",
                                               "Request body is larger than the limit of " +
                                                   std::to_string(ctx.opts.max_request_body_bytes) + " bytes"));
  }
  if (ec == http::error::header_limit) {
    return ErrorReply(431, protocol::MakeError("REQUEST_HEADERS_TOO_LARGE",
                                               "The request line and headers are larger than the limit of " +
                                                   std::to_string(kHeaderLimitBytes) + " bytes"));
  }
  return ErrorReply(400, protocol::MakeError("INVALID_REQUEST", "Malformed HTTP request: " + ec.message()));
}

}  // namespace

asio::awaitable<void> RefuseConnection(ServerContext& ctx, asio::ip::tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  auto res = ResponseOf(ErrorReply(503, protocol::MakeError("CONNECTIONS_EXHAUSTED",
                                                            "The server already has " + std::to_string(ctx.opts.max_connections) +
                                                                " connections open; try again later")),
                        11, false);
  res.set(http::field::retry_after, "1");
  // Short deadlines: a refused peer must not hold its file descriptor for long.
  stream.expires_after(std::chrono::seconds(2));
  auto [ec, n] = co_await http::async_write(stream, res, kTuple);
  if (ec) co_return;
  // Closing with the request still unread in the socket would send a reset, which may destroy the
  // response before the peer reads it: end our side, then read and discard until the peer closes.
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  std::array<char, 4096> discard;
  for (int reads = 0; reads < 64; ++reads) {
    auto [rec, got] = co_await stream.async_read_some(asio::buffer(discard), kTuple);
    if (rec) break;
  }
}

asio::awaitable<void> RunHttpSession(ServerContext& ctx, asio::ip::tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  stream.socket().set_option(asio::ip::tcp::no_delay(true));
  beast::error_code peer_ec;
  const asio::ip::tcp::endpoint peer_endpoint = stream.socket().remote_endpoint(peer_ec);  // unspecified if gone
  const asio::ip::address peer = peer_endpoint.address();
  // "ADDRESS:PORT" for the debug log, made once per connection.
  const std::string peer_name = peer_ec ? std::string("?") : peer.to_string() + ":" + std::to_string(peer_endpoint.port());
  const std::string peer_key = ClientKeyOf(peer);
  beast::flat_buffer buffer;
  while (true) {
    stream.expires_after(ctx.opts.idle_connection_timeout);
    http::request_parser<http::string_body> parser;
    parser.body_limit(ctx.opts.max_request_body_bytes);
    parser.header_limit(kHeaderLimitBytes);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (!ec && !parser.is_done() && !parser.chunked()) {
      // A body that came with its header (a small request nearly always does) is parsed from the
      // buffer at once, rather than by a second asynchronous read that completes without reading.
      if (auto length = parser.content_length(); length && buffer.size() >= *length) {
        const size_t used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (ec == http::error::need_more) ec = {};
      }
    }
    if (!ec && !parser.is_done()) {
      // Beast reads only as much as the buffer has room for (at least 512 bytes): give a large body
      // room, or a batch of a few hundred KiB costs hundreds of reads. Given back after the request.
      if (auto length = parser.content_length(); length && *length > buffer.capacity() - buffer.size()) {
        buffer.reserve(buffer.size() + static_cast<size_t>(std::min<uint64_t>(*length, kMaxReadReserve)));
      }
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kTuple);
    }
    if (buffer.capacity() > kIdleBufferBytes) buffer.shrink_to_fit();
    if (auto refusal = RefusalOfUnreadable(ctx, ec)) {
      // The request was not read whole, so the connection cannot carry another: reply, then close.
      auto res = ResponseOf(std::move(*refusal), 11, false);
      stream.expires_after(std::chrono::seconds(10));
      co_await http::async_write(stream, res, kTuple);
      break;
    }
    if (ec) {
      if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::connection_reset &&
          ec != asio::error::operation_aborted) {
        LH_LOG_DEBUG("http read failed: {}", ec.message());
      }
      break;
    }
    http::request<http::string_body> req = parser.release();
    if (beast::websocket::is_upgrade(req)) {
      // Hrana over WebSocket on the same port: the connection belongs to the WebSocket session now.
      std::string client = ClientOf(ctx, peer, peer_key, req);
      buffer = beast::flat_buffer();  // a client sends no frame before the 101: nothing is in it
      co_await RunWsSession(ctx, std::move(stream), std::move(req), std::move(client));
      co_return;
    }
    // No timeout while the request runs: the stream's own limits bound it, and the client waits.
    stream.expires_never();
    std::string_view path = req.target().substr(0, req.target().find('?'));
    if (path == "/dump" && req.method() != http::verb::options) {
      if (!co_await ServeDump(ctx, stream, req)) break;
      continue;
    }
    HttpReply reply;
    try {
      reply = co_await Route(ctx, req, ClientOf(ctx, peer, peer_key, req));
    } catch (const std::exception& e) {
      // RunSql brings an exception of the SQL work here (a bad_alloc): one failed request, not a
      // dead process. The stream the request had is gone with its frame, its transaction rolled back.
      LH_LOG_ERROR("request {} failed with an exception: {}", std::string_view(req.target()), e.what());
      reply = ErrorReply(500, protocol::MakeError("INTERNAL_ERROR", std::string("The server failed: ") + e.what()));
    }
    LH_LOG_DEBUG("{} {} {} -> {}", peer_name, std::string_view(req.method_string()),
                 std::string_view(req.target()), reply.status);
    if (reply.cursor) {
      if (!co_await WriteCursorReply(ctx, stream, req, std::move(reply))) break;
      continue;
    }
    if (!co_await WriteReply(ctx, stream, req, std::move(reply))) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace litehouse::server
