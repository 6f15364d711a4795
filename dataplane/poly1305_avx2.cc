// AVX2 Poly1305: four accumulators in the four 64-bit lanes of a ymm register, each a
// 130-bit number in five 26-bit limbs, multiplied with vpmuludq (32 x 32 -> 64 bits) and
// 2^130 = 5 (mod p) folded in by multiplying the wrapping limbs by 5 r. Two ways to fill
// the lanes:
//
//  - Lanes (a batch of AEAD jobs): each lane runs its own job with its own r, two blocks
//    per step, h = (h + m1) r^2 + m2 r. A lane whose run of full blocks ends leaves the
//    vector loop for the scalar core (tail, lengths, tag) and takes the next job.
//  - Interleaved (one long message, Goll and Gueron / OpenSSL): lane j takes blocks j,
//    j + 4, j + 8, ... and steps by r^4, eight blocks per step,
//    h = h r^8 + m1 r^4 + m2; at the end lane j is multiplied by r^(4 - j) and the lanes
//    are added.
//
// Short messages, tails and the final reduction use the scalar core (poly1305_impl.h).
// Limb bounds: inputs to a multiplication are < 2^27 and multipliers < 2^26 (5 r < 2^29),
// so a sum of ten products stays below 2^60.
#include <immintrin.h>
#include <sodium.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/poly1305_impl.h"

#if defined(__x86_64__)

namespace qvpn::dataplane {

namespace {

using namespace poly1305_internal;

constexpr uint64_t kMask26 = (uint64_t{1} << 26) - 1;
// Interleaved mode for runs of at least this many full blocks; below it the cost of r^2,
// r^3, r^4, r^8 and of combining the lanes outweighs the faster loop.
constexpr size_t kInterleaveMinBlocks = 16;
// Jobs shorter than this many blocks in all are done by the scalar core, not in a lane.
constexpr size_t kLaneMinBlocks = 8;

// ---- Scalar helpers in radix 2^26 ------------------------------------------------------

struct Limbs {
  uint64_t v[5];
};

// h2 <= 7 in, any h0, h1: the value < 2^131 in limbs, limb 4 < 2^27.
Limbs limbs_of(uint64_t h0, uint64_t h1, uint64_t h2) {
  return {{h0 & kMask26, (h0 >> 26) & kMask26, ((h0 >> 52) | (h1 << 12)) & kMask26,
           (h1 >> 14) & kMask26, (h1 >> 40) | (h2 << 24)}};
}

// Limbs < 2^32 in; out h with the Scalar invariant h2 <= 4.
void scalar_of(const Limbs& l, uint64_t& h0, uint64_t& h1, uint64_t& h2) {
  u128 t = l.v[0] + (u128{l.v[1]} << 26) + (u128{l.v[2]} << 52);
  h0 = static_cast<uint64_t>(t);
  t = (t >> 64) + (u128{l.v[3]} << 14) + (u128{l.v[4]} << 40);
  h1 = static_cast<uint64_t>(t);
  h2 = static_cast<uint64_t>(t >> 64);
  const uint64_t c = (h2 >> 2) + (h2 & ~uint64_t{3});
  h2 &= 3;
  t = u128{h0} + c;
  h0 = static_cast<uint64_t>(t);
  t = u128{h1} + static_cast<uint64_t>(t >> 64);
  h1 = static_cast<uint64_t>(t);
  h2 += static_cast<uint64_t>(t >> 64);
}

// Limbs < 2^62 in: carried so that every limb is < 2^27 (value unchanged mod p).
void carry_limbs(uint64_t d[5]) {
  d[1] += d[0] >> 26;
  d[0] &= kMask26;
  d[2] += d[1] >> 26;
  d[1] &= kMask26;
  d[3] += d[2] >> 26;
  d[2] &= kMask26;
  d[4] += d[3] >> 26;
  d[3] &= kMask26;
  d[0] += 5 * (d[4] >> 26);
  d[4] &= kMask26;
  d[1] += d[0] >> 26;
  d[0] &= kMask26;
}

// The unique representative < p, every limb < 2^26. Limbs < 2^32 in.
Limbs reduce_full(const Limbs& l) {
  uint64_t h0, h1, h2;
  scalar_of(l, h0, h1, h2);  // < 2^130 + 2^128 < 2p
  u128 t = u128{h0} + 5;
  const uint64_t g0 = static_cast<uint64_t>(t);
  t = u128{h1} + static_cast<uint64_t>(t >> 64);
  const uint64_t g1 = static_cast<uint64_t>(t);
  const uint64_t g2 = h2 + static_cast<uint64_t>(t >> 64);
  const uint64_t mask = 0 - (g2 >> 2);  // all ones when h >= p: take h + 5 - 2^130
  return limbs_of((h0 & ~mask) | (g0 & mask), (h1 & ~mask) | (g1 & mask),
                  (h2 & ~mask) | (g2 & 3 & mask));
}

// a b mod p, fully reduced; a and b fully reduced (limbs < 2^26).
Limbs mul_mod(const Limbs& a, const Limbs& b) {
  const uint64_t* x = a.v;
  const uint64_t* y = b.v;
  const uint64_t s1 = 5 * y[1], s2 = 5 * y[2], s3 = 5 * y[3], s4 = 5 * y[4];
  uint64_t d[5] = {
      x[0] * y[0] + x[1] * s4 + x[2] * s3 + x[3] * s2 + x[4] * s1,
      x[0] * y[1] + x[1] * y[0] + x[2] * s4 + x[3] * s3 + x[4] * s2,
      x[0] * y[2] + x[1] * y[1] + x[2] * y[0] + x[3] * s4 + x[4] * s3,
      x[0] * y[3] + x[1] * y[2] + x[2] * y[1] + x[3] * y[0] + x[4] * s4,
      x[0] * y[4] + x[1] * y[3] + x[2] * y[2] + x[3] * y[1] + x[4] * y[0],
  };
  carry_limbs(d);
  return reduce_full({{d[0], d[1], d[2], d[3], d[4]}});
}

Limbs r_limbs(const Scalar& st) { return limbs_of(st.r0, st.r1, 0); }

// ---- Vector arithmetic ----------------------------------------------------------------

// A multiplier per lane, as loaded by the loops: limbs r0..r4 and s1..s4 = 5 r1..5 r4.
struct alignas(32) MulTable {
  uint64_t r[5][4];
  uint64_t s[5][4];  // s[0] unused

  void set_lane(int lane, const Limbs& x) {
    for (int k = 0; k < 5; ++k) {
      r[k][lane] = x.v[k];
      s[k][lane] = 5 * x.v[k];
    }
  }
};

struct V5 {
  __m256i l[5];
};

inline __m256i add(__m256i a, __m256i b) { return _mm256_add_epi64(a, b); }

// d (+)= x t, not carried: 25 vpmuludq with the multiplier limbs read from memory. In
// inline assembly because GCC, given intrinsics, reassociates the sums, computes all 25
// products first and spills most of them (the loops ran at half speed).
// Table offsets: r[k] at 32 k, s[k] at 160 + 32 k.
#define QVPN_MAC(off, x, d)        \
  "vpmuludq " #off "(%[t]), %[" #x \
  "], %[p]\n\t"                    \
  "vpaddq %[p], %[" #d "], %[" #d "]\n\t"
#define QVPN_MUL(off, x, d) "vpmuludq " #off "(%[t]), %[" #x "], %[" #d "]\n\t"
// Columns 1..4 of the product: d[(i + j) % 5] += x[i] (i + j < 5 ? r[j] : s[j]).
#define QVPN_COLUMNS_1_TO_4                                                                     \
  QVPN_MAC(32, x0, d1)                                                                          \
  QVPN_MAC(32, x1, d2) QVPN_MAC(32, x2, d3) QVPN_MAC(32, x3, d4) QVPN_MAC(192, x4, d0)          \
      QVPN_MAC(64, x0, d2) QVPN_MAC(64, x1, d3) QVPN_MAC(64, x2, d4) QVPN_MAC(224, x3, d0)      \
          QVPN_MAC(224, x4, d1) QVPN_MAC(96, x0, d3) QVPN_MAC(96, x1, d4) QVPN_MAC(256, x2, d0) \
              QVPN_MAC(256, x3, d1) QVPN_MAC(256, x4, d2) QVPN_MAC(128, x0, d4)                 \
                  QVPN_MAC(288, x1, d0) QVPN_MAC(288, x2, d1) QVPN_MAC(288, x3, d2)             \
                      QVPN_MAC(288, x4, d3)

template <bool kAccumulate>
inline void mul_table(V5& d, const V5& x, const MulTable& t) {
  static_assert(offsetof(MulTable, s) == 160);
  __m256i d0, d1, d2, d3, d4, p;
  if constexpr (kAccumulate) {
    d0 = d.l[0], d1 = d.l[1], d2 = d.l[2], d3 = d.l[3], d4 = d.l[4];
    asm(QVPN_MAC(0, x0, d0) QVPN_MAC(0, x1, d1) QVPN_MAC(0, x2, d2) QVPN_MAC(0, x3, d3)
            QVPN_MAC(0, x4, d4) QVPN_COLUMNS_1_TO_4
        : [d0] "+x"(d0), [d1] "+x"(d1), [d2] "+x"(d2), [d3] "+x"(d3), [d4] "+x"(d4), [p] "=&x"(p)
        : [x0] "x"(x.l[0]), [x1] "x"(x.l[1]), [x2] "x"(x.l[2]), [x3] "x"(x.l[3]), [x4] "x"(x.l[4]),
          [t] "r"(&t), "m"(t));
  } else {
    asm(QVPN_MUL(0, x0, d0) QVPN_MUL(0, x1, d1) QVPN_MUL(0, x2, d2) QVPN_MUL(0, x3, d3)
            QVPN_MUL(0, x4, d4) QVPN_COLUMNS_1_TO_4
        :
        [d0] "=&x"(d0), [d1] "=&x"(d1), [d2] "=&x"(d2), [d3] "=&x"(d3), [d4] "=&x"(d4), [p] "=&x"(p)
        : [x0] "x"(x.l[0]), [x1] "x"(x.l[1]), [x2] "x"(x.l[2]), [x3] "x"(x.l[3]), [x4] "x"(x.l[4]),
          [t] "r"(&t), "m"(t));
  }
  d = {{d0, d1, d2, d3, d4}};
}
#undef QVPN_COLUMNS_1_TO_4
#undef QVPN_MUL
#undef QVPN_MAC

inline V5 add5(const V5& a, const V5& b) {
  return {{add(a.l[0], b.l[0]), add(a.l[1], b.l[1]), add(a.l[2], b.l[2]), add(a.l[3], b.l[3]),
           add(a.l[4], b.l[4])}};
}

// Limbs < 2^62 in, out < 2^26 except limbs 1 and 4 (< 2^26 + 2^13). Two carry chains
// (0 -> 1 -> 2 -> 3 and 3 -> 4 -> 0) interleaved to shorten the dependency path.
inline V5 carry(V5 d) {
  const __m256i mask = _mm256_set1_epi64x(kMask26);
  __m256i c;
  c = _mm256_srli_epi64(d.l[3], 26);
  d.l[3] = _mm256_and_si256(d.l[3], mask);
  d.l[4] = add(d.l[4], c);
  c = _mm256_srli_epi64(d.l[0], 26);
  d.l[0] = _mm256_and_si256(d.l[0], mask);
  d.l[1] = add(d.l[1], c);
  c = _mm256_srli_epi64(d.l[4], 26);
  d.l[4] = _mm256_and_si256(d.l[4], mask);
  d.l[0] = add(d.l[0], add(c, _mm256_slli_epi64(c, 2)));
  c = _mm256_srli_epi64(d.l[1], 26);
  d.l[1] = _mm256_and_si256(d.l[1], mask);
  d.l[2] = add(d.l[2], c);
  c = _mm256_srli_epi64(d.l[2], 26);
  d.l[2] = _mm256_and_si256(d.l[2], mask);
  d.l[3] = add(d.l[3], c);
  c = _mm256_srli_epi64(d.l[0], 26);
  d.l[0] = _mm256_and_si256(d.l[0], mask);
  d.l[1] = add(d.l[1], c);
  c = _mm256_srli_epi64(d.l[3], 26);
  d.l[3] = _mm256_and_si256(d.l[3], mask);
  d.l[4] = add(d.l[4], c);
  return d;
}

// Four blocks, lane j's block given as its low and high 64-bit halves, to limbs with the
// 2^128 bit set.
inline V5 split(__m256i lo, __m256i hi) {
  const __m256i mask = _mm256_set1_epi64x(kMask26);
  return {{_mm256_and_si256(lo, mask), _mm256_and_si256(_mm256_srli_epi64(lo, 26), mask),
           _mm256_and_si256(_mm256_or_si256(_mm256_srli_epi64(lo, 52), _mm256_slli_epi64(hi, 12)),
                            mask),
           _mm256_and_si256(_mm256_srli_epi64(hi, 14), mask),
           _mm256_or_si256(_mm256_srli_epi64(hi, 40), _mm256_set1_epi64x(1 << 24))}};
}

inline __m256i loadu(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Accumulators of the lanes, limb k of lane j at h[k][j].
struct alignas(32) LaneState {
  uint64_t h[5][4];

  V5 load() const {
    V5 v;
    for (int k = 0; k < 5; ++k) v.l[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(h[k]));
    return v;
  }
  void store(const V5& v) {
    for (int k = 0; k < 5; ++k) _mm256_store_si256(reinterpret_cast<__m256i*>(h[k]), v.l[k]);
  }
  Limbs lane(int j) const { return {{h[0][j], h[1][j], h[2][j], h[3][j], h[4][j]}}; }
  void set_lane(int j, const Limbs& x) {
    for (int k = 0; k < 5; ++k) h[k][j] = x.v[k];
  }
};

// ---- Lanes mode ----------------------------------------------------------------------

// `steps` times, for each lane j: h_j = (h_j + m1) r_j^2 + m2 r_j with m1, m2 the next
// 32 bytes at p[j]. Lane multipliers in t1 (r) and t2 (r^2).
void lanes_run(LaneState& state, const MulTable& t1, const MulTable& t2, const uint8_t* const p[4],
               size_t steps) {
  const uint8_t* p0 = p[0];
  const uint8_t* p1 = p[1];
  const uint8_t* p2 = p[2];
  const uint8_t* p3 = p[3];
  V5 h = state.load();
  for (size_t i = 0; i < steps; ++i) {
    const __m256i x0 = loadu(p0 + 32 * i);  // lane 0: block a | block b
    const __m256i x1 = loadu(p1 + 32 * i);
    const __m256i x2 = loadu(p2 + 32 * i);
    const __m256i x3 = loadu(p3 + 32 * i);
    const __m256i a02 = _mm256_permute2x128_si256(x0, x2, 0x20);  // a0 | a2
    const __m256i a13 = _mm256_permute2x128_si256(x1, x3, 0x20);
    V5 d;
    mul_table<false>(
        d, add5(h, split(_mm256_unpacklo_epi64(a02, a13), _mm256_unpackhi_epi64(a02, a13))), t2);
    const __m256i b02 = _mm256_permute2x128_si256(x0, x2, 0x31);  // b0 | b2
    const __m256i b13 = _mm256_permute2x128_si256(x1, x3, 0x31);
    mul_table<true>(d, split(_mm256_unpacklo_epi64(b02, b13), _mm256_unpackhi_epi64(b02, b13)), t1);
    h = carry(d);
  }
  state.store(h);
  // Scalar code and calls out of this file (libsodium) come next; GCC does not always put
  // a vzeroupper before them, and SSE code run with dirty upper halves is slow.
  _mm256_zeroupper();
}

// ---- Interleaved mode ----------------------------------------------------------------

// h = (h + m_0) r^n + ... + m_(n-1) r for n = 8 * chunks full blocks at p.
void interleaved_blocks(Scalar& st, const uint8_t* p, size_t chunks) {
  const Limbs r1 = r_limbs(st);
  const Limbs r2 = mul_mod(r1, r1);
  const Limbs r3 = mul_mod(r2, r1);
  const Limbs r4 = mul_mod(r2, r2);
  const Limbs r8 = mul_mod(r4, r4);
  MulTable t4, t8, tfin;
  for (int j = 0; j < 4; ++j) {
    t4.set_lane(j, r4);
    t8.set_lane(j, r8);
  }
  // The loads below put blocks 0, 2, 1, 3 (mod 4) in lanes 0..3; lane j is finally
  // multiplied by r^(4 - its block offset).
  tfin.set_lane(0, r4);
  tfin.set_lane(1, r2);
  tfin.set_lane(2, r3);
  tfin.set_lane(3, r1);

  const Limbs hin = limbs_of(st.h0, st.h1, st.h2);
  V5 h;
  for (int k = 0; k < 5; ++k) h.l[k] = _mm256_set_epi64x(0, 0, 0, static_cast<int64_t>(hin.v[k]));

  // Blocks 0..3 (or 4..7) of a chunk: x0 = 0 | 1, x1 = 2 | 3; lanes get 0, 2, 1, 3.
  const auto four_blocks = [](const uint8_t* q) {
    const __m256i x0 = loadu(q), x1 = loadu(q + 32);
    return split(_mm256_unpacklo_epi64(x0, x1), _mm256_unpackhi_epi64(x0, x1));
  };
  // The first chunk: the incoming h goes with block 0 (same power of r).
  V5 d;
  mul_table<false>(d, add5(h, four_blocks(p)), t4);
  h = carry(add5(d, four_blocks(p + 64)));
  for (size_t i = 1; i < chunks; ++i) {
    const uint8_t* q = p + 128 * i;
    mul_table<false>(d, h, t8);
    mul_table<true>(d, four_blocks(q), t4);
    h = carry(add5(d, four_blocks(q + 64)));
  }

  mul_table<false>(d, h, tfin);
  alignas(32) uint64_t lanes[5][4];
  for (int k = 0; k < 5; ++k) _mm256_store_si256(reinterpret_cast<__m256i*>(lanes[k]), d.l[k]);
  uint64_t sum[5];
  for (int k = 0; k < 5; ++k) sum[k] = lanes[k][0] + lanes[k][1] + lanes[k][2] + lanes[k][3];
  carry_limbs(sum);
  scalar_of({{sum[0], sum[1], sum[2], sum[3], sum[4]}}, st.h0, st.h1, st.h2);
  _mm256_zeroupper();  // as in lanes_run

  sodium_memzero(&t4, sizeof t4);
  sodium_memzero(&t8, sizeof t8);
  sodium_memzero(&tfin, sizeof tfin);
}

// ---- AEAD jobs -----------------------------------------------------------------------

// A job in progress: the scalar state and the current run of full blocks (the ad's, then
// the ct's).
struct Lane {
  const Poly1305AeadJob* job;  // nullptr: idle
  Scalar st;
  bool in_ct;
  const uint8_t* p;
  size_t nblocks;
};

void start(Lane& lane, const Poly1305AeadJob& job) {
  lane.job = &job;
  scalar_init(lane.st, job.key);
  lane.in_ct = false;
  lane.p = job.ad;
  lane.nblocks = job.ad_len / 16;
}

size_t total_blocks(const Poly1305AeadJob& job) {
  return (job.ad_len + 15) / 16 + (job.ct_len + 15) / 16 + 1;
}

// Does the scalar work of `lane`'s job up to the next run of at least two full blocks and
// returns true, or finishes the job (tag written) and returns false. With `alone`, long
// runs go through interleaved mode and the job is always finished.
bool advance(Lane& lane, bool alone) {
  const Poly1305AeadJob& job = *lane.job;
  for (;;) {
    if (alone && lane.nblocks >= kInterleaveMinBlocks) {
      const size_t chunks = lane.nblocks / 8;
      interleaved_blocks(lane.st, lane.p, chunks);
      lane.p += 128 * chunks;
      lane.nblocks -= 8 * chunks;
    } else if (!alone && lane.nblocks >= 2) {
      return true;
    }
    scalar_blocks(lane.st, lane.p, lane.nblocks, 1);
    if (!lane.in_ct) {
      scalar_aead_tail(lane.st, job.ad + job.ad_len / 16 * 16, job.ad_len % 16);
      lane.in_ct = true;
      lane.p = job.ct;
      lane.nblocks = job.ct_len / 16;
    } else {
      scalar_aead_tail(lane.st, job.ct + job.ct_len / 16 * 16, job.ct_len % 16);
      scalar_aead_lengths(lane.st, job.ad_len, job.ct_len);
      scalar_finish(lane.st, job.key + 16, job.tag);
      lane.job = nullptr;
      return false;
    }
  }
}

void aead_tags_lanes(const Poly1305AeadJob* jobs, size_t njobs) {
  Lane lanes[4] = {};
  LaneState state = {};
  MulTable t1 = {}, t2 = {};
  size_t next = 0;

  // Puts the next job that has vector work into lane j, finishing short jobs on the way.
  const auto fill = [&](int j) {
    Lane& lane = lanes[j];
    while (next < njobs) {
      const Poly1305AeadJob& job = jobs[next++];
      start(lane, job);
      if (advance(lane, /*alone=*/total_blocks(job) < kLaneMinBlocks)) {
        const Limbs r1 = r_limbs(lane.st);
        t1.set_lane(j, r1);
        t2.set_lane(j, mul_mod(r1, r1));
        state.set_lane(j, limbs_of(lane.st.h0, lane.st.h1, lane.st.h2));
        return;
      }
    }
    t1.set_lane(j, {});
    t2.set_lane(j, {});
  };
  for (int j = 0; j < 4; ++j) fill(j);

  for (;;) {
    int active = 0;
    size_t steps = SIZE_MAX;
    const uint8_t* any = nullptr;
    for (const Lane& lane : lanes) {
      if (lane.job == nullptr) continue;
      ++active;
      steps = std::min(steps, lane.nblocks / 2);
      any = lane.p;
    }
    if (active == 0) break;
    if (next == njobs && active <= 2) {
      // Two lanes or fewer left: each job alone in interleaved mode uses all four lanes.
      for (int j = 0; j < 4; ++j) {
        if (lanes[j].job == nullptr) continue;
        const Limbs h = state.lane(j);
        scalar_of(h, lanes[j].st.h0, lanes[j].st.h1, lanes[j].st.h2);
        advance(lanes[j], /*alone=*/true);
      }
      break;
    }

    // Idle lanes (multiplier 0) read along with an active one.
    const uint8_t* p[4];
    for (int j = 0; j < 4; ++j) p[j] = lanes[j].job != nullptr ? lanes[j].p : any;
    lanes_run(state, t1, t2, p, steps);

    for (int j = 0; j < 4; ++j) {
      Lane& lane = lanes[j];
      if (lane.job == nullptr) continue;
      lane.p += 32 * steps;
      lane.nblocks -= 2 * steps;
      if (lane.nblocks >= 2) continue;
      scalar_of(state.lane(j), lane.st.h0, lane.st.h1, lane.st.h2);
      if (advance(lane, /*alone=*/false)) {
        state.set_lane(j, limbs_of(lane.st.h0, lane.st.h1, lane.st.h2));
      } else {
        fill(j);
      }
    }
  }

  sodium_memzero(lanes, sizeof lanes);
  sodium_memzero(&state, sizeof state);
  sodium_memzero(&t1, sizeof t1);
  sodium_memzero(&t2, sizeof t2);
}

}  // namespace

void poly1305_avx2(uint8_t (&tag)[16], const uint8_t (&key)[32], std::span<const uint8_t> msg) {
  const size_t full = msg.size() / 16;
  if (full < kInterleaveMinBlocks) {
    poly1305_portable(tag, key, msg);
    return;
  }
  Scalar st;
  scalar_init(st, key);
  const size_t chunks = full / 8;
  interleaved_blocks(st, msg.data(), chunks);
  scalar_blocks(st, msg.data() + 128 * chunks, full - 8 * chunks, 1);
  scalar_mac_finish(st, msg.data() + 16 * full, msg.size() % 16, key + 16, tag);
  _mm256_zeroall();
}

void poly1305_aead_tags_avx2(std::span<const Poly1305AeadJob> jobs) {
  if (jobs.size() <= 2) {
    Lane lane;
    for (const Poly1305AeadJob& job : jobs) {
      start(lane, job);
      advance(lane, /*alone=*/true);
    }
    sodium_memzero(&lane, sizeof lane);
  } else {
    aead_tags_lanes(jobs.data(), jobs.size());
  }
  _mm256_zeroall();
}

}  // namespace qvpn::dataplane

#endif  // defined(__x86_64__)
