#pragma once
// ChaCha20 (RFC 8439 section 2.4): keystream XOR over many independent streams in one call,
// so SIMD code can fill its vector lanes with blocks from several packets at once.
// Dispatches on simd_level() to the portable, AVX2 or AVX-512 kernel (chacha20_impl.h).
#include <cstddef>
#include <cstdint>
#include <span>

namespace qvpn::dataplane {

struct ChachaStream {
  const uint8_t* key;  // 32 bytes
  uint8_t nonce[12];
  uint32_t counter;    // block counter of the first block
  const uint8_t* src;  // len bytes; may equal dst exactly (in place), must not overlap otherwise
  uint8_t* dst;
  size_t len;          // any length; a stream must not run past block counter 2^32 - 1
};

// dst = src XOR keystream, for every stream.
void chacha20_xor(std::span<const ChachaStream> streams);

}  // namespace qvpn::dataplane
