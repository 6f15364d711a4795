#include "dataplane/ratelimiter.h"

#include <algorithm>
#include <random>

#include "dataplane/constants.h"

namespace qvpn::dataplane {

namespace {

using std::chrono::nanoseconds;

// Credit is kept in nanoseconds: one nanosecond of elapsed time buys one nanosecond of
// credit, and a handshake costs a second's share.
constexpr int64_t kPacketCost = nanoseconds(1s).count() / kHandshakesPerSecond;
constexpr int64_t kTokenMax = kPacketCost * kHandshakeBurst;
constexpr platform::Duration kCollectInterval = 1s;
constexpr platform::Duration kIdleTime = 1s;
// An entry idle for kIdleTime has refilled completely, so dropping it loses nothing: a
// new entry starts with a full bucket.
static_assert(nanoseconds(kIdleTime).count() >= kTokenMax);

// One round of the splitmix64 finaliser, a bijection on 64 bits.
uint64_t mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t RateLimiter::random_salt() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) | rd();
}

// The raw key is the IPv6 /64, or for IPv4 the address under ff00::/8: multicast, which is
// never a valid source (stacks drop such packets), so the two families cannot meet. Salting and
// mixing is a bijection, so distinct sources never share a bucket, while the map's bucket placement
// (the key modulo its size) stays unpredictable to someone choosing source addresses.
uint64_t RateLimiter::key_of(const platform::IpAddress& src) const {
  uint64_t raw = 0;
  if (src.v6) {
    for (int i = 0; i < 8; ++i) raw = (raw << 8) | src.bytes[i];
  } else {
    raw = uint64_t{0xff} << 56;
    for (int i = 0; i < 4; ++i) raw |= uint64_t{src.bytes[i]} << (24 - 8 * i);
  }
  return mix(mix(raw ^ key_salt_) + key_salt_);
}

bool RateLimiter::allow(const platform::IpAddress& src, platform::TimePoint now) {
  if (now - last_collect_ >= kCollectInterval) collect(now);

  const uint64_t key = key_of(src);
  const auto it = table_.find(key);
  if (it == table_.end()) {
    // Refusing newcomers when full bounds memory; established sources keep their buckets.
    if (table_.size() >= kMaxEntries) return false;
    table_.emplace(key, Bucket{kTokenMax - kPacketCost, now});
    return true;
  }

  Bucket& b = it->second;
  // Capped before adding so that a long silence cannot overflow.
  const int64_t elapsed = std::max<int64_t>(0, nanoseconds(now - b.last).count());
  b.tokens = std::min(kTokenMax, b.tokens + std::min(elapsed, kTokenMax));
  b.last = now;
  if (b.tokens < kPacketCost) return false;
  b.tokens -= kPacketCost;
  return true;
}

void RateLimiter::collect(platform::TimePoint now) {
  last_collect_ = now;
  std::erase_if(table_, [now](const auto& entry) { return now - entry.second.last >= kIdleTime; });
}

}  // namespace qvpn::dataplane
