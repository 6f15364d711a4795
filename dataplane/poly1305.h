#pragma once
// Poly1305 (RFC 8439 section 2.5), in the two shapes WireGuard needs: the plain MAC over
// one message, and the ChaCha20-Poly1305 AEAD tag (section 2.8) over many messages in one
// call, so SIMD code can run several messages in its vector lanes at once. Dispatches on
// simd_level() to the portable or AVX2 kernel (poly1305_impl.h).
#include <cstddef>
#include <cstdint>
#include <span>

namespace qvpn::dataplane {

// One AEAD tag: Poly1305 with the one-time key over
//   ad || zero pad to 16 || ct || zero pad to 16 || le64(ad_len) || le64(ct_len).
struct Poly1305AeadJob {
  const uint8_t* key;  // 32-byte one-time key (r || s)
  const uint8_t* ad;
  size_t ad_len;
  const uint8_t* ct;
  size_t ct_len;
  uint8_t* tag;        // 16 bytes out
};

void poly1305_aead_tags(std::span<const Poly1305AeadJob> jobs);

void poly1305(uint8_t (&tag)[16], const uint8_t (&key)[32], std::span<const uint8_t> msg);

}  // namespace qvpn::dataplane
