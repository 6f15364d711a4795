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
