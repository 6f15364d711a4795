// Fuzzes disco: open() on arbitrary bytes with a fixed pair of keys, and on real messages
// with bytes flipped. Invariants: open never accepts a message whose box was changed; what
// opens seals again to a message that opens to the same thing.
//
// Input: flags byte; then either raw bytes (flags & 1 == 0) or a message kind and fields to
// seal plus a mask XORed over the sealed bytes (flags & 1).
#include <cstdlib>
#include <vector>

#include "dataplane/x25519.h"
#include "nat/disco.h"
#include "support/fuzz_reader.h"
#include "support/keys.h"

using namespace qvpn;

namespace {

struct Keys {
  dataplane::SecretKey a = test::secret(1);
  dataplane::SecretKey b = test::secret(2);
  dataplane::PublicKey a_pub = dataplane::public_key_of(a);
  nat::DiscoBox a_to_b{a, dataplane::public_key_of(b)};
  nat::DiscoBox b_from_a{b, a_pub};
};

nat::DiscoMessage message_from(test::FuzzReader& in) {
  nat::DiscoTxId txid{};
  for (auto& t : txid) t = in.byte();
  const auto endpoint = [&] {
    platform::Endpoint ep;
    ep.ip.v6 = in.byte() & 1;
    for (size_t i = 0; i < ep.ip.size(); ++i) ep.ip.bytes[i] = in.byte();
    ep.port = uint16_t(in.take(2));
    return ep;
  };
  switch (in.byte() % 3) {
    case 0:
      return nat::DiscoPing{txid};
    case 1:
      return nat::DiscoPong{txid, endpoint()};
    default: {
      nat::DiscoCallMeMaybe cmm;
      const size_t n = in.byte() % (nat::kDiscoMaxEndpoints + 1);
      for (size_t i = 0; i < n; ++i) cmm.endpoints.push_back(endpoint());
      cmm.generation = in.byte();
      if (in.byte() & 1) cmm.opened_toward = in.byte();
      cmm.hard_nat = in.byte() & 1;
      return cmm;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Keys keys;
  test::FuzzReader in({data, size});
  const uint8_t flags = in.byte();
  if (!(flags & 1)) {
    const auto raw = in.bytes(size);
    (void)nat::disco_sender(raw);
    if (const auto m = keys.b_from_a.open(raw)) {
      const auto again = keys.b_from_a.open(keys.a_to_b.seal(*m, keys.a_pub));
      if (!again || !(*again == *m)) abort();
    }
    return 0;
  }
  const nat::DiscoMessage m = message_from(in);
  auto sealed = keys.a_to_b.seal(m, keys.a_pub);
  const auto opened = keys.b_from_a.open(sealed);
  if (!opened || !(*opened == m)) abort();
  bool changed_box = false;
  const auto mask = in.bytes(sealed.size());
  for (size_t i = 0; i < mask.size(); ++i) {
    sealed[i] ^= mask[i];
    if (mask[i] && i >= nat::kDiscoMagic.size() + 32) changed_box = true;
  }
  if (changed_box && keys.b_from_a.open(sealed)) abort();
  return 0;
}
