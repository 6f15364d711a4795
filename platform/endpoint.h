#pragma once
// A UDP endpoint: IPv4 or IPv6 address and port. IPv4 is kept as such (not v4-mapped) so
// that text and comparisons read naturally; the dual-stack socket maps at its boundary.
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qvpn::platform {

struct IpAddress {
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4
  bool v6 = false;
  bool operator==(const IpAddress&) const = default;
  size_t size() const { return v6 ? 16 : 4; }
  std::string to_string() const;
  static std::optional<IpAddress> parse(std::string_view text);  // literal only
};

// An address assigned to an interface. Unlike a route's prefix it keeps the host part:
// 10.0.0.1/24 is "this host is 10.0.0.1, and 10.0.0.0/24 is on-link".
struct InterfaceAddress {
  IpAddress ip;
  uint8_t prefix_len = 0;  // 0..32 or 0..128
  bool operator==(const InterfaceAddress&) const = default;
  std::string to_string() const;  // "10.0.0.1/24", "fd00::1/64"
  // "10.0.0.1/24" or a bare address, which means /32 or /128 (as wg-quick does).
  static std::optional<InterfaceAddress> parse(std::string_view text);
};

struct Endpoint {
  IpAddress ip;
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
  bool empty() const { return port == 0 && ip == IpAddress{}; }
  // "1.2.3.4:51820" or "[2001:db8::1]:51820"
  std::string to_string() const;
  static std::optional<Endpoint> parse(std::string_view text);  // literal only
  // Resolves "host:port" with getaddrinfo (blocking); prefers IPv4 like wg(8).
  static std::optional<Endpoint> resolve(std::string_view text);

  // sockaddr forms. An IPv4 endpoint as v4-mapped IPv6 for a dual-stack socket.
  socklen_t to_sockaddr(sockaddr_storage& out, bool v4_mapped) const;
  static std::optional<Endpoint> from_sockaddr(const sockaddr* sa, socklen_t len);
};

}  // namespace qvpn::platform
