// ChaCha20 over AVX2, eight blocks per step in the vertical layout: ymm register w holds
// state word w of eight blocks, one per 32-bit lane, so a quarter round on eight blocks is
// four adds, four xors and four rotations.
//
// Flow: the blocks of all streams are dealt to the eight lanes in order.
//  - While a run of blocks under one key and nonce with consecutive counters fills whole
//    steps (one long stream, or streams that continue each other's keystream, such as an
//    AEAD job's one-block Poly1305 key stream and its payload), the state is broadcast
//    from that key and nonce, and steps of eight whole blocks of one stream are XORed
//    straight through.
//  - Otherwise blocks wait in Pending until eight are there: each lane carries its own
//    key, counter and nonce, gathered into the vertical layout by transposing; so a
//    packet's last partial block and the first blocks of the next packet share one step.
// After the rounds, 4x4 transposes within each 128-bit half and cross-half permutes turn
// the words back into each lane's 64 keystream bytes.
#include <immintrin.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "dataplane/chacha20_avx2_kernel.h"
#include "dataplane/chacha20_impl.h"

#if defined(__x86_64__)

namespace qvpn::dataplane {

namespace {

using namespace chacha20_avx2_kernel;

// Where one lane's keystream goes: n bytes (0 for an idle lane, at most 64).
struct Lane {
  const uint8_t* src;
  uint8_t* dst;
  size_t n;
};

// Everything a step keeps in memory; key material, wiped once at the end of a call.
struct Work {
  V st[16];                                            // initial state, vertical layout
  V ks[16];                                            // keystream words, vertical layout
  V c[4];                                              // rounds8: words 8..11 out of registers
  alignas(32) uint8_t tail[kLanes][kChachaBlockSize];  // keystream of partial lanes
};

// w.ks = the 20 rounds on w.st, plus w.st: word i of the eight keystream blocks in w.ks[i].
//
// In assembly because sixteen state words, two temporaries and the shuffle masks do not fit
// in sixteen ymm registers, and compilers left to spill on their own put store-to-load
// latency on the critical path (measured: GCC 12 and clang 14 both ran ~45% slower). Here
// the "a", "b" and "d" words stay in registers and two of the four "c" words (8..11) wait
// in memory while the other two are in use, swapped halfway through each round.
//   ymm0-3: words 0-3    ymm4-7: words 4-7    ymm12-15: words 12-15
//   ymm8, ymm9: two of words 8-11             ymm10, ymm11: temporaries
inline void rounds8(Work& w) {
  V(&st)[16] = w.st;
  V(&out)[16] = w.ks;
  V(&c)[4] = w.c;
  const V& rot16 = *reinterpret_cast<const V*>(kRot16);
  const V& rot8 = *reinterpret_cast<const V*>(kRot8);
  uint32_t n;
  asm volatile(
      "vmovdqa 0(%[st]), %%ymm0\n\t"
      "vmovdqa 32(%[st]), %%ymm1\n\t"
      "vmovdqa 64(%[st]), %%ymm2\n\t"
      "vmovdqa 96(%[st]), %%ymm3\n\t"
      "vmovdqa 128(%[st]), %%ymm4\n\t"
      "vmovdqa 160(%[st]), %%ymm5\n\t"
      "vmovdqa 192(%[st]), %%ymm6\n\t"
      "vmovdqa 224(%[st]), %%ymm7\n\t"
      "vmovdqa 256(%[st]), %%ymm8\n\t"
      "vmovdqa 288(%[st]), %%ymm9\n\t"
      "vmovdqa 320(%[st]), %%ymm10\n\t"
      "vmovdqa 352(%[st]), %%ymm11\n\t"
      "vmovdqa %%ymm10, 64(%[c])\n\t"
      "vmovdqa %%ymm11, 96(%[c])\n\t"
      "vmovdqa 384(%[st]), %%ymm12\n\t"
      "vmovdqa 416(%[st]), %%ymm13\n\t"
      "vmovdqa 448(%[st]), %%ymm14\n\t"
      "vmovdqa 480(%[st]), %%ymm15\n\t"
      "movl $10, %k[n]\n\t"
      ".p2align 5\n\t"
      "1:\n\t"
      // Column round: words 8 and 9 in ymm8, ymm9, then 10 and 11.
      QVPN_QR2(0, 4, 8, 12, 1, 5, 9, 13)
      "vmovdqa %%ymm8, 0(%[c])\n\t"
      "vmovdqa %%ymm9, 32(%[c])\n\t"
      "vmovdqa 64(%[c]), %%ymm8\n\t"
      "vmovdqa 96(%[c]), %%ymm9\n\t"
      QVPN_QR2(2, 6, 8, 14, 3, 7, 9, 15)
      // Diagonal round: words 10 and 11 still in ymm8, ymm9, then 8 and 9.
      QVPN_QR2(0, 5, 8, 15, 1, 6, 9, 12)
      "vmovdqa %%ymm8, 64(%[c])\n\t"
      "vmovdqa %%ymm9, 96(%[c])\n\t"
      "vmovdqa 0(%[c]), %%ymm8\n\t"
      "vmovdqa 32(%[c]), %%ymm9\n\t"
      QVPN_QR2(2, 7, 8, 13, 3, 4, 9, 14)
      "decl %k[n]\n\t"
      "jnz 1b\n\t"
      // Feed forward, words 8..11 last: ymm10, ymm11 are free once 0..7 are stored.
      "vpaddd 0(%[st]), %%ymm0, %%ymm0\n\t"
      "vpaddd 32(%[st]), %%ymm1, %%ymm1\n\t"
      "vpaddd 64(%[st]), %%ymm2, %%ymm2\n\t"
      "vpaddd 96(%[st]), %%ymm3, %%ymm3\n\t"
      "vpaddd 128(%[st]), %%ymm4, %%ymm4\n\t"
      "vpaddd 160(%[st]), %%ymm5, %%ymm5\n\t"
      "vpaddd 192(%[st]), %%ymm6, %%ymm6\n\t"
      "vpaddd 224(%[st]), %%ymm7, %%ymm7\n\t"
      "vpaddd 256(%[st]), %%ymm8, %%ymm8\n\t"
      "vpaddd 288(%[st]), %%ymm9, %%ymm9\n\t"
      "vpaddd 384(%[st]), %%ymm12, %%ymm12\n\t"
      "vpaddd 416(%[st]), %%ymm13, %%ymm13\n\t"
      "vpaddd 448(%[st]), %%ymm14, %%ymm14\n\t"
      "vpaddd 480(%[st]), %%ymm15, %%ymm15\n\t"
      "vmovdqa 64(%[c]), %%ymm10\n\t"
      "vmovdqa 96(%[c]), %%ymm11\n\t"
      "vpaddd 320(%[st]), %%ymm10, %%ymm10\n\t"
      "vpaddd 352(%[st]), %%ymm11, %%ymm11\n\t"
      "vmovdqa %%ymm0, 0(%[out])\n\t"
      "vmovdqa %%ymm1, 32(%[out])\n\t"
      "vmovdqa %%ymm2, 64(%[out])\n\t"
      "vmovdqa %%ymm3, 96(%[out])\n\t"
      "vmovdqa %%ymm4, 128(%[out])\n\t"
      "vmovdqa %%ymm5, 160(%[out])\n\t"
      "vmovdqa %%ymm6, 192(%[out])\n\t"
      "vmovdqa %%ymm7, 224(%[out])\n\t"
      "vmovdqa %%ymm8, 256(%[out])\n\t"
      "vmovdqa %%ymm9, 288(%[out])\n\t"
      "vmovdqa %%ymm10, 320(%[out])\n\t"
      "vmovdqa %%ymm11, 352(%[out])\n\t"
      "vmovdqa %%ymm12, 384(%[out])\n\t"
      "vmovdqa %%ymm13, 416(%[out])\n\t"
      "vmovdqa %%ymm14, 448(%[out])\n\t"
      "vmovdqa %%ymm15, 480(%[out])\n\t"
      : [n] "=&r"(n), "=m"(out), "=m"(c)
      : [st] "r"(st), [out] "r"(out), [c] "r"(c), [rot16] "m"(rot16), [rot8] "m"(rot8), "m"(st)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
}

#undef QVPN_QR2
#undef QVPN_QR2A
#undef QVPN_QR2B
#undef QVPN_QR2H
#undef QVPN_Y

alignas(32) constexpr uint8_t kZeroBlock[kChachaBlockSize] = {};

// XORs each lane's keystream into its own destination. Whole lanes go straight from
// registers; the keystream of a partial or idle lane goes to w.tail first (XORed with
// zeros, so the scatter has no branches), then its n bytes are XORed from there.
inline void xor_lanes(Work& w, const Lane (&lanes)[kLanes]) {
  const uint8_t* src[kLanes];
  uint8_t* dst[kLanes];
  unsigned partial = 0;
  for (int i = 0; i < kLanes; ++i) {
    const bool whole = lanes[i].n == kChachaBlockSize;
    src[i] = whole ? lanes[i].src : kZeroBlock;
    dst[i] = whole ? lanes[i].dst : w.tail[i];
    partial |= whole ? 0u : 1u << i;
  }
  scatter(w, [&](int i, int half, V v) {
    const size_t at = 32 * half;
    store(dst[i] + at, xor_(load(src[i] + at), v));  // load before store: src may be dst
  });
  for (; partial != 0; partial &= partial - 1) {
    const int i = __builtin_ctz(partial);
    const Lane& l = lanes[i];
    const uint8_t* ks = w.tail[i];
    size_t j = 0;
    for (; j + 8 <= l.n; j += 8) {
      uint64_t x, y;
      std::memcpy(&x, l.src + j, 8);
      std::memcpy(&y, ks + j, 8);
      x ^= y;
      std::memcpy(l.dst + j, &x, 8);
    }
    for (; j < l.n; ++j) l.dst[j] = l.src[j] ^ ks[j];
  }
}

inline V load2x128(const void* lo, const void* hi) {
  return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(hi),
                             reinterpret_cast<const __m128i*>(lo));
}

// Words 12..15 of a stream's state with the counter word left 0: its nonce.
inline __m128i nonce_row(const ChachaStream& s) {
  uint32_t n[3];
  std::memcpy(n, s.nonce, sizeof n);  // x86 is little-endian, as ChaCha20's words are
  return _mm_setr_epi32(0, static_cast<int>(n[0]), static_cast<int>(n[1]), static_cast<int>(n[2]));
}

// The state of eight consecutive blocks under one key: counter, counter + 1, ... in the
// eight lanes. row: words 12..15 of the first block.
void broadcast_state(V (&st)[16], const uint8_t* key, __m128i row) {
  for (int i = 0; i < 4; ++i) st[i] = _mm256_set1_epi32(static_cast<int>(kSigma[i]));
  for (int i = 0; i < 8; ++i) {
    uint32_t k;
    std::memcpy(&k, key + 4 * i, 4);
    st[4 + i] = _mm256_set1_epi32(static_cast<int>(k));
  }
  const V r = _mm256_broadcastsi128_si256(row);
  st[12] =
      _mm256_add_epi32(_mm256_shuffle_epi32(r, 0x00), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  st[13] = _mm256_shuffle_epi32(r, 0x55);
  st[14] = _mm256_shuffle_epi32(r, 0xaa);
  st[15] = _mm256_shuffle_epi32(r, 0xff);
}

// Up to eight blocks from any streams, dealt to lanes before a step.
class Pending {
 public:
  int count() const { return count_; }

  // Adds the block whose state words 12..15 are row (counter included).
  void add(const uint8_t* key, __m128i row, const Lane& lane) {
    if (count_ == 0) {
      consecutive_ = true;
    } else if (consecutive_) {
      // Same key and nonce as lane 0 and the next counter: the step can broadcast.
      const __m128i want = _mm_add_epi32(row_[0], _mm_setr_epi32(count_, 0, 0, 0));
      consecutive_ = key == key_[0] && _mm_movemask_epi8(_mm_cmpeq_epi32(row, want)) == 0xffff;
    }
    key_[count_] = key;
    row_[count_] = row;
    lanes_[count_] = lane;
    ++count_;
  }

  // One step on the pending blocks; idle lanes compute lane 0's block again and write
  // nothing.
  void run(Work& w) {
    for (int i = count_; i < kLanes; ++i) lanes_[i] = Lane{nullptr, nullptr, 0};
    if (consecutive_) {
      broadcast_state(w.st, key_[0], row_[0]);
    } else {
      for (int i = count_; i < kLanes; ++i) {
        key_[i] = key_[0];
        row_[i] = row_[0];
      }
      gather_state(w.st);
    }
    rounds8(w);
    xor_lanes(w, lanes_);
    count_ = 0;
  }

 private:
  // Each lane's key and words 12..15 into the vertical layout: 4x4 transposes of rows
  // whose low 128 bits come from lane j and high 128 bits from lane j + 4.
  void gather_state(V (&st)[16]) const {
    for (int i = 0; i < 4; ++i) st[i] = _mm256_set1_epi32(static_cast<int>(kSigma[i]));
    V k[8], c[4];
    for (int j = 0; j < 4; ++j) {
      k[j] = load2x128(key_[j], key_[j + 4]);
      k[j + 4] = load2x128(key_[j] + 16, key_[j + 4] + 16);
      c[j] = _mm256_setr_m128i(row_[j], row_[j + 4]);
    }
    transpose4(k[0], k[1], k[2], k[3]);
    transpose4(k[4], k[5], k[6], k[7]);
    transpose4(c[0], c[1], c[2], c[3]);
    for (int i = 0; i < 8; ++i) st[4 + i] = k[i];
    for (int i = 0; i < 4; ++i) st[12 + i] = c[i];
  }

  const uint8_t* key_[kLanes];
  __m128i row_[kLanes];
  Lane lanes_[kLanes];
  int count_ = 0;
  bool consecutive_ = true;
};

size_t blocks_of(size_t bytes) { return (bytes + kChachaBlockSize - 1) / kChachaBlockSize; }

// Whether stream t continues s's keystream: same key and nonce, t's first block right after
// s's last.
bool continues(const ChachaStream& s, const ChachaStream& t) {
  return t.key == s.key && std::memcmp(t.nonce, s.nonce, sizeof s.nonce) == 0 &&
         t.counter == s.counter + static_cast<uint32_t>(blocks_of(s.len));
}

// Whether the blocks from byte `off` of streams[i] on, through the streams that continue
// its keystream, fill a whole step. (The AEAD's one-block key stream and its payload
// stream are one such run.)
bool run_fills_step(std::span<const ChachaStream> streams, size_t i, size_t off) {
  size_t blocks = blocks_of(streams[i].len - off);
  const ChachaStream* last = &streams[i];
  for (size_t j = i + 1; blocks < kLanes && j < streams.size(); ++j) {
    if (streams[j].len == 0) continue;
    if (!continues(*last, streams[j])) break;
    blocks += blocks_of(streams[j].len);
    last = &streams[j];
  }
  return blocks >= kLanes;
}

// Moves the cursor (i, off) past finished and empty streams.
void skip_done(std::span<const ChachaStream> streams, size_t& i, size_t& off) {
  while (i < streams.size() && off >= streams[i].len) {
    ++i;
    off = 0;
  }
}

}  // namespace

void chacha20_xor_avx2(std::span<const ChachaStream> streams) {
  alignas(32) Work w;
  Pending p;
  size_t i = 0, off = 0;  // the cursor: the next block is at byte off of streams[i]
  for (skip_done(streams, i, off); i < streams.size(); skip_done(streams, i, off)) {
    const ChachaStream& s = streams[i];
    const uint32_t counter = s.counter + static_cast<uint32_t>(off / kChachaBlockSize);
    const __m128i row = _mm_insert_epi32(nonce_row(s), static_cast<int>(counter), 0);
    if (p.count() == 0 && run_fills_step(streams, i, off)) {
      // Whole steps of one keystream: the state is broadcast, not gathered, and stepped
      // by eight blocks while the run lasts.
      broadcast_state(w.st, s.key, row);
      const V eight = _mm256_set1_epi32(kLanes);
      const ChachaStream* current = &s;
      for (;;) {
        rounds8(w);
        w.st[12] = _mm256_add_epi32(w.st[12], eight);
        if (current->len - off >= kStep) {
          xor_step(w, current->src + off, current->dst + off);
          off += kStep;
        } else {  // the lanes span the end of a stream, or its partial last block
          Lane lanes[kLanes];
          for (Lane& l : lanes) {
            skip_done(streams, i, off);
            const ChachaStream& c = streams[i];
            const size_t n = std::min(kChachaBlockSize, c.len - off);
            l = Lane{c.src + off, c.dst + off, n};
            off += n;
          }
          xor_lanes(w, lanes);
        }
        const ChachaStream* prev = current;
        skip_done(streams, i, off);
        if (i == streams.size()) break;
        current = &streams[i];
        if (current != prev && !continues(*prev, *current)) break;
        if (!run_fills_step(streams, i, off)) break;
      }
      continue;
    }
    // One block into the next free lane.
    const size_t n = std::min(kChachaBlockSize, s.len - off);
    p.add(s.key, row, Lane{s.src + off, s.dst + off, n});
    if (p.count() == kLanes) p.run(w);
    off += n;
  }
  if (p.count() != 0) p.run(w);
  sodium_memzero(&w, sizeof w);
}

}  // namespace qvpn::dataplane

#endif  // defined(__x86_64__)
