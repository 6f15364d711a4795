#include "dataplane/chacha20.h"

#include <sodium.h>

#include <cstring>

#include "dataplane/chacha20_impl.h"
#include "dataplane/cpu_features.h"

namespace qvpn::dataplane {

namespace {

inline uint32_t load32_le(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

inline uint32_t rotl(uint32_t v, int n) { return v << n | v >> (32 - n); }

inline void quarter_round(uint32_t& a, uint32_t& b, uint32_t& c, uint32_t& d) {
  a += b;
  d = rotl(d ^ a, 16);
  c += d;
  b = rotl(b ^ c, 12);
  a += b;
  d = rotl(d ^ a, 8);
  c += d;
  b = rotl(b ^ c, 7);
}

// RFC 8439 section 2.3: the block function, serialised little-endian.
void chacha20_block(uint8_t (&out)[kChachaBlockSize], const uint32_t (&in)[16]) {
  uint32_t x[16];
  std::memcpy(x, in, sizeof x);
  for (int i = 0; i < 10; ++i) {
    quarter_round(x[0], x[4], x[8], x[12]);
    quarter_round(x[1], x[5], x[9], x[13]);
    quarter_round(x[2], x[6], x[10], x[14]);
    quarter_round(x[3], x[7], x[11], x[15]);
    quarter_round(x[0], x[5], x[10], x[15]);
    quarter_round(x[1], x[6], x[11], x[12]);
    quarter_round(x[2], x[7], x[8], x[13]);
    quarter_round(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; ++i) {
    const uint32_t v = x[i] + in[i];
    out[4 * i] = static_cast<uint8_t>(v);
    out[4 * i + 1] = static_cast<uint8_t>(v >> 8);
    out[4 * i + 2] = static_cast<uint8_t>(v >> 16);
    out[4 * i + 3] = static_cast<uint8_t>(v >> 24);
  }
  sodium_memzero(x, sizeof x);
}

void xor_stream_portable(const ChachaStream& s) {
  uint32_t state[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (int i = 0; i < 8; ++i) state[4 + i] = load32_le(s.key + 4 * i);
  state[12] = s.counter;
  for (int i = 0; i < 3; ++i) state[13 + i] = load32_le(s.nonce + 4 * i);

  uint8_t block[kChachaBlockSize];
  for (size_t off = 0; off < s.len; off += kChachaBlockSize) {
    chacha20_block(block, state);
    ++state[12];
    const size_t n = s.len - off < kChachaBlockSize ? s.len - off : kChachaBlockSize;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t a, b;
      std::memcpy(&a, s.src + off + i, 8);
      std::memcpy(&b, block + i, 8);
      a ^= b;
      std::memcpy(s.dst + off + i, &a, 8);
    }
    for (; i < n; ++i) s.dst[off + i] = s.src[off + i] ^ block[i];
  }
  sodium_memzero(block, sizeof block);
  sodium_memzero(state, sizeof state);
}

}  // namespace

void chacha20_xor_portable(std::span<const ChachaStream> streams) {
  for (const ChachaStream& s : streams) xor_stream_portable(s);
}

void chacha20_xor(std::span<const ChachaStream> streams) {
#if defined(__x86_64__)
  // No AVX-512 kernel: eight 32-bit lanes already cover a packet's worth of blocks, and the
  // CPUs we test on have no AVX-512 to check one against.
  if (simd_level() >= SimdLevel::kAvx2) return chacha20_xor_avx2(streams);
#endif
  chacha20_xor_portable(streams);
}

}  // namespace qvpn::dataplane
