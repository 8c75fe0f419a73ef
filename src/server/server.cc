#include "server/server.h"

#include <boost/asio/experimental/as_tuple.hpp>

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
      signals_(io_, SIGINT, SIGTERM),
      sweep_timer_(io_) {}

Result<std::unique_ptr<Server>> Server::Start(engine::Database& db, const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server(db, options));
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options.listen_host, ec);
  if (ec) return Status::InvalidArgument("invalid listen address '" + options.listen_host + "': " + ec.message());
  asio::ip::tcp::endpoint endpoint(address, options.listen_port);
  auto& acc = server->acceptor_;
  if (acc.open(endpoint.protocol(), ec); !ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + options.listen_host + ":" + std::to_string(options.listen_port) +
                               ": " + ec.message());
  }
  server->port_ = acc.local_endpoint().port();

  server->signals_.async_wait([s = server.get()](const boost::system::error_code& e, int signo) {
    if (!e) {
      LH_LOG_INFO("received signal {}, shutting down", signo);
      s->Stop();
    }
  });
  asio::co_spawn(server->io_, server->Accept(), asio::detached);
  asio::co_spawn(server->io_, server->SweepStreams(), asio::detached);
  // One network thread (see DESIGN.md): every connection's handlers, timers included, run on it, so
  // no strand is needed; SQL runs on the SQL pool.
  server->threads_.emplace_back([s = server.get()] { s->io_.run(); });
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
    sweep_timer_.cancel();
    signals_.cancel();
    io_.stop();
  });
}

void Server::Wait() {
  for (auto& t : threads_) t.join();
  threads_.clear();
  // Sessions are gone with the io_context; what their streams held is released here.
  DisposeStreams(ctx_, ctx_.streams.TakeAll(), "open at shutdown");
  ctx_.sql_pool.join();
}

asio::awaitable<void> Server::Accept() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      LH_LOG_WARN("accept failed: {}", ec.message());
      continue;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, RunHttpSession(ctx_, std::move(socket)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        LH_LOG_ERROR("connection ended by an exception: {}", ex.what());
      }
    });
  }
}

asio::awaitable<void> Server::SweepStreams() {
  while (true) {
    sweep_timer_.expires_after(std::chrono::milliseconds(250));
    auto [ec] = co_await sweep_timer_.async_wait(kTuple);
    if (ec) break;
    DisposeStreams(ctx_, ctx_.streams.Sweep(), "expired");
  }
}

}  // namespace litehouse::server
