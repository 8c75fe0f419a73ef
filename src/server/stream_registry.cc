#include "server/stream_registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "auth/jwt.h"
#include "common/log.h"

namespace litehouse::server {

std::unique_ptr<HttpStream> StreamRegistry::Create(Principal owner) {
  auto s = std::make_unique<HttpStream>(db_);
  s->owner = std::move(owner);
  std::lock_guard<std::mutex> lock(mu_);
  s->id = next_id_++;
  in_flight_.insert(s->id);
  return s;
}

std::unique_ptr<HttpStream> StreamRegistry::Take(const std::string& baton, const Principal& who, TakeError* error) {
  *error = TakeError::kUnknown;
  size_t dot = baton.find('.');
  if (dot == std::string::npos || dot == 0 || dot > 20) return nullptr;
  uint64_t id = 0;
  for (size_t i = 0; i < dot; ++i) {
    if (baton[i] < '0' || baton[i] > '9') return nullptr;
    id = id * 10 + static_cast<uint64_t>(baton[i] - '0');
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parked_.find(id);
  if (it == parked_.end()) {
    if (expired_.count(id)) *error = TakeError::kExpired;
    else if (in_flight_.count(id)) *error = TakeError::kUsed;
    return nullptr;
  }
  if (!auth::ConstantTimeEquals(baton, it->second.baton)) {
    // The stream's id with a wrong secret part: an earlier baton of this stream, or a forgery.
    *error = TakeError::kUsed;
    return nullptr;
  }
  const Principal& owner = it->second.stream->owner;
  if (owner.grant != who.grant || !auth::ConstantTimeEquals(who.id, owner.id)) {
    *error = TakeError::kForeign;
    return nullptr;
  }
  auto stream = std::move(it->second.stream);
  parked_.erase(it);
  in_flight_.insert(id);
  *error = TakeError::kNone;
  return stream;
}

Result<std::string> StreamRegistry::MakeBaton(uint64_t id) {
  unsigned char secret[16];
  if (Status st = auth::RandomBytes(secret, sizeof(secret)); !st.ok()) {
    LH_LOG_ERROR("cannot make a baton: {}", st.message());
    return st;
  }
  return fmt::format("{}.{:02x}", id, fmt::join(secret, ""));
}

void StreamRegistry::Park(std::unique_ptr<HttpStream> stream, std::string baton) {
  uint64_t id = stream->id;
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(id);
  parked_[id] = Parked{std::move(baton), clock_.Now() + expiry_, std::move(stream)};
}

Result<std::string> StreamRegistry::Put(std::unique_ptr<HttpStream>* stream) {
  auto baton = MakeBaton((*stream)->id);
  if (!baton.ok()) return baton.status();
  Park(std::move(*stream), *baton);
  return baton;
}

void StreamRegistry::Drop(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(id);
}

std::vector<std::unique_ptr<HttpStream>> StreamRegistry::Sweep() {
  std::vector<std::unique_ptr<HttpStream>> out;
  auto now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (it->second.expires_at <= now) {
      uint64_t id = it->first;
      out.push_back(std::move(it->second.stream));
      it = parked_.erase(it);
      expired_.insert(id);
      expired_order_.push_back(id);
      if (expired_order_.size() > kRememberExpired) {
        expired_.erase(expired_order_.front());
        expired_order_.pop_front();
      }
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<std::unique_ptr<HttpStream>> StreamRegistry::TakeAll() {
  std::vector<std::unique_ptr<HttpStream>> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, p] : parked_) out.push_back(std::move(p.stream));
  parked_.clear();
  return out;
}

size_t StreamRegistry::parked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parked_.size();
}

}  // namespace litehouse::server
