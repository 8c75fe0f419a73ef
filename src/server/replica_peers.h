// ReplicaPeers: the primary's view of who reads its log (the status endpoint). A read replica names
// itself in the x-litehouse-replica header of its LogEntries calls (its address), and tells a
// process's id in x-litehouse-replica-id; an embedded replica is known by its address.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"

namespace litehouse::server {

class ReplicaPeers {
 public:
  struct Peer {
    std::string name;               // how it names itself (its address), as of its last call
    uint64_t next_frame_no = 0;     // the first frame it asked for last: it holds those before
    Clock::time_point last_seen{};  // its last call
    Clock::time_point caught_up{};  // the last call at which it held every frame
  };

  // The peer `id`, named `name`, asked for frames from `next` while the log's last frame was `last`.
  void Note(const std::string& id, const std::string& name, uint64_t next, std::optional<uint64_t> last, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    Peer& p = peers_[id];
    p.name = name;
    if (p.last_seen == Clock::time_point{}) p.caught_up = now;
    p.next_frame_no = next;
    p.last_seen = now;
    if (!last || next > *last) p.caught_up = now;
    // Forget peers silent for ten minutes.
    for (auto it = peers_.begin(); it != peers_.end();) {
      it = now - it->second.last_seen > std::chrono::minutes(10) ? peers_.erase(it) : std::next(it);
    }
  }
  std::map<std::string, Peer> peers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return peers_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Peer> peers_;
};

}  // namespace litehouse::server
