#pragma once
// Byte strings for tests: hex and text decoded to bytes, and counting patterns. The hex
// decoder is deliberately separate from dataplane's, so that known-answer vectors do not
// go through the code under test.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace qvpn::test {

// Upper- or lower-case hex digits, two per byte; throws std::invalid_argument otherwise.
inline std::vector<uint8_t> from_hex(std::string_view hex) {
  const auto nibble = [](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<uint8_t>(c - 'A' + 10);
    throw std::invalid_argument("not a hex digit");
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd number of hex digits");
  std::vector<uint8_t> out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

// Exactly 2 * N hex digits as an array; throws std::invalid_argument otherwise.
template <size_t N>
std::array<uint8_t, N> array_from_hex(std::string_view hex) {
  const std::vector<uint8_t> bytes = from_hex(hex);
  if (bytes.size() != N) throw std::invalid_argument("wrong number of hex digits");
  std::array<uint8_t, N> out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

// The characters of `text` as bytes.
inline std::vector<uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

// A copy of `bytes` with one bit flipped; bit 0 is the low bit of the first byte.
template <typename Bytes>
Bytes with_bit_flipped(Bytes bytes, size_t bit) {
  bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  return bytes;
}

// n bytes counting up from `first`: first, first + 1, ... (wrapping at 256).
inline std::vector<uint8_t> counting_bytes(size_t n, uint8_t first = 0) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(first + i);
  return out;
}

// counting_bytes(N, first) as an array.
template <size_t N>
std::array<uint8_t, N> counting_array(uint8_t first = 0) {
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = static_cast<uint8_t>(first + i);
  return out;
}

}  // namespace qvpn::test
