// The batch ChaCha20-Poly1305 at every SIMD level: RFC 8439 A.5 and WireGuard-nonce known
// answers, BoringSSL and libsodium as references on random inputs, batches against one job
// at a time, and rejection of every kind of tampering, job by job within a batch.
#include <doctest/doctest.h>
#include <sodium.h>

#include <random>
#include <string_view>
#include <vector>

#include "dataplane/chacha20poly1305.h"
#include "dataplane/cpu_features.h"
#include "support/aead_reference.h"
#include "support/bytes.h"
#include "support/simd_levels.h"

using namespace qvpn::dataplane;
using namespace qvpn::test;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes seal_one(const uint8_t* key, uint64_t counter, const Bytes& pt, const Bytes& ad) {
  Bytes ct(pt.size() + 16);
  AeadJob job{key, counter, ad.data(), ad.size(), pt.data(), ct.data(), pt.size(), false};
  chacha20poly1305_seal({&job, 1});
  return ct;
}

// Opens ct; returns whether it verified, and the plaintext in *pt.
bool open_one(const uint8_t* key, uint64_t counter, const Bytes& ct, const Bytes& ad, Bytes* pt) {
  pt->assign(ct.size() < 16 ? 0 : ct.size() - 16, 0);
  AeadJob job{key, counter, ad.data(), ad.size(), ct.data(), pt->data(), ct.size(), false};
  chacha20poly1305_open({&job, 1});
  return job.ok;
}

struct Packet {
  std::array<uint8_t, 32> key{};
  uint64_t counter = 0;
  Bytes ad, pt;
};

}  // namespace

TEST_CASE("ChaCha20-Poly1305 opens and seals RFC 8439 A.5 at every level") {
  // A.5's nonce 000000000102030405060708 has WireGuard's form: counter 0x0807060504030201.
  const auto key = from_hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
  const uint64_t counter = 0x0807060504030201;
  const auto ad = from_hex("f33388860000000000004e91");
  const auto ct = from_hex(
      "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
      "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
      "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
      "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
      "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
      "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
      "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
      "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
      "a6ad5cb4022b02709b"
      "eead9d67890cbb22392336fea1851f38");
  const auto pt = from_hex(
      "496e7465726e65742d4472616674732061726520647261667420646f63756d65"
      "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
      "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
      "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
      "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
      "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
      "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
      "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
      "726573732e2fe2809d");
  for (SimdLevel level : simd_levels()) {
    ForcedLevel forced(level);
    CAPTURE(simd_level_name(level));
    Bytes out;
    CHECK(open_one(key.data(), counter, ct, ad, &out));
    CHECK(out == pt);
    CHECK(seal_one(key.data(), counter, pt, ad) == ct);
  }
}

// The vectors of test_aead.cc, from Python's `cryptography` package (OpenSSL).
TEST_CASE("ChaCha20-Poly1305 known answers with WireGuard nonces at every level") {
  const auto key = counting_array<32>(0x80);
  struct Case {
    uint64_t counter;
    Bytes pt, ad;
    const char* expected;
  };
  const Case cases[] = {
      {0, {}, {}, "3ae5d3f2a376d317eaea5aef0215ba54"},
      {0x0102030405060708, counting_bytes(64), bytes_of("abc"),
       "f4b0ecb854df5dda2bb87b80027a6bd0e36246f8263f85b9132962857956977da447169699db524b54b62be"
       "11649da70e2e2a9c2c64fbcc2f6f3925b7997ba4a2894b52d954658471fa45a952566e656"},
      {UINT64_MAX, counting_bytes(5), {}, "36e5620befe0370d01bb9a96eb2dc7ec05e34b35c6"},
  };
  for (SimdLevel level : simd_levels()) {
    ForcedLevel forced(level);
    CAPTURE(simd_level_name(level));
    for (const Case& c : cases) {
      const Bytes ct = seal_one(key.data(), c.counter, c.pt, c.ad);
      CHECK(ct == from_hex(c.expected));
      Bytes back;
      CHECK(open_one(key.data(), c.counter, ct, c.ad, &back));
      CHECK(back == c.pt);
    }
  }
}

TEST_CASE("ChaCha20-Poly1305 equals BoringSSL and libsodium on random inputs") {
  REQUIRE(sodium_init() >= 0);
  std::mt19937_64 rng(2024);
  for (size_t len : sweep_lengths(rng, 1100, 40)) {
    CAPTURE(len);
    const Bytes key = random_bytes(rng, 32);
    const uint64_t counter = rng();
    const Bytes ad = random_bytes(rng, rng() % 65);
    const Bytes pt = random_bytes(rng, len);
    const Bytes want = boringssl_seal(key.data(), counter, pt, ad, [](bool ok) { REQUIRE(ok); });
    REQUIRE(want == sodium_seal(key.data(), counter, pt, ad));
    for (SimdLevel level : simd_levels()) {
      ForcedLevel forced(level);
      CAPTURE(simd_level_name(level));
      REQUIRE(seal_one(key.data(), counter, pt, ad) == want);
      Bytes back;
      REQUIRE(open_one(key.data(), counter, want, ad, &back));
      REQUIRE(back == pt);
    }
  }
}

TEST_CASE("ChaCha20-Poly1305 batches equal one job at a time, in place and apart") {
  std::mt19937_64 rng(16);
  const auto random_len = [&]() -> size_t {
    switch (rng() % 5) {
      case 0:
        return rng() % 17;
      case 1:
        return 1420;
      case 2:
        return 64 * (rng() % 24);
      case 3:
        return rng() % 1500;
      default:
        return rng() % 9000;
    }
  };
  for (int round = 0; round < 120; ++round) {
    const size_t count = 1 + round % 40;
    std::vector<Packet> ps(count);
    for (size_t i = 0; i < count; ++i) {
      Packet& p = ps[i];
      // Mostly one peer's burst (same key, consecutive counters), sometimes another peer.
      if (i == 0 || rng() % 4 == 0) {
        for (auto& b : p.key) b = static_cast<uint8_t>(rng());
        p.counter = rng() % 3 ? rng() % 100000 : rng();
      } else {
        p.key = ps[i - 1].key;
        p.counter = ps[i - 1].counter + 1;
      }
      p.ad = random_bytes(rng, rng() % 3 ? 0 : rng() % 65);
      p.pt = random_bytes(rng, random_len());
    }
    std::vector<Bytes> want(count);
    for (size_t i = 0; i < count; ++i) {
      want[i] = sodium_seal(ps[i].key.data(), ps[i].counter, ps[i].pt, ps[i].ad);
    }
    for (SimdLevel level : simd_levels()) {
      ForcedLevel forced(level);
      CAPTURE(simd_level_name(level));
      CAPTURE(count);
      // Seal: half the jobs in place.
      std::vector<Bytes> out(count);
      std::vector<AeadJob> jobs(count);
      for (size_t i = 0; i < count; ++i) {
        const Packet& p = ps[i];
        out[i].assign(p.pt.size() + 16, 0);
        const bool in_place = i % 2 == 1;
        if (in_place) std::copy(p.pt.begin(), p.pt.end(), out[i].begin());
        jobs[i] = {p.key.data(),
                   p.counter,
                   p.ad.data(),
                   p.ad.size(),
                   in_place ? out[i].data() : p.pt.data(),
                   out[i].data(),
                   p.pt.size(),
                   false};
      }
      chacha20poly1305_seal(jobs);
      for (size_t i = 0; i < count; ++i) {
        CAPTURE(i);
        REQUIRE(out[i] == want[i]);
      }
      // Open: the other half in place.
      std::vector<Bytes> back(count);
      for (size_t i = 0; i < count; ++i) {
        const Packet& p = ps[i];
        const bool in_place = i % 2 == 0;
        back[i] = in_place ? want[i] : Bytes(p.pt.size());
        jobs[i] = {p.key.data(),
                   p.counter,
                   p.ad.data(),
                   p.ad.size(),
                   in_place ? back[i].data() : want[i].data(),
                   back[i].data(),
                   want[i].size(),
                   false};
      }
      chacha20poly1305_open(jobs);
      for (size_t i = 0; i < count; ++i) {
        CAPTURE(i);
        REQUIRE(jobs[i].ok);
        REQUIRE(std::equal(ps[i].pt.begin(), ps[i].pt.end(), back[i].begin()));
      }
    }
  }
}

TEST_CASE("ChaCha20-Poly1305 open refuses any flipped bit, a wrong counter and a short input") {
  const auto key = counting_array<32>(1);
  const Bytes ad = bytes_of("header");
  Bytes pt(100);
  for (size_t i = 0; i < pt.size(); ++i) pt[i] = static_cast<uint8_t>(i * 7);
  for (SimdLevel level : simd_levels()) {
    ForcedLevel forced(level);
    CAPTURE(simd_level_name(level));
    const Bytes ct = seal_one(key.data(), 42, pt, ad);
    Bytes out;
    for (size_t bit = 0; bit < ct.size() * 8; ++bit) {  // ciphertext and tag
      REQUIRE_FALSE(open_one(key.data(), 42, with_bit_flipped(ct, bit), ad, &out));
    }
    for (size_t bit = 0; bit < ad.size() * 8; ++bit) {
      REQUIRE_FALSE(open_one(key.data(), 42, ct, with_bit_flipped(ad, bit), &out));
    }
    CHECK_FALSE(open_one(key.data(), 43, ct, ad, &out));
    CHECK_FALSE(open_one(key.data(), 42 + (uint64_t{1} << 32), ct, ad, &out));
    CHECK_FALSE(open_one(key.data(), 42, Bytes(ct.begin(), ct.end() - 1), ad, &out));
    for (size_t n = 0; n < 16; ++n) {  // shorter than a tag
      AeadJob job{key.data(), 42, ad.data(), ad.size(), ct.data(), out.data(), n, true};
      chacha20poly1305_open({&job, 1});
      CHECK_FALSE(job.ok);
    }
    CHECK(open_one(key.data(), 42, ct, ad, &out));
    CHECK(out == pt);
  }
}

TEST_CASE("ChaCha20-Poly1305 open in a mixed batch fails exactly the bad jobs") {
  std::mt19937_64 rng(99);
  for (SimdLevel level : simd_levels()) {
    ForcedLevel forced(level);
    CAPTURE(simd_level_name(level));
    for (int round = 0; round < 20; ++round) {
      const size_t count = 1 + rng() % 40;
      std::vector<Packet> ps(count);
      std::vector<Bytes> cts(count), outs(count);
      std::vector<bool> good(count);
      std::vector<uint64_t> open_counter(count);
      std::vector<Bytes> open_ad(count);
      for (size_t i = 0; i < count; ++i) {
        Packet& p = ps[i];
        for (auto& b : p.key) b = static_cast<uint8_t>(rng());
        p.counter = rng();
        p.ad = random_bytes(rng, rng() % 20);
        p.pt = random_bytes(rng, rng() % 3000);
        cts[i] = seal_one(p.key.data(), p.counter, p.pt, p.ad);
        open_counter[i] = p.counter;
        open_ad[i] = p.ad;
        good[i] = true;
        switch (rng() % 8) {
          case 0:  // a bit of the ciphertext or tag
            cts[i] = with_bit_flipped(cts[i], rng() % (cts[i].size() * 8));
            good[i] = false;
            break;
          case 1:  // a bit of the tag
            cts[i] = with_bit_flipped(cts[i], (cts[i].size() - 16) * 8 + rng() % 128);
            good[i] = false;
            break;
          case 2:  // the ad
            if (open_ad[i].empty()) {
              open_ad[i].push_back(0);
            } else {
              open_ad[i] = with_bit_flipped(open_ad[i], rng() % (open_ad[i].size() * 8));
            }
            good[i] = false;
            break;
          case 3:  // the counter
            open_counter[i] ^= uint64_t{1} << (rng() % 64);
            good[i] = false;
            break;
          default:
            break;
        }
      }
      std::vector<AeadJob> jobs(count);
      for (size_t i = 0; i < count; ++i) {
        outs[i].assign(cts[i].size() - 16, 0);
        jobs[i] = {ps[i].key.data(), open_counter[i], open_ad[i].data(), open_ad[i].size(),
                   cts[i].data(),    outs[i].data(),  cts[i].size(),     !good[i]};
      }
      chacha20poly1305_open(jobs);
      for (size_t i = 0; i < count; ++i) {
        CAPTURE(i);
        REQUIRE(jobs[i].ok == good[i]);
        if (good[i]) {
          REQUIRE(outs[i] == ps[i].pt);
        } else {
          // Nothing decrypted for a forgery: dst keeps what it held.
          REQUIRE(outs[i] == Bytes(outs[i].size(), 0));
        }
      }
    }
  }
}

TEST_CASE("ChaCha20-Poly1305 with no jobs does nothing") {
  chacha20poly1305_seal({});
  chacha20poly1305_open({});
}

// The stitched AVX2 kernel works in steps of eight blocks (block 0 and 448 payload bytes,
// then 512 at a time) and hands short jobs, and opens longer than it buffers, to the
// composed path: every length near those boundaries, in batches that mix both paths and
// change key mid-batch, against libsodium, and a forgery at each length.
TEST_CASE("ChaCha20-Poly1305 at step boundaries, with keys changing mid-batch") {
  std::mt19937_64 rng(512);
  std::vector<size_t> lens;
  for (size_t n = 0; n <= 600; ++n) lens.push_back(n);
  for (size_t k = 1; k <= 9; ++k) {
    for (size_t base : {512 * k - 64, 512 * k, 512 * k + 448}) {
      for (size_t d = 0; d < 35; ++d) lens.push_back(base - 17 + d);
    }
  }
  for (size_t n : {1420, 4096, 65535}) lens.push_back(n);
  for (SimdLevel level : simd_levels()) {
    ForcedLevel forced(level);
    CAPTURE(simd_level_name(level));
    for (size_t at = 0; at < lens.size(); at += 7) {
      const size_t count = std::min<size_t>(7, lens.size() - at);
      std::vector<Packet> ps(count);
      std::vector<Bytes> out(count), back(count);
      std::vector<AeadJob> jobs(count);
      for (size_t i = 0; i < count; ++i) {
        Packet& p = ps[i];
        if (i % 3 == 0) {
          for (auto& b : p.key) b = static_cast<uint8_t>(rng());
          p.counter = rng();
        } else {
          p.key = ps[i - 1].key;
          p.counter = ps[i - 1].counter + 1;
        }
        p.ad = random_bytes(rng, i % 2 ? 0 : 32);
        p.pt = random_bytes(rng, lens[at + i]);
        out[i].assign(p.pt.size() + 16, 0);
        jobs[i] = {p.key.data(), p.counter,     p.ad.data(), p.ad.size(),
                   p.pt.data(),  out[i].data(), p.pt.size(), false};
      }
      chacha20poly1305_seal(jobs);
      for (size_t i = 0; i < count; ++i) {
        CAPTURE(ps[i].pt.size());
        REQUIRE(out[i] == sodium_seal(ps[i].key.data(), ps[i].counter, ps[i].pt, ps[i].ad));
      }
      // Open, with every third job forged (one bit of its last ciphertext or tag byte).
      std::vector<bool> good(count);
      std::vector<Bytes> in = out;
      for (size_t i = 0; i < count; ++i) {
        good[i] = i % 3 != 1;
        if (!good[i]) in[i][rng() % in[i].size()] ^= 0x10;
        back[i].assign(ps[i].pt.size(), 0);
        jobs[i] = {ps[i].key.data(), ps[i].counter,  ps[i].ad.data(), ps[i].ad.size(),
                   in[i].data(),     back[i].data(), in[i].size(),    !good[i]};
      }
      chacha20poly1305_open(jobs);
      for (size_t i = 0; i < count; ++i) {
        CAPTURE(ps[i].pt.size());
        REQUIRE(jobs[i].ok == good[i]);
        REQUIRE(back[i] == (good[i] ? ps[i].pt : Bytes(ps[i].pt.size(), 0)));
      }
    }
  }
}
