#pragma once
// Internal to ChaCha20-Poly1305: the two ways chacha20poly1305_seal/open (chacha20poly1305.h)
// are computed, so tests and benchmarks can run each directly. Both have the contract of
// the public functions.
#include <cstdint>
#include <cstring>
#include <span>

#include "dataplane/chacha20poly1305.h"

namespace qvpn::dataplane {

// dst = src ^ ks, n bytes, eight at a time; dst may equal src. A byte loop here would cost
// a 1420-byte packet a third of its ChaCha20 time. Static: the AVX2 file gets its own copy.
static inline void xor_bytes_by_word(uint8_t* dst, const uint8_t* src, const uint8_t* ks,
                                     size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t a, b;
    std::memcpy(&a, src + i, 8);
    std::memcpy(&b, ks + i, 8);
    a ^= b;
    std::memcpy(dst + i, &a, 8);
  }
  for (; i < n; ++i) dst[i] = src[i] ^ ks[i];
}

// Composed: chacha20_xor over all jobs, then poly1305_aead_tags over all jobs (each
// dispatching on simd_level()). The path for every job without AVX2, and for the jobs the
// stitched kernel leaves to it.
void chacha20poly1305_seal_composed(std::span<AeadJob> jobs);
void chacha20poly1305_open_composed(std::span<AeadJob> jobs);

#if defined(__x86_64__)
// Stitched: scalar (mulx) Poly1305 interleaved with the AVX2 ChaCha20 rounds, so the MAC
// runs on the integer ports while the keystream runs on the vector ports. Takes jobs of
// at least kStitchedMinLen bytes (open: at most kStitchedMaxOpenLen) and hands the others
// to the composed path. Only call when detected_simd_level() >= kAvx2.
void chacha20poly1305_seal_avx2(std::span<AeadJob> jobs);
void chacha20poly1305_open_avx2(std::span<AeadJob> jobs);
#endif

}  // namespace qvpn::dataplane
