#include "server/server.h"

#include <boost/asio/experimental/as_tuple.hpp>

#include <algorithm>
#include <memory>
#include <optional>

#include "common/log.h"
#include "server/hrana_http.h"
#include "server/http_session.h"

namespace litehouse::server {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
}

Server::Server(engine::Database& db, const ServerOptions& options)
    : ctx_(db, options),
      io_(1),
      acceptor_(io_),
      grpc_acceptor_(io_),
      signals_(io_, SIGINT, SIGTERM),
      sweep_timer_(io_) {
  ctx_.network = io_.get_executor();
  ctx_.progress.Bind(io_.get_executor());
}

Result<std::unique_ptr<Server>> Server::Start(engine::Database& db, const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server(db, options));
  auto listen = [](asio::ip::tcp::acceptor& acc, const std::string& host, uint16_t port) -> Result<uint16_t> {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) return Status::InvalidArgument("invalid listen address '" + host + "': " + ec.message());
    asio::ip::tcp::endpoint endpoint(address, port);
    if (acc.open(endpoint.protocol(), ec); !ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc.bind(endpoint, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
    return acc.local_endpoint().port();
  };
  auto port = listen(server->acceptor_, options.listen_host, options.listen_port);
  if (!port.ok()) return port.status();
  server->port_ = *port;
  if (!options.grpc_listen_host.empty()) {
    auto grpc = listen(server->grpc_acceptor_, options.grpc_listen_host, options.grpc_listen_port);
    if (!grpc.ok()) return grpc.status();
    server->grpc_port_ = *grpc;
  }
  // The engine's own work (a group commit) runs on the SQL pool. The pool outlives every stream, so a
  // grant made while the server is torn down only queues work that never runs.
  db.set_background([pool = &server->ctx_.sql_pool](std::function<void()> work) { asio::post(*pool, std::move(work)); });

  server->signals_.async_wait([s = server.get()](const boost::system::error_code& e, int signo) {
    if (!e) {
      LH_LOG_INFO("received signal {}, shutting down", signo);
      s->Stop();
    }
  });
  asio::co_spawn(server->io_, server->Accept(server->acceptor_), asio::detached);
  if (server->grpc_acceptor_.is_open()) asio::co_spawn(server->io_, server->Accept(server->grpc_acceptor_), asio::detached);
  asio::co_spawn(server->io_, server->SweepStreams(), asio::detached);
  // One network thread (see DESIGN.md): every connection's handlers, timers included, run on it, so
  // no strand is needed; SQL runs on the SQL pool.
  server->threads_.emplace_back([s = server.get()] { s->io_.run(); });
  // The second listener first: "listening on" is what tools wait for, and both are bound by then.
  if (server->grpc_port_) LH_LOG_INFO("serving replication also on http://{}:{}", options.grpc_listen_host, server->grpc_port_);
  LH_LOG_INFO("listening on http://{}:{}", options.listen_host, server->port_);
  return server;
}

Server::~Server() {
  Stop();
  Wait();
}

void Server::Stop() {
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    grpc_acceptor_.close(ignored);
    sweep_timer_.cancel();
    signals_.cancel();
    io_.stop();
  });
}

void Server::Wait() {
  for (auto& t : threads_) t.join();
  threads_.clear();
  // Writes queued for a flush that never ran: their coroutines go with the io_context.
  ctx_.pending_writes.members.clear();
  // Sessions are gone with the io_context; what their streams held is released here.
  DisposeStreams(ctx_, ctx_.streams.TakeAll(), "open at shutdown");
  ctx_.sql_pool.join();
}

namespace {

// Logs an exception that ended a connection's coroutine (none should; this keeps one from ending the
// process).
void LogConnectionEnd(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    LH_LOG_ERROR("connection ended by an exception: {}", ex.what());
  }
}

// A served connection: holds its place among --max-connections until the session ends.
asio::awaitable<void> ServeConnection(ServerContext& ctx, asio::ip::tcp::socket socket, ConnectionSlot slot) {
  co_await RunHttpSession(ctx, std::move(socket));
  slot = ConnectionSlot();  // the place is given back as the session ends
}

// A refused connection, counted in *refusing while its 503 goes out.
asio::awaitable<void> Refuse(ServerContext& ctx, asio::ip::tcp::socket socket, std::shared_ptr<size_t> refusing) {
  ++*refusing;
  co_await RefuseConnection(ctx, std::move(socket));
  --*refusing;
}

// Out of file descriptors, or of kernel memory for sockets: waiting is the only remedy.
bool IsResourceExhaustion(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

// Accepting never spins: an accept that fails for want of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM)
// leaves the connection in the kernel's backlog, so retrying at once fails again at once. The loop
// waits instead, from 5 ms doubling up to 500 ms, while connections already open go on being served;
// one that closes frees a descriptor for the next accept. Failures are logged at most once every
// 10 s, with the count since the last message.
asio::awaitable<void> Server::Accept(asio::ip::tcp::acceptor& acceptor) {
  constexpr auto kFirstPause = std::chrono::milliseconds(5);
  constexpr auto kLongestPause = std::chrono::milliseconds(500);
  constexpr auto kLogInterval = std::chrono::seconds(10);
  // Refusals being written at once; past this a refused connection is closed without a word.
  constexpr size_t kMaxRefusing = 64;
  asio::steady_timer pause(io_);
  auto wait = kFirstPause;
  std::optional<std::chrono::steady_clock::time_point> last_logged;
  uint64_t failures_unlogged = 0;
  auto refusing = std::make_shared<size_t>(0);
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      // A peer that gave up before we accepted it: nothing to wait for.
      if (ec == asio::error::connection_aborted) continue;
      ++failures_unlogged;
      auto now = std::chrono::steady_clock::now();
      if (!last_logged || now - *last_logged >= kLogInterval) {
        LH_LOG_WARN("accept failed: {} ({} failure(s) since the last such message, {} connections open); pausing accepts",
                    ec.message(), failures_unlogged, ctx_.connections.count(std::string()));
        last_logged = now;
        failures_unlogged = 0;
      }
      pause.expires_after(IsResourceExhaustion(ec) ? wait : kFirstPause);
      auto [pec] = co_await pause.async_wait(kTuple);
      if (pec) break;
      if (IsResourceExhaustion(ec)) wait = std::min<std::chrono::milliseconds>(wait * 2, kLongestPause);
      continue;
    }
    wait = kFirstPause;
    auto executor = socket.get_executor();
    ConnectionSlot slot = ctx_.connections.TryTake(std::string());
    if (!slot) {
      if (*refusing < kMaxRefusing) asio::co_spawn(executor, Refuse(ctx_, std::move(socket), refusing), LogConnectionEnd);
      continue;  // else `socket` closes here
    }
    asio::co_spawn(executor, ServeConnection(ctx_, std::move(socket), std::move(slot)), LogConnectionEnd);
  }
}

asio::awaitable<void> Server::SweepStreams() {
  while (true) {
    sweep_timer_.expires_after(std::chrono::milliseconds(250));
    auto [ec] = co_await sweep_timer_.async_wait(kTuple);
    if (ec) break;
    DisposeStreams(ctx_, ctx_.streams.Sweep(), "expired");
    // Lock stealing may roll a transaction back: on the SQL pool.
    asio::post(ctx_.sql_pool, [this] { ctx_.db.StealExpiredLock(); });
  }
}

}  // namespace litehouse::server
