// A read replica's link to its primary (--primary-url), over the primary's HTTP port:
//
//   - PrimaryLogSource: the replication log as a replication::LogSource, gRPC-web calls of sqld's
//     `wal_log.ReplicationLog` (Hello, LogEntries, Snapshot) on one kept-alive connection, blocking,
//     for the replica's tail thread;
//   - ForwardToPrimary: one HTTP request relayed to the primary from a network coroutine (a client's
//     write, a gRPC-web call of an embedded replica), on a new connection, without holding a thread.
//
// Both carry the replica's own token (--primary-auth-token) unless the request names the client's.
#pragma once

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "replication/replica.h"

namespace litehouse::server {

namespace asio = boost::asio;

// Where the primary is: http://host:port[/prefix] (https is refused: replicas reach their primary on
// a private network, as sqld's do over its gRPC port).
struct PrimaryTarget {
  std::string url;  // as given
  std::string host;
  std::string port;
  std::string prefix;      // a path the primary is served under, without its trailing '/'
  std::string auth_token;  // --primary-auth-token: sent as "Bearer <token>" when not empty

  static Result<PrimaryTarget> Parse(const std::string& url, std::string auth_token);
};

// What a read replica's server knows of its role: where the primary is, and the replica whose progress
// reads wait for (ServerOptions::replica).
struct ReplicaLink {
  PrimaryTarget primary;
  const replication::Replica* replica = nullptr;
  // How long a read waits for the replica to reach an index (the stream's own writes, or the
  // request's replication_index) before it fails REPLICATION_TIMEOUT; and how long a request relayed
  // to the primary may take.
  std::chrono::milliseconds read_wait{5000};
  std::chrono::milliseconds forward_timeout{30000};
};

// A replica's stream as the primary holds it: the stream a relayed write ran on there.
struct RemoteStream {
  std::optional<std::string> baton;  // the primary's baton, while its stream is kept
  bool in_transaction = false;       // the primary's stream has a transaction open: everything goes there
  std::optional<uint64_t> min_index;  // the primary's index after the stream's last write: reads wait for it
  uint64_t min_index_history = 0;     // ... in this history of the replica (Replica::history)
};

// On a replica: the primary's index after each client's last relayed write, so that the client's
// later reads, on any of its streams (@libsql/client opens one per statement), wait for it. A client
// is its address and its credential; one silent for a minute is forgotten.
class ClientIndexes {
 public:
  // The client's index, if it was given in `history` (Replica::history).
  std::optional<uint64_t> Get(const std::string& client, uint64_t history) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = indexes_.find(client);
    if (it == indexes_.end() || it->second.history != history) return std::nullopt;
    return it->second.index;
  }
  void Raise(const std::string& client, uint64_t index, uint64_t history, std::chrono::steady_clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    if (indexes_.size() >= 100'000) {
      for (auto it = indexes_.begin(); it != indexes_.end();) {
        it = now - it->second.seen > std::chrono::minutes(1) ? indexes_.erase(it) : std::next(it);
      }
    }
    Entry& e = indexes_[client];
    if (e.history != history) e = Entry{0, history, now};
    e.index = std::max(e.index, index);
    e.seen = now;
  }

 private:
  struct Entry {
    uint64_t index = 0;
    uint64_t history = 0;
    std::chrono::steady_clock::time_point seen{};
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> indexes_;
};

class PrimaryLogSource : public replication::LogSource {
 public:
  // `call_timeout` bounds each call; LogEntries asks the primary to wait up to `wait` for a frame.
  // `name` is how the primary's status lists this replica (x-litehouse-replica).
  PrimaryLogSource(PrimaryTarget target, std::string name, std::chrono::milliseconds call_timeout = std::chrono::seconds(30));
  ~PrimaryLogSource() override;

  Result<replication::PrimaryHello> Hello() override;
  Status Frames(uint64_t next, std::vector<replication::LogFrame>* out) override;
  Status Snapshot(uint64_t next, std::vector<replication::LogFrame>* out) override;
  void Cancel() override;
  void Resume() override;
  // Renames this replica (once its port is bound); not while a call runs.
  void set_name(std::string name) { name_ = std::move(name); }

 private:
  struct Conn;
  // One gRPC-web call: the response's messages, or the call's error (a gRPC status mapped to a
  // Status: FAILED_PRECONDITION "NEED_SNAPSHOT" is NotFound("NEED_SNAPSHOT")).
  Status Call(const std::string& method, const std::string& request, std::vector<std::string>* messages);
  // A call that answers Frame messages (LogEntries, Snapshot) from `next`.
  Status FrameCall(const char* method, uint64_t next, std::vector<replication::LogFrame>* out);

  const PrimaryTarget target_;
  std::string name_;
  const std::string id_;  // this process's, so the primary counts one replica once (x-litehouse-replica-id)
  const std::chrono::milliseconds call_timeout_;
  std::string session_token_;
  std::unique_ptr<Conn> conn_;
  std::mutex cancel_mu_;
  bool cancelled_ = false;
};

struct ForwardedReply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

// POSTs `body` to the primary's `path` with `headers` (name, value); an "authorization" header among
// them is the client's, otherwise the replica's token is sent. IoError when the primary cannot be
// reached or does not answer within `timeout`.
asio::awaitable<Result<ForwardedReply>> ForwardToPrimary(const PrimaryTarget& target, std::string path,
                                                         std::vector<std::pair<std::string, std::string>> headers,
                                                         std::string body, std::chrono::milliseconds timeout);

}  // namespace litehouse::server
