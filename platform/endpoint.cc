#include "platform/endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <charconv>
#include <cstring>
#include <memory>

namespace qvpn::platform {
namespace {

// Port text is decimal 1..65535; zero is "no endpoint", so a literal that says 0 is an error.
std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

// Splits "host:port" or "[host]:port" into the bare host and the port text.
bool split_host_port(std::string_view text, std::string_view& host, std::string_view& port) {
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    // An unbracketed host with a colon is an IPv6 literal missing its brackets: ambiguous.
    if (host.find(':') != std::string_view::npos) return false;
    port = text.substr(colon + 1);
  }
  return !host.empty();
}

bool is_v4_mapped(const uint8_t* b) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b, kPrefix, sizeof kPrefix) == 0;
}

}  // namespace

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf)) return {};
  return buf;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string z(text);  // inet_pton wants a terminated string
  IpAddress a;
  if (inet_pton(AF_INET, z.c_str(), a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, z.c_str(), a.bytes.data()) == 1) {
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

std::string Endpoint::to_string() const {
  if (ip.v6) return "[" + ip.to_string() + "]:" + std::to_string(port);
  return ip.to_string() + ":" + std::to_string(port);
}

std::string InterfaceAddress::to_string() const {
  return ip.to_string() + "/" + std::to_string(prefix_len);
}

std::optional<InterfaceAddress> InterfaceAddress::parse(std::string_view text) {
  const size_t slash = text.find('/');
  const auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  const unsigned max_len = ip->v6 ? 128 : 32;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (digits.empty() || digits.size() > 3 || ec != std::errc() ||
        end != digits.data() + digits.size() || len > max_len) {
      return std::nullopt;
    }
  }
  return InterfaceAddress{*ip, static_cast<uint8_t>(len)};
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  bool bracketed = !text.empty() && text.front() == '[';
  std::string_view host, port_text;
  if (!split_host_port(text, host, port_text)) return std::nullopt;
  auto ip = IpAddress::parse(host);
  auto port = parse_port(port_text);
  if (!ip || !port) return std::nullopt;
  if (ip->v6 != bracketed) return std::nullopt;  // "[1.2.3.4]:1" is not a form anyone writes
  // "[::ffff:1.2.3.4]:p" is the same socket address as "1.2.3.4:p"; keep one form so that an
  // endpoint learned from a packet (from_sockaddr un-maps) compares equal to the configured one.
  if (ip->v6 && is_v4_mapped(ip->bytes.data())) {
    IpAddress v4;
    std::memcpy(v4.bytes.data(), ip->bytes.data() + 12, 4);
    ip = v4;
  }
  return Endpoint{*ip, *port};
}

std::optional<Endpoint> Endpoint::resolve(std::string_view text) {
  if (auto literal = parse(text)) return literal;
  std::string_view host_view, port_text;
  if (!split_host_port(text, host_view, port_text)) return std::nullopt;
  auto port = parse_port(port_text);
  if (!port) return std::nullopt;

  std::string host(host_view);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  addrinfo* list = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &list) != 0 || list == nullptr) {
    return std::nullopt;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(list, &freeaddrinfo);

  // Like wg(8): the first IPv4 answer if there is one, since IPv6 connectivity is the
  // likelier of the two to be missing; otherwise the first IPv6 answer.
  const addrinfo* pick = nullptr;
  for (const addrinfo* ai = list; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      pick = ai;
      break;
    }
    if (ai->ai_family == AF_INET6 && !pick) pick = ai;
  }
  if (!pick) return std::nullopt;
  auto ep = from_sockaddr(pick->ai_addr, pick->ai_addrlen);
  if (!ep) return std::nullopt;
  ep->port = *port;
  return ep;
}

socklen_t Endpoint::to_sockaddr(sockaddr_storage& out, bool v4_mapped) const {
  std::memset(&out, 0, sizeof out);
  if (!ip.v6 && !v4_mapped) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, ip.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  if (ip.v6) {
    std::memcpy(&sin6->sin6_addr, ip.bytes.data(), 16);
  } else {
    sin6->sin6_addr.s6_addr[10] = 0xff;
    sin6->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&sin6->sin6_addr.s6_addr[12], ip.bytes.data(), 4);
  }
  return sizeof(sockaddr_in6);
}

std::optional<Endpoint> Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (!sa || len < static_cast<socklen_t>(sizeof(sa_family_t))) return std::nullopt;
  Endpoint ep;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof sin);
    std::memcpy(ep.ip.bytes.data(), &sin.sin_addr, 4);
    ep.port = ntohs(sin.sin_port);
    return ep;
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, sa, sizeof sin6);
    const uint8_t* b = sin6.sin6_addr.s6_addr;
    if (is_v4_mapped(b)) {
      std::memcpy(ep.ip.bytes.data(), b + 12, 4);
    } else {
      std::memcpy(ep.ip.bytes.data(), b, 16);
      ep.ip.v6 = true;
    }
    ep.port = ntohs(sin6.sin6_port);
    return ep;
  }
  return std::nullopt;
}

}  // namespace qvpn::platform
