#pragma once
// Reads a fuzzer's input as a stream of operands; missing bytes read as zero, so every
// input is a valid program.
#include <algorithm>
#include <cstdint>
#include <span>

namespace qvpn::test {

class FuzzReader {
 public:
  explicit FuzzReader(std::span<const uint8_t> in) : in_(in) {}
  bool empty() const { return in_.empty(); }
  uint8_t byte() { return uint8_t(take(1)); }
  // n (at most 4) bytes, little-endian.
  uint32_t take(size_t n) {
    uint32_t v = 0;
    for (size_t i = 0; i < n && !in_.empty(); ++i) {
      v |= uint32_t{in_.front()} << (8 * i);
      in_ = in_.subspan(1);
    }
    return v;
  }
  std::span<const uint8_t> bytes(size_t n) {
    const auto out = in_.first(std::min(n, in_.size()));
    in_ = in_.subspan(out.size());
    return out;
  }

 private:
  std::span<const uint8_t> in_;
};

}  // namespace qvpn::test
