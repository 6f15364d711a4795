#include "dataplane/tai64n.h"

#include <chrono>

namespace qvpn::dataplane {

namespace {

// TAI64 label of the Unix epoch: 2^62 plus the 10 s TAI-UTC offset of 1970, the same base
// as wireguard-go and the Linux module (leap seconds since are ignored, as they do).
constexpr uint64_t kTai64Base = (uint64_t{1} << 62) + 10;
// Rounding the nanoseconds down to 2^24 ns (~16.8 ms) keeps the timestamp monotonic for
// replay protection while not revealing precise timing (Linux: ALIGN_DOWN to the largest
// power of two below 1 s / 50 initiations per second).
constexpr uint32_t kWhitenerNs = uint32_t{1} << 24;

}  // namespace

Tai64n tai64n_from(platform::WallTime t) {
  const auto since_epoch =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  // floor, not truncation, so times before 1970 keep 0 <= nanoseconds < 1e9.
  const auto secs = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const uint64_t label = kTai64Base + static_cast<uint64_t>(secs.count());
  uint32_t nano = static_cast<uint32_t>((since_epoch - secs).count());
  nano -= nano % kWhitenerNs;

  Tai64n out{};
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(label >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) out[8 + i] = static_cast<uint8_t>(nano >> (24 - 8 * i));
  return out;
}

}  // namespace qvpn::dataplane
