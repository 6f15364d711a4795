// ChaCha20-Poly1305 with WireGuard's nonce, compared with libsodium and with known answers;
// XChaCha20-Poly1305 against the draft-irtf-cfrg-xchacha vector.
#include <doctest/doctest.h>
#include <sodium.h>

#include <random>
#include <string_view>
#include <vector>

#include "dataplane/aead.h"
#include "support/bytes.h"

using namespace qvpn::dataplane;
using namespace qvpn::test;

namespace {

// The reference: libsodium's IETF ChaCha20-Poly1305 with the nonce built by hand.
std::vector<uint8_t> sodium_seal(const std::array<uint8_t, 32>& key, uint64_t counter,
                                 const std::vector<uint8_t>& pt, const std::vector<uint8_t>& ad) {
  uint8_t nonce[12] = {};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
  std::vector<uint8_t> ct(pt.size() + 16);
  unsigned long long len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(ct.data(), &len, pt.data(), pt.size(), ad.data(),
                                            ad.size(), nullptr, nonce, key.data());
  return ct;
}

const std::string_view kSunscreen =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    "future, sunscreen would be it.";

}  // namespace

TEST_CASE("reference check: libsodium reproduces RFC 8439 section 2.8.2") {
  // That vector's nonce (07000000 ...) has a non-zero first word, so our counter-only
  // interface cannot express it; it checks the reference the next tests compare against.
  REQUIRE(sodium_init() >= 0);
  auto key = counting_array<32>(0x80);
  auto nonce = from_hex("070000004041424344454647");
  auto ad = from_hex("50515253c0c1c2c3c4c5c6c7");
  auto pt = bytes_of(kSunscreen);
  std::vector<uint8_t> ct(pt.size() + 16);
  unsigned long long len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(ct.data(), &len, pt.data(), pt.size(), ad.data(),
                                            ad.size(), nullptr, nonce.data(), key.data());
  CHECK(ct == from_hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                       "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                       "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                       "3ff4def08e4b7a9de576d26586cec64b6116"
                       "1ae10b594f09e26a7e902ecbd0600691"));
}

// Produced with Python's `cryptography` package (OpenSSL), independent of both libraries:
//   ChaCha20Poly1305(bytes(range(0x80, 0xa0))).encrypt(b"\0"*4 + struct.pack("<Q", c), pt, ad)
TEST_CASE("aead_seal known answers with WireGuard nonces") {
  auto key = counting_array<32>(0x80);
  struct Case {
    uint64_t counter;
    std::vector<uint8_t> pt;
    std::vector<uint8_t> ad;
    const char* expected;
  };
  const Case cases[] = {
      {0, {}, {}, "3ae5d3f2a376d317eaea5aef0215ba54"},  // a keepalive
      {0x0102030405060708, counting_bytes(64), bytes_of("abc"),
       "f4b0ecb854df5dda2bb87b80027a6bd0e36246f8263f85b9132962857956977da447169699db524b54b62be"
       "11649da70e2e2a9c2c64fbcc2f6f3925b7997ba4a2894b52d954658471fa45a952566e656"},
      {UINT64_MAX, counting_bytes(5), {}, "36e5620befe0370d01bb9a96eb2dc7ec05e34b35c6"},
  };
  for (const auto& c : cases) {
    std::vector<uint8_t> ct(c.pt.size() + 16);
    aead_seal(ct, key, c.counter, c.pt, c.ad);
    CHECK(ct == from_hex(c.expected));
    std::vector<uint8_t> back(c.pt.size());
    CHECK(aead_open(back, key, c.counter, ct, c.ad));
    CHECK(back == c.pt);
  }
}

TEST_CASE("aead_seal/open agree with libsodium on random inputs") {
  std::mt19937_64 rng(8439);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 2000; ++n) lengths.push_back(n);
  lengths.push_back(65535);
  for (size_t len : lengths) {
    std::array<uint8_t, 32> key{};
    for (auto& b : key) b = static_cast<uint8_t>(rng());
    uint64_t counter = rng();
    std::vector<uint8_t> pt(len), ad(rng() % 40);
    for (auto& b : pt) b = static_cast<uint8_t>(rng());
    for (auto& b : ad) b = static_cast<uint8_t>(rng());

    std::vector<uint8_t> ct(len + 16);
    aead_seal(ct, key, counter, pt, ad);
    REQUIRE(ct == sodium_seal(key, counter, pt, ad));

    std::vector<uint8_t> back(len);
    REQUIRE(aead_open(back, key, counter, ct, ad));
    REQUIRE(back == pt);
    // Wrong counter, key or ad: refused.
    CHECK_FALSE(aead_open(back, key, counter + 1, ct, ad));
    auto key2 = key;
    key2[len % 32] ^= 1;
    CHECK_FALSE(aead_open(back, key2, counter, ct, ad));
    auto ad2 = ad;
    ad2.push_back(0);
    CHECK_FALSE(aead_open(back, key, counter, ct, ad2));
  }
}

TEST_CASE("aead_open refuses any single flipped bit") {
  auto key = counting_array<32>(1);
  std::vector<uint8_t> pt(100), ad = bytes_of("header");
  for (size_t i = 0; i < pt.size(); ++i) pt[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> ct(pt.size() + 16);
  aead_seal(ct, key, 42, pt, ad);
  std::vector<uint8_t> out(pt.size());
  for (size_t bit = 0; bit < ct.size() * 8; ++bit) {
    REQUIRE_FALSE(aead_open(out, key, 42, with_bit_flipped(ct, bit), ad));
  }
  for (size_t bit = 0; bit < ad.size() * 8; ++bit) {
    REQUIRE_FALSE(aead_open(out, key, 42, ct, with_bit_flipped(ad, bit)));
  }
  CHECK(aead_open(out, key, 42, ct, ad));
  CHECK(out == pt);
}

TEST_CASE("aead_seal/open work in place") {
  auto key = counting_array<32>(9);
  for (size_t len : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{1420}, size_t{65535}}) {
    std::vector<uint8_t> pt(len);
    for (size_t i = 0; i < len; ++i) pt[i] = static_cast<uint8_t>(i ^ 0x5a);
    std::vector<uint8_t> expected(len + 16);
    aead_seal(expected, key, 7, pt, {});

    std::vector<uint8_t> buf(len + 16);
    std::copy(pt.begin(), pt.end(), buf.begin());
    aead_seal(buf, key, 7, std::span(buf).first(len), {});
    REQUIRE(buf == expected);
    REQUIRE(aead_open(std::span(buf).first(len), key, 7, buf, {}));
    REQUIRE(std::equal(pt.begin(), pt.end(), buf.begin()));
  }
}

TEST_CASE("XChaCha20-Poly1305: draft-irtf-cfrg-xchacha-03 appendix A.3.1") {
  auto key = counting_array<32>(0x80);
  const auto nonce = counting_array<kXNonceSize>(0x40);
  auto ad = from_hex("50515253c0c1c2c3c4c5c6c7");
  auto pt = bytes_of(kSunscreen);
  const auto expected = from_hex(
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
      "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
      "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
      "21f9664c97637da9768812f615c68b13b52e"
      "c0875924c1c7987947deafd8780acf49");

  std::vector<uint8_t> ct(pt.size() + 16);
  xaead_seal(ct, key, nonce, pt, ad);
  CHECK(ct == expected);

  std::vector<uint8_t> back(pt.size());
  CHECK(xaead_open(back, key, nonce, ct, ad));
  CHECK(back == pt);
}

TEST_CASE("XChaCha20-Poly1305 round trip, tamper and in place") {
  std::mt19937_64 rng(24);
  for (size_t len : {size_t{0}, size_t{16}, size_t{17}, size_t{1000}}) {
    std::array<uint8_t, 32> key{};
    std::array<uint8_t, kXNonceSize> nonce{};
    random_bytes(key);
    random_bytes(nonce);
    std::vector<uint8_t> pt(len), ad(16);
    for (auto& b : pt) b = static_cast<uint8_t>(rng());
    for (auto& b : ad) b = static_cast<uint8_t>(rng());

    std::vector<uint8_t> ct(len + 16);
    xaead_seal(ct, key, nonce, pt, ad);
    std::vector<uint8_t> back(len);
    REQUIRE(xaead_open(back, key, nonce, ct, ad));
    CHECK(back == pt);

    for (size_t i = 0; i < ct.size(); ++i) {
      auto bad = ct;
      bad[i] ^= 0x80;
      REQUIRE_FALSE(xaead_open(back, key, nonce, bad, ad));
    }
    auto bad_nonce = nonce;
    bad_nonce[23] ^= 1;
    CHECK_FALSE(xaead_open(back, key, bad_nonce, ct, ad));
    auto bad_ad = ad;
    bad_ad[0] ^= 1;
    CHECK_FALSE(xaead_open(back, key, nonce, ct, bad_ad));

    std::vector<uint8_t> buf(len + 16);
    std::copy(pt.begin(), pt.end(), buf.begin());
    xaead_seal(buf, key, nonce, std::span(buf).first(len), ad);
    CHECK(buf == ct);
    REQUIRE(xaead_open(std::span(buf).first(len), key, nonce, buf, ad));
    CHECK(std::equal(pt.begin(), pt.end(), buf.begin()));
  }
}

TEST_CASE("random_bytes and random_u32 vary") {
  std::array<uint8_t, 32> a{}, b{};
  random_bytes(a);
  random_bytes(b);
  CHECK(a != b);
  random_bytes(std::span<uint8_t>{});  // empty is fine
  uint32_t x = random_u32();
  bool differs = false;
  for (int i = 0; i < 8 && !differs; ++i) differs = random_u32() != x;
  CHECK(differs);
}
