#pragma once
// ChaCha20-Poly1305 with WireGuard's nonce (32 zero bits, then the 64-bit counter
// little-endian) from the reference libraries, libsodium and BoringSSL, for the tests and the
// fuzzer that compare dataplane/chacha20poly1305.h against them.
#include <openssl/aead.h>
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace qvpn::test {

inline void wg_nonce(uint8_t (&nonce)[12], uint64_t counter) {
  for (int i = 0; i < 4; ++i) nonce[i] = 0;
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
}

// ciphertext || tag by libsodium. Call sodium_init() first.
inline std::vector<uint8_t> sodium_seal(const uint8_t* key, uint64_t counter,
                                        std::span<const uint8_t> pt, std::span<const uint8_t> ad) {
  uint8_t nonce[12];
  wg_nonce(nonce, counter);
  std::vector<uint8_t> ct(pt.size() + 16);
  unsigned long long len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(ct.data(), &len, pt.data(), pt.size(), ad.data(),
                                            ad.size(), nullptr, nonce, key);
  return ct;
}

// ciphertext || tag by BoringSSL. check(bool) is called on the result of each step (context
// set up, sealed, length right) and must not return when given false.
template <typename Check>
std::vector<uint8_t> boringssl_seal(const uint8_t* key, uint64_t counter,
                                    std::span<const uint8_t> pt, std::span<const uint8_t> ad,
                                    Check&& check) {
  static const uint8_t kEmpty = 0;
  uint8_t nonce[12];
  wg_nonce(nonce, counter);
  bssl::ScopedEVP_AEAD_CTX ctx;
  check(EVP_AEAD_CTX_init(ctx.get(), EVP_aead_chacha20_poly1305(), key, 32, 16, nullptr) == 1);
  std::vector<uint8_t> ct(pt.size() + 16);
  size_t len = 0;
  check(EVP_AEAD_CTX_seal(ctx.get(), ct.data(), &len, ct.size(), nonce, sizeof nonce,
                          pt.empty() ? &kEmpty : pt.data(), pt.size(),
                          ad.empty() ? &kEmpty : ad.data(), ad.size()) == 1);
  check(len == ct.size());
  return ct;
}

}  // namespace qvpn::test
