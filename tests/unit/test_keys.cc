// Key types and their text forms, checked against wg(8).
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "dataplane/keys.h"
#include "dataplane/x25519.h"
#include "support/keys.h"

using namespace qvpn::dataplane;
using qvpn::test::key_bytes;

namespace {

// Produced by wireguard-tools on the build machine: `wg genkey | tee /tmp/k | wg pubkey`.
constexpr char kWgPrivate[] = "CInNBN54XlG+8fkeDPRBC72p9HT1FhzHy7ZslMYsmW4=";
constexpr char kWgPublic[] = "GCI9qaOYFay5CS5/dNb9YFwVhlKrbuj1E01nmHahmRc=";
// The same private key in the UAPI's hex form (base64-decoded with Python).
constexpr char kWgPrivateHex[] = "0889cd04de785e51bef1f91e0cf4410bbda9f474f5161cc7cbb66c94c62c996e";

}  // namespace

TEST_CASE("a key pair from wg genkey / wg pubkey") {
  auto priv = key_from_base64(kWgPrivate);
  auto pub = key_from_base64(kWgPublic);
  REQUIRE(priv);
  REQUIRE(pub);
  CHECK(to_hex(*priv) == kWgPrivateHex);
  CHECK(to_base64(*priv) == kWgPrivate);
  CHECK(public_key_of(SecretKey(*priv)) == PublicKey{*pub});
  CHECK(to_base64(public_key_of(SecretKey(*priv)).bytes) == kWgPublic);
}

TEST_CASE("base64 and hex round trips") {
  std::mt19937 rng(44);
  for (int i = 0; i < 500; ++i) {
    KeyBytes k{};
    for (auto& b : k) b = static_cast<uint8_t>(rng());
    auto b64 = to_base64(k);
    CHECK(b64.size() == 44);
    CHECK(b64.back() == '=');
    CHECK(key_from_base64(b64) == k);
    auto hex = to_hex(k);
    CHECK(hex.size() == 64);
    CHECK(key_from_hex(hex) == k);
  }
  CHECK(to_hex(key_bytes()) == "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  CHECK(to_base64(key_bytes()) == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  CHECK(to_base64(KeyBytes{}) == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
}

TEST_CASE("base64 rejects anything but exactly one canonical 44-character key") {
  const std::string good = kWgPublic;
  CHECK(key_from_base64(good));
  CHECK_FALSE(key_from_base64(""));
  CHECK_FALSE(key_from_base64(good.substr(0, 43)));        // padding missing
  CHECK_FALSE(key_from_base64(good + "="));                // too long
  CHECK_FALSE(key_from_base64(" " + good.substr(1)));      // whitespace
  CHECK_FALSE(key_from_base64(good.substr(0, 43) + "A"));  // no padding, 33 bytes
  auto bad = good;
  bad[10] = '*';
  CHECK_FALSE(key_from_base64(bad));
  bad = good;
  bad[10] = '-';  // URL-safe alphabet is not accepted
  CHECK_FALSE(key_from_base64(bad));
  // 'AAE=' style: the character before '=' carries 2 unused bits that must be zero.
  auto noncanonical = std::string(to_base64(key_bytes()));
  REQUIRE(noncanonical[42] == '8');
  noncanonical[42] = '9';  // same 32 bytes, but a non-zero trailing bit
  CHECK_FALSE(key_from_base64(noncanonical));
  // 24 bytes in 32 chars, padded to 44 with garbage: still refused.
  CHECK_FALSE(key_from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA============"));
}

TEST_CASE("hex rejects wrong lengths and characters") {
  const std::string good = kWgPrivateHex;
  CHECK(key_from_hex(good));
  CHECK(key_from_hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F") ==
        key_bytes());  // upper case is still hex
  CHECK_FALSE(key_from_hex(""));
  CHECK_FALSE(key_from_hex(good.substr(0, 63)));
  CHECK_FALSE(key_from_hex(good.substr(0, 62)));
  CHECK_FALSE(key_from_hex(good + "0"));
  CHECK_FALSE(key_from_hex(good + "00"));
  auto bad = good;
  bad[5] = 'g';
  CHECK_FALSE(key_from_hex(bad));
  bad = good;
  bad[63] = ' ';
  CHECK_FALSE(key_from_hex(bad));
  CHECK_FALSE(key_from_hex(std::string(kWgPrivate)));
}

TEST_CASE("SecretKey copies, compares, wipes") {
  SecretKey a(key_bytes());
  SecretKey b = a;
  CHECK(a.equals(b));
  CHECK_FALSE(a.is_zero());
  b.data()[31] ^= 1;
  CHECK_FALSE(a.equals(b));
  b = a;
  CHECK(a.equals(b));
  const SecretKey& same = b;
  b = same;  // self-assignment keeps the value
  CHECK(a.equals(b));
  b.wipe();
  CHECK(b.is_zero());
  CHECK(SecretKey().is_zero());
  CHECK(PublicKey{}.is_zero());
  CHECK_FALSE(PublicKey{key_bytes()}.is_zero());
}

TEST_CASE("constant_time_equal and secure_wipe") {
  uint8_t a[5] = {1, 2, 3, 4, 5};
  uint8_t b[5] = {1, 2, 3, 4, 5};
  uint8_t c[4] = {1, 2, 3, 4};
  CHECK(constant_time_equal(a, b));
  CHECK_FALSE(constant_time_equal(a, c));
  CHECK(constant_time_equal({}, {}));
  b[4] = 6;
  CHECK_FALSE(constant_time_equal(a, b));
  secure_wipe(a, sizeof a);
  for (auto x : a) CHECK(x == 0);
}
