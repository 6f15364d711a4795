#include "dataplane/aead.h"

#include <sodium.h>

#include <cstdlib>

#include "dataplane/chacha20poly1305.h"

namespace qvpn::dataplane {

namespace {

// libsodium picks its fastest ChaCha20 and Poly1305 code in sodium_init(); call it once,
// lazily, so static initialisation order never matters.
void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();  // no usable randomness: nothing in this process is safe
}

}  // namespace

void aead_seal(std::span<uint8_t> dst, AeadKey key, uint64_t counter, std::span<const uint8_t> src,
               std::span<const uint8_t> ad) {
  // Size mismatches are programming errors that would write out of bounds or truncate.
  if (dst.size() != src.size() + kAeadTagSize) std::abort();
  AeadJob job{key.data(), counter, ad.data(), ad.size(), src.data(), dst.data(), src.size(), false};
  chacha20poly1305_seal({&job, 1});
}

bool aead_open(std::span<uint8_t> dst, AeadKey key, uint64_t counter, std::span<const uint8_t> src,
               std::span<const uint8_t> ad) {
  if (src.size() < kAeadTagSize || dst.size() != src.size() - kAeadTagSize) std::abort();
  // The tag is checked over src before anything is decrypted; on failure dst is untouched.
  AeadJob job{key.data(), counter, ad.data(), ad.size(), src.data(), dst.data(), src.size(), false};
  chacha20poly1305_open({&job, 1});
  return job.ok;
}

void xaead_seal(std::span<uint8_t> dst, AeadKey key, std::span<const uint8_t, kXNonceSize> nonce,
                std::span<const uint8_t> src, std::span<const uint8_t> ad) {
  if (dst.size() != src.size() + kAeadTagSize) std::abort();
  ensure_sodium();
  unsigned long long out_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(dst.data(), &out_len, src.data(), src.size(),
                                             ad.data(), ad.size(), nullptr, nonce.data(),
                                             key.data());
}

bool xaead_open(std::span<uint8_t> dst, AeadKey key, std::span<const uint8_t, kXNonceSize> nonce,
                std::span<const uint8_t> src, std::span<const uint8_t> ad) {
  if (src.size() < kAeadTagSize || dst.size() != src.size() - kAeadTagSize) std::abort();
  ensure_sodium();
  unsigned long long out_len = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(dst.data(), &out_len, nullptr, src.data(),
                                                    src.size(), ad.data(), ad.size(), nonce.data(),
                                                    key.data()) == 0;
}

void random_bytes(std::span<uint8_t> out) {
  if (out.empty()) return;  // data() may be null, which libsodium does not allow
  ensure_sodium();
  randombytes_buf(out.data(), out.size());
}

uint32_t random_u32() {
  ensure_sodium();
  return randombytes_random();
}

}  // namespace qvpn::dataplane
