#pragma once
// TAI64N timestamps (12 bytes, big-endian) as the handshake initiation carries them.
// Like the Linux module and wireguard-go, the nanoseconds are rounded down to a multiple
// of 2^24 so the timestamp does not leak fine timing.
#include <array>
#include <span>

#include "dataplane/messages.h"
#include "platform/clock.h"

namespace qvpn::dataplane {

using Tai64n = std::array<uint8_t, kTai64nSize>;

Tai64n tai64n_from(platform::WallTime t);
// Big-endian bytes compare in time order.
inline bool tai64n_after(const Tai64n& a, const Tai64n& b) { return a > b; }

}  // namespace qvpn::dataplane
