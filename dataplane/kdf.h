#pragma once
// WireGuard's KDF_n (whitepaper 5.4): HKDF over HMAC-BLAKE2s with 32-byte outputs.
//   t0 = HMAC(key, input); t1 = HMAC(t0, 0x1); t_i = HMAC(t0, t_{i-1} || i)
#include <cstdint>
#include <span>

#include "dataplane/messages.h"

namespace qvpn::dataplane {

using KdfOut = std::span<uint8_t, kKeySize>;

void kdf1(KdfOut t1, std::span<const uint8_t, kKeySize> key, std::span<const uint8_t> input);
void kdf2(KdfOut t1, KdfOut t2, std::span<const uint8_t, kKeySize> key,
          std::span<const uint8_t> input);
void kdf3(KdfOut t1, KdfOut t2, KdfOut t3, std::span<const uint8_t, kKeySize> key,
          std::span<const uint8_t> input);

}  // namespace qvpn::dataplane
