#pragma once
// ChaCha20-Poly1305 (RFC 8439 section 2.8) with WireGuard's nonce, over a batch of packets
// in one call, so the ChaCha20 and Poly1305 kernels can fill their vector lanes with the
// blocks of several packets (one peer's burst, or many peers' packets at once).
//
// Per job: the one-time Poly1305 key is the first 32 bytes of ChaCha20 block 0, the
// payload is XORed with blocks 1, 2, ..., and the tag is Poly1305 over
//   ad || pad16 || ciphertext || pad16 || le64(ad_len) || le64(ciphertext_len).
#include <cstddef>
#include <cstdint>
#include <span>

namespace qvpn::dataplane {

struct AeadJob {
  const uint8_t* key;  // 32 bytes
  uint64_t counter;    // the nonce: 32 zero bits, then counter little-endian (96 bits)
  const uint8_t* ad;
  size_t ad_len;
  const uint8_t* src;  // may equal dst exactly (in place); must not overlap it otherwise
  uint8_t* dst;
  // seal: plaintext length; dst receives len + 16 bytes (ciphertext, then tag).
  // open: ciphertext length including the 16-byte tag; dst receives len - 16 bytes.
  size_t len;
  // open: true iff the tag verified. On false, dst is unspecified (this implementation
  // leaves it untouched: no unauthenticated plaintext is ever written). Also false when
  // len < 16. Not written by seal.
  bool ok;
};

// Encrypts and authenticates every job.
void chacha20poly1305_seal(std::span<AeadJob> jobs);

// Verifies every job's tag over its ciphertext (constant-time compare), then decrypts only
// the jobs that verified, setting ok for each.
void chacha20poly1305_open(std::span<AeadJob> jobs);

}  // namespace qvpn::dataplane
