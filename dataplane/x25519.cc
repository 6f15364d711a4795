#include "dataplane/x25519.h"

#include <sodium.h>

#include <cstdlib>

#include "dataplane/aead.h"

namespace qvpn::dataplane {

namespace {

// sodium_init() selects libsodium's fastest Curve25519 code.
void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();
}

}  // namespace

SecretKey generate_private_key() {
  SecretKey key;
  random_bytes(key.span());
  // RFC 7748 section 5 clamping, applied up front as `wg genkey` does so the stored key is
  // the scalar actually used.
  key.data()[0] &= 248;
  key.data()[31] &= 127;
  key.data()[31] |= 64;
  return key;
}

PublicKey public_key_of(const SecretKey& private_key) {
  ensure_sodium();
  PublicKey pub;
  // Clamps internally, so an unclamped private key gives the same result as wg(8).
  if (crypto_scalarmult_base(pub.bytes.data(), private_key.data()) != 0) pub = PublicKey{};
  return pub;
}

bool x25519(SecretKey& out, const SecretKey& private_key, const PublicKey& public_key) {
  ensure_sodium();
  // libsodium refuses low-order points and all-zero results itself; the explicit check
  // keeps the contract independent of the library version.
  if (crypto_scalarmult(out.data(), private_key.data(), public_key.bytes.data()) != 0 ||
      out.is_zero()) {
    out.wipe();
    return false;
  }
  return true;
}

}  // namespace qvpn::dataplane
