#include <doctest/doctest.h>

#include <random>
#include <set>

#include "dataplane/constants.h"
#include "dataplane/replay_window.h"

using qvpn::dataplane::kRejectAfterMessages;
using qvpn::dataplane::ReplayWindow;

namespace {

constexpr uint64_t kWindow = ReplayWindow::kWindowSize;
constexpr uint64_t kLim = kWindow + 1;  // T_LIM in the Linux selftest

// Runs numbered cases against one window, as the Linux module's counter selftest does.
struct Checker {
  ReplayWindow w;
  int number = 0;
  void t(uint64_t counter, bool expected) {
    ++number;
    CAPTURE(number);
    CAPTURE(counter);
    CHECK(w.accept(counter, kRejectAfterMessages) == expected);
  }
};

}  // namespace

TEST_CASE("numbered counter cases from the Linux selftest") {
  Checker c;
  c.t(0, true);                          //  1
  c.t(1, true);                          //  2
  c.t(1, false);                         //  3
  c.t(9, true);                          //  4
  c.t(8, true);                          //  5
  c.t(7, true);                          //  6
  c.t(7, false);                         //  7
  c.t(kLim, true);                       //  8
  c.t(kLim - 1, true);                   //  9
  c.t(kLim - 1, false);                  // 10
  c.t(kLim - 2, true);                   // 11
  c.t(2, true);                          // 12
  c.t(2, false);                         // 13
  c.t(kLim + 16, true);                  // 14
  c.t(3, false);                         // 15
  c.t(kLim + 16, false);                 // 16
  c.t(kLim * 4, true);                   // 17
  c.t(kLim * 4 - (kLim - 1), true);      // 18
  c.t(10, false);                        // 19
  c.t(kLim * 4 - kLim, false);           // 20
  c.t(kLim * 4 - (kLim + 1), false);     // 21
  c.t(kLim * 4 - (kLim - 2), true);      // 22
  c.t(kLim * 4 + 1 - kLim, false);       // 23
  c.t(0, false);                         // 24
  c.t(kRejectAfterMessages, false);      // 25
  c.t(kRejectAfterMessages - 1, true);   // 26
  c.t(kRejectAfterMessages, false);      // 27
  c.t(kRejectAfterMessages - 1, false);  // 28
  c.t(kRejectAfterMessages - 2, true);   // 29
  c.t(kRejectAfterMessages + 1, false);  // 30
  c.t(kRejectAfterMessages + 2, false);  // 31
  c.t(kRejectAfterMessages - 2, false);  // 32
  c.t(kRejectAfterMessages - 3, true);   // 33
  c.t(0, false);                         // 34
}

TEST_CASE("in-order and reverse-order runs across the whole window") {
  SUBCASE("ascending, then the oldest still fits") {
    Checker c;
    for (uint64_t i = 1; i <= kWindow; ++i) c.t(i, true);
    c.t(0, true);
    c.t(0, false);
  }
  SUBCASE("ascending from 2, then 1 fits and 0 has fallen out") {
    Checker c;
    for (uint64_t i = 2; i <= kWindow + 1; ++i) c.t(i, true);
    c.t(1, true);
    c.t(0, false);
  }
  SUBCASE("descending from the window's width") {
    Checker c;
    for (uint64_t i = kWindow + 1; i-- > 0;) c.t(i, true);
  }
  SUBCASE("descending from one past the width, then 0 is too old") {
    Checker c;
    for (uint64_t i = kWindow + 2; i-- > 1;) c.t(i, true);
    c.t(0, false);
  }
  SUBCASE("descending, then a new maximum pushes 0 out") {
    Checker c;
    for (uint64_t i = kWindow + 1; i-- > 1;) c.t(i, true);
    c.t(kWindow + 1, true);
    c.t(0, false);
  }
  SUBCASE("descending, then 0 before the new maximum") {
    Checker c;
    for (uint64_t i = kWindow + 1; i-- > 1;) c.t(i, true);
    c.t(0, true);
    c.t(kWindow + 1, true);
  }
}

TEST_CASE("limit and reset") {
  ReplayWindow w;
  CHECK_FALSE(w.accept(10, 10));
  CHECK(w.accept(9, 10));
  CHECK_FALSE(w.accept(9, 10));
  CHECK_FALSE(w.accept(0, 0));
  w.reset();
  CHECK(w.accept(9, 10));
  CHECK(w.accept(0, 10));
  // Near the top of the counter space nothing overflows.
  CHECK(w.accept(UINT64_MAX - 1, UINT64_MAX));
  CHECK_FALSE(w.accept(UINT64_MAX - 1, UINT64_MAX));
  CHECK(w.accept(UINT64_MAX - 1 - kWindow, UINT64_MAX));
  CHECK_FALSE(w.accept(UINT64_MAX - 2 - kWindow, UINT64_MAX));
}

TEST_CASE("a jump of exactly one lap clears the stale block") {
  ReplayWindow w;
  // Counters a whole bitmap apart share a bit; the jump must not find it set.
  CHECK(w.accept(5, UINT64_MAX));
  CHECK(w.accept(5 + ReplayWindow::kBitsTotal, UINT64_MAX));
  const uint64_t top = 5 + 2 * ReplayWindow::kBitsTotal + 64;
  CHECK(w.accept(top, UINT64_MAX));
  CHECK_FALSE(w.accept(top - ReplayWindow::kBitsTotal, UINT64_MAX));  // a lap behind: too old
  CHECK(w.accept(top - kWindow, UINT64_MAX));                         // oldest still allowed
  CHECK_FALSE(w.accept(top - kWindow - 1, UINT64_MAX));
}

namespace {

// A deliberately naive window: every counter ever accepted, and the highest one.
class NaiveWindow {
 public:
  bool accept(uint64_t counter, uint64_t limit) {
    if (counter >= limit) return false;
    if (!seen_.empty() && counter + kWindow < greatest_) return false;
    if (!seen_.insert(counter).second) return false;
    greatest_ = std::max(greatest_, counter);
    return true;
  }

 private:
  std::set<uint64_t> seen_;
  uint64_t greatest_ = 0;
};

}  // namespace

TEST_CASE("randomised comparison with a naive window") {
  std::mt19937_64 rng(0xc0ffee);
  for (int run = 0; run < 20; ++run) {
    CAPTURE(run);
    ReplayWindow w;
    NaiveWindow ref;
    uint64_t base = 0;
    const uint64_t limit = run % 2 ? kRejectAfterMessages : 200000;
    for (int i = 0; i < 50000; ++i) {
      // Mostly near the front with reordering and duplicates, sometimes big jumps forward
      // or far into the past, and the odd packet at the window's edge.
      uint64_t counter;
      switch (rng() % 10) {
        case 0:
          counter = base + rng() % (4 * ReplayWindow::kBitsTotal);
          break;
        case 1:
          counter = base - std::min<uint64_t>(base, rng() % (2 * ReplayWindow::kBitsTotal));
          break;
        case 2:
          counter = base - std::min<uint64_t>(base, kWindow + rng() % 3);
          break;
        default:
          counter = base + rng() % 70 - std::min<uint64_t>(base, 35);
          break;
      }
      if (counter > limit + 10) counter = limit - rng() % 5;
      const bool want = ref.accept(counter, limit);
      if (w.accept(counter, limit) != want) {
        FAIL("mismatch at step " << i << " for counter " << counter << ", naive says " << want);
      }
      if (want) base = std::max(base, counter);
    }
  }
}
