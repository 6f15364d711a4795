#include <doctest/doctest.h>

#include <chrono>

#include "dataplane/constants.h"
#include "dataplane/ratelimiter.h"

using namespace std::chrono_literals;
using qvpn::dataplane::kHandshakeBurst;
using qvpn::dataplane::kHandshakesPerSecond;
using qvpn::dataplane::RateLimiter;
using qvpn::platform::IpAddress;
using qvpn::platform::TimePoint;

namespace {

constexpr auto kInterval = std::chrono::nanoseconds(1s) / kHandshakesPerSecond;

TimePoint at(std::chrono::nanoseconds since_boot) { return TimePoint(since_boot); }

IpAddress ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.bytes = {a, b, c, d};
  return ip;
}

IpAddress ip6(uint16_t first, uint16_t last) {
  IpAddress ip;
  ip.v6 = true;
  ip.bytes[0] = static_cast<uint8_t>(first >> 8);
  ip.bytes[1] = static_cast<uint8_t>(first);
  ip.bytes[14] = static_cast<uint8_t>(last >> 8);
  ip.bytes[15] = static_cast<uint8_t>(last);
  return ip;
}

// Spends the whole burst; every attempt must pass.
void drain(RateLimiter& rl, const IpAddress& src, TimePoint now) {
  for (uint32_t i = 0; i < kHandshakeBurst; ++i) REQUIRE(rl.allow(src, now));
}

}  // namespace

TEST_CASE("burst, then one per interval (the Linux selftest's schedule)") {
  RateLimiter rl;
  const IpAddress src = ip4(192, 0, 2, 1);
  TimePoint now = at(100s);
  drain(rl, src, now);
  CHECK_FALSE(rl.allow(src, now));

  now += kInterval;
  CHECK(rl.allow(src, now));
  CHECK_FALSE(rl.allow(src, now));

  now += 2 * kInterval;
  CHECK(rl.allow(src, now));
  CHECK(rl.allow(src, now));
  CHECK_FALSE(rl.allow(src, now));

  // Just short of an interval earns nothing.
  now += kInterval - 1ns;
  CHECK_FALSE(rl.allow(src, now));
  now += 1ns;
  CHECK(rl.allow(src, now));
}

TEST_CASE("refill stops at the burst") {
  RateLimiter rl;
  const IpAddress src = ip4(192, 0, 2, 1);
  TimePoint now = at(5s);
  drain(rl, src, now);
  // Well over the burst's worth of time, but short of the idle collection.
  now += 900ms;
  drain(rl, src, now);
  CHECK_FALSE(rl.allow(src, now));
}

TEST_CASE("sources are independent") {
  RateLimiter rl;
  const TimePoint now = at(1s);
  drain(rl, ip4(192, 0, 2, 1), now);
  CHECK_FALSE(rl.allow(ip4(192, 0, 2, 1), now));
  drain(rl, ip4(192, 0, 2, 2), now);
  drain(rl, ip6(0x2001, 1), now);
  // An IPv6 /64 that starts with the same bytes as an IPv4 address is its own source.
  IpAddress lookalike;
  lookalike.v6 = true;
  lookalike.bytes = {192, 0, 2, 1};
  drain(rl, lookalike, now);
  drain(rl, ip4(0, 0, 0, 0), now);
  CHECK(rl.entries() == 5);
}

TEST_CASE("IPv6 addresses in one /64 share a bucket") {
  RateLimiter rl;
  const TimePoint now = at(1s);
  drain(rl, ip6(0x2001, 1), now);
  CHECK_FALSE(rl.allow(ip6(0x2001, 2), now));
  CHECK_FALSE(rl.allow(ip6(0x2001, 0xffff), now));
  CHECK(rl.entries() == 1);
  // A neighbouring /64 is another source.
  IpAddress next = ip6(0x2001, 1);
  next.bytes[7] = 1;
  CHECK(rl.allow(next, now));
  CHECK(rl.entries() == 2);
}

TEST_CASE("a flood of sources fills the table and no further") {
  RateLimiter rl;
  const TimePoint now = at(50s);
  const IpAddress regular = ip4(198, 51, 100, 7);
  REQUIRE(rl.allow(regular, now));
  size_t allowed = 1;
  for (uint32_t i = 0; i < RateLimiter::kMaxEntries + 1000; ++i) {
    const IpAddress src = ip4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                              static_cast<uint8_t>(i));
    allowed += rl.allow(src, now);
  }
  CHECK(allowed == RateLimiter::kMaxEntries);
  CHECK(rl.entries() == RateLimiter::kMaxEntries);
  // Sources already in the table keep being served.
  CHECK(rl.allow(regular, now));
  CHECK_FALSE(rl.allow(ip6(0x2001, 1), now));

  // Once the flood stops, its entries age out and newcomers get in again.
  CHECK(rl.allow(ip6(0x2001, 1), now + 1s));
  CHECK(rl.entries() == 1);
}

TEST_CASE("idle entries are collected, at most once a second") {
  RateLimiter rl;
  const IpAddress a = ip4(192, 0, 2, 1), b = ip4(192, 0, 2, 2), c = ip4(192, 0, 2, 3);
  const TimePoint t0 = at(10s);
  CHECK(rl.allow(a, t0));  // the first call collects an empty table
  CHECK(rl.allow(b, t0 + 900ms));
  CHECK(rl.entries() == 2);

  CHECK(rl.allow(c, t0 + 1s));  // a has idled a full second; b has not
  CHECK(rl.entries() == 2);

  CHECK(rl.allow(c, t0 + 1950ms));  // b is idle by now, but collection waits
  CHECK(rl.entries() == 2);

  CHECK(rl.allow(c, t0 + 2s));
  CHECK(rl.entries() == 1);

  // A collected source starts again with a full burst.
  drain(rl, a, t0 + 2s);
  CHECK_FALSE(rl.allow(a, t0 + 2s));
}

TEST_CASE("refused attempts keep an entry alive") {
  RateLimiter rl;
  const IpAddress src = ip4(203, 0, 113, 9);
  TimePoint now = at(1s);
  drain(rl, src, now);
  for (int i = 0; i < 30; ++i) {
    now += 100ms;
    rl.allow(src, now);
  }
  CHECK(rl.entries() == 1);
}
