// WireGuard's KDF_n against values from an independent implementation.
#include <doctest/doctest.h>

#include <array>
#include <string_view>
#include <vector>

#include "dataplane/blake2s.h"
#include "dataplane/kdf.h"
#include "support/bytes.h"

using namespace qvpn::dataplane;
using namespace qvpn::test;

namespace {

using Key = std::array<uint8_t, kKeySize>;

Key key_from(std::string_view hex) { return array_from_hex<kKeySize>(hex); }

// Expected values produced with Python 3's standard library, following whitepaper 5.4:
//   H = lambda k, m: hmac.new(k, m, hashlib.blake2s).digest()
//   t0 = H(key, input); t1 = H(t0, b"\x01"); t2 = H(t0, t1 + b"\x02"); t3 = H(t0, t2 + b"\x03")
struct Vector {
  std::vector<uint8_t> input;
  const char* t1;
  const char* t2;
  const char* t3;
};

std::vector<Vector> vectors() {
  const std::string_view id = "WireGuard v1 zx2c4 Jason@zx2c4.com";
  auto k = counting_array<kKeySize>();
  return {
      {{},
       "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624",
       "1a17621f346abdc520746a9fb64d8eb03231d674fc15687537b0780fd9c060fd",
       "4eaf02809ac4b930ef63479de62275f1c55656e61f78a3cc653c18a2223d6c5f"},
      {{k.begin(), k.end()},
       "1fcf29000a27f12dc0691acf0f15bf4c55199f925d65441a3c08b566fce08d13",
       "704818f0cdc896cc3d7fe77c61f24e33db30aa69ef63758d5cfce8d6335c1b46",
       "7c46c5eddb1418694b9a599d7d5842039b4fbbf946e376bf59d19847342fee80"},
      {{id.begin(), id.end()},
       "ff00b86d924bc4fae7ace7a9c842bff7500eaa303f6ed3600aff41c193598595",
       "4940f9ef0251c67efbbe48b63273437435fa8bc4998505d76215bb931ecc633b",
       "0a662c297b68624483090e49beda5e772559504c05c65b37c72255155aed19a9"},
  };
}

}  // namespace

TEST_CASE("KDF1/2/3 with key 00..1f match Python hmac + hashlib.blake2s") {
  const Key key = counting_array<kKeySize>();
  for (const auto& v : vectors()) {
    Key a{}, b{}, c{};
    kdf1(a, key, v.input);
    CHECK(a == key_from(v.t1));

    a = b = Key{};
    kdf2(a, b, key, v.input);
    CHECK(a == key_from(v.t1));
    CHECK(b == key_from(v.t2));

    a = b = Key{};
    kdf3(a, b, c, key, v.input);
    CHECK(a == key_from(v.t1));
    CHECK(b == key_from(v.t2));
    CHECK(c == key_from(v.t3));
  }
}

TEST_CASE("KDF from WireGuard's initial chaining key") {
  // C0 = HASH("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"); KDF3(C0, "") by the same Python.
  const std::string_view construction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
  Key ck{};
  blake2s(ck,
          std::span(reinterpret_cast<const uint8_t*>(construction.data()), construction.size()));
  CHECK(ck == key_from("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"));
  Key a{}, b{}, c{};
  kdf3(a, b, c, ck, {});
  CHECK(a == key_from("bd968725a9177942a8c2e4253d1dde31cf7b19ec001b4a3a3d141cd9d998d3ba"));
  CHECK(b == key_from("aab5462b323780fa615bf80ffe469510239ff361575a663968e686a7ae41d693"));
  CHECK(c == key_from("ae1e06e0931da10b9971bab8e282b42307522b38c0f4492cdd1bf44298126887"));
}

TEST_CASE("KDF outputs may alias the key and the input") {
  // The handshake writes the new chaining key over the old: C = KDF1(C, e).
  const Key key = counting_array<kKeySize>();
  Key expected1{}, expected2{};
  kdf2(expected1, expected2, key, key);

  Key ck = key;
  Key other{};
  kdf2(ck, other, ck, ck);
  CHECK(ck == expected1);
  CHECK(other == expected2);
}
