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

namespace litehouse::server {

struct HttpReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Further response headers (name, value), beyond those every response carries.
  std::vector<std::pair<std::string, std::string>> headers = {};
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
// POST /v3/cursor, /v3-protobuf/cursor: the batch's entries as JSON lines or length-delimited messages.
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
