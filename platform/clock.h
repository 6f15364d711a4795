#pragma once
// The one clock of qvpn. Protocol code never reads it: drivers read it and pass `now` in.
#include <chrono>
#include <cstdint>

namespace qvpn::platform {

// Monotonic time that keeps counting while the machine is suspended (CLOCK_BOOTTIME on
// Linux), so WireGuard's Reject-After-Time holds across a laptop's sleep.
struct MonoClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<MonoClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

using TimePoint = MonoClock::time_point;
using Duration = MonoClock::duration;
using WallTime = std::chrono::system_clock::time_point;

}  // namespace qvpn::platform
