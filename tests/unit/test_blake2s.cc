// BLAKE2s and HMAC-BLAKE2s against RFC 7693's vectors and an independent implementation.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "dataplane/blake2s.h"
#include "support/bytes.h"

using namespace qvpn::dataplane;
using namespace qvpn::test;

namespace {

// RFC 7693 Appendix E: deterministic input generator (a Fibonacci sequence).
std::vector<uint8_t> selftest_seq(size_t len, uint32_t seed) {
  std::vector<uint8_t> out(len);
  uint32_t a = 0xDEAD4BAD * seed;
  uint32_t b = 1;
  for (size_t i = 0; i < len; ++i) {
    uint32_t t = a + b;
    a = b;
    b = t;
    out[i] = static_cast<uint8_t>(t >> 24);
  }
  return out;
}

}  // namespace

TEST_CASE("BLAKE2s-256 of \"abc\" (RFC 7693 Appendix B)") {
  std::array<uint8_t, 32> out{};
  blake2s(out, bytes_of("abc"));
  CHECK(out ==
        array_from_hex<32>("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"));
}

TEST_CASE("BLAKE2s self-test grand hash (RFC 7693 Appendix E)") {
  constexpr size_t kMdLen[] = {16, 20, 28, 32};
  constexpr size_t kInLen[] = {0, 3, 64, 65, 255, 1024};
  Blake2s grand(32);
  for (size_t outlen : kMdLen) {
    for (size_t inlen : kInLen) {
      auto in = selftest_seq(inlen, static_cast<uint32_t>(inlen));
      std::vector<uint8_t> md(outlen);
      blake2s(md, in);
      grand.update(md);
      auto key = selftest_seq(outlen, static_cast<uint32_t>(outlen));
      blake2s(md, in, key);
      grand.update(md);
    }
  }
  std::array<uint8_t, 32> out{};
  grand.final(out);
  CHECK(out ==
        array_from_hex<32>("6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe"));
}

TEST_CASE("BLAKE2s streaming equals one-shot for any split") {
  std::mt19937 rng(7693);
  for (int iter = 0; iter < 2000; ++iter) {
    // Bias towards block boundaries, where buffering bugs live.
    size_t len = iter < 300 ? static_cast<size_t>(iter) : rng() % 2100;
    std::vector<uint8_t> in(len);
    for (auto& b : in) b = static_cast<uint8_t>(rng());
    std::vector<uint8_t> key(rng() % 33);
    for (auto& b : key) b = static_cast<uint8_t>(rng());
    size_t outlen = 1 + rng() % 32;

    std::vector<uint8_t> one(outlen);
    blake2s(one, in, key);

    Blake2s h(outlen, key);
    size_t pos = 0;
    while (pos < len) {
      size_t n = std::min<size_t>(len - pos, rng() % 150);
      h.update(std::span(in).subspan(pos, n));
      pos += n;
    }
    h.update({});  // empty updates are no-ops
    std::vector<uint8_t> streamed(outlen);
    h.final(streamed);
    REQUIRE(streamed == one);
  }
}

// Expected values produced with Python 3's standard library, an independent implementation:
//   hmac.new(key, msg, hashlib.blake2s).hexdigest()   (hashlib.blake2s().block_size == 64)
TEST_CASE("HMAC-BLAKE2s matches Python hmac + hashlib.blake2s") {
  struct Case {
    std::vector<uint8_t> key;
    std::vector<uint8_t> msg;
    const char* expected;
  };
  const Case cases[] = {
      {{}, {}, "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd"},
      {counting_bytes(32), bytes_of("The quick brown fox jumps over the lazy dog"),
       "f4660dee21c6a48e2a3d695ceedc26693e37b64b5ac5227476578517ee87fe6d"},
      {bytes_of("key"), bytes_of("abc"),
       "0018bfddc0c878b3e270c6e59b35af01e164a42d89499c9447a90b58a4d60eb3"},
      // Key of exactly one block: used as is.
      {counting_bytes(64), counting_bytes(100),
       "647576eb06d7546ce6db9b3c0c1509a64cc7fae9cb732ee3845e7b486ad26edc"},
      // Key longer than a block: hashed first.
      {counting_bytes(100), counting_bytes(200),
       "c4c95271905c6f69c1dd7c6fbc0cb3735457a660ccc2c4370f28825e7abef5af"},
  };
  for (const auto& c : cases) {
    std::array<uint8_t, 32> out{};
    hmac_blake2s(out, c.key, c.msg);
    CHECK(out == array_from_hex<32>(c.expected));
  }
}

TEST_CASE("HMAC-BLAKE2s output may alias its key") {
  auto key = counting_bytes(32);
  std::array<uint8_t, 32> expected{};
  hmac_blake2s(expected, key, bytes_of("abc"));
  std::array<uint8_t, 32> buf{};
  std::copy(key.begin(), key.end(), buf.begin());
  hmac_blake2s(buf, buf, bytes_of("abc"));
  CHECK(buf == expected);
}
