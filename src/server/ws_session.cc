#include "server/ws_session.h"

#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/websocket.hpp>

#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/log.h"
#include "common/strings.h"
#include "protocol/errors.h"
#include "protocol/ws_codec.h"
#include "server/cursor_run.h"
#include "server/replica_forward.h"
#include "server/stream_exec.h"

namespace litehouse::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using protocol::ClientMsg;
using protocol::CursorEntry;
using protocol::Error;
using protocol::MakeError;
using protocol::ServerMsg;
using protocol::WsRequest;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kMaxRequestsInFlight = 256;

struct Subproto {
  const char* name;
  int version;
  protocol::Encoding encoding;
};
// Server preference order, as sqld's.
constexpr Subproto kSubprotos[] = {{"hrana3-protobuf", 3, protocol::Encoding::kProtobuf},
                                   {"hrana3", 3, protocol::Encoding::kJson},
                                   {"hrana2", 2, protocol::Encoding::kJson},
                                   {"hrana1", 1, protocol::Encoding::kJson}};


// The chosen subprotocol, or null if the client offered only ones we do not speak.
const Subproto* Negotiate(std::string_view offered) {
  for (const Subproto& s : kSubprotos) {
    size_t pos = 0;
    while (pos <= offered.size()) {
      size_t comma = offered.find(',', pos);
      std::string_view item = offered.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (EqualsIgnoreCase(item, s.name)) return &s;
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
  }
  return nullptr;
}

struct WsConnection;

// One stream of a WebSocket connection. Its requests run one at a time, in arrival order, in a
// worker coroutine that exists while the queue is not empty; different streams run concurrently.
struct WsStream {
  WsStream(engine::Database& db, protocol::SqlStore* sqls, StreamSlot s) : slot(std::move(s)), stream(sqls), session(db) {}
  // A cursor's paused statement goes before the session gives its connection back. In service a
  // stream outlives its cursors' batches (PumpCursor holds it until Pump returns, the batch let go);
  // at shutdown the io_context destroys suspended coroutines instead, and a PumpCursor frame may
  // release the stream before its CursorRun (SIGSEGV in sqlite3_reset once the connection closed).
  ~WsStream() {
    for (auto& [id, run] : cursors) run->DropBatch();
    if (running_cursor) running_cursor->DropBatch();
  }
  StreamSlot slot;
  protocol::Stream stream;
  engine::Session session;  // holds a connection while a transaction is open
  // A list, not a deque: an empty deque already holds a 512-byte block, and most streams sit idle.
  std::list<std::pair<int32_t, WsRequest>> queue;
  bool running = false;
  // Its open cursors (by cursor id); at most one still runs its batch on the session: running_cursor.
  std::map<int32_t, std::shared_ptr<CursorRun>> cursors;
  std::shared_ptr<CursorRun> running_cursor;
  RemoteStream remote;  // on a read replica: the stream's stream on the primary
  // When the worker last went idle; a transaction idle past the stream expiry is rolled back and
  // the stream then answers TRANSACTION_TIMEOUT until it is closed (see ExpireIdleTransactions).
  Clock::time_point idle_since{};  // set when the stream opens (ServerContext::clock)
};

// Everything one connection owns. All of it is touched only on the network thread; the SQL pool
// sees a WsStream only inside RunOnStream, while its worker waits.
struct WsConnection {
  WsConnection(ServerContext& c, beast::tcp_stream s, const Subproto& sp, std::string client_key)
      : ctx(c), ws(std::move(s)), subproto(sp), codec(protocol::WsCodecFor(sp.encoding)), client(std::move(client_key)) {
    sqls.set_limits(c.opts.max_sql_length, c.opts.max_stored_sql_bytes, protocol::SqlStore::kMaxStoredSqlWs);
  }

  ServerContext& ctx;
  websocket::stream<beast::tcp_stream> ws;
  const Subproto& subproto;
  const protocol::WsCodec& codec;
  const std::string client;  // the client key (client_address.h) its streams count against
  protocol::SqlStore sqls;  // over WebSocket, stored SQL belongs to the connection
  std::map<int32_t, std::shared_ptr<WsStream>> streams;
  std::map<int32_t, std::shared_ptr<WsStream>> cursor_streams;  // cursor id -> the stream it runs on
  std::set<int32_t> requests_in_flight;
  // Back-pressure. The read loop waits on this timer while kMaxRequestsInFlight are unanswered or
  // the outbox holds half of --max-queued-bytes-per-connection (TCP then pushes back on the client,
  // as the spec asks); stream workers wait on it before starting a request while the outbox is that
  // full. Its expiry stays at max(): only cancel() wakes the waiters, on every response, every
  // message written and the connection's end; each waiter then checks its own condition again.
  asio::steady_timer capacity{ws.get_executor(), asio::steady_timer::time_point::max()};
  bool hello_done = false;
  // From the latest hello. The connection's streams are its own (ids are per connection), so a
  // re-hello with another token changes what the next requests may do, not who owns the streams.
  Principal principal;
  // Who the upgrade request's Authorization header named, if it carried a valid credential: a hello
  // without a JWT falls back to it.
  std::optional<Principal> header_principal;
  // The credential a replica relays with this connection's writes (replica_forward.h): "Bearer " and
  // the hello's JWT, or the upgrade request's Authorization header.
  std::string credential;
  std::string header_credential;
  bool closed = false;
  // Encoded messages not yet written, and their bytes (the one being written included).
  std::list<std::string> outbox;  // a list: empty (idle), it holds no memory
  std::string in_flight;          // the message being written (WriteNext), out of the outbox
  size_t outbox_bytes = 0;
  // Open cursors of all its streams: a new one's queue is its share of the connection's room
  // (CursorRun::BoundsFor).
  size_t open_cursors = 0;
  // What all its cursors' queues hold, within --max-queued-bytes-per-connection (CursorBudget).
  std::shared_ptr<CursorBudget> cursor_budget = std::make_shared<CursorBudget>(ctx.opts.max_queued_bytes_per_connection);
  bool writing = false;
  // Set when the outbox went past --max-queued-bytes-per-connection: the connection is closed 1008.
  bool overflowed = false;

  // True while the outbox is full enough that no more work should start (see `capacity`).
  bool OutboxFull() const { return outbox_bytes >= ctx.opts.max_queued_bytes_per_connection / 2; }
};

using ConnPtr = std::shared_ptr<WsConnection>;

// What a read replica relays with this connection's writes (replica_forward.h).
Relay RelayOf(const WsConnection& conn) {
  return Relay{conn.credential, conn.principal.grant == Grant::kReadOnly, conn.client + "|" + conn.principal.id, conn.client};
}

// Ends a stream's session on the SQL pool (a ROLLBACK may run there): closed, or `expired` (the
// stream then answers TRANSACTION_TIMEOUT until it is closed).
void EndSession(ServerContext& ctx, const std::shared_ptr<WsStream>& s, int32_t stream_id, const char* why,
                bool expired = false) {
  if (!s->session.in_transaction()) return;  // nothing held between requests
  LH_LOG_WARN("websocket stream {} {} with a transaction open: rolling it back", stream_id, why);
  asio::post(ctx.sql_pool, [s, expired] {
    if (expired) s->session.Expire();
    else s->session.Close();
  });
}

// Marks the connection closed and wakes everything that waits on it.
void MarkClosed(const ConnPtr& conn) {
  conn->closed = true;
  conn->capacity.cancel();
}

// Writes the outbox's messages in order, one at a time, until it is empty. A chain of completion
// handlers rather than a coroutine: a response costs no co_spawn and no coroutine frame.
void WriteNext(ConnPtr conn) {
  if (conn->outbox.empty() || conn->closed) {
    conn->writing = false;
    conn->capacity.cancel();
    return;
  }
  conn->writing = true;
  conn->in_flight = std::move(conn->outbox.front());
  conn->outbox.pop_front();
  WsConnection& c = *conn;
  c.ws.async_write(asio::buffer(c.in_flight), [conn = std::move(conn)](const beast::error_code& ec, size_t) mutable {
    conn->outbox_bytes -= conn->in_flight.size();
    conn->in_flight = std::string();  // its memory too: an idle connection keeps none
    conn->capacity.cancel();
    if (ec) MarkClosed(conn);
    WriteNext(std::move(conn));
  });
}

// A client that does not read its responses, past --max-queued-bytes-per-connection: what is queued
// is dropped at once, and the connection is closed with 1008 once the message being written (if
// any) is out. A peer that reads nothing at all never takes that message: it is cut after a while.
asio::awaitable<void> CloseOverflowed(ConnPtr conn) {
  constexpr auto kWriteWait = std::chrono::seconds(30);
  asio::steady_timer deadline(conn->ws.get_executor(), kWriteWait);
  deadline.async_wait([weak = std::weak_ptr<WsConnection>(conn)](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto c = weak.lock(); c && c->writing) {
      boost::system::error_code ignored;
      beast::get_lowest_layer(c->ws).socket().close(ignored);
    }
  });
  while (conn->writing) co_await conn->capacity.async_wait(kTuple);
  deadline.cancel();
  std::string reason = "More than " + std::to_string(conn->ctx.opts.max_queued_bytes_per_connection) +
                       " bytes of responses queued: the client does not read them";
  co_await conn->ws.async_close(websocket::close_reason(websocket::close_code::policy_error, reason.substr(0, 120)), kTuple);
}

void Send(const ConnPtr& conn, const ServerMsg& msg) {
  if (conn->closed) return;
  std::string encoded = conn->codec.EncodeServerMsg(msg);
  const size_t limit = conn->ctx.opts.max_queued_bytes_per_connection;
  // One message alone may exceed the limit (it is bounded by --max-response-size); a message that
  // would take a non-empty queue past it ends the connection.
  if (conn->outbox_bytes > 0 && conn->outbox_bytes + encoded.size() > limit) {
    LH_LOG_WARN("closing a websocket connection (1008): its client left more than {} bytes of responses unread",
                limit);
    for (const std::string& queued : conn->outbox) conn->outbox_bytes -= queued.size();
    conn->outbox.clear();
    conn->overflowed = true;
    MarkClosed(conn);
    asio::co_spawn(conn->ws.get_executor(), CloseOverflowed(conn), asio::detached);
    return;
  }
  conn->outbox_bytes += encoded.size();
  conn->outbox.push_back(std::move(encoded));
  if (!conn->writing) WriteNext(conn);
}

void Answered(const ConnPtr& conn, int32_t request_id) {
  conn->requests_in_flight.erase(request_id);
  conn->capacity.cancel();
}

void Respond(const ConnPtr& conn, int32_t request_id, protocol::WsResponse response) {
  Answered(conn, request_id);
  ServerMsg msg;
  msg.type = ServerMsg::Type::kResponseOk;
  msg.request_id = request_id;
  msg.response = std::move(response);
  Send(conn, msg);
}

void RespondError(const ConnPtr& conn, int32_t request_id, Error error) {
  Answered(conn, request_id);
  ServerMsg msg;
  msg.type = ServerMsg::Type::kResponseError;
  msg.request_id = request_id;
  msg.error = std::move(error);
  Send(conn, msg);
}

// Stops every cursor of `s` and waits until none runs its batch on the stream's session.
asio::awaitable<void> CloseCursors(ConnPtr conn, std::shared_ptr<WsStream> s) {
  conn->open_cursors -= std::min(conn->open_cursors, s->cursors.size());
  for (auto& [id, run] : s->cursors) run->Close();
  s->cursors.clear();
  if (std::shared_ptr<CursorRun> run = s->running_cursor) {
    run->Close();
    co_await run->WaitStopped();
  }
}

// Makes the rest of a cursor's entries (CursorRun::Pump) on the stream's session. The stream's
// worker does not touch the session meanwhile (CURSOR_OPEN), and a closed connection ends the
// session only after this (EndSession needs the statement gone).
asio::awaitable<void> PumpCursor(ConnPtr conn, std::shared_ptr<WsStream> s, std::shared_ptr<CursorRun> run) {
  co_await run->Pump(s->session);
  if (s->running_cursor == run) s->running_cursor.reset();
  s->idle_since = conn->ctx.clock.Now();
  if (conn->closed && !s->running) EndSession(conn->ctx, s, -1, "left open by a closed connection,");
}

// Runs one queued request of `s`.
asio::awaitable<void> RunRequest(ConnPtr conn, std::shared_ptr<WsStream> s, int32_t request_id, WsRequest req) {
  ServerContext& ctx = conn->ctx;
  const bool touches_session = req.type != WsRequest::Type::kCloseStream && req.type != WsRequest::Type::kFetchCursor &&
                               req.type != WsRequest::Type::kCloseCursor;
  if (auto ended = s->session.ended(); ended != engine::Session::Ended::kNo && touches_session) {
    // Never let the client's next statement run in autocommit as if its transaction were still open.
    // A cursor's entries are only its queue: what its batch made before it was ended can be fetched.
    RespondError(conn, request_id, TransactionEnded(ctx, ended));
    co_return;
  }
  protocol::WsResponse response;
  response.type = req.type;
  switch (req.type) {
    case WsRequest::Type::kCloseStream:
      s->slot = StreamSlot();  // its place among the stream limits is free now, not once the pool gets to it
      CloseRemote(ctx, s->remote, RelayOf(*conn));
      co_await CloseCursors(conn, s);  // their statements let go before the session ends
      EndSession(ctx, s, req.stream_id, "closed");
      Respond(conn, request_id, std::move(response));
      co_return;
    case WsRequest::Type::kFetchCursor: {
      auto it = s->cursors.find(req.cursor_id);
      if (it == s->cursors.end()) {
        RespondError(conn, request_id, MakeError("CURSOR_NOT_FOUND", "Cursor " + std::to_string(req.cursor_id) + " is closed"));
        co_return;
      }
      // Waits for the batch to make the entries asked for (or what fits in one page), holding no
      // thread; a page is at most the cursor's queue, so the outbox stays bounded.
      std::shared_ptr<CursorRun> run = it->second;
      co_await run->WaitForEntries(req.max_count, run->bounds().queue_bytes);
      response.entries = run->Take(req.max_count, run->bounds().queue_bytes);
      response.done = run->exhausted();
      Respond(conn, request_id, std::move(response));
      co_return;
    }
    case WsRequest::Type::kCloseCursor:
      if (auto it = s->cursors.find(req.cursor_id); it != s->cursors.end()) {
        std::shared_ptr<CursorRun> run = std::move(it->second);
        s->cursors.erase(it);
        --conn->open_cursors;
        // The stream is free for its next request once the batch has let go of the session.
        run->Close();
        co_await run->WaitStopped();
      } else if (std::shared_ptr<CursorRun> run = s->running_cursor; run && run->closed()) {
        // Closed while its open_cursor ran its first slice (see below): free once its batch stopped.
        co_await run->WaitStopped();
      }
      Respond(conn, request_id, std::move(response));
      co_return;
    default: break;
  }
  if (std::shared_ptr<CursorRun> run = s->running_cursor; run && run->running() && run->closed()) {
    // Its close_cursor came while open_cursor ran the first slice (Dispatch forgot the cursor at
    // once): the client sent this request after closing it, so it waits until the batch let go of
    // the session rather than being refused.
    co_await run->WaitStopped();
  }
  if (s->running_cursor && s->running_cursor->running()) {
    // Hrana 3: after open_cursor, no request on the stream until the cursor is closed. Its batch
    // still runs on the stream's session, so nothing else may.
    RespondError(conn, request_id,
                 MakeError("CURSOR_OPEN", "Stream " + std::to_string(req.stream_id) +
                                              " has a cursor still running its batch; close it (close_cursor) before sending "
                                              "other requests on the stream"));
    co_return;
  }
  // Only here, where no cursor's slice can be reading the stream on the SQL pool.
  s->stream.set_read_only(conn->principal.grant == Grant::kReadOnly);
  if (req.type == WsRequest::Type::kOpenCursor) {
    if (conn->cursor_budget->used.load() >= conn->cursor_budget->limit) {
      // The connection's cursors hold all the room it has: a new one could not make a row.
      RespondError(conn, request_id,
                   MakeError("RESPONSE_TOO_LARGE", "The open cursors of this connection hold more than " +
                                                       std::to_string(conn->cursor_budget->limit) +
                                                       " bytes of entries (--max-queued-bytes-per-connection); fetch or "
                                                       "close them first"));
      co_return;
    }
    auto run = std::make_shared<CursorRun>(ctx, CursorRun::BoundsFor(ctx.opts, conn->open_cursors), conn->cursor_budget);
    const Relay relay = RelayOf(*conn);
    std::optional<protocol::Error> refused = co_await run->Open(*s, conn->sqls, req.stream_request, relay);
    if (refused) {
      RespondError(conn, request_id, std::move(*refused));
      co_return;
    }
    if (conn->closed || !conn->streams.count(req.stream_id) || conn->streams.at(req.stream_id) != s ||
        !conn->cursor_streams.count(req.cursor_id)) {
      // The connection, the stream or the cursor went while the first slice ran: stop at once.
      run->Close();
    } else {
      s->cursors[req.cursor_id] = run;
      ++conn->open_cursors;
    }
    if (run->running()) {
      s->running_cursor = run;
      asio::co_spawn(conn->ws.get_executor(), PumpCursor(conn, s, run), LogSpawnFailure);
    }
    Respond(conn, request_id, std::move(response));
    co_return;
  }
  // execute, batch, sequence, describe, get_autocommit: the stream-level request, as over HTTP.
  const Relay relay = RelayOf(*conn);
  protocol::StreamResult result = co_await RunStreamRequest(ctx, *s, conn->sqls, req.stream_request, relay);
  if (!result.ok) {
    RespondError(conn, request_id, std::move(result.error));
  } else {
    response.stream_response = std::move(result.response);
    Respond(conn, request_id, std::move(response));
  }
}

asio::awaitable<void> RunStreamWorker(ConnPtr conn, std::shared_ptr<WsStream> s) {
  s->running = true;
  while (!s->queue.empty() && !conn->closed) {
    // Back-pressure: no new work while the client has not taken what is already queued for it.
    if (conn->OutboxFull()) {
      co_await conn->capacity.async_wait(kTuple);
      continue;
    }
    auto [request_id, req] = std::move(s->queue.front());
    s->queue.pop_front();
    try {
      co_await RunRequest(conn, s, request_id, std::move(req));
    } catch (const std::exception& e) {
      // An exception of the SQL work (a bad_alloc), brought here by RunSql, whatever the request
      // (execute, batch, open_cursor...): that request fails, and the stream goes on with the next.
      LH_LOG_ERROR("a WebSocket request failed with an exception: {}", e.what());
      RespondError(conn, request_id, MakeError("INTERNAL_ERROR", std::string("The server failed: ") + e.what()));
    }
  }
  s->running = false;
  s->idle_since = conn->ctx.clock.Now();
  if (conn->closed) {
    s->queue.clear();
    for (auto& [id, run] : s->cursors) run->Close();
    if (s->running_cursor) s->running_cursor->Close();  // PumpCursor ends the session when it stops
    else EndSession(conn->ctx, s, -1, "left open by a closed connection,");
  }
}

void Enqueue(const ConnPtr& conn, const std::shared_ptr<WsStream>& s, int32_t request_id, WsRequest req) {
  s->queue.emplace_back(request_id, std::move(req));
  if (!s->running) asio::co_spawn(conn->ws.get_executor(), RunStreamWorker(conn, s), asio::detached);
}

// Rolls back the transactions that streams of `conn` have held idle for longer than the stream
// expiry (the HTTP streams' --stream-expiry-ms): an idle client must not keep the writer from
// everyone. Runs on the network thread, where a stream's lease is only touched while its worker is
// idle, so nothing else can be using the connection.
asio::awaitable<void> ExpireIdleTransactions(std::weak_ptr<WsConnection> weak) {
  while (true) {
    auto conn = weak.lock();
    if (!conn || conn->closed) co_return;
    asio::steady_timer tick(conn->ws.get_executor(), std::chrono::milliseconds(250));
    conn.reset();  // do not keep the connection alive while waiting
    co_await tick.async_wait(kTuple);
    conn = weak.lock();
    if (!conn || conn->closed) co_return;
    auto now = conn->ctx.clock.Now();
    for (auto& [id, s] : conn->streams) {
      // A stream whose cursor runs is the cursor's to expire (CursorRun::Pump).
      if (!s->running && !s->running_cursor && s->queue.empty() && now - s->idle_since > conn->ctx.opts.stream_expiry &&
          s->session.in_transaction()) {
        EndSession(conn->ctx, s, id, "expired", /*expired=*/true);
      }
    }
  }
}

// A protocol violation: what to close the connection with.
struct Violation {
  websocket::close_code code;
  std::string reason;
};

// Handles one request message; a protocol violation is returned, everything else is answered.
std::optional<Violation> Dispatch(const ConnPtr& conn, int32_t request_id, WsRequest req) {
  auto policy = [](std::string reason) { return Violation{websocket::close_code::policy_error, std::move(reason)}; };
  if (!conn->requests_in_flight.insert(request_id).second) {
    return policy("Request id " + std::to_string(request_id) + " is already in use");
  }
  auto stream_of = [&](int32_t id) -> std::shared_ptr<WsStream> {
    auto it = conn->streams.find(id);
    return it == conn->streams.end() ? nullptr : it->second;
  };
  protocol::WsResponse response;
  response.type = req.type;
  switch (req.type) {
    case WsRequest::Type::kOpenStream:
    {
      if (conn->streams.count(req.stream_id)) return policy("Stream " + std::to_string(req.stream_id) + " already exists");
      Error refusal;
      unsigned http_status = 0;
      StreamSlot slot = TakeStreamSlot(conn->ctx, conn->client, conn->principal, &refusal, &http_status);
      if (!slot) {
        RespondError(conn, request_id, std::move(refusal));
        return std::nullopt;
      }
      auto s = std::make_shared<WsStream>(conn->ctx.db, &conn->sqls, std::move(slot));
      s->idle_since = conn->ctx.clock.Now();
      s->stream.set_max_response_bytes(conn->ctx.opts.max_response_bytes);
      conn->streams.emplace(req.stream_id, std::move(s));
      Respond(conn, request_id, std::move(response));
      return std::nullopt;
    }
    case WsRequest::Type::kCloseStream: {
      auto s = stream_of(req.stream_id);
      if (!s) return policy("Stream " + std::to_string(req.stream_id) + " not found");
      // Gone from the id space now (the id may be reused at once); closed after its queued requests.
      conn->streams.erase(req.stream_id);
      for (auto it = conn->cursor_streams.begin(); it != conn->cursor_streams.end();) {
        it = it->second == s ? conn->cursor_streams.erase(it) : std::next(it);
      }
      Enqueue(conn, s, request_id, std::move(req));
      return std::nullopt;
    }
    case WsRequest::Type::kStoreSql: {
      const auto& sr = req.stream_request;
      if (!sr.sql_id || !sr.sql) return policy("store_sql needs 'sql_id' and 'sql'");
      if (conn->sqls.Find(*sr.sql_id)) return policy("SQL text " + std::to_string(*sr.sql_id) + " already exists");
      if (auto err = conn->sqls.Store(*sr.sql_id, *sr.sql)) {
        RespondError(conn, request_id, std::move(*err));
      } else {
        response.stream_response.type = protocol::StreamRequest::Type::kStoreSql;
        Respond(conn, request_id, std::move(response));
      }
      return std::nullopt;
    }
    case WsRequest::Type::kCloseSql:
      if (req.stream_request.sql_id) conn->sqls.Close(*req.stream_request.sql_id);
      response.stream_response.type = protocol::StreamRequest::Type::kCloseSql;
      Respond(conn, request_id, std::move(response));
      return std::nullopt;
    case WsRequest::Type::kFetchCursor:
    case WsRequest::Type::kCloseCursor: {
      auto it = conn->cursor_streams.find(req.cursor_id);
      if (it == conn->cursor_streams.end()) return policy("Cursor " + std::to_string(req.cursor_id) + " not found");
      auto s = it->second;
      if (req.type == WsRequest::Type::kCloseCursor) conn->cursor_streams.erase(it);
      Enqueue(conn, s, request_id, std::move(req));
      return std::nullopt;
    }
    default: break;
  }
  // Requests on a stream: execute, batch, open_cursor, sequence, describe, get_autocommit.
  auto s = stream_of(req.stream_id);
  if (!s) return policy("Stream " + std::to_string(req.stream_id) + " not found");
  if (req.type == WsRequest::Type::kOpenCursor) {
    if (conn->cursor_streams.count(req.cursor_id)) return policy("Cursor " + std::to_string(req.cursor_id) + " already exists");
    conn->cursor_streams.emplace(req.cursor_id, s);
  }
  protocol::InlineStoredSql(conn->sqls, &req.stream_request);
  Enqueue(conn, s, request_id, std::move(req));
  return std::nullopt;
}

}  // namespace

asio::awaitable<void> RunWsSession(ServerContext& ctx, beast::tcp_stream stream, http::request<http::string_body> req,
                                   std::string client) {
  const Subproto* subproto = &kSubprotos[3];  // no header: hrana1
  bool offered = req.find(http::field::sec_websocket_protocol) != req.end();
  if (offered) {
    subproto = Negotiate(req[http::field::sec_websocket_protocol]);
    if (!subproto) {
      http::response<http::string_body> res{http::status::bad_request, req.version()};
      res.set(http::field::content_type, "text/plain");
      res.body() = "Only these WebSocket subprotocols are supported: hrana3-protobuf hrana3 hrana2 hrana1";
      res.keep_alive(false);
      res.prepare_payload();
      co_await http::async_write(stream, res, kTuple);
      co_return;
    }
  }
  stream.expires_never();  // the websocket stream's own timeouts take over
  auto conn = std::make_shared<WsConnection>(ctx, std::move(stream), *subproto, std::move(client));
  if (auto auth = req.find(http::field::authorization); auth != req.end()) {
    Principal who;
    if (!ctx.opts.auth->CheckHeader(auth->value(), &who)) {
      conn->header_principal = std::move(who);
      conn->header_credential = std::string(auth->value());
    }
  }
  auto& ws = conn->ws;
  websocket::stream_base::timeout timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeouts.idle_timeout = std::chrono::seconds(60);  // with pings at half of it: only a dead peer is dropped
  timeouts.keep_alive_pings = true;
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator([name = subproto->name, offered](websocket::response_type& res) {
    res.set(http::field::server, "litehouse");
    if (offered) res.set(http::field::sec_websocket_protocol, name);
  }));
  ws.read_message_max(ctx.opts.max_request_body_bytes);
  ws.binary(subproto->encoding == protocol::Encoding::kProtobuf);
  auto [aec] = co_await ws.async_accept(req, kTuple);
  if (aec) co_return;
  req = {};  // the upgrade request's headers are not needed again: an idle connection keeps little
  asio::co_spawn(ws.get_executor(), ExpireIdleTransactions(conn), asio::detached);
  LH_LOG_DEBUG("websocket connection accepted, subprotocol {}", subproto->name);

  beast::flat_buffer buffer;
  std::optional<Violation> violation;
  while (!conn->closed) {
    while ((conn->requests_in_flight.size() >= kMaxRequestsInFlight || conn->OutboxFull()) && !conn->closed) {
      co_await conn->capacity.async_wait(kTuple);
    }
    if (conn->closed) break;
    buffer.clear();
    auto [ec, n] = co_await ws.async_read(buffer, kTuple);
    if (ec) {
      // message_too_big: Beast has already sent close 1009. Anything else: the peer is gone.
      break;
    }
    bool binary_expected = subproto->encoding == protocol::Encoding::kProtobuf;
    if (ws.got_text() == binary_expected) {
      violation = Violation{websocket::close_code::unknown_data,
                            binary_expected ? "Text frames are not allowed with hrana3-protobuf"
                                            : "Binary frames are not allowed with a JSON subprotocol"};
      break;
    }
    std::string_view data(static_cast<const char*>(buffer.data().data()), buffer.size());
    auto msg = conn->codec.ParseClientMsg(data);
    if (!msg.ok()) {
      violation = Violation{websocket::close_code::bad_payload, msg.status().message()};
      break;
    }
    if (msg->type == ClientMsg::Type::kHello) {
      if (conn->hello_done && subproto->version < 2) {
        violation = Violation{websocket::close_code::policy_error,
                              "Repeated hello message is only supported in protocol version hrana2 and higher"};
        break;
      }
      Principal who;
      std::optional<AuthRefusal> refusal;
      if (msg->jwt || !conn->header_principal) refusal = ctx.opts.auth->CheckJwt(msg->jwt, &who);
      else who = *conn->header_principal;
      if (refusal) {
        // The spec: answer hello_error, ignore everything after it, close.
        ServerMsg error{ServerMsg::Type::kHelloError};
        error.error = MakeError(refusal->code, refusal->message);
        Send(conn, error);
        violation = Violation{websocket::close_code::policy_error, refusal->message};
        break;
      }
      conn->principal = std::move(who);
      conn->credential = msg->jwt ? "Bearer " + *msg->jwt : conn->header_credential;
      conn->hello_done = true;
      Send(conn, ServerMsg{ServerMsg::Type::kHelloOk});
      continue;
    }
    if (!conn->hello_done) {
      violation = Violation{websocket::close_code::policy_error, "The first message must be a hello"};
      break;
    }
    violation = Dispatch(conn, msg->request_id, std::move(msg->request));
    if (violation) break;
  }
  if (violation && !conn->overflowed) {
    LH_LOG_DEBUG("closing a websocket connection: {}", violation->reason);
    // Responses already queued go out first; then the close frame.
    while (conn->writing && !conn->closed) co_await conn->capacity.async_wait(kTuple);
    MarkClosed(conn);  // nothing more is sent after the close frame
    std::string reason = violation->reason.substr(0, 120);  // a close frame's reason is at most 123 bytes
    co_await ws.async_close(websocket::close_reason(violation->code, reason), kTuple);
  }
  MarkClosed(conn);
  // Streams whose worker is idle give their connections back now; running workers do it when they end.
  for (auto& [id, s] : conn->streams) {
    CloseRemote(ctx, s->remote, RelayOf(*conn));
    for (auto& [cursor_id, run] : s->cursors) run->Close();
    // A running worker or cursor ends the session when it stops.
    if (s->running_cursor) s->running_cursor->Close();
    else if (!s->running) EndSession(ctx, s, id, "left open by a closed connection,");
  }
  conn->streams.clear();
  conn->cursor_streams.clear();
}

}  // namespace litehouse::server
