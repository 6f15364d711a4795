#pragma once
// Curve25519 (RFC 7748) from libsodium.
#include "dataplane/keys.h"

namespace qvpn::dataplane {

SecretKey generate_private_key();  // random and clamped, as `wg genkey`
PublicKey public_key_of(const SecretKey& private_key);
// out = DH(private, public). Returns false when the result is all zeros (a low-order
// public key), which the handshake must reject.
[[nodiscard]] bool x25519(SecretKey& out, const SecretKey& private_key, const PublicKey& public_key);

}  // namespace qvpn::dataplane
