// Poly1305 dispatchers and the portable kernel, which is the scalar core of
// poly1305_impl.h (radix 2^64) run job by job. The AVX2 kernel is in poly1305_avx2.cc.
#include "dataplane/poly1305.h"

#include <sodium.h>

#include "dataplane/cpu_features.h"
#include "dataplane/poly1305_impl.h"

namespace qvpn::dataplane {

using namespace poly1305_internal;

void poly1305_portable(uint8_t (&tag)[16], const uint8_t (&key)[32], std::span<const uint8_t> msg) {
  Scalar st;
  scalar_init(st, key);
  const size_t full = msg.size() / 16;
  scalar_blocks(st, msg.data(), full, 1);
  scalar_mac_finish(st, msg.data() + 16 * full, msg.size() % 16, key + 16, tag);
}

void poly1305_aead_tags_portable(std::span<const Poly1305AeadJob> jobs) {
  Scalar st;
  for (const Poly1305AeadJob& job : jobs) {
    scalar_init(st, job.key);
    scalar_blocks(st, job.ad, job.ad_len / 16, 1);
    scalar_aead_tail(st, job.ad + job.ad_len / 16 * 16, job.ad_len % 16);
    scalar_blocks(st, job.ct, job.ct_len / 16, 1);
    scalar_aead_tail(st, job.ct + job.ct_len / 16 * 16, job.ct_len % 16);
    scalar_aead_lengths(st, job.ad_len, job.ct_len);
    scalar_finish(st, job.key + 16, job.tag);
  }
  sodium_memzero(&st, sizeof st);
}

void poly1305_aead_tags(std::span<const Poly1305AeadJob> jobs) {
#if defined(__x86_64__)
  if (simd_level() >= SimdLevel::kAvx2) {
    poly1305_aead_tags_avx2(jobs);
    return;
  }
#endif
  poly1305_aead_tags_portable(jobs);
}

void poly1305(uint8_t (&tag)[16], const uint8_t (&key)[32], std::span<const uint8_t> msg) {
#if defined(__x86_64__)
  if (simd_level() >= SimdLevel::kAvx2) {
    poly1305_avx2(tag, key, msg);
    return;
  }
#endif
  poly1305_portable(tag, key, msg);
}

}  // namespace qvpn::dataplane
