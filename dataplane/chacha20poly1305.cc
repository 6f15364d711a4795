// The dispatchers and the composed path. At AVX2 the stitched kernel
// (chacha20poly1305_avx2.cc) takes the jobs it runs faster and hands the rest back here.
//
// Composed flow, for each chunk of up to kChunk jobs:
//   seal: one chacha20_xor call over two streams per job (block 0 into the one-time key,
//         the payload from block 1), so one-block key streams share steps with payload
//         blocks; then one poly1305_aead_tags call over the ciphertexts.
//   open: chacha20_xor for blocks 0..7 of each job into a stack buffer (the one-time key
//         and the payload's first 448 bytes of keystream: one step for a short packet);
//         poly1305_aead_tags over the ciphertexts; constant-time tag compare; then, for
//         the jobs that verified only, XOR of that keystream and chacha20_xor over the
//         rest of the payload. Plaintext is only ever written for authenticated jobs.
// One-time keys, keystream and computed tags live on the stack and are wiped before
// returning.
#include "dataplane/chacha20poly1305.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "dataplane/chacha20.h"
#include "dataplane/chacha20poly1305_impl.h"
#include "dataplane/cpu_features.h"
#include "dataplane/poly1305.h"

namespace qvpn::dataplane {

namespace {

constexpr size_t kTagSize = 16;
constexpr size_t kOneTimeKeySize = 32;
// Jobs per chunk: enough to fill the vector lanes many times over, little enough that the
// per-chunk arrays stay a few KiB of stack.
constexpr size_t kChunk = 32;

// The one-time key is keystream XOR zeros.
constexpr uint8_t kZeros[kOneTimeKeySize] = {};

// WireGuard's nonce: 32 zero bits, then the counter little-endian (whitepaper 5.4.6).
ChachaStream stream_of(const AeadJob& job, uint32_t block, const uint8_t* src, uint8_t* dst,
                       size_t len) {
  ChachaStream s{job.key, {}, block, src, dst, len};
  for (int i = 0; i < 8; ++i) s.nonce[4 + i] = static_cast<uint8_t>(job.counter >> (8 * i));
  return s;
}

// Wiped when the chunk is done, however it ends.
struct SealSecrets {
  alignas(32) uint8_t one_time_key[kChunk][kOneTimeKeySize];
  ~SealSecrets() { sodium_memzero(this, sizeof *this); }
};

void seal_chunk(std::span<AeadJob> jobs) {
  SealSecrets secrets;
  ChachaStream streams[2 * kChunk];
  for (size_t i = 0; i < jobs.size(); ++i) {
    const AeadJob& j = jobs[i];
    streams[2 * i] = stream_of(j, 0, kZeros, secrets.one_time_key[i], kOneTimeKeySize);
    streams[2 * i + 1] = stream_of(j, 1, j.src, j.dst, j.len);
  }
  chacha20_xor({streams, 2 * jobs.size()});

  Poly1305AeadJob macs[kChunk];
  for (size_t i = 0; i < jobs.size(); ++i) {
    const AeadJob& j = jobs[i];
    macs[i] = {secrets.one_time_key[i], j.ad, j.ad_len, j.dst, j.len, j.dst + j.len};
  }
  poly1305_aead_tags({macs, jobs.size()});
}

// The keystream open computes before it verifies: block 0 (the one-time key) and the
// payload's first blocks, so a short packet needs one ChaCha20 step, not two.
constexpr size_t kOpenChunk = 16;
constexpr size_t kOpenHeadBlocks = 8;
constexpr size_t kBlock = 64;
constexpr uint8_t kZeroBlocks[kOpenHeadBlocks * kBlock] = {};

// Wiped when the chunk is done (the rows of its jobs: 8 KiB would cost a short packet
// more than its own keystream).
struct OpenSecrets {
  explicit OpenSecrets(size_t jobs) : used(jobs) {}
  ~OpenSecrets() {
    sodium_memzero(keystream, used * sizeof keystream[0]);
    sodium_memzero(tag, used * sizeof tag[0]);
  }
  size_t used;
  alignas(32) uint8_t keystream[kOpenChunk][kOpenHeadBlocks * kBlock];
  uint8_t tag[kOpenChunk][kTagSize];
};

void open_chunk(std::span<AeadJob> jobs) {
  OpenSecrets secrets(jobs.size());
  ChachaStream streams[kOpenChunk];
  size_t n = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const AeadJob& j = jobs[i];
    if (j.len < kTagSize) continue;
    const size_t blocks = std::min(kOpenHeadBlocks, 1 + (j.len - kTagSize + kBlock - 1) / kBlock);
    streams[n++] = stream_of(j, 0, kZeroBlocks, secrets.keystream[i], blocks * kBlock);
  }
  chacha20_xor({streams, n});

  // Tags over the ciphertexts as received, before anything is decrypted (dst may be src).
  Poly1305AeadJob macs[kOpenChunk];
  n = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const AeadJob& j = jobs[i];
    if (j.len < kTagSize) continue;
    macs[n++] = {secrets.keystream[i], j.ad, j.ad_len, j.src, j.len - kTagSize, secrets.tag[i]};
  }
  poly1305_aead_tags({macs, n});

  // Decrypt the jobs that verified: the head from the keystream already made, the rest
  // from block kOpenHeadBlocks on.
  constexpr size_t kHead = (kOpenHeadBlocks - 1) * kBlock;
  n = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    AeadJob& j = jobs[i];
    j.ok =
        j.len >= kTagSize && sodium_memcmp(secrets.tag[i], j.src + j.len - kTagSize, kTagSize) == 0;
    if (!j.ok) continue;
    const size_t len = j.len - kTagSize;
    const uint8_t* ks = secrets.keystream[i] + kBlock;
    xor_bytes_by_word(j.dst, j.src, ks, std::min(len, kHead));
    if (len > kHead) {
      streams[n++] = stream_of(j, kOpenHeadBlocks, j.src + kHead, j.dst + kHead, len - kHead);
    }
  }
  chacha20_xor({streams, n});
}

}  // namespace

void chacha20poly1305_seal_composed(std::span<AeadJob> jobs) {
  for (size_t at = 0; at < jobs.size(); at += kChunk) {
    seal_chunk(jobs.subspan(at, std::min(kChunk, jobs.size() - at)));
  }
}

void chacha20poly1305_open_composed(std::span<AeadJob> jobs) {
  for (size_t at = 0; at < jobs.size(); at += kOpenChunk) {
    open_chunk(jobs.subspan(at, std::min(kOpenChunk, jobs.size() - at)));
  }
}

void chacha20poly1305_seal(std::span<AeadJob> jobs) {
#if defined(__x86_64__)
  if (simd_level() >= SimdLevel::kAvx2) {
    chacha20poly1305_seal_avx2(jobs);
    return;
  }
#endif
  chacha20poly1305_seal_composed(jobs);
}

void chacha20poly1305_open(std::span<AeadJob> jobs) {
#if defined(__x86_64__)
  if (simd_level() >= SimdLevel::kAvx2) {
    chacha20poly1305_open_avx2(jobs);
    return;
  }
#endif
  chacha20poly1305_open_composed(jobs);
}

}  // namespace qvpn::dataplane
