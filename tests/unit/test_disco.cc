// Disco messages: round trips of each type, and every way a packet can be wrong — a flipped
// bit, the wrong key, bad plaintexts, sizes and counts past the limits — refused.
#include <doctest/doctest.h>
#include <sodium.h>

#include "dataplane/x25519.h"
#include "nat/disco.h"

using namespace qvpn;
using namespace qvpn::nat;

namespace {

platform::Endpoint ep(const char* text) { return *platform::Endpoint::parse(text); }

struct Pair {
  dataplane::SecretKey a_secret = dataplane::generate_private_key();
  dataplane::SecretKey b_secret = dataplane::generate_private_key();
  dataplane::PublicKey a = dataplane::public_key_of(a_secret);
  dataplane::PublicKey b = dataplane::public_key_of(b_secret);
  DiscoBox a_to_b{a_secret, b};
  DiscoBox b_from_a{b_secret, a};
};

// Seals `plain` as a disco packet from a to b, bypassing the encoder.
std::vector<uint8_t> seal_raw(const Pair& p, const std::vector<uint8_t>& plain) {
  uint8_t k[crypto_box_BEFORENMBYTES];
  REQUIRE(crypto_box_beforenm(k, p.b.bytes.data(), p.a_secret.span().data()) == 0);
  std::vector<uint8_t> out(kDiscoMagic.begin(), kDiscoMagic.end());
  out.insert(out.end(), p.a.bytes.begin(), p.a.bytes.end());
  std::vector<uint8_t> nonce(crypto_box_NONCEBYTES, 7);
  out.insert(out.end(), nonce.begin(), nonce.end());
  std::vector<uint8_t> box(crypto_box_MACBYTES + plain.size());
  crypto_box_easy_afternm(box.data(), plain.data(), plain.size(), nonce.data(), k);
  out.insert(out.end(), box.begin(), box.end());
  return out;
}

}  // namespace

TEST_CASE("disco: every message type round-trips, IPv4 and IPv6") {
  Pair p;
  DiscoCallMeMaybe many;
  for (int i = 0; i < 16; ++i) {
    many.endpoints.push_back(i % 2 ? ep("[2001:db8::7]:41641") : ep("44.1.0.2:41641"));
  }
  many.generation = 200;
  many.opened_toward = 7;
  DiscoCallMeMaybe hard;
  hard.hard_nat = true;
  const DiscoMessage messages[] = {
      DiscoPing{new_disco_txid()},
      DiscoPong{new_disco_txid(), ep("44.2.0.2:1024")},
      DiscoPong{new_disco_txid(), ep("[2001:db8::1]:65535")},
      DiscoCallMeMaybe{},
      hard,
      many,
  };
  for (const auto& m : messages) {
    const auto bytes = p.a_to_b.seal(m, p.a);
    CHECK(bytes.size() <= kDiscoMaxSize);
    CHECK(is_disco(bytes));
    REQUIRE(disco_sender(bytes));
    CHECK(*disco_sender(bytes) == p.a);
    const auto opened = p.b_from_a.open(bytes);
    REQUIRE(opened);
    CHECK(*opened == m);
  }
}

TEST_CASE("disco: a flipped bit anywhere, or another key, is refused") {
  Pair p;
  const auto bytes = p.a_to_b.seal(DiscoPong{new_disco_txid(), ep("44.2.0.2:1024")}, p.a);
  for (size_t i = kDiscoMagic.size() + 32; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; bit += 3) {
      auto bad = bytes;
      bad[i] ^= uint8_t(1 << bit);
      CHECK(!p.b_from_a.open(bad));
    }
  }
  auto bad_magic = bytes;
  bad_magic[0] ^= 1;
  CHECK(!is_disco(bad_magic));
  CHECK(!p.b_from_a.open(bad_magic));
  // A third node cannot read it, nor forge one that b takes as a's.
  const dataplane::SecretKey c_secret = dataplane::generate_private_key();
  DiscoBox c_from_a(c_secret, p.a);
  CHECK(!c_from_a.open(bytes));
  DiscoBox c_to_b(c_secret, p.b);
  auto forged = c_to_b.seal(DiscoPing{new_disco_txid()}, p.a);
  CHECK(!p.b_from_a.open(forged));
}

TEST_CASE("disco: bad plaintexts are refused") {
  Pair p;
  std::vector<uint8_t> txid(12, 1);
  const auto ping = [&](std::vector<uint8_t> head) {
    head.insert(head.end(), txid.begin(), txid.end());
    return head;
  };
  CHECK(p.b_from_a.open(seal_raw(p, ping({1, 1}))));  // the control: a valid ping
  CHECK(!p.b_from_a.open(seal_raw(p, ping({2, 1}))));  // unknown version
  CHECK(!p.b_from_a.open(seal_raw(p, ping({1, 9}))));  // unknown type
  auto trailing = ping({1, 1});
  trailing.push_back(0);
  CHECK(!p.b_from_a.open(seal_raw(p, trailing)));
  CHECK(!p.b_from_a.open(seal_raw(p, {1, 1, 1, 2, 3})));  // short txid
  auto pong = ping({1, 2});
  pong.insert(pong.end(), {5, 1, 2, 3, 4, 0, 1});  // family 5
  CHECK(!p.b_from_a.open(seal_raw(p, pong)));
  CHECK(p.b_from_a.open(seal_raw(p, {1, 3, 0, 5, 0, 0})));  // the control: no endpoints
  CHECK(!p.b_from_a.open(seal_raw(p, {1, 3, 0, 5, 0, 17})));  // 17 endpoints
  CHECK(!p.b_from_a.open(seal_raw(p, {1, 3, 0, 5, 0, 2, 4, 1, 2, 3, 4, 0, 1})));  // 2 promised, 1 given
  CHECK(!p.b_from_a.open(seal_raw(p, {1, 3, 0, 5})));  // cut short
  CHECK(!p.b_from_a.open(seal_raw(p, {})));
}

TEST_CASE("disco: never mistaken for WireGuard or STUN, and sizes are bounded") {
  const std::vector<uint8_t> wireguard(148, 0);
  auto wg = wireguard;
  wg[0] = 1;
  CHECK(!is_disco(wg));
  std::vector<uint8_t> stun = {0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42};
  stun.resize(20);
  CHECK(!is_disco(stun));
  // The magic's first byte is neither a WireGuard type nor a STUN start.
  CHECK(kDiscoMagic[0] > 4);
  CHECK((kDiscoMagic[0] & 0xc0) != 0);
  std::vector<uint8_t> huge(kDiscoMaxSize + 1, 0);
  std::copy(kDiscoMagic.begin(), kDiscoMagic.end(), huge.begin());
  CHECK(!is_disco(huge));
  std::vector<uint8_t> tiny(kDiscoMagic.begin(), kDiscoMagic.end());
  CHECK(!is_disco(tiny));
  CHECK(!disco_sender(tiny));
}
