// Differential fuzzer for the batch ChaCha20-Poly1305 (dataplane/chacha20poly1305.h): at
// every SIMD level this CPU has, our seal must equal BoringSSL's and libsodium's byte for
// byte, open must give the plaintext back (in place and apart), and one flipped bit of
// ciphertext, tag or ad must make open fail for exactly that job of the batch.
//
// Input: shape byte (jobs = 1 + shape % 8; the fuzzed job's place = (shape / 8) % jobs),
// 32 bytes key, 8 bytes counter, ad length byte (% 65) and ad, 2 bytes plaintext length
// (up to 65535), one length byte per other job, 4 bytes bit to flip, then plaintext bytes
// (repeated to the length; a pattern when the input has run out).
#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane/chacha20poly1305.h"
#include "dataplane/cpu_features.h"
#include "support/aead_reference.h"
#include "support/fuzz_reader.h"

namespace {

using namespace qvpn::dataplane;
using Bytes = std::vector<uint8_t>;

[[noreturn]] void fail(const char* what, SimdLevel level) {
  std::fprintf(stderr, "fuzz_aead_differential: %s at level %s\n", what, simd_level_name(level));
  std::abort();
}

struct Packet {
  const uint8_t* key;
  uint64_t counter;
  Bytes ad, pt;
};

Bytes sodium_seal(const Packet& p) { return qvpn::test::sodium_seal(p.key, p.counter, p.pt, p.ad); }

Bytes boringssl_seal(const Packet& p) {
  return qvpn::test::boringssl_seal(p.key, p.counter, p.pt, p.ad, [](bool ok) {
    if (!ok) std::abort();
  });
}

// Seals every packet in one batch, even-numbered jobs in place.
std::vector<Bytes> seal_batch(const std::vector<Packet>& ps) {
  std::vector<Bytes> out(ps.size());
  std::vector<AeadJob> jobs(ps.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    const Packet& p = ps[i];
    out[i].assign(p.pt.size() + 16, 0);
    const bool in_place = i % 2 == 0;
    if (in_place) std::copy(p.pt.begin(), p.pt.end(), out[i].begin());
    jobs[i] = {p.key,
               p.counter,
               p.ad.data(),
               p.ad.size(),
               in_place ? out[i].data() : p.pt.data(),
               out[i].data(),
               p.pt.size(),
               false};
  }
  chacha20poly1305_seal(jobs);
  return out;
}

// Opens every ciphertext in one batch, odd-numbered jobs in place. ad[i] is job i's ad.
std::vector<AeadJob> open_batch(const std::vector<Packet>& ps, const std::vector<Bytes>& cts,
                                const std::vector<const Bytes*>& ad, std::vector<Bytes>& out) {
  std::vector<AeadJob> jobs(ps.size());
  out.assign(ps.size(), {});
  for (size_t i = 0; i < ps.size(); ++i) {
    const bool in_place = i % 2 == 1;
    out[i] = in_place ? cts[i] : Bytes(cts[i].size() - 16);
    jobs[i] = {ps[i].key,
               ps[i].counter,
               ad[i]->data(),
               ad[i]->size(),
               in_place ? out[i].data() : cts[i].data(),
               out[i].data(),
               cts[i].size(),
               false};
  }
  chacha20poly1305_open(jobs);
  return jobs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool sodium_ready = sodium_init() >= 0;
  if (!sodium_ready) std::abort();
  qvpn::test::FuzzReader in({data, size});

  const uint8_t shape = in.byte();
  const size_t count = 1 + shape % 8;
  const size_t fuzzed = (shape / 8) % count;
  uint8_t key[32] = {};
  const auto key_bytes = in.bytes(32);
  std::copy(key_bytes.begin(), key_bytes.end(), key);
  const uint64_t counter = in.take(4) | uint64_t{in.take(4)} << 32;
  const auto ad_bytes = in.bytes(in.byte() % 65);
  const size_t len = in.take(2);
  uint8_t other_len[8] = {};
  for (size_t i = 0; i < count; ++i) other_len[i] = in.byte();
  const uint32_t flip = in.take(4);
  const auto rest = in.bytes(SIZE_MAX);

  // The fuzzed packet, and the others of the batch: one peer's burst around it.
  std::vector<Packet> ps(count);
  for (size_t i = 0; i < count; ++i) {
    Packet& p = ps[i];
    p.key = key;
    p.counter = counter + i - fuzzed;
    if (i == fuzzed) {
      p.ad.assign(ad_bytes.begin(), ad_bytes.end());
      p.pt.resize(len);
      for (size_t j = 0; j < len; ++j) {
        p.pt[j] = rest.empty() ? static_cast<uint8_t>(j * 131 + 7) : rest[j % rest.size()];
      }
    } else {
      p.pt.resize(size_t{other_len[i]} * 7);
      for (size_t j = 0; j < p.pt.size(); ++j) p.pt[j] = static_cast<uint8_t>(j ^ i);
    }
  }
  std::vector<Bytes> want(count);
  for (size_t i = 0; i < count; ++i) want[i] = sodium_seal(ps[i]);
  if (boringssl_seal(ps[fuzzed]) != want[fuzzed]) {
    fail("BoringSSL and libsodium disagree", SimdLevel::kPortable);
  }

  // The bit to flip: in the ciphertext or tag, or in the ad when there is one.
  const size_t ct_bits = (len + 16) * 8;
  const bool flip_ad = !ps[fuzzed].ad.empty() && flip % 4 == 3;
  Bytes bad_ad = ps[fuzzed].ad;
  if (flip_ad) bad_ad[(flip / 4) % bad_ad.size()] ^= static_cast<uint8_t>(1u << (flip % 8));

  for (SimdLevel level : {SimdLevel::kPortable, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level > detected_simd_level()) break;
    force_simd_level(level);

    const std::vector<Bytes> cts = seal_batch(ps);
    for (size_t i = 0; i < count; ++i) {
      if (cts[i] != want[i]) fail("seal differs from libsodium and BoringSSL", level);
    }

    std::vector<const Bytes*> ads(count);
    for (size_t i = 0; i < count; ++i) ads[i] = &ps[i].ad;
    std::vector<Bytes> out;
    auto jobs = open_batch(ps, cts, ads, out);
    for (size_t i = 0; i < count; ++i) {
      if (!jobs[i].ok) fail("open refused a sealed packet", level);
      if (!std::equal(ps[i].pt.begin(), ps[i].pt.end(), out[i].begin())) {
        fail("open did not give the plaintext back", level);
      }
    }

    std::vector<Bytes> tampered = cts;
    if (flip_ad) {
      ads[fuzzed] = &bad_ad;
    } else {
      const size_t bit = flip % ct_bits;
      tampered[fuzzed][bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    }
    jobs = open_batch(ps, tampered, ads, out);
    for (size_t i = 0; i < count; ++i) {
      if (jobs[i].ok != (i != fuzzed)) fail("tampering not detected, or the wrong job", level);
    }
  }
  force_simd_level(detected_simd_level());
  return 0;
}
