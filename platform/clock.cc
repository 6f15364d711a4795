#include "platform/clock.h"

#include <time.h>

namespace qvpn::platform {

MonoClock::time_point MonoClock::now() noexcept {
  timespec ts{};
#ifdef CLOCK_BOOTTIME
  clock_gettime(CLOCK_BOOTTIME, &ts);
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return time_point(duration(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
}

}  // namespace qvpn::platform
