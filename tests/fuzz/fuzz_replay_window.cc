// Differential fuzzer: ReplayWindow against a set of every counter accepted so far.
// Input: 8 bytes of limit, then ops of one kind byte and up to 8 bytes of operand.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <span>

#include "dataplane/replay_window.h"

namespace {

using qvpn::dataplane::ReplayWindow;

class NaiveWindow {
 public:
  bool accept(uint64_t counter, uint64_t limit) {
    if (counter >= limit) return false;
    if (!seen_.empty() && counter < greatest_ && greatest_ - counter > ReplayWindow::kWindowSize)
      return false;
    if (!seen_.insert(counter).second) return false;
    if (counter > greatest_) greatest_ = counter;
    return true;
  }
  void reset() {
    seen_.clear();
    greatest_ = 0;
  }
  uint64_t greatest() const { return greatest_; }

 private:
  std::set<uint64_t> seen_;
  uint64_t greatest_ = 0;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool empty() const { return in_.empty(); }
  uint64_t take(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && !in_.empty(); ++i) {
      v = (v << 8) | in_.front();
      in_ = in_.subspan(1);
    }
    return v;
  }

 private:
  std::span<const uint8_t> in_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in({data, size});
  // A limit of 0 would reject everything; the interesting ones are small or near the top.
  uint64_t limit = in.take(8);
  if (limit == 0) limit = UINT64_MAX;

  ReplayWindow w;
  NaiveWindow ref;
  for (int step = 0; !in.empty() && step < 4096; ++step) {
    const uint8_t kind = static_cast<uint8_t>(in.take(1));
    // Counters mostly relative to the highest seen, so the fuzzer reaches the window edges.
    const uint64_t g = ref.greatest();
    uint64_t counter;
    switch (kind % 6) {
      case 0:  // anywhere
        counter = in.take(8);
        break;
      case 1:  // ahead
        counter = g + in.take(2);
        break;
      case 2:  // behind
        counter = g - in.take(2);
        break;
      case 3:  // around the oldest counter still accepted
        counter = g - ReplayWindow::kWindowSize + in.take(1) - 128;
        break;
      case 4:  // whole laps of the bitmap ahead
        counter = g + ReplayWindow::kBitsTotal * in.take(1) + in.take(1);
        break;
      default:
        w.reset();
        ref.reset();
        continue;
    }
    const bool want = ref.accept(counter, limit);
    if (w.accept(counter, limit) != want) {
      std::fprintf(stderr, "replay_window mismatch at step %d: counter %llu limit %llu, naive %d\n",
                   step, static_cast<unsigned long long>(counter),
                   static_cast<unsigned long long>(limit), want);
      std::abort();
    }
  }
  return 0;
}
