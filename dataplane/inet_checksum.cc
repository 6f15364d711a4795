#include "dataplane/inet_checksum.h"

#include <bit>
#include <cstring>

namespace qvpn::dataplane {

namespace {

// Words are added in host order, 32 bits at a time into 64-bit accumulators (no carries to
// track for 16 GiB). The one's-complement sum does not depend on byte order (RFC 1071 2.B), so
// on a little-endian host the folded result only needs its two bytes swapped at the end.
inline uint64_t halves(uint64_t w) { return (w & 0xffffffff) + (w >> 32); }

inline uint64_t to_big_endian_sum(uint64_t acc) {
  uint16_t s = checksum_fold(acc);
  if constexpr (std::endian::native == std::endian::little) {
    s = static_cast<uint16_t>(s << 8 | s >> 8);
  }
  return s;
}

inline uint64_t load64(const uint8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

}  // namespace

uint64_t checksum_add(std::span<const uint8_t> data, uint64_t sum) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (; n >= 32; p += 32, n -= 32) {
    a0 += halves(load64(p));
    a1 += halves(load64(p + 8));
    a2 += halves(load64(p + 16));
    a3 += halves(load64(p + 24));
  }
  for (; n >= 8; p += 8, n -= 8) a0 += halves(load64(p));
  if (n > 0) {
    uint64_t w = 0;  // the tail in the low-addressed bytes, zero padded
    std::memcpy(&w, p, n);
    a1 += halves(w);
  }
  return sum + to_big_endian_sum(a0 + a1 + a2 + a3);
}

uint64_t checksum_copy(uint8_t* dst, std::span<const uint8_t> src, uint64_t sum) {
  const uint8_t* p = src.data();
  size_t n = src.size();
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (; n >= 32; p += 32, dst += 32, n -= 32) {
    const uint64_t w0 = load64(p), w1 = load64(p + 8), w2 = load64(p + 16), w3 = load64(p + 24);
    std::memcpy(dst, &w0, 8);
    std::memcpy(dst + 8, &w1, 8);
    std::memcpy(dst + 16, &w2, 8);
    std::memcpy(dst + 24, &w3, 8);
    a0 += halves(w0);
    a1 += halves(w1);
    a2 += halves(w2);
    a3 += halves(w3);
  }
  for (; n >= 8; p += 8, dst += 8, n -= 8) {
    const uint64_t w = load64(p);
    std::memcpy(dst, &w, 8);
    a0 += halves(w);
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    std::memcpy(dst, p, n);
    a1 += halves(w);
  }
  return sum + to_big_endian_sum(a0 + a1 + a2 + a3);
}

uint64_t pseudo_header_sum_ipv4(std::span<const uint8_t, 8> src_dst, uint8_t protocol,
                                uint32_t l4_length) {
  return checksum_add(src_dst) + protocol + (l4_length >> 16) + (l4_length & 0xffff);
}

uint64_t pseudo_header_sum_ipv6(std::span<const uint8_t, 32> src_dst, uint8_t protocol,
                                uint32_t l4_length) {
  return checksum_add(src_dst) + protocol + (l4_length >> 16) + (l4_length & 0xffff);
}

}  // namespace qvpn::dataplane
