// ServerContext: what every connection of the server shares, and the two awaitables that move work
// off the network threads (RunSql) and wait for the one writer without blocking a thread (AcquireWriter).
//
// Threading (see server/DESIGN.md): connections are coroutines on the network io_context; SQLite work
// runs on `sql_pool`, a separate thread pool, so a slow query never stalls the network threads.
// Waiting for the writer is asynchronous: a waiting request holds no thread at all.
#pragma once

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "engine/database.h"
#include "server/auth_gate.h"
#include "server/client_address.h"
#include "server/limits.h"
#include "server/stream_registry.h"

namespace litehouse::server {

namespace asio = boost::asio;

struct ServerOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  size_t max_request_body_bytes = 32 << 20;
  size_t max_response_bytes = 10'000'000;  // sqld's --max-response-size default, 10MB
  size_t max_streams = 10'000;             // open Hrana streams, HTTP and WebSocket together
  // Open streams of one client (address, see client_address.h); 0: a tenth of max_streams, at least 1.
  size_t max_streams_per_client = 0;
  // Open streams of one credential (Principal); 0: no such limit.
  size_t max_streams_per_token = 0;
  // Requests of one client waiting for the writer at once; more fail at once with WRITER_QUEUE_FULL.
  size_t max_writer_waits_per_client = 256;
  // Whose forwarded-client headers are believed (--trusted-proxy); empty: nobody's.
  TrustedProxies trusted_proxies;
  // Longest SQL text that store_sql keeps (--max-sql-length), and most bytes of stored SQL texts one
  // HTTP stream or one WebSocket connection keeps (--max-stored-sql-size).
  size_t max_sql_length = 16 << 20;
  size_t max_stored_sql_bytes = 16 << 20;
  std::chrono::milliseconds stream_expiry{10'000};
  std::chrono::milliseconds idle_connection_timeout{60'000};
  int sql_threads = 8;
  // Who may do what; the default is open, as sqld without keys.
  std::shared_ptr<const AuthGate> auth = std::make_shared<AuthGate>();
};

struct ServerContext {
  ServerContext(engine::Database& database, const ServerOptions& options)
      : db(database),
        opts(options),
        stream_limits(options.max_streams, StreamsPerClient(options), options.max_streams_per_token),
        writer_waits(options.max_writer_waits_per_client),
        streams(options.stream_expiry),
        sql_pool(static_cast<size_t>(options.sql_threads)) {}

  // --max-streams-per-client as set, or its default: a tenth of --max-streams, so that one client
  // cannot take every stream of the server.
  static size_t StreamsPerClient(const ServerOptions& o) {
    if (o.max_streams_per_client > 0) return o.max_streams_per_client;
    return std::max<size_t>(1, o.max_streams / 10);
  }

  engine::Database& db;
  const ServerOptions opts;
  // Before `streams`: the streams' slots give their places back to these when destroyed.
  StreamLimits stream_limits;  // every open stream, HTTP and WebSocket, holds a StreamSlot of it
  KeyedLimit writer_waits;     // per client key: requests waiting in AcquireWriter (stream_exec.h)
  StreamRegistry streams;
  asio::thread_pool sql_pool;
};

// Runs `fn` on the SQL pool and resumes the calling coroutine on its own executor with the result.
// `fn` lives in the caller's frame, which stays alive until the result is back.
template <typename Fn>
asio::awaitable<std::invoke_result_t<Fn&>> RunSql(ServerContext& ctx, Fn fn) {
  using R = std::invoke_result_t<Fn&>;
  auto ex = co_await asio::this_coro::executor;
  if constexpr (std::is_void_v<R>) {
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
        [&ctx, &fn, ex](auto handler) {
          asio::post(ctx.sql_pool, [&fn, ex, handler = std::move(handler)]() mutable {
            fn();
            asio::post(ex, std::move(handler));
          });
        },
        asio::use_awaitable);
  } else {
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
        [&ctx, &fn, ex](auto handler) {
          asio::post(ctx.sql_pool, [&fn, ex, handler = std::move(handler)]() mutable {
            R result = fn();
            asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
              std::move(handler)(std::move(result));
            });
          });
        },
        asio::use_awaitable);
  }
}

// Waits, without holding a thread, until the writer is granted to this coroutine.
asio::awaitable<engine::Lease> AcquireWriter(ServerContext& ctx);

}  // namespace litehouse::server
