// TAI64N labels as WireGuard's handshake initiation carries them.
#include <doctest/doctest.h>

#include <chrono>

#include "dataplane/tai64n.h"

using namespace qvpn::dataplane;
using namespace std::chrono;

namespace {

qvpn::platform::WallTime at(nanoseconds since_epoch) {
  return qvpn::platform::WallTime(duration_cast<system_clock::duration>(since_epoch));
}

}  // namespace

TEST_CASE("known labels") {
  // The Unix epoch is TAI64 label 2^62 + 10 (wireguard-go's base 0x400000000000000a).
  CHECK(tai64n_from(at(0ns)) == Tai64n{0x40, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0});
  // 2023-11-14T22:13:20.123456789Z: 0x400000000000000a + 1700000000 = 0x400000006553f10a;
  // 123456789 ns rounds down to 7 * 2^24 = 0x07000000.
  CHECK(tai64n_from(at(1700000000s + 123456789ns)) ==
        Tai64n{0x40, 0, 0, 0, 0x65, 0x53, 0xf1, 0x0a, 0x07, 0, 0, 0});
  // The largest nanosecond value rounds to 59 * 2^24.
  CHECK(tai64n_from(at(1s + 999999999ns)) == Tai64n{0x40, 0, 0, 0, 0, 0, 0, 0x0b, 0x3b, 0, 0, 0});
  // Before 1970 the seconds floor, so nanoseconds stay in [0, 1e9): -1.5 s is -2 s + 0.5 s.
  CHECK(tai64n_from(at(-1500ms)) == Tai64n{0x40, 0, 0, 0, 0, 0, 0, 0x08, 0x1d, 0, 0, 0});
}

TEST_CASE("whitening hides the low 24 bits of the nanoseconds") {
  const auto base = 1700000000s;
  for (int64_t ns = 0; ns < 1'000'000'000; ns += 9'999'991) {
    auto t = tai64n_from(at(base + nanoseconds(ns)));
    CHECK(t[9] == 0);
    CHECK(t[10] == 0);
    CHECK(t[11] == 0);
  }
  // Within one 2^24 ns window the label does not change.
  CHECK(tai64n_from(at(base + 16777216ns)) == tai64n_from(at(base + 33554431ns)));
  CHECK(tai64n_from(at(base + 16777215ns)) != tai64n_from(at(base + 16777216ns)));
}

TEST_CASE("labels order like the times, never going backwards") {
  Tai64n prev = tai64n_from(at(1699999999s));
  for (int64_t ns = 0; ns < 3'000'000'000; ns += 7'000'001) {
    auto t = tai64n_from(at(1700000000s + nanoseconds(ns)));
    CHECK_FALSE(tai64n_after(prev, t));
    prev = t;
  }
  auto a = tai64n_from(at(1700000000s));
  auto b = tai64n_from(at(1700000000s + 20ms));
  auto c = tai64n_from(at(1700000001s));
  CHECK(tai64n_after(b, a));
  CHECK(tai64n_after(c, b));
  CHECK_FALSE(tai64n_after(a, a));
  CHECK_FALSE(tai64n_after(a, c));
}
