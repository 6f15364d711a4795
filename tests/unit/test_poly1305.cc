// Poly1305 at every SIMD level this CPU has: RFC 8439 known answers, then comparison with
// libsodium's crypto_onetimeauth_poly1305 for the plain MAC and for the AEAD tag (built by
// hand from ad || pad || ct || pad || lengths), single jobs and batches of mixed sizes.
#include <doctest/doctest.h>
#include <sodium.h>

#include <array>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/cpu_features.h"
#include "dataplane/poly1305.h"
#include "dataplane/poly1305_impl.h"
#include "support/bytes.h"
#include "support/simd_levels.h"

using namespace qvpn::dataplane;
using namespace qvpn::test;

namespace {

using Tag = std::array<uint8_t, 16>;
using Key = std::array<uint8_t, 32>;

Tag ours(const Key& key, const std::vector<uint8_t>& msg) {
  uint8_t tag[16];
  const uint8_t(&k)[32] = *reinterpret_cast<const uint8_t(*)[32]>(key.data());
  poly1305(tag, k, msg);
  Tag out;
  std::copy(tag, tag + 16, out.begin());
  return out;
}

Tag sodium_mac(const Key& key, const std::vector<uint8_t>& msg) {
  Tag tag;
  crypto_onetimeauth_poly1305(tag.data(), msg.data(), msg.size(), key.data());
  return tag;
}

std::vector<uint8_t> aead_mac_data(const std::vector<uint8_t>& ad, const std::vector<uint8_t>& ct) {
  std::vector<uint8_t> m = ad;
  m.resize((m.size() + 15) / 16 * 16, 0);
  m.insert(m.end(), ct.begin(), ct.end());
  m.resize((m.size() + 15) / 16 * 16, 0);
  for (uint64_t len : {uint64_t{ad.size()}, uint64_t{ct.size()}}) {
    for (int i = 0; i < 8; ++i) m.push_back(static_cast<uint8_t>(len >> (8 * i)));
  }
  return m;
}

// One AEAD job with its own buffers, sized exactly so that ASan sees any overread.
struct AeadCase {
  Key key;
  std::vector<uint8_t> ad;
  std::vector<uint8_t> ct;

  Tag reference() const { return sodium_mac(key, aead_mac_data(ad, ct)); }
};

std::vector<Tag> ours_batch(const std::vector<AeadCase>& cases) {
  std::vector<Tag> tags(cases.size());
  std::vector<Poly1305AeadJob> jobs;
  for (size_t i = 0; i < cases.size(); ++i) {
    const AeadCase& c = cases[i];
    jobs.push_back(
        {c.key.data(), c.ad.data(), c.ad.size(), c.ct.data(), c.ct.size(), tags[i].data()});
  }
  poly1305_aead_tags(jobs);
  return tags;
}

Key random_key(std::mt19937_64& rng) {
  Key k;
  for (auto& b : k) b = static_cast<uint8_t>(rng());
  return k;
}

const std::string_view kIetfText =
    "Any submission to the IETF intended by the Contributor for publication as all or part of "
    "an IETF Internet-Draft or RFC and any statement made within the context of an IETF "
    "activity is considered an \"IETF Contribution\". Such statements include oral statements "
    "in IETF sessions, as well as written and electronic communications made at any time or "
    "place, which are addressed to";

}  // namespace

TEST_CASE("RFC 8439 section 2.5.2 at every level") {
  const auto key =
      array_from_hex<32>("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
  for (SimdLevel level : simd_levels()) {
    ForcedLevel forced(level);
    CAPTURE(simd_level_name(level));
    CHECK(ours(key, bytes_of("Cryptographic Forum Research Group")) ==
          array_from_hex<16>("a8061dc1305136c6c22b8baf0c0127a9"));
  }
}

TEST_CASE("RFC 8439 appendix A.3 vectors at every level") {
  REQUIRE(kIetfText.size() == 375);
  struct Vector {
    int number;
    const char* key;
    std::vector<uint8_t> msg;
    const char* tag;
  };
  const std::string zero_key(64, '0');
  const Vector vectors[] = {
      {1, zero_key.c_str(), std::vector<uint8_t>(64, 0), "00000000000000000000000000000000"},
      {2, "0000000000000000000000000000000036e5f6b5c5e06070f0efca96227a863e", bytes_of(kIetfText),
       "36e5f6b5c5e06070f0efca96227a863e"},
      {3, "36e5f6b5c5e06070f0efca96227a863e00000000000000000000000000000000", bytes_of(kIetfText),
       "f3477e7cd95417af89a6b8794c310cf0"},
      {4, "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
       bytes_of("'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\n"
                "All mimsy were the borogoves,\nAnd the mome raths outgrabe."),
       "4541669a7eaaee61e708dc7cbcc5eb62"},
      // 5-11: the reduction edge cases (h reaching p, carries through every limb).
      {5, "0200000000000000000000000000000000000000000000000000000000000000",
       from_hex("ffffffffffffffffffffffffffffffff"), "03000000000000000000000000000000"},
      {6, "02000000000000000000000000000000ffffffffffffffffffffffffffffffff",
       from_hex("02000000000000000000000000000000"), "03000000000000000000000000000000"},
      {7, "0100000000000000000000000000000000000000000000000000000000000000",
       from_hex("ffffffffffffffffffffffffffffffff"
                "f0ffffffffffffffffffffffffffffff"
                "11000000000000000000000000000000"),
       "05000000000000000000000000000000"},
      {8, "0100000000000000000000000000000000000000000000000000000000000000",
       from_hex("ffffffffffffffffffffffffffffffff"
                "fbfefefefefefefefefefefefefefefe"
                "01010101010101010101010101010101"),
       "00000000000000000000000000000000"},
      {9, "0200000000000000000000000000000000000000000000000000000000000000",
       from_hex("fdffffffffffffffffffffffffffffff"), "faffffffffffffffffffffffffffffff"},
      {10, "0100000000000000040000000000000000000000000000000000000000000000",
       from_hex("e33594d7505e43b90000000000000000"
                "3394d7505e4379cd0100000000000000"
                "00000000000000000000000000000000"
                "01000000000000000000000000000000"),
       "14000000000000005500000000000000"},
      {11, "0100000000000000040000000000000000000000000000000000000000000000",
       from_hex("e33594d7505e43b90000000000000000"
                "3394d7505e4379cd0100000000000000"
                "00000000000000000000000000000000"),
       "13000000000000000000000000000000"},
  };
  for (SimdLevel level : simd_levels()) {
    ForcedLevel forced(level);
    for (const Vector& v : vectors) {
      CAPTURE(simd_level_name(level));
      CAPTURE(v.number);
      CHECK(ours(array_from_hex<32>(v.key), v.msg) == array_from_hex<16>(v.tag));
    }
  }
}

TEST_CASE("poly1305 matches libsodium for every length 0..600 and random lengths to 65535") {
  REQUIRE(sodium_init() >= 0);
  std::mt19937_64 rng(1305);
  for (size_t n : sweep_lengths(rng, 600, 200)) {
    const Key key = random_key(rng);
    const std::vector<uint8_t> msg = random_bytes(rng, n);
    const Tag expected = sodium_mac(key, msg);
    for (SimdLevel level : simd_levels()) {
      ForcedLevel forced(level);
      CAPTURE(simd_level_name(level));
      CAPTURE(n);
      CHECK(ours(key, msg) == expected);
    }
  }
}

TEST_CASE("all-0xff keys and messages") {
  // r clamps to its largest value and s is all ones (the + s carries out of 2^128); the
  // all-ones message pushes h towards 2^130 on every block.
  Key ff;
  ff.fill(0xff);
  Key ff_r_zero_s = ff;
  std::fill(ff_r_zero_s.begin() + 16, ff_r_zero_s.end(), 0);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 300; ++n) lengths.push_back(n);
  for (size_t n : {511u, 512u, 513u, 1420u, 1436u, 4096u, 65535u}) lengths.push_back(n);
  for (const Key& key : {ff, ff_r_zero_s}) {
    for (size_t n : lengths) {
      const std::vector<uint8_t> msg(n, 0xff);
      const Tag expected = sodium_mac(key, msg);
      AeadCase aead{key, std::vector<uint8_t>(n % 40, 0xff), msg};
      const Tag expected_aead = aead.reference();
      for (SimdLevel level : simd_levels()) {
        ForcedLevel forced(level);
        CAPTURE(simd_level_name(level));
        CAPTURE(n);
        CHECK(ours(key, msg) == expected);
        // A batch of five, so the AVX2 kernel runs it in lanes rather than alone.
        const std::vector<AeadCase> batch(5, aead);
        for (const Tag& tag : ours_batch(batch)) CHECK(tag == expected_aead);
      }
    }
  }
}

TEST_CASE("AEAD tag of one job matches libsodium over ad || pad || ct || pad || lengths") {
  std::mt19937_64 rng(8439);
  std::vector<size_t> ct_lengths;
  for (size_t n = 0; n <= 300; ++n) ct_lengths.push_back(n);
  for (size_t n : {511u, 512u, 1420u, 1436u, 1452u, 9000u, 65535u}) ct_lengths.push_back(n);
  for (size_t ad_len : {0u, 1u, 15u, 16u, 17u, 32u, 100u, 300u}) {
    for (size_t ct_len : ct_lengths) {
      const AeadCase c{random_key(rng), random_bytes(rng, ad_len), random_bytes(rng, ct_len)};
      const Tag expected = c.reference();
      for (SimdLevel level : simd_levels()) {
        ForcedLevel forced(level);
        CAPTURE(simd_level_name(level));
        CAPTURE(ad_len);
        CAPTURE(ct_len);
        CHECK(ours_batch({c}).at(0) == expected);
      }
    }
  }
}

TEST_CASE("AEAD tags of batches with mixed sizes match libsodium and the portable kernel") {
  std::mt19937_64 rng(2024);
  // A mix of WireGuard shapes (transport: no ad, ct a multiple of 16; handshake: 32 bytes
  // of ad, up to 48 of ct) and arbitrary ones, so lanes finish at different times.
  const auto random_case = [&]() {
    AeadCase c;
    c.key = random_key(rng);
    size_t ad_len = 0, ct_len = 0;
    switch (rng() % 6) {
      case 0:
        ct_len = 1436;
        break;
      case 1:
        ct_len = 16 * (rng() % 92);
        break;
      case 2:
        ad_len = 32;
        ct_len = rng() % 49;
        break;
      case 3:
        ad_len = rng() % 64;
        ct_len = rng() % 2000;
        break;
      case 4:
        ad_len = rng() % 700;
        ct_len = rng() % 700;
        break;
      case 5:
        ct_len = rng() % 65536;
        break;
    }
    c.ad = random_bytes(rng, ad_len);
    c.ct = random_bytes(rng, ct_len);
    return c;
  };
  for (int round = 0; round < 150; ++round) {
    const size_t njobs = 1 + rng() % 37;
    std::vector<AeadCase> batch;
    for (size_t i = 0; i < njobs; ++i) batch.push_back(random_case());
    // Every batch also has equal-length runs, the common case.
    if (round % 3 == 0) {
      for (auto& c : batch) c.ct.resize(round % 2 == 0 ? 1436 : 1420, 0xab);
    }
    std::vector<Tag> expected;
    for (const AeadCase& c : batch) expected.push_back(c.reference());
    std::vector<Tag> portable;
    {
      ForcedLevel forced(SimdLevel::kPortable);
      portable = ours_batch(batch);
    }
    CHECK(portable == expected);
    for (SimdLevel level : simd_levels()) {
      ForcedLevel forced(level);
      CAPTURE(simd_level_name(level));
      CAPTURE(round);
      CAPTURE(njobs);
      CHECK(ours_batch(batch) == portable);
    }
  }
}

TEST_CASE("each kernel can be called directly") {
  std::mt19937_64 rng(7);
  std::vector<AeadCase> batch;
  for (int i = 0; i < 9; ++i) batch.push_back({random_key(rng), {}, random_bytes(rng, 1436)});
  std::vector<Tag> expected;
  for (const AeadCase& c : batch) expected.push_back(c.reference());
  const auto run = [&](void (*kernel)(std::span<const Poly1305AeadJob>)) {
    std::vector<Tag> tags(batch.size());
    std::vector<Poly1305AeadJob> jobs;
    for (size_t i = 0; i < batch.size(); ++i) {
      jobs.push_back({batch[i].key.data(), nullptr, 0, batch[i].ct.data(), batch[i].ct.size(),
                      tags[i].data()});
    }
    kernel(jobs);
    return tags;
  };
  CHECK(run(poly1305_aead_tags_portable) == expected);
#if defined(__x86_64__)
  if (detected_simd_level() >= SimdLevel::kAvx2) CHECK(run(poly1305_aead_tags_avx2) == expected);
#endif
  CHECK(run(poly1305_aead_tags) == expected);
  // An empty batch is fine and writes nothing.
  poly1305_aead_tags({});
}
