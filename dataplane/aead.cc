#include "dataplane/aead.h"

#include <openssl/aead.h>
#include <sodium.h>

#include <cstdlib>

namespace qvpn::dataplane {

namespace {

constexpr size_t kNonceSize = 12;

// libsodium picks its fastest ChaCha20 and Poly1305 code in sodium_init(); call it once,
// lazily, so static initialisation order never matters.
void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();  // no usable randomness: nothing in this process is safe
}

// WireGuard's nonce: 32 zero bits, then the counter little-endian (whitepaper 5.4.6).
void make_nonce(uint8_t (&nonce)[kNonceSize], uint64_t counter) {
  for (int i = 0; i < 4; ++i) nonce[i] = 0;
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
}

// BoringSSL asserts on null pointers in places even for zero lengths; empty spans may
// carry a null data().
const uint8_t* nonnull(std::span<const uint8_t> s) {
  static const uint8_t kEmpty = 0;
  return s.data() ? s.data() : &kEmpty;
}

// A ChaCha20-Poly1305 context on the stack: initialising one only copies the key, so this
// costs no allocation. The key copy is wiped when the context goes.
class ChachaCtx {
 public:
  explicit ChachaCtx(AeadKey key) {
    if (!EVP_AEAD_CTX_init(&ctx_, EVP_aead_chacha20_poly1305(), key.data(), key.size(),
                           kAeadTagSize, nullptr)) {
      std::abort();  // only fails on a wrong key or tag size, which are constants here
    }
  }
  ~ChachaCtx() {
    EVP_AEAD_CTX_cleanup(&ctx_);
    sodium_memzero(&ctx_, sizeof ctx_);
  }
  ChachaCtx(const ChachaCtx&) = delete;
  ChachaCtx& operator=(const ChachaCtx&) = delete;
  const EVP_AEAD_CTX* get() const { return &ctx_; }

 private:
  EVP_AEAD_CTX ctx_;
};

}  // namespace

void aead_seal(std::span<uint8_t> dst, AeadKey key, uint64_t counter, std::span<const uint8_t> src,
               std::span<const uint8_t> ad) {
  // Size mismatches are programming errors that would write out of bounds or truncate.
  if (dst.size() != src.size() + kAeadTagSize) std::abort();
  uint8_t nonce[kNonceSize];
  make_nonce(nonce, counter);
  ChachaCtx ctx(key);
  size_t out_len = 0;
  if (!EVP_AEAD_CTX_seal(ctx.get(), dst.data(), &out_len, dst.size(), nonce, sizeof nonce,
                         nonnull(src), src.size(), nonnull(ad), ad.size()) ||
      out_len != dst.size()) {
    std::abort();
  }
}

bool aead_open(std::span<uint8_t> dst, AeadKey key, uint64_t counter, std::span<const uint8_t> src,
               std::span<const uint8_t> ad) {
  if (src.size() < kAeadTagSize || dst.size() != src.size() - kAeadTagSize) std::abort();
  uint8_t nonce[kNonceSize];
  make_nonce(nonce, counter);
  ChachaCtx ctx(key);
  // open_gather takes the tag separately, so dst needs no room for it. BoringSSL checks
  // the tag before it decrypts and zeroes dst on failure.
  const size_t n = dst.size();
  return EVP_AEAD_CTX_open_gather(ctx.get(), dst.data(), nonce, sizeof nonce, nonnull(src), n,
                                  src.data() + n, kAeadTagSize, nonnull(ad), ad.size()) == 1;
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
