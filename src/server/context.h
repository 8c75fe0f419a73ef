// ServerContext: what every connection of the server shares, and the awaitable that moves work off
// the network threads (RunSql). Waiting for the write lock without blocking a thread is LockWrite
// (stream_exec.h).
//
// Threading (see server/DESIGN.md): connections are coroutines on the network io_context; SQLite work
// runs on `sql_pool`, a separate thread pool, so a slow query never stalls the network threads.
// Waiting for the write lock is asynchronous: a waiting request holds no thread at all.
#pragma once

#include <boost/asio.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "engine/database.h"
#include "replication/service.h"
#include "server/auth_gate.h"
#include "server/client_address.h"
#include "server/limits.h"
#include "server/primary_link.h"
#include "server/proxy_clients.h"
#include "server/replica_peers.h"
#include "server/stream_registry.h"

namespace litehouse::server {

namespace asio = boost::asio;

struct ServerOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  // A second listener (--grpc-listen-addr, where sqld serves replication) with the same handlers;
  // empty host: none.
  std::string grpc_listen_host;
  uint16_t grpc_listen_port = 0;
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
  // A long read paced by its client (GET /dump, a streamed cursor in autocommit) holds one snapshot
  // for as long as the client takes, and no checkpoint can pass it: past this many frames appended to
  // the WAL since it began, the read is ended (a dump's body cut short, a cursor's batch ended with an
  // error entry) so that checkpoints go on (--max-snapshot-wal-growth-frames); 0: never.
  int64_t max_snapshot_wal_growth_frames = 65'536;
  std::chrono::milliseconds idle_connection_timeout{60'000};
  int sql_threads = 8;
  // How long a short request may run on the network thread before it is interrupted and run again on
  // the SQL pool (stream_exec.h); 0: every request runs on the pool.
  std::chrono::microseconds inline_budget{1000};
  // Who may do what; the default is open, as sqld without keys.
  std::shared_ptr<const AuthGate> auth = std::make_shared<AuthGate>();
  // sqld's replication service, served as gRPC-web on the HTTP port (grpc_web.h); null: none, and
  // its paths are 404 as any unknown path.
  std::shared_ptr<const replication::ReplicationService> replication;
  // On a read replica (--primary-url): writes and transactions go to the primary, reads wait for
  // the replica's progress; null on a primary.
  std::shared_ptr<const ReplicaLink> replica;
  // Turns this replica into a primary (POST /replication/promote): stops the tail, starts a new
  // history of the log and returns its service; run on the SQL pool. Null: not a replica.
  std::function<Result<std::shared_ptr<const replication::ReplicationService>>()> promote;
  // GET /backup/status's JSON body, made by whoever keeps the backups (the binary); null: the
  // server keeps none, and says so ({"backups": []}).
  std::function<std::string()> backup_status;
  // Where stream expiry reads the time (HTTP streams, WebSocket transactions); null: Clock::Steady().
  // Must outlive the server.
  const Clock* clock = nullptr;
};

// Wakes coroutines waiting for progress made elsewhere: a commit on the primary (LogEntries waits for
// the next frame), a batch applied on a replica (reads wait for their index). Notify may be called
// from any thread; WaitUntil runs on the network thread (one thread: the io_context of Server).
class ProgressSignal {
 public:
  void Bind(asio::any_io_executor ex) { ex_ = std::move(ex); }
  void Notify() {
    // A waiter counts itself before it checks its condition, and this reads the count after the
    // progress was made: one of the two sees the other.
    if (waiters_.load() == 0 || !ex_) return;
    asio::post(ex_, [this] {
      for (asio::steady_timer* t : timers_) t->cancel();
    });
  }
  // Returns once `done()` holds, or at `deadline`.
  template <typename Done>
  asio::awaitable<void> WaitUntil(Done done, std::chrono::steady_clock::time_point deadline) {
    ++waiters_;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timers_.push_back(&timer);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      timer.expires_at(deadline);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    timers_.erase(std::find(timers_.begin(), timers_.end(), &timer));
    --waiters_;
  }

 private:
  asio::any_io_executor ex_;
  std::atomic<int> waiters_{0};
  std::vector<asio::steady_timer*> timers_;  // the network thread's only
};

// A connection's place among --max-connections (ServerContext::connections).
using ConnectionSlot = KeyedLimit::Ticket;

struct ServerContext {
  ServerContext(engine::Database& database, const ServerOptions& options)
      : db(database),
        opts(options),
        clock(options.clock ? *options.clock : Clock::Steady()),
        stream_limits(options.max_streams, StreamsPerClient(options), options.max_streams_per_token),
        writer_waits(options.max_writer_waits_per_client),
        paused_cursors(PausedCursorsPerClient(database)),
        connections(options.max_connections),
        streams(database, options.stream_expiry, clock),
        sql_pool(static_cast<size_t>(options.sql_threads)),
        replica_(opts.replica.get()),
        replication_(opts.replication.get()) {}

  // --max-streams-per-client as set, or its default: a tenth of --max-streams, so that one client
  // cannot take every stream of the server.
  static size_t StreamsPerClient(const ServerOptions& o) {
    if (o.max_streams_per_client > 0) return o.max_streams_per_client;
    return std::max<size_t>(1, o.max_streams / 10);
  }

  // How many autocommit cursors of one client may be paused at once, each keeping a database
  // connection between its slices (cursor_run.h): half of --max-db-connections (at least 1), so that
  // one client's cursors cannot take every connection the others need; no bound when that is
  // unbounded. (A transaction's connection is bounded by the stream expiry and the client's streams.)
  static size_t PausedCursorsPerClient(const engine::Database& db) {
    if (db.max_connections() == 0) return std::numeric_limits<size_t>::max();
    return std::max<size_t>(1, db.max_connections() / 2);
  }

  // The node's role: a replica's link to its primary (null on a primary), and the replication log's
  // service (null on a replica). A promotion switches both, once (Promote); what a request read
  // before stays alive as long as the server.
  const ReplicaLink* replica() const { return replica_.load(std::memory_order_acquire); }
  const replication::ReplicationService* replication() const { return replication_.load(std::memory_order_acquire); }
  void Promote(std::shared_ptr<const replication::ReplicationService> service) {
    promoted_service_ = std::move(service);
    replication_.store(promoted_service_.get(), std::memory_order_release);
    replica_.store(nullptr, std::memory_order_release);
  }

  engine::Database& db;
  const ServerOptions opts;
  const Clock& clock;
  // Before `streams`: the streams' slots give their places back to these when destroyed.
  StreamLimits stream_limits;  // every open stream, HTTP and WebSocket, holds a StreamSlot of it
  KeyedLimit writer_waits;     // per client key: requests waiting for the write lock (stream_exec.h)
  KeyedLimit paused_cursors;   // per client key: cursors paused holding a connection (cursor_run.h)
  KeyedLimit connections;      // open client connections, all under one key (--max-connections)
  StreamRegistry streams;
  ProxyClients proxy_clients;
  ReplicaPeers replica_peers;  // who reads the log (the status endpoint)
  ClientIndexes client_indexes;  // on a replica: each client's last write (replica_forward.h)  // embedded replicas' connections on the primary (grpc_web.cc)
  asio::thread_pool sql_pool;
  asio::any_io_executor network;  // the network io_context's (set by Server)
  ProgressSignal progress;
  // The writes BatchWrite has queued for the end of the network thread's turn; that thread's only.
  struct PendingWrites {
    std::vector<engine::GroupMember> members;
    bool flush_posted = false;
  } pending_writes;

 private:
  std::atomic<const ReplicaLink*> replica_;
  std::atomic<const replication::ReplicationService*> replication_;
  std::shared_ptr<const replication::ReplicationService> promoted_service_;
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

}  // namespace litehouse::server
