// Server: the network side of Litehouse. Binds the listener, runs the network threads, accepts
// connections (one coroutine each), sweeps expired streams, and shuts down in order.
//
//   auto server = Server::Start(db, options);   // bound and accepting once this returns OK
//   server->Wait();                             // until Stop() or SIGINT/SIGTERM
//
// Thread safety: Start, port and Wait from one thread; Stop from any thread, any number of times.
#pragma once

#include <boost/asio.hpp>

#include <memory>
#include <thread>
#include <vector>

#include "common/status.h"
#include "engine/database.h"
#include "server/context.h"

namespace litehouse::server {

class Server {
 public:
  // Binds options.listen_host:listen_port (port 0 picks a free one) and starts serving `db`, which
  // must outlive the Server.
  static Result<std::unique_ptr<Server>> Start(engine::Database& db, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port, and the second listener's (--grpc-listen-addr; 0: none).
  uint16_t port() const { return port_; }
  uint16_t grpc_port() const { return grpc_port_; }
  // Wakes requests waiting for progress made elsewhere: a commit (LogEntries), a replica's applied
  // batch (reads waiting for their index). Any thread.
  void NotifyProgress() { ctx_.progress.Notify(); }
  // Blocks until the server has stopped (Stop(), SIGINT or SIGTERM), then drains: open streams are
  // rolled back and every connection to SQLite is released before this returns.
  void Wait();
  void Stop();

 private:
  explicit Server(engine::Database& db, const ServerOptions& options);
  asio::awaitable<void> Accept(asio::ip::tcp::acceptor& acceptor);
  asio::awaitable<void> SweepStreams();

  ServerContext ctx_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::acceptor grpc_acceptor_;
  asio::signal_set signals_;
  asio::steady_timer sweep_timer_;
  uint16_t port_ = 0;
  uint16_t grpc_port_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace litehouse::server
