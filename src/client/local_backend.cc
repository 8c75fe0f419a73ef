// The local backend: the engine's Connection and the protocol's Stream, in process, so a local
// database answers exactly as a server would (same statements, same errors, same codes).
#include <memory>

#include "client/channel.h"
#include "engine/connection.h"
#include "engine/dump.h"
#include "protocol/stream.h"

namespace litehouse::client {
namespace {

class LocalChannel : public Channel {
 public:
  explicit LocalChannel(engine::Connection* conn) : conn_(conn) {}
  Result<std::vector<protocol::StreamResult>> Send(std::vector<protocol::StreamRequest> requests, bool close) override {
    std::vector<protocol::StreamResult> results;
    results.reserve(requests.size());
    for (const auto& r : requests) {
      bool was_autocommit = conn_->autocommit();
      results.push_back(stream_.Handle(r, conn_));
      // Every channel shares the connection: a channel owns the transaction it opened, not one a
      // Transaction or Session of the same Client has open.
      if (was_autocommit && !conn_->autocommit()) owns_transaction_ = true;
      if (conn_->autocommit()) owns_transaction_ = false;
    }
    // As on a server: a stream that ends rolls back the transaction it left open.
    if (close && owns_transaction_ && !conn_->autocommit()) (void)conn_->Exec("ROLLBACK");
    if (close) owns_transaction_ = false;
    return results;
  }

 private:
  engine::Connection* conn_;
  bool owns_transaction_ = false;
  protocol::SqlStore sqls_;
  protocol::Stream stream_{&sqls_};
};

class LocalBackend : public Backend {
 public:
  explicit LocalBackend(std::unique_ptr<engine::Connection> conn) : conn_(std::move(conn)) {}
  Result<std::unique_ptr<Channel>> OpenChannel() override { return std::unique_ptr<Channel>(new LocalChannel(conn_.get())); }
  Status Dump(const std::function<Status(std::string_view)>& sink) override {
    engine::Dumper dumper(conn_.get());
    std::string chunk;
    while (true) {
      chunk.clear();
      auto more = dumper.Next(&chunk, 256 << 10);
      if (!more.ok()) return more.status();
      if (Status s = sink(chunk); !s.ok()) return s;
      if (!*more) return Status::OK();
    }
  }

 private:
  std::unique_ptr<engine::Connection> conn_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenLocalBackend(const std::string& path, bool read_only) {
  auto conn = engine::Connection::Open(path, read_only ? engine::Role::kReader : engine::Role::kStandalone);
  if (!conn.ok()) return conn.status();
  return std::unique_ptr<Backend>(new LocalBackend(std::move(conn).value()));
}

}  // namespace litehouse::client
