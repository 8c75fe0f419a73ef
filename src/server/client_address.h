// Who a client is, for the per-client limits (limits.h): its address as the server sees it, or, when
// the connection comes from a proxy named by --trusted-proxy, the address that proxy reports.
//
// A client's key is its IP address in canonical text ("203.0.113.7"); an IPv6 client is keyed by its
// /64 ("2001:db8:1:2::/64"), since one host commonly holds a whole /64 and could otherwise take a
// fresh address per connection. IPv4-mapped IPv6 peers are keyed as IPv4.
//
// Behind a trusted proxy (the peer's address is in the --trusted-proxy list):
//   1. `Fly-Client-IP`, when it holds an address: Fly.io's proxy sets it to the address it accepted
//      the connection from. A proxy that is not Fly's must set or strip it, or clients could pick
//      their own key. (On Fly, X-Forwarded-For's rightmost entry is the app's own address, so
//      Fly-Client-IP is what identifies the client there.)
//   2. else `X-Forwarded-For` (every such header, in order, as one list), read from the right: the
//      rightmost entry was appended by the proxy that connected to us; while the address reached so
//      far is itself a trusted proxy, the entry to its left is believed. The first address that is
//      not a trusted proxy is the client. Entries further left were written by the client and are
//      never believed; an entry that is not an address stops the walk.
//   3. else the peer's own address.
// Without --trusted-proxy, or from any other peer, these headers are ignored.
//
// Thread safety: immutable after construction.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace litehouse::server {

class TrustedProxies {
 public:
  TrustedProxies() = default;

  // The value of --trusted-proxy: addresses and networks, separated by commas (spaces allowed):
  // "127.0.0.1", "10.0.0.0/8, fdaa::/16". InvalidArgument for anything else, or an empty list.
  static Result<TrustedProxies> Parse(std::string_view list);

  bool empty() const { return v4_.empty() && v6_.empty(); }
  bool Contains(const boost::asio::ip::address& address) const;

  // The key of the client behind a connection from `peer`, given the request's `Fly-Client-IP` value
  // and its `X-Forwarded-For` values (empty when absent). See the file comment.
  std::string ClientKey(const boost::asio::ip::address& peer, std::string_view fly_client_ip,
                        const std::vector<std::string_view>& forwarded_for) const;

 private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

// The key of a client at `address` (no proxy involved): see the file comment.
std::string ClientKeyOf(const boost::asio::ip::address& address);

// An address whose key is `key` (a key from ClientKey/ClientKeyOf), for an X-Forwarded-For header: a
// read replica names the client of each request it relays, so that a primary that trusts the replica
// (--trusted-proxy) charges the client, not the replica, for it. The key itself for IPv4; the /64's
// first address for IPv6. Empty when `key` is not a key.
std::string ForwardedForOf(std::string_view key);

}  // namespace litehouse::server
