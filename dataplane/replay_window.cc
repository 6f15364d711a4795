#include "dataplane/replay_window.h"

#include <algorithm>

// The bitmap is a ring of 64-bit blocks; counter c lives at bit c % 64 of block
// (c / 64) % kBlocks. Accepted counters span greatest_ - kWindowSize .. greatest_, which
// touches at most kBlocks - 1 blocks below greatest_'s own, so live counters never share a
// block with the one being cleared ahead. Same scheme as RFC 6479 and the Linux module's
// counter_validate (which offsets counters by one; the windows are identical).

namespace qvpn::dataplane {

namespace {

constexpr uint64_t kBlockBits = 64;
constexpr uint64_t kBlocks = ReplayWindow::kBitsTotal / kBlockBits;
static_assert((kBlocks & (kBlocks - 1)) == 0, "block index wraps with a mask");

}  // namespace

bool ReplayWindow::accept(uint64_t counter, uint64_t limit) {
  if (counter >= limit) return false;
  // Written as a difference so counters near UINT64_MAX do not overflow.
  if (any_ && counter < greatest_ && greatest_ - counter > kWindowSize) return false;

  const uint64_t block = counter / kBlockBits;
  if (!any_ || counter > greatest_) {
    // Blocks between the old greatest and the new one hold stale bits from a lap ago.
    // A fresh window's bitmap is already clear.
    if (any_) {
      const uint64_t current = greatest_ / kBlockBits;
      const uint64_t skipped = std::min(block - current, kBlocks);
      for (uint64_t i = 1; i <= skipped; ++i) bitmap_[(current + i) & (kBlocks - 1)] = 0;
    }
    greatest_ = counter;
    any_ = true;
  }

  uint64_t& word = bitmap_[block & (kBlocks - 1)];
  const uint64_t bit = uint64_t{1} << (counter % kBlockBits);
  if (word & bit) return false;
  word |= bit;
  return true;
}

void ReplayWindow::reset() {
  greatest_ = 0;
  any_ = false;
  bitmap_.fill(0);
}

}  // namespace qvpn::dataplane
