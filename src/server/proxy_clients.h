// ProxyClients: which parked HTTP stream (by baton, stream_registry.h) serves each client_id of
// sqld's write-forwarding service (`/proxy.Proxy/*`, grpc_web.cc). An embedded replica names its
// connection with a client_id; its requests run on one stream, so a transaction spans calls, as on
// sqld. The stream expires idle like any HTTP stream (--stream-expiry-ms), rolling its transaction
// back; a client whose transaction expired is told so once (TX_TIMEOUT), then starts afresh.
//
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace litehouse::server {

class ProxyClients {
 public:
  struct Entry {
    std::string baton;
    bool in_transaction = false;  // when it was parked
  };
  // At most this many client_ids are remembered; past it the oldest half is forgotten (their
  // streams expire in the registry like any other).
  static constexpr size_t kMaxClients = 10'000;

  // The entry of `client_id`, removed (the caller takes its stream), or nullopt.
  std::optional<Entry> Take(const std::string& client_id);
  void Put(const std::string& client_id, Entry entry);

  // One call at a time per client_id: a client that sends two at once (one connection used from two
  // tasks) must not get two streams, one of them left holding its transaction. False while another
  // call of the id runs; End when done.
  bool TryBegin(const std::string& client_id);
  void End(const std::string& client_id);

 private:
  std::unordered_set<std::string> running_;
  std::mutex mu_;
  std::unordered_map<std::string, std::pair<Entry, uint64_t>> clients_;  // -> (entry, insertion order)
  uint64_t next_ = 0;
};

}  // namespace litehouse::server
