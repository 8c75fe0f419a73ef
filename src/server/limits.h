// Per-client fairness: bounds on what one client, one credential, or the whole server may hold at
// once (open streams, requests queued for the writer). See DESIGN.md "Per-client limits".
//
//   KeyedLimit   counts holders per key under one bound per key; a Ticket is one place, given back
//                when destroyed.
//   StreamSlot   the places one open stream holds: among the server's (--max-streams), its client's
//                (--max-streams-per-client) and its credential's (--max-streams-per-token).
//   StreamLimits hands out StreamSlots.
//
// Thread safety: every method may run on any thread (each KeyedLimit has one mutex); a Ticket or a
// StreamSlot may be destroyed on any thread, before its limit is destroyed.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace litehouse::server {

class KeyedLimit {
 public:
  // One place under `key`; empty (false) when none was free. Move-only.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), key_(std::move(o.key_)) {}
    Ticket& operator=(Ticket&& o) noexcept {
      std::swap(owner_, o.owner_);
      std::swap(key_, o.key_);
      return *this;
    }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { Reset(); }

    // Gives the place back now.
    void Reset() {
      if (owner_) std::exchange(owner_, nullptr)->Release(key_);
    }
    explicit operator bool() const { return owner_ != nullptr; }
    const std::string& key() const { return key_; }

   private:
    friend class KeyedLimit;
    Ticket(KeyedLimit* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    KeyedLimit* owner_ = nullptr;
    std::string key_;
  };

  // At most `max_per_key` tickets per key at once.
  explicit KeyedLimit(size_t max_per_key) : max_per_key_(max_per_key) {}
  KeyedLimit(const KeyedLimit&) = delete;
  KeyedLimit& operator=(const KeyedLimit&) = delete;

  // A place under `key`, or an empty ticket when `key` already holds max_per_key().
  Ticket TryTake(std::string key);
  // Tickets held under `key` now.
  size_t count(const std::string& key) const;
  // Keys holding at least one ticket (a key is forgotten when its last ticket goes).
  size_t keys() const;
  size_t max_per_key() const { return max_per_key_; }

 private:
  void Release(const std::string& key);

  const size_t max_per_key_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, size_t> counts_;  // guarded by mu_; no zero entries
};

// The places one open Hrana stream holds; all given back when it is destroyed. Default: holds none.
struct StreamSlot {
  KeyedLimit::Ticket server;     // --max-streams
  KeyedLimit::Ticket client;     // --max-streams-per-client, keyed by client address
  KeyedLimit::Ticket principal;  // --max-streams-per-token (empty when that limit is off)

  explicit operator bool() const { return static_cast<bool>(server); }
  // The client (address) that opened the stream; other per-client limits charge it.
  const std::string& client_key() const { return client.key(); }
};

class StreamLimits {
 public:
  enum class Refusal { kNone, kServer, kClient, kPrincipal };

  // `per_principal` 0: streams are not limited per credential.
  StreamLimits(size_t max_streams, size_t per_client, size_t per_principal)
      : server_(max_streams), client_(per_client), principal_(per_principal) {}

  // A slot for a stream that `client` opens with the credential `principal`; an empty slot, with
  // the first bound that refused it in *why (the client's own, then the credential's, then the
  // server's), when one is full.
  StreamSlot TryTake(const std::string& client, const std::string& principal, Refusal* why);

  size_t open() const { return server_.count(std::string()); }
  size_t open_by_client(const std::string& client) const { return client_.count(client); }
  size_t max_streams() const { return server_.max_per_key(); }
  size_t max_per_client() const { return client_.max_per_key(); }
  size_t max_per_principal() const { return principal_.max_per_key(); }

 private:
  KeyedLimit server_;  // one key, ""
  KeyedLimit client_;
  KeyedLimit principal_;
};

}  // namespace litehouse::server
