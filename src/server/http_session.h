// One HTTP connection: a coroutine that reads requests, routes them and writes replies, keep-alive,
// until the peer closes, the idle timeout passes or a request cannot be framed.
#pragma once

#include <boost/asio.hpp>

#include "server/context.h"

namespace litehouse::server {

asio::awaitable<void> RunHttpSession(ServerContext& ctx, asio::ip::tcp::socket socket);

}  // namespace litehouse::server
