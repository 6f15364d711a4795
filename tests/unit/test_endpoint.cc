// Endpoint and IpAddress: text forms, sockaddr forms, and the v4-mapped boundary between them.
#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <cstring>

#include "platform/endpoint.h"

using qvpn::platform::Endpoint;
using qvpn::platform::IpAddress;

namespace {

Endpoint ep(std::string_view text) {
  auto e = Endpoint::parse(text);
  REQUIRE_MESSAGE(e.has_value(), text);
  return *e;
}

// e.to_sockaddr(), which must fill exactly a `Sockaddr`.
template <typename Sockaddr>
Sockaddr sockaddr_of(const Endpoint& e, bool v4_mapped) {
  sockaddr_storage ss;
  const socklen_t len = e.to_sockaddr(ss, v4_mapped);
  REQUIRE(len == sizeof(Sockaddr));
  Sockaddr out;
  std::memcpy(&out, &ss, sizeof out);
  return out;
}

// Endpoint::from_sockaddr(), which must accept `sa`.
template <typename Sockaddr>
Endpoint endpoint_of(const Sockaddr& sa) {
  const auto e = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  REQUIRE(e);
  return *e;
}

}  // namespace

TEST_CASE("IpAddress parses and formats IPv4 and IPv6 literals") {
  auto v4 = IpAddress::parse("192.0.2.7");
  REQUIRE(v4);
  CHECK_FALSE(v4->v6);
  CHECK(v4->size() == 4);
  CHECK(v4->bytes[0] == 192);
  CHECK(v4->bytes[3] == 7);
  CHECK(v4->to_string() == "192.0.2.7");

  auto v6 = IpAddress::parse("2001:DB8:0:0::1");
  REQUIRE(v6);
  CHECK(v6->v6);
  CHECK(v6->size() == 16);
  CHECK(v6->to_string() == "2001:db8::1");  // canonical RFC 5952 form

  // A v4-mapped literal stays IPv6 here: prefixes like ::ffff:0:0/96 are written this way.
  auto mapped = IpAddress::parse("::ffff:10.1.2.3");
  REQUIRE(mapped);
  CHECK(mapped->v6);
  CHECK(mapped->to_string() == "::ffff:10.1.2.3");
}

TEST_CASE("IpAddress rejects anything but a bare literal") {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4",
                          "example.com", "[::1]", "::1%lo", "1.2.3.4/24", "::g", "1.2.3.4:80"}) {
    CHECK_MESSAGE(!IpAddress::parse(bad), bad);
  }
}

TEST_CASE("Endpoint parses host:port and [v6]:port and formats them back") {
  auto a = ep("203.0.113.9:51820");
  CHECK_FALSE(a.ip.v6);
  CHECK(a.port == 51820);
  CHECK(a.to_string() == "203.0.113.9:51820");

  auto b = ep("[2001:db8::5]:1");
  CHECK(b.ip.v6);
  CHECK(b.port == 1);
  CHECK(b.to_string() == "[2001:db8::5]:1");

  CHECK(ep("[::1]:65535").to_string() == "[::1]:65535");
  CHECK(ep("0.0.0.0:7").ip == IpAddress{});

  // The same socket address as 10.0.0.1:9, so it is the same endpoint.
  auto mapped = ep("[::ffff:10.0.0.1]:9");
  CHECK_FALSE(mapped.ip.v6);
  CHECK(mapped == ep("10.0.0.1:9"));
}

TEST_CASE("Endpoint rejects bad text and ports") {
  for (const char* bad : {"",
                          "1.2.3.4",
                          "1.2.3.4:",
                          "1.2.3.4:0",
                          "1.2.3.4:65536",
                          "1.2.3.4:99999",
                          "1.2.3.4:123456",
                          "1.2.3.4:-1",
                          "1.2.3.4:+5",
                          "1.2.3.4:5x",
                          "1.2.3.4: 5",
                          ":51820",
                          "[::1]",
                          "[::1]:",
                          "[::1]:0",
                          "[::1]51820",
                          "::1:51820",
                          "[::1:51820",
                          "[1.2.3.4]:5",
                          "[]:5",
                          "host.example:51820",
                          "1.2.3.4:51820:1"}) {
    CHECK_MESSAGE(!Endpoint::parse(bad), bad);
  }
  CHECK(Endpoint{}.empty());
  CHECK_FALSE(ep("1.1.1.1:1").empty());
}

TEST_CASE("IPv4 to sockaddr_in and back") {
  auto a = ep("198.51.100.1:4242");
  const auto sin = sockaddr_of<sockaddr_in>(a, false);
  CHECK(sin.sin_family == AF_INET);
  CHECK(ntohs(sin.sin_port) == 4242);
  CHECK(ntohl(sin.sin_addr.s_addr) == 0xc6336401u);
  CHECK(endpoint_of(sin) == a);
}

TEST_CASE("IPv4 to v4-mapped sockaddr_in6 and back un-maps") {
  auto a = ep("198.51.100.1:4242");
  const auto sin6 = sockaddr_of<sockaddr_in6>(a, true);
  CHECK(sin6.sin6_family == AF_INET6);
  CHECK(ntohs(sin6.sin6_port) == 4242);
  CHECK(IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr));
  char text[INET6_ADDRSTRLEN];
  REQUIRE(inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof text));
  CHECK(std::string(text) == "::ffff:198.51.100.1");
  const Endpoint back = endpoint_of(sin6);
  CHECK_FALSE(back.ip.v6);
  CHECK(back == a);
}

TEST_CASE("IPv6 to sockaddr_in6 and back, with or without v4_mapped") {
  auto a = ep("[2001:db8:1::42]:51820");
  for (bool mapped : {false, true}) {
    const auto sin6 = sockaddr_of<sockaddr_in6>(a, mapped);
    CHECK(sin6.sin6_family == AF_INET6);
    CHECK(std::memcmp(&sin6.sin6_addr, a.ip.bytes.data(), 16) == 0);
    CHECK(endpoint_of(sin6) == a);
  }
}

TEST_CASE("from_sockaddr rejects short or foreign addresses") {
  sockaddr_storage ss{};
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  CHECK_FALSE(Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_in)));
  CHECK_FALSE(Endpoint::from_sockaddr(nullptr, sizeof ss));
  ss.ss_family = AF_UNIX;
  CHECK_FALSE(Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof ss));
}

TEST_CASE("resolve takes literals and names, and prefers IPv4") {
  auto lit = Endpoint::resolve("[2001:db8::1]:53");
  REQUIRE(lit);
  CHECK(lit->to_string() == "[2001:db8::1]:53");

  // "localhost" comes from /etc/hosts, so this needs no network; glibc lists ::1 as well on
  // most systems, and the IPv4 answer must win.
  auto local = Endpoint::resolve("localhost:51820");
  REQUIRE(local);
  CHECK(local->port == 51820);
  CHECK(local->to_string() == "127.0.0.1:51820");

  CHECK_FALSE(Endpoint::resolve("localhost:0"));
  CHECK_FALSE(Endpoint::resolve("localhost"));
  CHECK_FALSE(Endpoint::resolve("no-such-host.invalid:1"));
}
