#pragma once
// Internal: the eight-block ChaCha20 AVX2 kernel pieces shared by chacha20_avx2.cc and
// chacha20poly1305_avx2.cc (quarter-round asm macros, keystream transpose and scatter).
// Include only from *_avx2.cc files, which CMake compiles with -mavx2 -mbmi2.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "dataplane/chacha20_impl.h"

#if defined(__x86_64__)

// Everything here is `static` (or a macro) on purpose, as in poly1305_impl.h: each
// including file gets its own AVX2-encoded copy, and no AVX2 function is one inline
// symbol that the linker could pick for code compiled without AVX2.
namespace qvpn::dataplane::chacha20_avx2_kernel {

using V = __m256i;

static constexpr int kLanes = 8;
static constexpr size_t kStep = kLanes * kChachaBlockSize;  // bytes of keystream a step
static constexpr uint32_t kSigma[4] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};

static inline V xor_(V a, V b) { return _mm256_xor_si256(a, b); }
static inline V load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const V*>(p)); }
static inline void store(uint8_t* p, V v) { _mm256_storeu_si256(reinterpret_cast<V*>(p), v); }

// ---- The rounds, vertical layout: ymm register w holds state word w of eight blocks -----

// Pieces of the asm loops. Register use there: ymm0-7, ymm12-15 state words 0-7, 12-15;
// ymm8, ymm9 two of words 8-11 (the other two in memory); ymm10, ymm11 temporaries; the
// asm takes the byte shuffles below as operands %[rot16] and %[rot8]. The including file
// #undefs these macros after its asm.
#define QVPN_Y(n) "%%ymm" #n
// Half of two quarter rounds (a0, b0, c0, d0) and (a1, b1, c1, d1), interleaved: a += b,
// d ^= a, d <<<= (vpshufb mask %[rot]), c += d, b ^= c, b <<<= left (b >> right | b << left).
#define QVPN_QR2H(rot, right, left, a0, b0, c0, d0, a1, b1, c1, d1) \
  "vpaddd " QVPN_Y(b0) ", " QVPN_Y(a0) ", " QVPN_Y(a0) "\n\t"                                \
  "vpaddd " QVPN_Y(b1) ", " QVPN_Y(a1) ", " QVPN_Y(a1) "\n\t"                                \
  "vpxor " QVPN_Y(a0) ", " QVPN_Y(d0) ", " QVPN_Y(d0) "\n\t"                                 \
  "vpxor " QVPN_Y(a1) ", " QVPN_Y(d1) ", " QVPN_Y(d1) "\n\t"                                 \
  "vpshufb %[" #rot "], " QVPN_Y(d0) ", " QVPN_Y(d0) "\n\t"                                  \
  "vpshufb %[" #rot "], " QVPN_Y(d1) ", " QVPN_Y(d1) "\n\t"                                  \
  "vpaddd " QVPN_Y(d0) ", " QVPN_Y(c0) ", " QVPN_Y(c0) "\n\t"                                \
  "vpaddd " QVPN_Y(d1) ", " QVPN_Y(c1) ", " QVPN_Y(c1) "\n\t"                                \
  "vpxor " QVPN_Y(c0) ", " QVPN_Y(b0) ", " QVPN_Y(b0) "\n\t"                                 \
  "vpxor " QVPN_Y(c1) ", " QVPN_Y(b1) ", " QVPN_Y(b1) "\n\t"                                 \
  "vpsrld $" #right ", " QVPN_Y(b0) ", %%ymm10\n\t"                                           \
  "vpsrld $" #right ", " QVPN_Y(b1) ", %%ymm11\n\t"                                           \
  "vpslld $" #left ", " QVPN_Y(b0) ", " QVPN_Y(b0) "\n\t"                                     \
  "vpslld $" #left ", " QVPN_Y(b1) ", " QVPN_Y(b1) "\n\t"                                     \
  "vpor %%ymm10, " QVPN_Y(b0) ", " QVPN_Y(b0) "\n\t"                                         \
  "vpor %%ymm11, " QVPN_Y(b1) ", " QVPN_Y(b1) "\n\t"
// The first half rotates by 16 and 12, the second by 8 and 7.
#define QVPN_QR2A(a0, b0, c0, d0, a1, b1, c1, d1) \
  QVPN_QR2H(rot16, 20, 12, a0, b0, c0, d0, a1, b1, c1, d1)
#define QVPN_QR2B(a0, b0, c0, d0, a1, b1, c1, d1) \
  QVPN_QR2H(rot8, 25, 7, a0, b0, c0, d0, a1, b1, c1, d1)
// Two quarter rounds (a0, b0, c0, d0) and (a1, b1, c1, d1), interleaved.
#define QVPN_QR2(a0, b0, c0, d0, a1, b1, c1, d1) \
  QVPN_QR2A(a0, b0, c0, d0, a1, b1, c1, d1) QVPN_QR2B(a0, b0, c0, d0, a1, b1, c1, d1)

// vpshufb masks: rotate each 32-bit word left by 16 and by 8.
// clang-format off
alignas(32) static constexpr uint8_t kRot16[32] = {
    2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
    2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13};
alignas(32) static constexpr uint8_t kRot8[32] = {
    3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14,
    3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14};
// clang-format on

// ---- Keystream out --------------------------------------------------------------------

// 4x4 transpose of 32-bit words within each 128-bit half: row r of the input becomes
// column r. Used both to gather lanes into the vertical layout and to scatter them back.
static inline void transpose4(V& a, V& b, V& c, V& d) {
  const V t0 = _mm256_unpacklo_epi32(a, b);
  const V t1 = _mm256_unpackhi_epi32(a, b);
  const V t2 = _mm256_unpacklo_epi32(c, d);
  const V t3 = _mm256_unpackhi_epi32(c, d);
  a = _mm256_unpacklo_epi64(t0, t2);
  b = _mm256_unpackhi_epi64(t0, t2);
  c = _mm256_unpacklo_epi64(t1, t3);
  d = _mm256_unpackhi_epi64(t1, t3);
}

// Turns the vertical keystream w.ks (word i of the eight blocks in w.ks[i]; W is the
// including file's Work) back into blocks: calls out(i, half, v) with bytes 32 * half ..
// 32 * half + 31 of lane i's block, for the eight lanes and both halves. Each half
// transposes eight words (two 4x4 transposes within 128-bit halves, then cross-half
// permutes), so at most twelve registers are live.
template <typename W, typename Out>
static inline void scatter(const W& w, Out&& out) {
  for (int half = 0; half < 2; ++half) {
    V a0 = w.ks[8 * half], a1 = w.ks[8 * half + 1], a2 = w.ks[8 * half + 2];
    V a3 = w.ks[8 * half + 3];
    V b0 = w.ks[8 * half + 4], b1 = w.ks[8 * half + 5], b2 = w.ks[8 * half + 6];
    V b3 = w.ks[8 * half + 7];
    transpose4(a0, a1, a2, a3);  // ai: 4 words of lane i (low 128 bits), lane i + 4 (high)
    transpose4(b0, b1, b2, b3);  // the next 4 words likewise
    out(0, half, _mm256_permute2x128_si256(a0, b0, 0x20));
    out(4, half, _mm256_permute2x128_si256(a0, b0, 0x31));
    out(1, half, _mm256_permute2x128_si256(a1, b1, 0x20));
    out(5, half, _mm256_permute2x128_si256(a1, b1, 0x31));
    out(2, half, _mm256_permute2x128_si256(a2, b2, 0x20));
    out(6, half, _mm256_permute2x128_si256(a2, b2, 0x31));
    out(3, half, _mm256_permute2x128_si256(a3, b3, 0x20));
    out(7, half, _mm256_permute2x128_si256(a3, b3, 0x31));
  }
}

// dst = src ^ the eight consecutive blocks of keystream in w.ks (kStep bytes); src may
// equal dst.
template <typename W>
static inline void xor_step(const W& w, const uint8_t* src, uint8_t* dst) {
  scatter(w, [&](int i, int half, V v) {
    const size_t at = kChachaBlockSize * i + 32 * half;
    store(dst + at, xor_(load(src + at), v));  // load before store: src may equal dst
  });
}

}  // namespace qvpn::dataplane::chacha20_avx2_kernel

#endif  // defined(__x86_64__)
