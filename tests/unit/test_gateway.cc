// The default gateway from /proc/net/route text, and the source address toward it.
#include <doctest/doctest.h>

#include <string>

#include "platform/gateway.h"

using qvpn::platform::DefaultRoute;
using qvpn::platform::IpAddress;
using qvpn::platform::parse_default_route;

namespace {

constexpr const char* kHeader =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
    "                                                       \n";

DefaultRoute route(const char* iface, const char* gw) {
  return DefaultRoute{iface, *IpAddress::parse(gw)};
}

}  // namespace

TEST_CASE("a home router's table: the default route's gateway") {
  // As a Debian laptop behind 192.168.1.1 prints it (x86, so the hex is little-endian).
  const std::string text =
      std::string(kHeader) +
      "wlp2s0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0                \n"
      "wlp2s0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0                \n"
      "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0                \n";
  CHECK(parse_default_route(text) == route("wlp2s0", "192.168.1.1"));
}

TEST_CASE("no default route, or none with a gateway") {
  const std::string on_link =
      std::string(kHeader) + "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
  CHECK(!parse_default_route(on_link));
  // A point-to-point default (e.g. over ppp0) has no gateway to ask.
  const std::string ppp =
      std::string(kHeader) + "ppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n";
  CHECK(!parse_default_route(ppp));
  CHECK(!parse_default_route(kHeader));
  CHECK(!parse_default_route(""));
}

TEST_CASE("several default routes: the lowest metric wins, routes that are down do not count") {
  const std::string text =
      std::string(kHeader) +
      "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
      "eth0\t00000000\t FE00000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
      "eth1\t00000000\t0100000A\t0002\t0\t0\t5\t00000000\t0\t0\t0\n"     // not RTF_UP
      "usb0\t00000000\t012AA8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n";  // a tie: first stays
  CHECK(parse_default_route(text) == route("eth0", "10.0.0.254"));
}

TEST_CASE("a route to 0.0.0.0/1 (a VPN's half of the table) is not the default") {
  const std::string text = std::string(kHeader) +
                           "qvpn0\t00000000\t0100500A\t0003\t0\t0\t0\t00000080\t0\t0\t0\n"
                           "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
  CHECK(parse_default_route(text) == route("eth0", "192.0.2.1"));
}

TEST_CASE("malformed lines are skipped, not trusted") {
  const std::string text =
      std::string(kHeader) +
      "eth9\t00000000\t0101A8C0\t0003\n"                               // too few fields
      "eth8\t00000000\t1FFFFFFFF\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"  // 33 bits
      "eth7\t00000000\t0x0101A8\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"   // not hex
      "eth6\t00000000\t0101A8C0\t0003\t0\t0\t-1\t00000000\t0\t0\t0\n"  // negative metric
      "eth5\t00000000\t0101A8C0\t0003\t0\t0\t0\t0000000G\t0\t0\t0\n"   // bad mask
      "eth4\t00000000\t0201A8C0\t0003\t0\t0\t9\t00000000\t0\t0\t0";    // no newline: fine
  CHECK(parse_default_route(text) == route("eth4", "192.168.1.2"));
}

TEST_CASE("the source address toward loopback is loopback") {
  const auto v4 = qvpn::platform::source_address_toward(*IpAddress::parse("127.0.0.1"));
  REQUIRE(v4);
  CHECK(v4->to_string() == "127.0.0.1");
  CHECK(!v4->v6);
}
