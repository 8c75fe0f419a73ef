// gRPC-web over HTTP/1.1 on the HTTP port, as sqld serves its replication and write-forwarding
// services there for embedded replicas (tonic_web): `POST /wal_log.ReplicationLog/<Method>` (the
// log, replication/service.h) and `POST /proxy.Proxy/{Execute,Describe,Disconnect}` (an embedded
// replica's writes and transactions, run here on a stream per client_id: proxy_clients.h).
//
// Framing (the gRPC-web protocol): the request body is one or more frames, a flag byte (0 for a
// message), a big-endian u32 length, and the protobuf message; only the first message is read (every
// method here is unary in its request). The response is 200 with content type
// `application/grpc-web+proto` and a body of message frames followed by one trailer frame (flag 0x80)
// holding `grpc-status:N\r\ngrpc-message:...\r\n`; an error is a trailer frame alone.
//
// Auth: the token of `x-authorization` (what the libsql client sends) or `authorization`, checked
// by the same AuthGate as Hrana; a refusal is UNAUTHENTICATED "AuthError: ...". A read-only token
// may replicate (the log is only read), and its forwarded statements are read-only as over Hrana.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/http.hpp>

#include <string_view>

#include "server/context.h"
#include "server/hrana_http.h"

namespace litehouse::server {

// True for the paths this serves.
bool IsGrpcWebPath(std::string_view path);

// `client` is the request's client key (client_address.h), for the stream limits.
asio::awaitable<HttpReply> HandleGrpcWeb(ServerContext& ctx, const boost::beast::http::request<boost::beast::http::string_body>& req,
                                         std::string_view path, std::string client);

}  // namespace litehouse::server
