// X25519 against RFC 7748 and the low-order-point rule the handshake relies on.
#include <doctest/doctest.h>

#include <string_view>

#include "dataplane/x25519.h"
#include "support/bytes.h"

using namespace qvpn::dataplane;

namespace {

KeyBytes key_from(std::string_view hex) { return qvpn::test::array_from_hex<kKeySize>(hex); }

SecretKey secret_from(std::string_view hex) { return SecretKey(key_from(hex)); }
PublicKey public_from(std::string_view hex) { return PublicKey{key_from(hex)}; }

KeyBytes bytes_of(const SecretKey& k) {
  KeyBytes out{};
  std::copy(k.data(), k.data() + kKeySize, out.begin());
  return out;
}

}  // namespace

TEST_CASE("RFC 7748 section 6.1: Alice and Bob") {
  const auto alice =
      secret_from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const auto bob = secret_from("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const auto alice_pub =
      public_from("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  const auto bob_pub =
      public_from("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const auto shared = key_from("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

  CHECK(public_key_of(alice) == alice_pub);
  CHECK(public_key_of(bob) == bob_pub);

  SecretKey s1, s2;
  REQUIRE(x25519(s1, alice, bob_pub));
  REQUIRE(x25519(s2, bob, alice_pub));
  CHECK(bytes_of(s1) == shared);
  CHECK(bytes_of(s2) == shared);
  CHECK(s1.equals(s2));
}

TEST_CASE("RFC 7748 section 5.2: iterated X25519, 1 and 1000 rounds") {
  KeyBytes k = key_from("0900000000000000000000000000000000000000000000000000000000000000");
  KeyBytes u = k;
  for (int i = 1; i <= 1000; ++i) {
    SecretKey out;
    REQUIRE(x25519(out, SecretKey(k), PublicKey{u}));
    u = k;
    k = bytes_of(out);
    if (i == 1) {
      CHECK(k == key_from("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"));
    }
  }
  CHECK(k == key_from("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"));
}

TEST_CASE("low-order public keys are refused and the output wiped") {
  const auto priv = generate_private_key();
  const char* low_order[] = {
      "0000000000000000000000000000000000000000000000000000000000000000",  // u = 0
      "0100000000000000000000000000000000000000000000000000000000000000",  // u = 1
      // A point of order 8.
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  };
  for (const char* hex : low_order) {
    SecretKey out(key_from("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
    CHECK_FALSE(x25519(out, priv, public_from(hex)));
    CHECK(out.is_zero());
  }
}

TEST_CASE("generate_private_key clamps like wg genkey") {
  for (int i = 0; i < 64; ++i) {
    auto k = generate_private_key();
    CHECK((k.data()[0] & 7) == 0);
    CHECK((k.data()[31] & 0x80) == 0);
    CHECK((k.data()[31] & 0x40) == 0x40);
  }
  CHECK_FALSE(generate_private_key().equals(generate_private_key()));
}

TEST_CASE("public_key_of clamps internally") {
  // An unclamped key gives the same public key as its clamped form, as with wg pubkey.
  auto raw = key_from("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
  auto clamped = raw;
  clamped[0] &= 248;
  clamped[31] &= 127;
  clamped[31] |= 64;
  CHECK(public_key_of(SecretKey(raw)) == public_key_of(SecretKey(clamped)));
}

TEST_CASE("DH agrees for generated keys") {
  for (int i = 0; i < 16; ++i) {
    auto a = generate_private_key();
    auto b = generate_private_key();
    SecretKey ab, ba;
    REQUIRE(x25519(ab, a, public_key_of(b)));
    REQUIRE(x25519(ba, b, public_key_of(a)));
    CHECK(ab.equals(ba));
    CHECK_FALSE(ab.is_zero());
  }
}
