#pragma once
// The AEADs WireGuard uses.
// ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce: 32 zero bits then the 64-bit
// counter, little-endian. One packet at a time over our own SIMD ChaCha20 and Poly1305
// (chacha20poly1305.h, which also takes whole batches). XChaCha20-Poly1305 (cookie
// replies) is libsodium's.
#include <cstdint>
#include <span>

#include "dataplane/messages.h"

namespace qvpn::dataplane {

inline constexpr size_t kXNonceSize = 24;
using AeadKey = std::span<const uint8_t, kKeySize>;

// Seals src into dst: dst.size() must be src.size() + 16. dst may alias src exactly.
void aead_seal(std::span<uint8_t> dst, AeadKey key, uint64_t counter,
               std::span<const uint8_t> src, std::span<const uint8_t> ad = {});
// Opens src (ciphertext with tag) into dst: dst.size() must be src.size() - 16, and
// src.size() >= 16. dst may alias src exactly. Returns false, and leaves dst unspecified,
// when authentication fails.
[[nodiscard]] bool aead_open(std::span<uint8_t> dst, AeadKey key, uint64_t counter,
                             std::span<const uint8_t> src, std::span<const uint8_t> ad = {});

void xaead_seal(std::span<uint8_t> dst, AeadKey key, std::span<const uint8_t, kXNonceSize> nonce,
                std::span<const uint8_t> src, std::span<const uint8_t> ad = {});
[[nodiscard]] bool xaead_open(std::span<uint8_t> dst, AeadKey key,
                              std::span<const uint8_t, kXNonceSize> nonce,
                              std::span<const uint8_t> src, std::span<const uint8_t> ad = {});

// Cryptographically secure random bytes (libsodium).
void random_bytes(std::span<uint8_t> out);
uint32_t random_u32();

}  // namespace qvpn::dataplane
