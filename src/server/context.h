// ServerContext: what every connection of the server shares, and the two awaitables that move work
// off the network threads (RunSql) and wait for the one writer without blocking a thread (AcquireWriter).
//
// Threading (see server/DESIGN.md): connections are coroutines on the network io_context; SQLite work
// runs on `sql_pool`, a separate thread pool, so a slow query never stalls the network threads.
// Waiting for the writer is asynchronous: a waiting request holds no thread at all.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>

#include "engine/database.h"
#include "server/auth_gate.h"
#include "server/stream_registry.h"

namespace litehouse::server {

namespace asio = boost::asio;

struct ServerOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  size_t max_request_body_bytes = 32 << 20;
  size_t max_response_bytes = 10'000'000;  // sqld's --max-response-size default, 10MB
  // Responses a connection may have waiting for its client to read them: past half of it the server
  // stops reading that client's requests and starting its work; past it a WebSocket is closed 1008,
  // and an HTTP pipeline's further requests fail RESPONSE_TOO_LARGE. The CLI's default is
  // 4 x max_response_bytes.
  size_t max_queued_bytes_per_connection = 40'000'000;
  size_t max_streams = 10'000;             // open Hrana streams, HTTP and WebSocket together
  // Open client connections (HTTP and WebSocket); one more is answered 503 CONNECTIONS_EXHAUSTED and
  // closed. `litehouse serve` derives its default from the open-file limit.
  size_t max_connections = 10'000;
  std::chrono::milliseconds stream_expiry{10'000};
  std::chrono::milliseconds idle_connection_timeout{60'000};
  int sql_threads = 8;
  // Who may do what; the default is open, as sqld without keys.
  std::shared_ptr<const AuthGate> auth = std::make_shared<AuthGate>();
};

// A connection's place among --max-connections: the same counting slot as a stream's.
using ConnectionSlot = StreamSlot;

struct ServerContext {
  ServerContext(engine::Database& database, const ServerOptions& options)
      : db(database), opts(options), streams(options.stream_expiry), sql_pool(static_cast<size_t>(options.sql_threads)) {}

  engine::Database& db;
  const ServerOptions opts;
  StreamRegistry streams;
  std::atomic<size_t> open_streams{0};  // StreamSlot counts here
  std::atomic<size_t> open_connections{0};  // ConnectionSlot counts here
  asio::thread_pool sql_pool;
};

// Runs `fn` on the SQL pool and resumes the calling coroutine on its own executor with the result.
// `fn` lives in the caller's frame, which stays alive until the result is back. An exception `fn`
// throws (a std::bad_alloc while building a large result) must not escape a pool thread, where it
// would end the process: it is caught there and rethrown in the awaiting coroutine, whose session
// turns it into an error for its client.
template <typename Fn>
asio::awaitable<std::invoke_result_t<Fn&>> RunSql(ServerContext& ctx, Fn fn) {
  using R = std::invoke_result_t<Fn&>;
  using Value = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  auto ex = co_await asio::this_coro::executor;
  std::optional<Value> result = co_await asio::async_initiate<decltype(asio::use_awaitable),
                                                              void(std::exception_ptr, std::optional<Value>)>(
      [&ctx, &fn, ex](auto handler) {
        asio::post(ctx.sql_pool, [&fn, ex, handler = std::move(handler)]() mutable {
          std::exception_ptr error;
          std::optional<Value> value;
          try {
            if constexpr (std::is_void_v<R>) {
              fn();
              value.emplace();
            } else {
              value.emplace(fn());
            }
          } catch (...) {
            error = std::current_exception();
          }
          asio::post(ex, [handler = std::move(handler), error, value = std::move(value)]() mutable {
            std::move(handler)(error, std::move(value));
          });
        });
      },
      asio::use_awaitable);
  if constexpr (!std::is_void_v<R>) co_return std::move(*result);
}

// Waits, without holding a thread, until the writer is granted to this coroutine.
asio::awaitable<engine::Lease> AcquireWriter(ServerContext& ctx);

}  // namespace litehouse::server
