// One HTTP connection: a coroutine that reads requests, routes them and writes replies, keep-alive,
// until the peer closes, the idle timeout passes or a request cannot be framed.
#pragma once

#include <boost/asio.hpp>

#include "server/context.h"

namespace litehouse::server {

asio::awaitable<void> RunHttpSession(ServerContext& ctx, asio::ip::tcp::socket socket);

// A connection the server will not serve because --max-connections are open: answered at once, before
// its request is read, with 503 and a Hrana error body (code CONNECTIONS_EXHAUSTED), then closed once
// the peer has had a moment to read it. A WebSocket client sees the 503 as its handshake's answer.
asio::awaitable<void> RefuseConnection(ServerContext& ctx, asio::ip::tcp::socket socket);

}  // namespace litehouse::server
