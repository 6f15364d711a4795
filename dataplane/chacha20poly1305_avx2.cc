// ChaCha20-Poly1305 with the MAC stitched into the ChaCha20 rounds: while the vector ports
// run eight blocks of keystream (the vertical layout of chacha20_avx2.cc), the integer
// ports run scalar Poly1305 (radix 2^64, mulx) over ciphertext that is already known. The
// two instruction streams sit in one asm loop, a Poly1305 block after each pair of
// quarter rounds, so the out-of-order core overlaps them.
//
// Flow, job after job, one step = eight consecutive blocks of one job's keystream:
//   seal: step 0 gives the one-time key (block 0) and the payload's first 448 bytes; step
//         k >= 1 the payload's bytes 512 k - 64 onward. During step k the MAC runs over
//         the ciphertext written before it; during step 0 of the next job, over the rest of
//         the previous job, whose tag is then finished in C (partial block, lengths).
//   open: the same steps, but the keystream goes to a buffer (so short jobs only) and the
//         MAC runs over the received ciphertext. The tag is compared in constant time and
//         only then is the keystream XORed into dst: a forgery leaves dst untouched.
// Jobs the stitched loop would run slower than the composed path (short ones: a whole
// step for a few blocks) or that open cannot buffer go to chacha20poly1305_*_composed.
// The state, one-time keys and keystream live in Work, wiped at the end of each call.
#include <immintrin.h>
#include <sodium.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "dataplane/chacha20_avx2_kernel.h"
#include "dataplane/chacha20poly1305_impl.h"
#include "dataplane/poly1305_impl.h"

#if defined(__x86_64__)

namespace qvpn::dataplane {

namespace {

using namespace chacha20_avx2_kernel;
using namespace poly1305_internal;

constexpr size_t kBlock = kChachaBlockSize;
constexpr size_t kTag = 16;
// Jobs shorter than this go to the composed path, which shares lanes between jobs.
constexpr size_t kStitchedMinLen = 192;
// Open buffers a job's keystream until its tag verifies: at most this many steps.
constexpr size_t kOpenSteps = 4;
constexpr size_t kOpenMaxCt = kOpenSteps * kStep - kBlock;
// MAC blocks one step can take: one after each pair of quarter rounds.
constexpr size_t kMacBlocksPerStep = 30;
// Composed-path jobs are collected this many at a time.
constexpr size_t kSpill = 32;

struct Work {
  V st[16];      // initial state, vertical layout              (offset 0)
  V ks[16];      // keystream words                             (offset 512)
  V c[4];        // words 8..11 while out of registers          (offset 1024)
  Scalar mac;    // h0 h1 h2 r0 r1 s1 of the MAC in flight      (offset 1152)
  uint8_t s[16];                         // its tag key (second half of the one-time key)
  alignas(32) uint8_t otk[kBlock];       // seal: block 0 of the current job
  alignas(32) uint8_t tail[kLanes][kBlock];
  alignas(32) uint8_t open_ks[2][kOpenSteps * kStep];  // open: keystream of two jobs
};
static_assert(offsetof(Work, ks) == 512 && offsetof(Work, c) == 1024);
static_assert(offsetof(Work, mac) == 1152 && offsetof(Scalar, r0) == 24 &&
              offsetof(Scalar, s1) == 40);

// ---- The stitched step ----------------------------------------------------------------

// Register use: as rounds8 in chacha20_avx2.cc (ymm0-7, 12-15 state words, ymm8/9 two of
// words 8..11, ymm10/11 temporaries; the round macros are in chacha20_avx2_kernel.h); the
// MAC's h0..h2 in general registers, r0, r1, s1 read from w.mac, rdx for mulx.
// QVPN_QR2 (chacha20_avx2_kernel.h) with a MAC block between its halves.
#define QVPN_QR2_MAC(a0, b0, c0, d0, a1, b1, c1, d1) \
  QVPN_QR2A(a0, b0, c0, d0, a1, b1, c1, d1) QVPN_MAC_BLOCK QVPN_QR2B(a0, b0, c0, d0, a1, b1, c1, d1)

// One Poly1305 block if any are left: h = (h + m + 2^128) r, partially reduced
// (poly1305_impl.h scalar_blocks, line for line):
//   d0 = h0 r0 + h1 s1,  d1 = h0 r1 + h1 r0 + h2 s1 + d0 / 2^64,  h2 = h2 r0 + d1 / 2^64.
#define QVPN_MAC_BLOCK                                                                  \
  "testq %[cnt], %[cnt]\n\t"                                                            \
  "jz 2f\n\t"                                                                           \
  "addq 0(%[p]), %[h0]\n\t"                                                             \
  "adcq 8(%[p]), %[h1]\n\t"                                                             \
  "adcq $1, %[h2]\n\t"                                                                  \
  "movq %[h0], %%rdx\n\t"                                                               \
  "mulxq 1176(%[w]), %[t0], %[t1]\n\t" /* t1:t0 = h0 r0 */                              \
  "mulxq 1184(%[w]), %[t2], %[t3]\n\t" /* t3:t2 = h0 r1 */                              \
  "movq %[h1], %%rdx\n\t"                                                               \
  "mulxq 1192(%[w]), %[h0], %[h1]\n\t" /* h1 s1 */                                      \
  "addq %[h0], %[t0]\n\t"                                                               \
  "adcq %[h1], %[t1]\n\t"                                                               \
  "mulxq 1176(%[w]), %[h0], %[h1]\n\t" /* h1 r0 */                                      \
  "addq %[h0], %[t2]\n\t"                                                               \
  "adcq %[h1], %[t3]\n\t"                                                               \
  "movq 1192(%[w]), %[h0]\n\t"                                                          \
  "imulq %[h2], %[h0]\n\t" /* h2 s1 */                                                  \
  "imulq 1176(%[w]), %[h2]\n\t" /* h2 r0 */                                             \
  "addq %[h0], %[t2]\n\t"                                                               \
  "adcq $0, %[t3]\n\t"                                                                  \
  "movq %[t0], %[h0]\n\t"                                                               \
  "addq %[t1], %[t2]\n\t"                                                               \
  "adcq %[t3], %[h2]\n\t"                                                               \
  "movq %[t2], %[h1]\n\t"                                                               \
  /* fold the bits above 2^130 back in times 5 */                                       \
  "movq %[h2], %[t0]\n\t"                                                               \
  "andq $-4, %[t0]\n\t"                                                                 \
  "movq %[h2], %[t1]\n\t"                                                               \
  "shrq $2, %[t1]\n\t"                                                                  \
  "andq $3, %[h2]\n\t"                                                                  \
  "addq %[t1], %[t0]\n\t"                                                               \
  "addq %[t0], %[h0]\n\t"                                                               \
  "adcq $0, %[h1]\n\t"                                                                  \
  "adcq $0, %[h2]\n\t"                                                                  \
  "addq $16, %[p]\n\t"                                                                  \
  "decq %[cnt]\n\t"                                                                     \
  "2:\n\t"

// w.ks = the 20 rounds on w.st plus w.st, and w.mac absorbs min(nblocks,
// kMacBlocksPerStep) full blocks at p. Returns how many it absorbed.
size_t rounds8_mac(Work& w, const uint8_t* p, size_t nblocks) {
  size_t cnt = std::min(nblocks, kMacBlocksPerStep);
  const size_t want = cnt;
  const V& rot16 = *reinterpret_cast<const V*>(kRot16);
  const V& rot8 = *reinterpret_cast<const V*>(kRot8);
  uint64_t n, h0, h1, h2, t0, t1, t2, t3;
  asm volatile(
      "movq 1152(%[w]), %[h0]\n\t"
      "movq 1160(%[w]), %[h1]\n\t"
      "movq 1168(%[w]), %[h2]\n\t"
      "vmovdqa 0(%[w]), %%ymm0\n\t"
      "vmovdqa 32(%[w]), %%ymm1\n\t"
      "vmovdqa 64(%[w]), %%ymm2\n\t"
      "vmovdqa 96(%[w]), %%ymm3\n\t"
      "vmovdqa 128(%[w]), %%ymm4\n\t"
      "vmovdqa 160(%[w]), %%ymm5\n\t"
      "vmovdqa 192(%[w]), %%ymm6\n\t"
      "vmovdqa 224(%[w]), %%ymm7\n\t"
      "vmovdqa 256(%[w]), %%ymm8\n\t"
      "vmovdqa 288(%[w]), %%ymm9\n\t"
      "vmovdqa 320(%[w]), %%ymm10\n\t"
      "vmovdqa 352(%[w]), %%ymm11\n\t"
      "vmovdqa %%ymm10, 1088(%[w])\n\t"
      "vmovdqa %%ymm11, 1120(%[w])\n\t"
      "vmovdqa 384(%[w]), %%ymm12\n\t"
      "vmovdqa 416(%[w]), %%ymm13\n\t"
      "vmovdqa 448(%[w]), %%ymm14\n\t"
      "vmovdqa 480(%[w]), %%ymm15\n\t"
      "movl $10, %k[n]\n\t"
      ".p2align 5\n\t"
      "1:\n\t"
      QVPN_QR2_MAC(0, 4, 8, 12, 1, 5, 9, 13)
      "vmovdqa %%ymm8, 1024(%[w])\n\t"
      "vmovdqa %%ymm9, 1056(%[w])\n\t"
      "vmovdqa 1088(%[w]), %%ymm8\n\t"
      "vmovdqa 1120(%[w]), %%ymm9\n\t"
      QVPN_QR2(2, 6, 8, 14, 3, 7, 9, 15)
      QVPN_QR2_MAC(0, 5, 8, 15, 1, 6, 9, 12)
      "vmovdqa %%ymm8, 1088(%[w])\n\t"
      "vmovdqa %%ymm9, 1120(%[w])\n\t"
      "vmovdqa 1024(%[w]), %%ymm8\n\t"
      "vmovdqa 1056(%[w]), %%ymm9\n\t"
      QVPN_QR2_MAC(2, 7, 8, 13, 3, 4, 9, 14)
      "decl %k[n]\n\t"
      "jnz 1b\n\t"
      "vpaddd 0(%[w]), %%ymm0, %%ymm0\n\t"
      "vpaddd 32(%[w]), %%ymm1, %%ymm1\n\t"
      "vpaddd 64(%[w]), %%ymm2, %%ymm2\n\t"
      "vpaddd 96(%[w]), %%ymm3, %%ymm3\n\t"
      "vpaddd 128(%[w]), %%ymm4, %%ymm4\n\t"
      "vpaddd 160(%[w]), %%ymm5, %%ymm5\n\t"
      "vpaddd 192(%[w]), %%ymm6, %%ymm6\n\t"
      "vpaddd 224(%[w]), %%ymm7, %%ymm7\n\t"
      "vpaddd 256(%[w]), %%ymm8, %%ymm8\n\t"
      "vpaddd 288(%[w]), %%ymm9, %%ymm9\n\t"
      "vpaddd 384(%[w]), %%ymm12, %%ymm12\n\t"
      "vpaddd 416(%[w]), %%ymm13, %%ymm13\n\t"
      "vpaddd 448(%[w]), %%ymm14, %%ymm14\n\t"
      "vpaddd 480(%[w]), %%ymm15, %%ymm15\n\t"
      "vmovdqa 1088(%[w]), %%ymm10\n\t"
      "vmovdqa 1120(%[w]), %%ymm11\n\t"
      "vpaddd 320(%[w]), %%ymm10, %%ymm10\n\t"
      "vpaddd 352(%[w]), %%ymm11, %%ymm11\n\t"
      "vmovdqa %%ymm0, 512(%[w])\n\t"
      "vmovdqa %%ymm1, 544(%[w])\n\t"
      "vmovdqa %%ymm2, 576(%[w])\n\t"
      "vmovdqa %%ymm3, 608(%[w])\n\t"
      "vmovdqa %%ymm4, 640(%[w])\n\t"
      "vmovdqa %%ymm5, 672(%[w])\n\t"
      "vmovdqa %%ymm6, 704(%[w])\n\t"
      "vmovdqa %%ymm7, 736(%[w])\n\t"
      "vmovdqa %%ymm8, 768(%[w])\n\t"
      "vmovdqa %%ymm9, 800(%[w])\n\t"
      "vmovdqa %%ymm10, 832(%[w])\n\t"
      "vmovdqa %%ymm11, 864(%[w])\n\t"
      "vmovdqa %%ymm12, 896(%[w])\n\t"
      "vmovdqa %%ymm13, 928(%[w])\n\t"
      "vmovdqa %%ymm14, 960(%[w])\n\t"
      "vmovdqa %%ymm15, 992(%[w])\n\t"
      "movq %[h0], 1152(%[w])\n\t"
      "movq %[h1], 1160(%[w])\n\t"
      "movq %[h2], 1168(%[w])\n\t"
      : [n] "=&r"(n), [p] "+r"(p), [cnt] "+r"(cnt), [h0] "=&r"(h0), [h1] "=&r"(h1),
        [h2] "=&r"(h2), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3)
      : [w] "r"(&w), [rot16] "m"(rot16), [rot8] "m"(rot8)
      : "rdx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
  return want - cnt;
}

#undef QVPN_MAC_BLOCK
#undef QVPN_QR2_MAC
#undef QVPN_QR2
#undef QVPN_QR2A
#undef QVPN_QR2B
#undef QVPN_QR2H
#undef QVPN_Y

// ---- Keystream out (scatter, xor_step: chacha20_avx2_kernel.h) ------------------------

// The keystream itself (512 bytes) at dst.
inline void store_step(const Work& w, uint8_t* dst) {
  scatter(w, [&](int i, int half, V v) { store(dst + kBlock * i + 32 * half, v); });
}

// dst = src ^ ks, n bytes; dst may equal src.
void xor_bytes(uint8_t* dst, const uint8_t* src, const uint8_t* ks, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) store(dst + i, xor_(load(src + i), load(ks + i)));
  xor_bytes_by_word(dst + i, src + i, ks + i, n - i);
}

// The state of blocks counter, counter + 1, ... of one job in the eight lanes.
void broadcast_state(Work& w, const AeadJob& job, uint32_t counter) {
  for (int i = 0; i < 4; ++i) w.st[i] = _mm256_set1_epi32(static_cast<int>(kSigma[i]));
  for (int i = 0; i < 8; ++i) {
    uint32_t k;
    std::memcpy(&k, job.key + 4 * i, 4);
    w.st[4 + i] = _mm256_set1_epi32(static_cast<int>(k));
  }
  // WireGuard's nonce: 32 zero bits, then the counter little-endian (whitepaper 5.4.6).
  w.st[12] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(counter)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  w.st[13] = _mm256_setzero_si256();
  w.st[14] = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(job.counter)));
  w.st[15] = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(job.counter >> 32)));
}

inline void next_step(Work& w) {
  w.st[12] = _mm256_add_epi32(w.st[12], _mm256_set1_epi32(kLanes));
}

// ---- The MAC in flight -----------------------------------------------------------------

// The job whose MAC is in w.mac: ct_len bytes at ct, of which `fed` (a multiple of 16)
// are absorbed.
struct Mac {
  AeadJob* job = nullptr;
  const uint8_t* ct = nullptr;
  size_t ct_len = 0;
  size_t fed = 0;
  const uint8_t* ks = nullptr;  // open: the job's buffered keystream (block 0 first)
};

// One step of keystream while the MAC absorbs the full blocks of m.ct below `avail`.
void step(Work& w, Mac& m, size_t avail) {
  size_t n = 0;
  const uint8_t* p = nullptr;
  if (m.job != nullptr) {
    n = (std::min(avail, m.ct_len) - m.fed) / 16;
    p = m.ct + m.fed;
  }
  m.fed += 16 * rounds8_mac(w, p, n);
}

// Starts the MAC of job with the one-time key at otk: r, s, and the ad.
void start_mac(Work& w, Mac& m, AeadJob& job, const uint8_t* otk, const uint8_t* ct,
               size_t ct_len) {
  scalar_init(w.mac, otk);
  std::memcpy(w.s, otk + 16, 16);
  scalar_blocks(w.mac, job.ad, job.ad_len / 16, 1);
  scalar_aead_tail(w.mac, job.ad + job.ad_len / 16 * 16, job.ad_len % 16);
  m.job = &job;
  m.ct = ct;
  m.ct_len = ct_len;
  m.fed = 0;
}

// The rest of m's MAC in C: remaining full blocks, partial block, lengths.
void finish_mac(Work& w, const Mac& m, uint8_t* tag) {
  const size_t full = m.ct_len / 16 * 16;
  scalar_blocks(w.mac, m.ct + m.fed, (full - m.fed) / 16, 1);
  scalar_aead_tail(w.mac, m.ct + full, m.ct_len % 16);
  scalar_aead_lengths(w.mac, m.job->ad_len, m.ct_len);
  scalar_finish(w.mac, w.s, tag);
}

void finish_open(Work& w, const Mac& m) {
  uint8_t tag[kTag];
  finish_mac(w, m, tag);
  AeadJob& j = *m.job;
  j.ok = sodium_memcmp(tag, j.src + m.ct_len, kTag) == 0;
  if (j.ok) xor_bytes(j.dst, j.src, m.ks + kBlock, m.ct_len);
  sodium_memzero(tag, sizeof tag);
}

// Seal of one job, the previous job's MAC (m) finishing during its step 0.
void seal_job(Work& w, Mac& m, AeadJob& j) {
  broadcast_state(w, j, 0);
  step(w, m, SIZE_MAX);
  next_step(w);
  // Step 0: lane 0 is the one-time key, lanes 1..7 the payload's first 448 bytes.
  const size_t head = std::min(j.len, kStep - kBlock);
  if (head == kStep - kBlock) {
    scatter(w, [&](int i, int half, V v) {
      if (i == 0) {
        store(w.otk + 32 * half, v);
      } else {
        const size_t at = kBlock * (i - 1) + 32 * half;
        store(j.dst + at, xor_(load(j.src + at), v));
      }
    });
  } else {
    alignas(32) uint8_t ks[kStep];
    store_step(w, ks);
    std::memcpy(w.otk, ks, kBlock);
    xor_bytes(j.dst, j.src, ks + kBlock, head);
    sodium_memzero(ks, sizeof ks);
  }
  if (m.job != nullptr) finish_mac(w, m, m.job->dst + m.ct_len);
  start_mac(w, m, j, w.otk, j.dst, j.len);
  for (size_t off = head; off < j.len; off += kStep) {
    step(w, m, off);
    next_step(w);
    if (j.len - off >= kStep) {
      xor_step(w, j.src + off, j.dst + off);
    } else {
      alignas(32) uint8_t ks[kStep];
      store_step(w, ks);
      xor_bytes(j.dst + off, j.src + off, ks, j.len - off);
      sodium_memzero(ks, sizeof ks);
    }
  }
}

// Open of one job (ct at most kOpenMaxCt bytes): keystream into buf, the MAC over the
// ciphertext; the previous job's MAC finishing and its plaintext written during step 0.
void open_job(Work& w, Mac& m, AeadJob& j, uint8_t* buf) {
  const size_t ct_len = j.len - kTag;
  const size_t steps = (ct_len + kBlock + kStep - 1) / kStep;
  broadcast_state(w, j, 0);
  step(w, m, SIZE_MAX);
  next_step(w);
  store_step(w, buf);
  if (m.job != nullptr) finish_open(w, m);
  start_mac(w, m, j, buf, j.src, ct_len);
  m.ks = buf;
  for (size_t k = 1; k < steps; ++k) {
    step(w, m, std::min(ct_len, m.fed + 32 * 16));
    next_step(w);
    store_step(w, buf + kStep * k);
  }
}

// Jobs for the composed path, run kSpill at a time.
template <bool kOpen>
struct Spill {
  AeadJob jobs[kSpill];
  AeadJob* from[kSpill];
  size_t n = 0;

  void add(AeadJob& j) {
    jobs[n] = j;
    from[n++] = &j;
    if (n == kSpill) flush();
  }

  // Open copies each ok back; seal leaves ok alone.
  void flush() {
    if constexpr (kOpen) {
      chacha20poly1305_open_composed({jobs, n});
      for (size_t i = 0; i < n; ++i) from[i]->ok = jobs[i].ok;
    } else {
      chacha20poly1305_seal_composed({jobs, n});
    }
    n = 0;
  }
};

}  // namespace

void chacha20poly1305_seal_avx2(std::span<AeadJob> jobs) {
  alignas(32) Work w;
  Mac m;
  Spill<false> s;
  for (AeadJob& j : jobs) {
    if (j.len < kStitchedMinLen) {
      s.add(j);
    } else {
      seal_job(w, m, j);
    }
  }
  if (m.job != nullptr) finish_mac(w, m, m.job->dst + m.ct_len);
  if (s.n != 0) s.flush();
  sodium_memzero(&w, offsetof(Work, open_ks));
}

void chacha20poly1305_open_avx2(std::span<AeadJob> jobs) {
  alignas(32) Work w;
  Mac m;
  Spill<true> s;
  size_t parity = 0;
  bool used[2] = {false, false};
  for (AeadJob& j : jobs) {
    if (j.len < kTag + kStitchedMinLen || j.len - kTag > kOpenMaxCt) {
      s.add(j);
    } else {
      open_job(w, m, j, w.open_ks[parity]);
      used[parity] = true;
      parity ^= 1;
    }
  }
  if (m.job != nullptr) finish_open(w, m);
  if (s.n != 0) s.flush();
  sodium_memzero(&w, offsetof(Work, open_ks));
  for (size_t i = 0; i < 2; ++i) {
    if (used[i]) sodium_memzero(w.open_ks[i], sizeof w.open_ks[i]);
  }
}

}  // namespace qvpn::dataplane

#endif  // defined(__x86_64__)
