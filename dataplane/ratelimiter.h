#pragma once
// Per-source token buckets for handshake work (as the Linux module's ratelimiter.c):
// kHandshakesPerSecond per IPv4 address or IPv6 /64, with a burst of kHandshakeBurst.
// The table is bounded; idle entries are collected. Not thread-safe.
#include <cstdint>
#include <unordered_map>

#include "platform/clock.h"
#include "platform/endpoint.h"

namespace qvpn::dataplane {

class RateLimiter {
 public:
  static constexpr size_t kMaxEntries = 1u << 16;
  bool allow(const platform::IpAddress& src, platform::TimePoint now);
  size_t entries() const { return table_.size(); }

 private:
  struct Bucket {
    int64_t tokens;  // in nanoseconds of credit
    platform::TimePoint last;
  };
  void collect(platform::TimePoint now);
  uint64_t key_of(const platform::IpAddress& src) const;
  static uint64_t random_salt();
  std::unordered_map<uint64_t, Bucket> table_;
  uint64_t key_salt_ = random_salt();
  platform::TimePoint last_collect_{};
};

}  // namespace qvpn::dataplane
