#pragma once
// Internal to Poly1305: the kernel for each SIMD level behind the dispatchers in
// poly1305.h, so tests and benchmarks can call every level directly, and the scalar core
// (radix 2^64 with 128-bit products, after OpenSSL's poly1305.c) that is the portable
// kernel and that the vector kernels use for short messages and tails.
//
// The scalar core is `static inline` on purpose: each kernel file gets its own copy,
// compiled with that file's instruction set. A plain inline function would be one symbol
// that the linker could take from poly1305_avx2.cc for the portable path; and calling the
// SSE-encoded copy in poly1305.cc from AVX2 code cost several times its work here
// (dirty upper halves of the ymm registers).
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "dataplane/endian.h"
#include "dataplane/poly1305.h"

namespace qvpn::dataplane {

void poly1305_portable(uint8_t (&tag)[16], const uint8_t (&key)[32], std::span<const uint8_t> msg);
void poly1305_aead_tags_portable(std::span<const Poly1305AeadJob> jobs);

#if defined(__x86_64__)
// Only call when detected_simd_level() >= SimdLevel::kAvx2.
void poly1305_avx2(uint8_t (&tag)[16], const uint8_t (&key)[32], std::span<const uint8_t> msg);
void poly1305_aead_tags_avx2(std::span<const Poly1305AeadJob> jobs);
#endif

namespace poly1305_internal {

// The accumulator h = h0 + h1 2^64 + h2 2^128 and the clamped key r = r0 + r1 2^64, with
// s1 = r1 + r1 / 4 (= 5 r1 / 2^2, exact because clamping clears r1's two low bits).
// Invariant between calls: h2 <= 4, so h < 2^130 + 2^128 (only partially reduced).
struct Scalar {
  uint64_t h0, h1, h2;
  uint64_t r0, r1, s1;
};

using u128 = unsigned __int128;

static inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return from_le(v);
}

static inline void store_le64(uint8_t* p, uint64_t v) {
  v = to_le(v);
  std::memcpy(p, &v, 8);
}

// h = 0 and r = clamp(key[0..15]).
static inline void scalar_init(Scalar& st, const uint8_t* key) {
  st.h0 = st.h1 = st.h2 = 0;
  st.r0 = load_le64(key) & 0x0ffffffc0fffffffULL;
  st.r1 = load_le64(key + 8) & 0x0ffffffc0ffffffcULL;
  st.s1 = st.r1 + (st.r1 >> 2);
}

// h = (h + m) r for each of `nblocks` 16-byte blocks at p, with m = block + hibit 2^128
// (hibit is 1 for full message blocks, 0 for the plain MAC's padded last block).
static inline void scalar_blocks(Scalar& st, const uint8_t* p, size_t nblocks, uint64_t hibit) {
  uint64_t h0 = st.h0, h1 = st.h1, h2 = st.h2;
  const uint64_t r0 = st.r0, r1 = st.r1, s1 = st.s1;
  for (; nblocks > 0; --nblocks, p += 16) {
    // h += m; h2 <= 4 + 1 + 1.
    u128 t = u128{h0} + load_le64(p);
    h0 = static_cast<uint64_t>(t);
    t = u128{h1} + load_le64(p + 8) + static_cast<uint64_t>(t >> 64);
    h1 = static_cast<uint64_t>(t);
    h2 += hibit + static_cast<uint64_t>(t >> 64);

    // h *= r, folding 2^128 r1 = 2^130 (r1 / 4) = 5 r1 / 4 = s1 (mod p). Clamping keeps
    // r0, r1 < 2^60, so h2 * s1 and h2 * r0 fit in 64 bits.
    const u128 d0 = u128{h0} * r0 + u128{h1} * s1;
    u128 d1 = u128{h0} * r1 + u128{h1} * r0 + h2 * s1;
    const uint64_t d2 = h2 * r0;
    h0 = static_cast<uint64_t>(d0);
    d1 += static_cast<uint64_t>(d0 >> 64);
    h1 = static_cast<uint64_t>(d1);
    h2 = d2 + static_cast<uint64_t>(d1 >> 64);

    // Partial reduction: fold the bits above 2^130 back in times 5; leaves h2 <= 4.
    const uint64_t c = (h2 >> 2) + (h2 & ~uint64_t{3});
    h2 &= 3;
    t = u128{h0} + c;
    h0 = static_cast<uint64_t>(t);
    t = u128{h1} + static_cast<uint64_t>(t >> 64);
    h1 = static_cast<uint64_t>(t);
    h2 += static_cast<uint64_t>(t >> 64);
  }
  st.h0 = h0;
  st.h1 = h1;
  st.h2 = h2;
}

// One AEAD block: `len` < 16 bytes at p, zero-padded to 16, with hibit 1. No-op for len 0.
static inline void scalar_aead_tail(Scalar& st, const uint8_t* p, size_t len) {
  if (len == 0) return;
  uint8_t block[16] = {};
  std::memcpy(block, p, len);
  scalar_blocks(st, block, 1, 1);  // ad and ct are public: no wipe
}

// The AEAD length block le64(ad_len) || le64(ct_len).
static inline void scalar_aead_lengths(Scalar& st, uint64_t ad_len, uint64_t ct_len) {
  uint8_t block[16];
  store_le64(block, ad_len);
  store_le64(block + 8, ct_len);
  scalar_blocks(st, block, 1, 1);
}

// tag = (h mod 2^130 - 5) + s mod 2^128, with s = key[16..31].
static inline void scalar_finish(const Scalar& st, const uint8_t* s, uint8_t* tag) {
  // h < 2^130 + 2^128 < 2p, so h mod p is h or h - p: compute g = h + 5 and take it
  // (minus 2^130, dropped below anyway) when it reaches 2^130. Selected by mask, not branch.
  u128 t = u128{st.h0} + 5;
  const uint64_t g0 = static_cast<uint64_t>(t);
  t = u128{st.h1} + static_cast<uint64_t>(t >> 64);
  const uint64_t g1 = static_cast<uint64_t>(t);
  const uint64_t g2 = st.h2 + static_cast<uint64_t>(t >> 64);
  const uint64_t mask = 0 - (g2 >> 2);
  const uint64_t h0 = (st.h0 & ~mask) | (g0 & mask);
  const uint64_t h1 = (st.h1 & ~mask) | (g1 & mask);

  t = u128{h0} + load_le64(s);
  store_le64(tag, static_cast<uint64_t>(t));
  t = u128{h1} + load_le64(s + 8) + static_cast<uint64_t>(t >> 64);
  store_le64(tag + 8, static_cast<uint64_t>(t));
}

// The plain MAC's end: its last `rest` < 16 bytes at p (none when rest is 0), padded with a
// 1 byte and zeros and without the 2^128 bit, then tag = h + s as in scalar_finish. Wipes
// the state and the padded block.
static inline void scalar_mac_finish(Scalar& st, const uint8_t* p, size_t rest, const uint8_t* s,
                                     uint8_t* tag) {
  if (rest != 0) {
    uint8_t block[16] = {};
    std::memcpy(block, p, rest);
    block[rest] = 1;
    scalar_blocks(st, block, 1, 0);
    sodium_memzero(block, sizeof block);
  }
  scalar_finish(st, s, tag);
  sodium_memzero(&st, sizeof st);
}

}  // namespace poly1305_internal
}  // namespace qvpn::dataplane
