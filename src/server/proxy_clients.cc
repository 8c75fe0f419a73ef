#include "server/proxy_clients.h"

#include <algorithm>
#include <vector>

namespace litehouse::server {

std::optional<ProxyClients::Entry> ProxyClients::Take(const std::string& client_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return std::nullopt;
  Entry e = std::move(it->second.first);
  clients_.erase(it);
  return e;
}

bool ProxyClients::TryBegin(const std::string& client_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return running_.insert(client_id).second;
}

void ProxyClients::End(const std::string& client_id) {
  std::lock_guard<std::mutex> lock(mu_);
  running_.erase(client_id);
}

void ProxyClients::Put(const std::string& client_id, Entry entry) {
  std::lock_guard<std::mutex> lock(mu_);
  if (clients_.size() >= kMaxClients) {
    std::vector<uint64_t> order;
    order.reserve(clients_.size());
    for (const auto& [id, v] : clients_) order.push_back(v.second);
    std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(order.size() / 2), order.end());
    const uint64_t cut = order[order.size() / 2];
    for (auto it = clients_.begin(); it != clients_.end();) it = it->second.second < cut ? clients_.erase(it) : std::next(it);
  }
  clients_[client_id] = {std::move(entry), next_++};
}

}  // namespace litehouse::server
