#pragma once
// Recognisable test keys: key_bytes(fill) counts up from `fill`, so key 1 and key 2 differ
// in every byte and a test can name its keys by a small number.
#include <cstdint>

#include "dataplane/keys.h"
#include "support/bytes.h"

namespace qvpn::test {

// fill, fill + 1, ..., fill + 31 (wrapping at 256).
inline dataplane::KeyBytes key_bytes(uint8_t fill = 0) {
  return counting_array<dataplane::kKeySize>(fill);
}

inline dataplane::PublicKey pub(uint8_t fill) { return dataplane::PublicKey{key_bytes(fill)}; }

inline dataplane::SecretKey secret(uint8_t fill) { return dataplane::SecretKey(key_bytes(fill)); }

// Whether `k` holds key_bytes(fill).
inline bool secret_is(const dataplane::SecretKey& k, uint8_t fill) {
  return dataplane::constant_time_equal(k.span(), key_bytes(fill));
}

}  // namespace qvpn::test
