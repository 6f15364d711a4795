// ChaCha20 at every SIMD level: RFC 8439 known answers, libsodium as the reference for
// random streams, and batches of many streams against the portable kernel one at a time.
#include <doctest/doctest.h>
#include <sodium.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "dataplane/chacha20.h"
#include "dataplane/chacha20_impl.h"
#include "dataplane/cpu_features.h"
#include "support/bytes.h"
#include "support/simd_levels.h"

using namespace qvpn::dataplane;
using namespace qvpn::test;
using Bytes = std::vector<uint8_t>;

namespace {

struct Kernel {
  const char* name;
  void (*xor_streams)(std::span<const ChachaStream>);
};

// Every kernel this CPU can run, and the dispatcher at each level it can be forced to.
std::vector<Kernel> kernels() {
  std::vector<Kernel> out = {{"portable", chacha20_xor_portable}};
#if defined(__x86_64__)
  if (detected_simd_level() >= SimdLevel::kAvx2) out.push_back({"avx2", chacha20_xor_avx2});
#endif
  return out;
}

ChachaStream stream_of(const uint8_t* key, std::span<const uint8_t> nonce, uint32_t counter,
                       const uint8_t* src, uint8_t* dst, size_t len) {
  ChachaStream s{key, {}, counter, src, dst, len};
  std::memcpy(s.nonce, nonce.data(), sizeof s.nonce);
  return s;
}

std::vector<uint8_t> sodium_xor(const uint8_t* key, const uint8_t* nonce, uint32_t counter,
                                const std::vector<uint8_t>& in) {
  std::vector<uint8_t> out(in.size());
  if (in.empty()) return out;  // libsodium's pointers must not be null
  crypto_stream_chacha20_ietf_xor_ic(out.data(), in.data(), in.size(), nonce, counter, key);
  return out;
}

struct Vector {
  const char* name;
  std::vector<uint8_t> key, nonce;
  uint32_t counter;
  std::vector<uint8_t> plaintext, ciphertext;
};

std::vector<Vector> rfc_vectors() {
  return {
      {"RFC 8439 2.4.2", counting_bytes(32), from_hex("000000000000004a00000000"), 1,
       bytes_of("Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
                "for the future, sunscreen would be it."),
       from_hex("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
                "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
                "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
                "5af90bbf74a35be6b40b8eedf2785e42874d")},
      {"RFC 8439 A.2 #1", std::vector<uint8_t>(32), std::vector<uint8_t>(12), 0,
       std::vector<uint8_t>(64),
       from_hex("76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
                "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")},
      {"RFC 8439 A.2 #2",
       from_hex("0000000000000000000000000000000000000000000000000000000000000001"),
       from_hex("000000000000000000000002"), 1,
       bytes_of("Any submission to the IETF intended by the Contributor for publication as all "
                "or part of an IETF Internet-Draft or RFC and any statement made within the "
                "context of an IETF activity is considered an \"IETF Contribution\". Such "
                "statements include oral statements in IETF sessions, as well as written and "
                "electronic communications made at any time or place, which are addressed to"),
       from_hex("a3fbf07df3fa2fde4f376ca23e82737041605d9f4f4f57bd8cff2c1d4b7955ec"
                "2a97948bd3722915c8f3d337f7d370050e9e96d647b7c39f56e031ca5eb6250d"
                "4042e02785ececfa4b4bb5e8ead0440e20b6e8db09d881a7c6132f420e527950"
                "42bdfa7773d8a9051447b3291ce1411c680465552aa6c405b7764d5e87bea85a"
                "d00f8449ed8f72d0d662ab052691ca66424bc86d2df80ea41f43abf937d3259d"
                "c4b2d0dfb48a6c9139ddd7f76966e928e635553ba76c5c879d7b35d49eb2e62b"
                "0871cdac638939e25e8a1e0ef9d5280fa8ca328b351c3c765989cbcf3daa8b6c"
                "cc3aaf9f3979c92b3720fc88dc95ed84a1be059c6499b9fda236e7e818b04b0b"
                "c39c1e876b193bfe5569753f88128cc08aaa9b63d1a16f80ef2554d7189c411f"
                "5869ca52c5b83fa36ff216b9c1d30062bebcfd2dc5bce0911934fda79a86f6e6"
                "98ced759c3ff9b6477338f3da4f9cd8514ea9982ccafb341b2384dd902f3d1ab"
                "7ac61dd29c6f21ba5b862f3730e37cfdc4fd806c22f221")},
      {"RFC 8439 A.2 #3",
       from_hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0"),
       from_hex("000000000000000000000002"), 42,
       bytes_of("'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\nAll "
                "mimsy were the borogoves,\nAnd the mome raths outgrabe."),
       from_hex("62e6347f95ed87a45ffae7426f27a1df5fb69110044c0d73118effa95b01e5cf"
                "166d3df2d721caf9b21e5fb14c616871fd84c54f9d65b283196c7fe4f60553eb"
                "f39c6402c42234e32a356b3e764312a61a5532055716ead6962568f87d3f3f77"
                "04c6a8d1bcd1bf4d50d6154b6da731b187b58dfd728afa36757a797ac188d1")},
  };
}

// A random stream of `len` bytes: its own key and nonce, and a counter that leaves room
// for len bytes before 2^32 blocks (sometimes exactly none to spare).
struct RandomStream {
  std::array<uint8_t, 32> key{};
  std::array<uint8_t, 12> nonce{};
  uint32_t counter = 0;
  std::vector<uint8_t> in;

  RandomStream(std::mt19937_64& rng, size_t len) : in(len) {
    for (auto& b : key) b = static_cast<uint8_t>(rng());
    for (auto& b : nonce) b = static_cast<uint8_t>(rng());
    for (auto& b : in) b = static_cast<uint8_t>(rng());
    const uint64_t blocks = (len + 63) / 64;
    const uint64_t room = (uint64_t{1} << 32) - blocks;  // first counters that fit
    switch (rng() % 4) {
      case 0:
        counter = 0;
        break;
      case 1:
        counter = static_cast<uint32_t>(room - (blocks == 0 ? 1 : 0));
        break;  // ends at 2^32-1
      default:
        counter = static_cast<uint32_t>(rng() % room);
    }
  }
  ChachaStream stream(const uint8_t* src, uint8_t* dst) const {
    return stream_of(key.data(), nonce, counter, src, dst, in.size());
  }
};

}  // namespace

TEST_CASE("ChaCha20 reproduces RFC 8439 2.4.2 and A.2 at every level") {
  for (const Kernel& k : kernels()) {
    for (const Vector& v : rfc_vectors()) {
      CAPTURE(k.name);
      CAPTURE(v.name);
      std::vector<uint8_t> out(v.plaintext.size());
      const ChachaStream s =
          stream_of(v.key.data(), v.nonce, v.counter, v.plaintext.data(), out.data(), out.size());
      k.xor_streams({&s, 1});
      CHECK(out == v.ciphertext);
      // Decryption is the same operation, here in place.
      const ChachaStream back =
          stream_of(v.key.data(), v.nonce, v.counter, out.data(), out.data(), out.size());
      k.xor_streams({&back, 1});
      CHECK(out == v.plaintext);
    }
  }
  for (SimdLevel level : simd_levels()) {
    ForcedLevel forced(level);
    CAPTURE(simd_level_name(level));
    for (const Vector& v : rfc_vectors()) {
      std::vector<uint8_t> out(v.plaintext.size());
      const ChachaStream s =
          stream_of(v.key.data(), v.nonce, v.counter, v.plaintext.data(), out.data(), out.size());
      chacha20_xor({&s, 1});
      CHECK(out == v.ciphertext);
    }
  }
}

TEST_CASE("ChaCha20 agrees with libsodium for every length to 1100 and random ones to 65535") {
  REQUIRE(sodium_init() >= 0);
  std::mt19937_64 rng(84392);
  const std::vector<size_t> lengths = sweep_lengths(rng, 1100, 60);
  for (const Kernel& k : kernels()) {
    CAPTURE(k.name);
    for (size_t len : lengths) {
      CAPTURE(len);
      const RandomStream r(rng, len);
      const auto want = sodium_xor(r.key.data(), r.nonce.data(), r.counter, r.in);
      std::vector<uint8_t> out(len);
      const ChachaStream s = r.stream(r.in.data(), out.data());
      k.xor_streams({&s, 1});
      REQUIRE(out == want);
      std::vector<uint8_t> buf = r.in;
      const ChachaStream in_place = r.stream(buf.data(), buf.data());
      k.xor_streams({&in_place, 1});
      REQUIRE(buf == want);
    }
  }
}

TEST_CASE("ChaCha20 batches of many streams equal each stream on its own") {
  std::mt19937_64 rng(40);
  // Lengths that end a step, a block or nothing at all, and packets of several sizes.
  const auto random_len = [&]() -> size_t {
    switch (rng() % 6) {
      case 0:
        return 0;
      case 1:
        return rng() % 65;
      case 2:
        return 64 * (rng() % 20);
      case 3:
        return 1420;
      case 4:
        return rng() % 1500;
      default:
        return rng() % 5000;
    }
  };
  for (int round = 0; round < 200; ++round) {
    const size_t count = 1 + round % 40;
    std::vector<RandomStream> rs;
    for (size_t i = 0; i < count; ++i) {
      rs.emplace_back(rng, random_len());
      // Half the time, one peer's burst: same key and nonce space, consecutive counters.
      if (i > 0 && rng() % 2) {
        rs[i].key = rs[i - 1].key;
        rs[i].counter = rs[i - 1].counter % 1000;
      }
    }
    std::vector<std::vector<uint8_t>> want(count);
    for (size_t i = 0; i < count; ++i) {
      want[i].resize(rs[i].in.size());
      const ChachaStream s = rs[i].stream(rs[i].in.data(), want[i].data());
      chacha20_xor_portable({&s, 1});
      REQUIRE(want[i] == sodium_xor(rs[i].key.data(), rs[i].nonce.data(), rs[i].counter, rs[i].in));
    }
    for (const Kernel& k : kernels()) {
      CAPTURE(k.name);
      CAPTURE(count);
      std::vector<std::vector<uint8_t>> out(count), buf(count);
      std::vector<ChachaStream> apart, in_place;
      for (size_t i = 0; i < count; ++i) {
        out[i].resize(rs[i].in.size());
        buf[i] = rs[i].in;
        apart.push_back(rs[i].stream(rs[i].in.data(), out[i].data()));
        in_place.push_back(rs[i].stream(buf[i].data(), buf[i].data()));
      }
      k.xor_streams(apart);
      k.xor_streams(in_place);
      for (size_t i = 0; i < count; ++i) {
        CAPTURE(i);
        REQUIRE(out[i] == want[i]);
        REQUIRE(buf[i] == want[i]);
      }
    }
  }
}

TEST_CASE("ChaCha20 streams of one buffer in consecutive pieces") {
  // The AEAD's shape: a one-block stream for the Poly1305 key, then the payload from
  // counter 1, for several packets; each piece must not disturb its neighbours' bytes.
  std::mt19937_64 rng(7);
  const auto key = counting_array<32>(3);
  const uint8_t nonce[12] = {0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  for (const Kernel& k : kernels()) {
    CAPTURE(k.name);
    std::vector<uint8_t> all(3 * 1500, 0), ref(all.size(), 0);
    std::vector<ChachaStream> streams;
    size_t at = 0;
    for (size_t len : {size_t{32}, size_t{1420}, size_t{32}, size_t{64}, size_t{32}, size_t{5}}) {
      streams.push_back(stream_of(key.data(), nonce, static_cast<uint32_t>(at % 7), all.data() + at,
                                  all.data() + at, len));
      at += len + 3;
    }
    for (const ChachaStream& s : streams) {
      ChachaStream r = s;
      r.src = ref.data() + (s.src - all.data());
      r.dst = ref.data() + (s.dst - all.data());
      chacha20_xor_portable({&r, 1});
    }
    k.xor_streams(streams);
    CHECK(all == ref);
  }
}

TEST_CASE("ChaCha20 runs of streams that continue one keystream") {
  // Consecutive streams with one key and nonce and contiguous counters (as the AEAD's
  // one-time-key block and payload are): kernels may treat them as one keystream. Pieces
  // of every kind of length, including empty ones and partial blocks inside a run.
  std::mt19937_64 rng(12);
  const auto key = counting_array<32>(77);
  for (int round = 0; round < 300; ++round) {
    std::vector<size_t> lens;
    const size_t count = 1 + rng() % 12;
    for (size_t i = 0; i < count; ++i) {
      switch (rng() % 5) {
        case 0:
          lens.push_back(0);
          break;
        case 1:
          lens.push_back(1 + rng() % 64);
          break;
        case 2:
          lens.push_back(64 * (1 + rng() % 9));
          break;
        default:
          lens.push_back(rng() % 1500);
      }
    }
    size_t total = 0;
    for (size_t n : lens) total += n;
    Bytes in(total);
    for (auto& b : in) b = static_cast<uint8_t>(rng());
    uint8_t nonce[12];
    for (auto& b : nonce) b = static_cast<uint8_t>(rng());
    // Sometimes two runs under different nonces, split at a random stream.
    const size_t split = rng() % 3 == 0 ? rng() % count : count;
    const auto streams_for = [&](Bytes& out) {
      std::vector<ChachaStream> v;
      uint32_t counter = static_cast<uint32_t>(rng() % 1000);
      size_t at = 0;
      for (size_t i = 0; i < count; ++i) {
        if (i == split) nonce[0] ^= 1;
        v.push_back(
            stream_of(key.data(), nonce, counter, in.data() + at, out.data() + at, lens[i]));
        counter += static_cast<uint32_t>((lens[i] + 63) / 64);
        at += lens[i];
      }
      if (split < count) nonce[0] ^= 1;
      return v;
    };
    Bytes want(total);
    const uint64_t seed = rng();
    rng.seed(seed);
    chacha20_xor_portable(streams_for(want));
    for (const Kernel& k : kernels()) {
      CAPTURE(k.name);
      CAPTURE(round);
      Bytes out(total);
      rng.seed(seed);
      k.xor_streams(streams_for(out));
      REQUIRE(out == want);
    }
  }
}

TEST_CASE("ChaCha20 with no streams and with empty streams does nothing") {
  for (const Kernel& k : kernels()) {
    k.xor_streams({});
    const auto key = counting_array<32>();
    const uint8_t nonce[12] = {};
    const ChachaStream empty[3] = {stream_of(key.data(), nonce, 0, nullptr, nullptr, 0),
                                   stream_of(key.data(), nonce, 5, nullptr, nullptr, 0),
                                   stream_of(key.data(), nonce, 9, nullptr, nullptr, 0)};
    k.xor_streams(std::span<const ChachaStream>(empty));
  }
}
