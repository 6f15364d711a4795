#pragma once
// Sliding-window replay protection for transport counters (RFC 6479 style, as the Linux
// module's counter validation). Call only after the packet authenticated.
#include <array>
#include <cstdint>

namespace qvpn::dataplane {

class ReplayWindow {
 public:
  static constexpr uint64_t kBitsTotal = 8192;
  // Counters this far behind the highest seen are still accepted once.
  static constexpr uint64_t kWindowSize = kBitsTotal - 64;

  // Returns true and records the counter if it is new, inside the window and below
  // limit; false for a replay, a counter too old, or one at/above limit.
  bool accept(uint64_t counter, uint64_t limit);
  void reset();

 private:
  uint64_t greatest_ = 0;
  bool any_ = false;
  std::array<uint64_t, kBitsTotal / 64> bitmap_{};
};

}  // namespace qvpn::dataplane
