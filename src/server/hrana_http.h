// Hrana over HTTP (HRANA_3_SPEC.md "HTTP"): the pipeline and cursor endpoints, and sqld's legacy
// `POST /` API. Transport-neutral replies; http_session.cc puts them on the wire.
#pragma once

#include <boost/asio.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/codec.h"
#include "server/context.h"
#include "server/cursor_run.h"

namespace litehouse::server {

class HttpCursorBody;

struct HttpReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Further response headers (name, value), beyond those every response carries.
  std::vector<std::pair<std::string, std::string>> headers = {};
  // A cursor still running: `body` is the start of the response, and the rest comes from here as its
  // batch makes it (http_session.cc writes it as chunks).
  std::shared_ptr<HttpCursorBody> cursor = nullptr;
};

// The rest of an HTTP cursor's response, made as the client takes it: the cursor's queue between the
// batch, which runs on the stream's session in slices (cursor_run.h), and the socket. Owns the stream
// meanwhile; the head of the response already named the baton it is parked under when done.
// Network thread only.
class HttpCursorBody : public std::enable_shared_from_this<HttpCursorBody> {
 public:
  HttpCursorBody(ServerContext& ctx, const protocol::Codec& codec, std::unique_ptr<HttpStream> stream,
                 std::shared_ptr<CursorRun> run, std::string baton);
  // Starts making the entries after the first slice (CursorRun::Pump). Once.
  void Start();
  // The next piece of the body, encoded; empty once every entry was given.
  asio::awaitable<std::string> Next();
  // The response is over, written whole or not (the client left): stops the batch if it still runs,
  // waits until it has let go of the session, and parks the stream under its baton.
  asio::awaitable<void> Finish();

 private:
  ServerContext& ctx_;
  const protocol::Codec& codec_;
  std::unique_ptr<HttpStream> stream_;
  std::shared_ptr<CursorRun> run_;  // after stream_: destroyed first, its statement before the session
  std::string baton_;
};

// Who sent an HTTP request: the credential it carried and the client it came from (its key for the
// per-client limits, client_address.h).
struct Caller {
  Principal principal;
  std::string client;
  // The Authorization header as it came (empty: none): a read replica relays it with the writes it
  // sends to its primary (replica_forward.h).
  std::string credential = {};
};

// A Hrana error body, {"message": ..., "code": ...}, with HTTP status `status`.
HttpReply ErrorReply(unsigned status, const protocol::Error& error);

// POST /v2/pipeline, /v3/pipeline (JSON), /v3-protobuf/pipeline (Protobuf).
asio::awaitable<HttpReply> HandlePipeline(ServerContext& ctx, std::string body, protocol::Encoding encoding, Caller caller);
// POST /v3/cursor, /v3-protobuf/cursor: the batch's entries as JSON lines or length-delimited messages,
// streamed: a reply with `cursor` set when the batch did not end in its first slice.
asio::awaitable<HttpReply> HandleCursor(ServerContext& ctx, std::string body, protocol::Encoding encoding, Caller caller);
// POST /: {"statements": [...]}, run as one transaction.
asio::awaitable<HttpReply> HandleLegacy(ServerContext& ctx, std::string body, Caller caller);

// POST /v1/execute and /v1/batch: Hrana over HTTP version 1, one statement or batch on a fresh stream.
enum class V1Endpoint { kExecute, kBatch };
asio::awaitable<HttpReply> HandleV1(ServerContext& ctx, std::string body, V1Endpoint endpoint, Caller caller);

// The pieces of an HTTP stream's life, for the handlers here and in grpc_web.cc:
// a new stream of `caller`, or null with *reply set when a stream limit is full;
std::unique_ptr<HttpStream> NewStream(ServerContext& ctx, const Caller& caller, HttpReply* reply);
// parked again under a fresh baton, returned; or disposed of, with *reply set, if none can be made;
std::optional<std::string> Park(ServerContext& ctx, std::unique_ptr<HttpStream> s, HttpReply* reply);
// closed: forgotten, its transaction rolled back.
void DisposeOne(ServerContext& ctx, std::unique_ptr<HttpStream> s, const char* why);

// Rolls back and releases what expired or abandoned streams hold, on the SQL pool.
void DisposeStreams(ServerContext& ctx, std::vector<std::unique_ptr<HttpStream>> streams, const char* why);

}  // namespace litehouse::server
