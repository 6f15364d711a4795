// The CryptoPool spreads one batch of AEAD jobs over threads; the result must be exactly what
// one thread computes, for every batch size and thread count, batch after batch.
#include <doctest/doctest.h>

#include <vector>

#include "core/crypto_pool.h"
#include "dataplane/aead.h"

using qvpn::core::CryptoPool;
using qvpn::dataplane::AeadJob;

namespace {

struct Batch {
  std::vector<std::array<uint8_t, 32>> keys;
  std::vector<std::vector<uint8_t>> bufs;
  std::vector<AeadJob> jobs;

  // n packets of assorted sizes, each sealed in place under its own key.
  explicit Batch(size_t n) : keys(n), bufs(n) {
    for (size_t i = 0; i < n; ++i) {
      qvpn::dataplane::random_bytes(keys[i]);
      bufs[i].resize((i * 131) % 1500 + 16);
      qvpn::dataplane::random_bytes(bufs[i]);
    }
    reset(true);
  }
  void reset(bool seal) {
    jobs.clear();
    for (size_t i = 0; i < bufs.size(); ++i) {
      const size_t len = seal ? bufs[i].size() - 16 : bufs[i].size();
      jobs.push_back({keys[i].data(), i, nullptr, 0, bufs[i].data(), bufs[i].data(), len, false});
    }
  }
};

}  // namespace

TEST_CASE("a pool seals and opens exactly as one thread does, in every share") {
  for (unsigned threads : {1u, 2u, 3u, 4u}) {
    CryptoPool pool(threads);
    CHECK(pool.threads() == threads);
    for (size_t n : {0, 1, 7, 8, 16, 17, 64, 200}) {
      CAPTURE(threads);
      CAPTURE(n);
      Batch ours(n);
      Batch reference = ours;
      reference.reset(true);
      pool.run(ours.jobs, /*seal=*/true);
      qvpn::dataplane::chacha20poly1305_seal(reference.jobs);
      CHECK(ours.bufs == reference.bufs);

      // Break every third tag; opening must flag exactly those.
      for (size_t i = 0; i < n; i += 3) ours.bufs[i].back() ^= 0x80;
      ours.reset(false);
      pool.run(ours.jobs, /*seal=*/false);
      for (size_t i = 0; i < n; ++i) CHECK(ours.jobs[i].ok == (i % 3 != 0));
    }
  }
}
