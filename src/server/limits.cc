#include "server/limits.h"

namespace litehouse::server {

KeyedLimit::Ticket KeyedLimit::TryTake(std::string key) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t& n = counts_[key];
  if (n >= max_per_key_) {
    if (n == 0) counts_.erase(key);
    return Ticket();
  }
  ++n;
  return Ticket(this, std::move(key));
}

size_t KeyedLimit::count(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(key);
  return it == counts_.end() ? 0 : it->second;
}

size_t KeyedLimit::keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_.size();
}

void KeyedLimit::Release(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(key);
  if (it != counts_.end() && --it->second == 0) counts_.erase(it);
}

StreamSlot StreamLimits::TryTake(const std::string& client, const std::string& principal, Refusal* why) {
  StreamSlot slot;
  slot.client = client_.TryTake(client);
  if (!slot.client) {
    *why = Refusal::kClient;
    return StreamSlot();
  }
  if (principal_.max_per_key() > 0) {
    slot.principal = principal_.TryTake(principal);
    if (!slot.principal) {
      *why = Refusal::kPrincipal;
      return StreamSlot();
    }
  }
  slot.server = server_.TryTake(std::string());
  if (!slot.server) {
    *why = Refusal::kServer;
    return StreamSlot();
  }
  *why = Refusal::kNone;
  return slot;
}

}  // namespace litehouse::server
