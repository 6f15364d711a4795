#include "dataplane/kdf.h"

#include <cstring>

#include "dataplane/blake2s.h"
#include "dataplane/keys.h"

namespace qvpn::dataplane {

namespace {

// Writes the first outs.size() outputs of KDF_n. The outputs are computed into locals and
// copied at the end so that an output may alias key or input (the handshake often writes
// the new chaining key over the old one).
void kdf(std::span<const KdfOut> outs, std::span<const uint8_t, kKeySize> key,
         std::span<const uint8_t> input) {
  uint8_t t0[kBlake2sHashSize];
  uint8_t t[3][kBlake2sHashSize];
  // The previous output followed by the counter byte.
  uint8_t block[kBlake2sHashSize + 1];

  hmac_blake2s(t0, key, input);
  block[0] = 1;
  hmac_blake2s(t[0], t0, std::span(block, 1));
  for (size_t i = 1; i < outs.size(); ++i) {
    std::memcpy(block, t[i - 1], kBlake2sHashSize);
    block[kBlake2sHashSize] = static_cast<uint8_t>(i + 1);
    hmac_blake2s(t[i], t0, block);
  }
  for (size_t i = 0; i < outs.size(); ++i) std::memcpy(outs[i].data(), t[i], kBlake2sHashSize);

  secure_wipe(t0, sizeof t0);
  secure_wipe(t, sizeof t);
  secure_wipe(block, sizeof block);
}

}  // namespace

void kdf1(KdfOut t1, std::span<const uint8_t, kKeySize> key, std::span<const uint8_t> input) {
  const KdfOut outs[] = {t1};
  kdf(outs, key, input);
}

void kdf2(KdfOut t1, KdfOut t2, std::span<const uint8_t, kKeySize> key,
          std::span<const uint8_t> input) {
  const KdfOut outs[] = {t1, t2};
  kdf(outs, key, input);
}

void kdf3(KdfOut t1, KdfOut t2, KdfOut t3, std::span<const uint8_t, kKeySize> key,
          std::span<const uint8_t> input) {
  const KdfOut outs[] = {t1, t2, t3};
  kdf(outs, key, input);
}

}  // namespace qvpn::dataplane
