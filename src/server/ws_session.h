// Hrana over WebSocket: one connection upgraded from HTTP on the same port.
//
// The subprotocol picks version and encoding: hrana3-protobuf (binary frames), hrana3, hrana2,
// hrana1 (JSON text frames), preferred in that order whatever order the client offers them, as sqld
// does; no Sec-WebSocket-Protocol header means hrana1.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/context.h"

namespace litehouse::server {

// Takes over `stream` after `req`, an upgrade request: negotiates, accepts, serves until either side
// closes. A request offering only unknown subprotocols gets HTTP 400 and no upgrade. `client` is the
// connection's client key (client_address.h): its streams count against that client's limits.
asio::awaitable<void> RunWsSession(ServerContext& ctx, boost::beast::tcp_stream stream,
                                   boost::beast::http::request<boost::beast::http::string_body> req, std::string client);

}  // namespace litehouse::server
