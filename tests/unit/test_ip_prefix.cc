#include <doctest/doctest.h>

#include <string>

#include "dataplane/ip_prefix.h"

using qvpn::dataplane::IpPrefix;
using qvpn::platform::IpAddress;

namespace {

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

IpAddress v6(std::initializer_list<uint8_t> head) {
  IpAddress ip;
  ip.v6 = true;
  size_t i = 0;
  for (uint8_t b : head) ip.bytes[i++] = b;
  return ip;
}

std::string round_trip(const char* text) {
  const auto p = IpPrefix::parse(text);
  REQUIRE(p.has_value());
  return p->to_string();
}

}  // namespace

TEST_CASE("parse clears host bits and formats canonically") {
  CHECK(round_trip("10.0.0.1/24") == "10.0.0.0/24");
  CHECK(round_trip("10.0.0.1") == "10.0.0.1/32");
  CHECK(round_trip("192.168.255.255/17") == "192.168.128.0/17");
  CHECK(round_trip("1.2.3.4/0") == "0.0.0.0/0");
  CHECK(round_trip("0.0.0.0/0") == "0.0.0.0/0");
  CHECK(round_trip("255.255.255.255/31") == "255.255.255.254/31");
  CHECK(round_trip("fd00::1/64") == "fd00::/64");
  CHECK(round_trip("FD00:0:0:0:0:0:0:1") == "fd00::1/128");
  CHECK(round_trip("::/0") == "::/0");
  CHECK(round_trip("2001:db8:ffff:ffff::/33") == "2001:db8:8000::/33");
  CHECK(round_trip("::ffff:1.2.3.4/128") == "::ffff:1.2.3.4/128");
  CHECK(round_trip("10.0.0.1/032") == "10.0.0.1/32");
}

TEST_CASE("parse yields the expected fields") {
  const auto p = IpPrefix::parse("10.1.2.3/8");
  REQUIRE(p);
  CHECK(p->addr == v4(10, 0, 0, 0));
  CHECK(p->len == 8);
  CHECK_FALSE(p->addr.v6);

  const auto q = IpPrefix::parse("2001:db8::/32");
  REQUIRE(q);
  CHECK(q->addr == v6({0x20, 0x01, 0x0d, 0xb8}));
  CHECK(q->len == 32);
}

TEST_CASE("parse rejects bad text and lengths") {
  for (const char* bad : {"",
                          "/",
                          "/24",
                          "abc",
                          "10.0.0.1/33",
                          "::/129",
                          "1.2.3.4/",
                          "1.2.3.4/-1",
                          "1.2.3.4/+8",
                          "1.2.3.4/ 8",
                          "1.2.3.4/8 ",
                          " 1.2.3.4",
                          "1.2.3.4/8/8",
                          "1.2.3.4/1000",
                          "1.2.3/24",
                          "1.2.3.256",
                          "fd00::1::2/64",
                          "fd00::/64x",
                          "[fd00::1]/64",
                          "10.0.0.1/24\n",
                          "1.2.3.4/99999999999999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(IpPrefix::parse(bad).has_value());
  }
}

TEST_CASE("of clears host bits and clamps the length") {
  CHECK(IpPrefix::of(v4(10, 9, 8, 7), 16) == IpPrefix{v4(10, 9, 0, 0), 16});
  CHECK(IpPrefix::of(v4(10, 9, 8, 7), 0) == IpPrefix{v4(0, 0, 0, 0), 0});
  CHECK(IpPrefix::of(v4(10, 9, 8, 7), 40) == IpPrefix{v4(10, 9, 8, 7), 32});
  CHECK(IpPrefix::of(v6({0xfd, 0x12, 0x34}), 12) == IpPrefix{v6({0xfd, 0x10}), 12});
}

TEST_CASE("contains") {
  const auto net = *IpPrefix::parse("192.168.4.0/22");
  CHECK(net.contains(v4(192, 168, 4, 0)));
  CHECK(net.contains(v4(192, 168, 7, 255)));
  CHECK_FALSE(net.contains(v4(192, 168, 8, 0)));
  CHECK_FALSE(net.contains(v4(192, 168, 3, 255)));

  const auto all4 = *IpPrefix::parse("0.0.0.0/0");
  CHECK(all4.contains(v4(1, 2, 3, 4)));
  CHECK_FALSE(all4.contains(v6({0x20})));  // families never mix

  const auto all6 = *IpPrefix::parse("::/0");
  CHECK(all6.contains(v6({0x20, 0x01})));
  CHECK_FALSE(all6.contains(v4(0, 0, 0, 0)));

  const auto host = *IpPrefix::parse("fd00::1");
  IpAddress one = v6({0xfd});
  one.bytes[15] = 1;
  CHECK(host.contains(one));
  one.bytes[15] = 2;
  CHECK_FALSE(host.contains(one));
}
