// StreamRegistry: the HTTP streams that are between requests, found by baton, expired when idle.
//
// A baton names one stream for one next request. Take() hands the stream to that request and forgets
// the baton, so a baton can never be used twice and a stream is never in two requests at once; Put()
// parks the stream again under a fresh baton. A parked stream idle past the expiry is removed by
// Sweep() and handed back to the caller, which rolls back its transaction. Batons of recently
// expired streams are remembered so that their holder learns the stream expired rather than that the
// baton is unknown.
//
// Baton: "<stream id>.<128 random bits, hex>". The random part is what makes it unguessable.
//
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/database.h"
#include "protocol/stream.h"

namespace litehouse::server {

// A place among the server's open streams (--max-streams), over HTTP and WebSocket alike; given back
// when destroyed. Thread safety: TryTake and the destructor may run on any thread.
class StreamSlot {
 public:
  StreamSlot() = default;
  StreamSlot(StreamSlot&& o) noexcept : counter_(std::exchange(o.counter_, nullptr)) {}
  StreamSlot& operator=(StreamSlot&& o) noexcept {
    std::swap(counter_, o.counter_);
    return *this;
  }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;
  ~StreamSlot() {
    if (counter_) counter_->fetch_sub(1);
  }
  // A slot, or an empty one when `max` streams are open already.
  static StreamSlot TryTake(std::atomic<size_t>& counter, size_t max) {
    StreamSlot slot;
    if (counter.fetch_add(1) >= max) {
      counter.fetch_sub(1);
      return slot;
    }
    slot.counter_ = &counter;
    return slot;
  }
  explicit operator bool() const { return counter_ != nullptr; }

 private:
  std::atomic<size_t>* counter_ = nullptr;
};

// One Hrana stream as the HTTP transport keeps it: the protocol state and the connection it holds
// while a transaction is open.
struct HttpStream {
  uint64_t id = 0;
  StreamSlot slot;
  protocol::SqlStore sqls;  // over HTTP, stored SQL belongs to the stream
  protocol::Stream stream{&sqls};
  engine::Lease lease;  // empty unless a transaction is open
};

class StreamRegistry {
 public:
  using Clock = std::chrono::steady_clock;
  enum class TakeError { kNone, kUnknown, kUsed, kExpired };

  explicit StreamRegistry(Clock::duration expiry) : expiry_(expiry), rng_(std::random_device{}()) {}

  // A new stream, not parked.
  std::unique_ptr<HttpStream> Create();
  // The stream parked under `baton`, now owned by the caller; or null with the reason in *error.
  std::unique_ptr<HttpStream> Take(const std::string& baton, TakeError* error);
  // Parks `stream` and returns its new baton.
  std::string Put(std::unique_ptr<HttpStream> stream);
  // Forgets a taken stream that will not be parked again (closed).
  void Drop(uint64_t id);
  // Removes and returns the streams idle past the expiry.
  std::vector<std::unique_ptr<HttpStream>> Sweep();
  // Removes and returns every parked stream (shutdown).
  std::vector<std::unique_ptr<HttpStream>> TakeAll();

  size_t parked() const;

 private:
  struct Parked {
    std::string baton;
    Clock::time_point expires_at;
    std::unique_ptr<HttpStream> stream;
  };
  static constexpr size_t kRememberExpired = 4096;

  const Clock::duration expiry_;
  mutable std::mutex mu_;
  // Guarded by mu_.
  std::mt19937_64 rng_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Parked> parked_;
  std::unordered_set<uint64_t> in_flight_;  // taken, not yet put back or dropped
  std::unordered_set<uint64_t> expired_;
  std::deque<uint64_t> expired_order_;
};

}  // namespace litehouse::server
