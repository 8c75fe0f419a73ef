// StreamRegistry: the HTTP streams that are between requests, found by baton, expired when idle.
//
// A baton names one stream for one next request. Take() hands the stream to that request and forgets
// the baton, so a baton can never be used twice and a stream is never in two requests at once; Put()
// parks the stream again under a fresh baton. A parked stream idle past the expiry is removed by
// Sweep() and handed back to the caller, which rolls back its transaction. Batons of recently
// expired streams are remembered so that their holder learns the stream expired rather than that the
// baton is unknown.
//
// Baton: "<stream id>.<128 random bits, hex>". The random part, from OpenSSL's CSPRNG (RAND_bytes),
// is what makes it unguessable; it is compared in constant time. A stream is bound to the principal
// (credential) that opened it: another principal presenting its baton is refused, and the stream
// stays parked, untouched, for its owner.
//
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "engine/database.h"
#include "engine/session.h"
#include "protocol/stream.h"
#include "server/auth_gate.h"
#include "server/limits.h"
#include "server/primary_link.h"

namespace litehouse::server {

// One Hrana stream as the HTTP transport keeps it: the protocol state and its session of the
// database (which holds a connection while a transaction is open).
struct HttpStream {
  explicit HttpStream(engine::Database& db) : session(db) {}
  uint64_t id = 0;
  Principal owner;  // who opened it; only they may take it (StreamRegistry::Take)
  StreamSlot slot;
  protocol::SqlStore sqls;  // over HTTP, stored SQL belongs to the stream
  protocol::Stream stream{&sqls};
  engine::Session session;
  RemoteStream remote;  // on a read replica: the stream's stream on the primary
};

class StreamRegistry {
 public:
  // kForeign: the baton is right, but the stream belongs to another principal.
  enum class TakeError { kNone, kUnknown, kUsed, kExpired, kForeign };

  // Streams are sessions of `db`; they expire after `expiry` idle, as `clock` tells.
  StreamRegistry(engine::Database& db, Clock::duration expiry, const Clock& clock = Clock::Steady())
      : db_(db), expiry_(expiry), clock_(clock) {}

  // A new stream owned by `owner`, not parked.
  std::unique_ptr<HttpStream> Create(Principal owner = Principal{});
  // The stream parked under `baton`, now owned by the caller, if `who` is the principal that opened
  // it; or null with the reason in *error. A refusal leaves the parked stream as it was (its baton
  // and its expiry too), so a wrong principal cannot disturb the owner's stream.
  std::unique_ptr<HttpStream> Take(const std::string& baton, const Principal& who, TakeError* error);
  // Parks `*stream` under a fresh baton and returns it. If no baton can be made (the system's random
  // source failed), nothing is parked: the stream stays in *stream for the caller to dispose of.
  Result<std::string> Put(std::unique_ptr<HttpStream>* stream);
  // A fresh baton for the taken stream `id`, to be parked under it later (Park): an HTTP cursor names
  // its baton in the head of its response, before its batch has run. Until parked, the baton is
  // refused as used (BATON_REUSED), as any baton of a stream in a request. Fails as Put does.
  Result<std::string> MakeBaton(uint64_t id);
  // Parks `stream` (taken) under `baton`, from MakeBaton.
  void Park(std::unique_ptr<HttpStream> stream, std::string baton);
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

  engine::Database& db_;
  const Clock::duration expiry_;
  const Clock& clock_;
  mutable std::mutex mu_;
  // Guarded by mu_.
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Parked> parked_;
  std::unordered_set<uint64_t> in_flight_;  // taken, not yet put back or dropped
  std::unordered_set<uint64_t> expired_;
  std::deque<uint64_t> expired_order_;
};

}  // namespace litehouse::server
