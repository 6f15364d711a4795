#pragma once
// Little-endian wire integers, whatever the host order.
#include <bit>
#include <cstddef>
#include <cstdint>

namespace qvpn::dataplane {

template <typename T>
constexpr T to_le(T v) {
  if constexpr (std::endian::native == std::endian::little) {
    return v;
  } else {
    T out = 0;
    for (size_t i = 0; i < sizeof(T); ++i) out = T(out << 8) | T((v >> (8 * i)) & 0xff);
    return out;
  }
}
template <typename T>
constexpr T from_le(T v) {
  return to_le(v);
}

}  // namespace qvpn::dataplane
