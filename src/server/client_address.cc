#include "server/client_address.h"

#include <optional>

namespace litehouse::server {
namespace {

namespace ip = boost::asio::ip;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// IPv4-mapped IPv6 as IPv4, everything else as it is.
ip::address Unmapped(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

// An address as a proxy writes it in a header: bare, or IPv6 in brackets; nullopt if it is not one.
std::optional<ip::address> ParseAddress(std::string_view text) {
  text = Trim(text);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  boost::system::error_code ec;
  ip::address a = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return Unmapped(a);
}

}  // namespace

std::string ClientKeyOf(const ip::address& address) {
  ip::address a = Unmapped(address);
  if (a.is_v4()) return a.to_string();
  return ip::network_v6(a.to_v6(), 64).canonical().to_string();
}

std::string ForwardedForOf(std::string_view key) {
  std::string_view address = key.substr(0, key.find('/'));
  auto a = ParseAddress(address);
  if (!a) return {};
  return a->to_string();
}

Result<TrustedProxies> TrustedProxies::Parse(std::string_view list) {
  TrustedProxies out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    std::string item(Trim(list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos)));
    pos = comma == std::string_view::npos ? list.size() + 1 : comma + 1;
    if (item.empty()) continue;
    size_t slash = item.find('/');
    auto a = ParseAddress(std::string_view(item).substr(0, slash));
    unsigned prefix = a && a->is_v4() ? 32 : 128;
    if (a && slash != std::string::npos) {
      std::string_view digits = std::string_view(item).substr(slash + 1);
      unsigned n = 0;
      bool ok = !digits.empty() && digits.size() <= 3;
      for (char c : digits) {
        if (c < '0' || c > '9') ok = false;
        else n = n * 10 + static_cast<unsigned>(c - '0');
      }
      if (!ok || n > prefix) a.reset();
      prefix = n;
    }
    if (!a) return Status::InvalidArgument("--trusted-proxy: '" + item + "' is not an IP address or a network (address/bits)");
    if (a->is_v4()) out.v4_.push_back(ip::network_v4(a->to_v4(), prefix).canonical());
    else out.v6_.push_back(ip::network_v6(a->to_v6(), prefix).canonical());
  }
  if (out.empty()) return Status::InvalidArgument("--trusted-proxy: no address given");
  return out;
}

bool TrustedProxies::Contains(const ip::address& address) const {
  ip::address a = Unmapped(address);
  if (a.is_v4()) {
    for (const auto& net : v4_) {
      if (ip::network_v4(a.to_v4(), net.prefix_length()).canonical() == net) return true;
    }
    return false;
  }
  for (const auto& net : v6_) {
    if (ip::network_v6(a.to_v6(), net.prefix_length()).canonical() == net) return true;
  }
  return false;
}

std::string TrustedProxies::ClientKey(const ip::address& peer, std::string_view fly_client_ip,
                                      const std::vector<std::string_view>& forwarded_for) const {
  if (!Contains(peer)) return ClientKeyOf(peer);
  if (auto fly = ParseAddress(fly_client_ip)) return ClientKeyOf(*fly);
  // The hops of every X-Forwarded-For header, left to right.
  std::vector<std::string_view> hops;
  for (std::string_view header : forwarded_for) {
    size_t pos = 0;
    while (pos <= header.size()) {
      size_t comma = header.find(',', pos);
      hops.push_back(header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
  }
  ip::address client = Unmapped(peer);
  for (auto it = hops.rbegin(); it != hops.rend() && Contains(client); ++it) {
    auto hop = ParseAddress(*it);
    if (!hop) break;
    client = *hop;
  }
  return ClientKeyOf(client);
}

}  // namespace litehouse::server
