// Micro-benchmarks for the dataplane crypto primitives, with the libraries underneath
// measured directly for reference (what our wrappers cost on top).
#include <benchmark/benchmark.h>
#include <openssl/aead.h>
#include <sodium.h>

#include <vector>

#include "dataplane/aead.h"
#include "dataplane/blake2s.h"
#include "dataplane/kdf.h"
#include "dataplane/x25519.h"

using namespace qvpn::dataplane;

namespace {

constexpr size_t kTag = kAeadTagSize;

void sizes(benchmark::internal::Benchmark* b) { b->Arg(64)->Arg(1420)->Arg(65535); }

std::array<uint8_t, 32> bench_key() {
  std::array<uint8_t, 32> k{};
  random_bytes(k);
  return k;
}

void BM_Blake2s(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> in(n, 0xab);
  std::array<uint8_t, 32> out{};
  for (auto _ : state) {
    blake2s(out, in);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_Blake2s)->Apply(sizes);

void BM_Kdf3(benchmark::State& state) {
  auto key = bench_key();
  std::array<uint8_t, 32> in{}, a{}, b{}, c{};
  for (auto _ : state) {
    kdf3(a, b, c, key, in);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_Kdf3);

void BM_X25519(benchmark::State& state) {
  const auto priv = generate_private_key();
  const auto pub = public_key_of(generate_private_key());
  SecretKey out;
  for (auto _ : state) {
    bool ok = x25519(out, priv, pub);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_X25519);

void BM_X25519Base(benchmark::State& state) {
  const auto priv = generate_private_key();
  for (auto _ : state) {
    auto pub = public_key_of(priv);
    benchmark::DoNotOptimize(pub);
  }
}
BENCHMARK(BM_X25519Base);

// The ChaCha20-Poly1305 benchmarks share their buffers and loops; each gives only its calls.
using Bytes = std::vector<uint8_t>;

// Times seal(buf, n): n bytes sealed in place into buf (n + tag bytes), as the send path does.
template <typename Seal>
void run_seal(benchmark::State& state, Seal&& seal) {
  const size_t n = static_cast<size_t>(state.range(0));
  Bytes buf(n + kTag, 0x5a);
  for (auto _ : state) {
    seal(buf, n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

// Times open(out, ct) of the ciphertext that seal(ct, pt) made of n bytes beforehand.
template <typename Seal, typename Open>
void run_open(benchmark::State& state, Seal&& seal, Open&& open) {
  const size_t n = static_cast<size_t>(state.range(0));
  Bytes pt(n, 0x5a), ct(n + kTag), out(n);
  seal(ct, pt);
  for (auto _ : state) {
    auto ok = open(out, ct);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

void BM_AeadSeal(benchmark::State& state) {
  const auto key = bench_key();
  uint64_t counter = 0;
  run_seal(state,
           [&](Bytes& buf, size_t n) { aead_seal(buf, key, counter++, std::span(buf).first(n)); });
}
BENCHMARK(BM_AeadSeal)->Apply(sizes);

void BM_AeadOpen(benchmark::State& state) {
  const auto key = bench_key();
  run_open(
      state, [&](Bytes& ct, const Bytes& pt) { aead_seal(ct, key, 7, pt); },
      [&](Bytes& out, const Bytes& ct) { return aead_open(out, key, 7, ct); });
}
BENCHMARK(BM_AeadOpen)->Apply(sizes);

void init_boringssl(EVP_AEAD_CTX* ctx, const std::array<uint8_t, 32>& key) {
  EVP_AEAD_CTX_init(ctx, EVP_aead_chacha20_poly1305(), key.data(), key.size(), kTag, nullptr);
}

// BoringSSL with a context kept across calls: the floor for aead_seal's per-call init.
void BM_BoringSslSeal(benchmark::State& state) {
  const auto key = bench_key();
  bssl::ScopedEVP_AEAD_CTX ctx;
  init_boringssl(ctx.get(), key);
  uint8_t nonce[12] = {};
  run_seal(state, [&](Bytes& buf, size_t n) {
    size_t len = 0;
    EVP_AEAD_CTX_seal(ctx.get(), buf.data(), &len, buf.size(), nonce, sizeof nonce, buf.data(), n,
                      nullptr, 0);
    ++nonce[4];
  });
}
BENCHMARK(BM_BoringSslSeal)->Apply(sizes);

void BM_BoringSslOpen(benchmark::State& state) {
  const auto key = bench_key();
  bssl::ScopedEVP_AEAD_CTX ctx;
  init_boringssl(ctx.get(), key);
  const uint8_t nonce[12] = {};
  size_t len = 0;
  run_open(
      state,
      [&](Bytes& ct, const Bytes& pt) {
        EVP_AEAD_CTX_seal(ctx.get(), ct.data(), &len, ct.size(), nonce, sizeof nonce, pt.data(),
                          pt.size(), nullptr, 0);
      },
      [&](Bytes& out, const Bytes& ct) {
        return EVP_AEAD_CTX_open(ctx.get(), out.data(), &len, out.size(), nonce, sizeof nonce,
                                 ct.data(), ct.size(), nullptr, 0);
      });
}
BENCHMARK(BM_BoringSslOpen)->Apply(sizes);

void BM_SodiumSeal(benchmark::State& state) {
  if (sodium_init() < 0) state.SkipWithError("sodium_init failed");
  const auto key = bench_key();
  uint8_t nonce[12] = {};
  run_seal(state, [&](Bytes& buf, size_t n) {
    unsigned long long len = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(buf.data(), &len, buf.data(), n, nullptr, 0, nullptr,
                                              nonce, key.data());
    ++nonce[4];
  });
}
BENCHMARK(BM_SodiumSeal)->Apply(sizes);

void BM_SodiumOpen(benchmark::State& state) {
  if (sodium_init() < 0) state.SkipWithError("sodium_init failed");
  const auto key = bench_key();
  const uint8_t nonce[12] = {};
  unsigned long long len = 0;
  run_open(
      state,
      [&](Bytes& ct, const Bytes& pt) {
        crypto_aead_chacha20poly1305_ietf_encrypt(ct.data(), &len, pt.data(), pt.size(), nullptr, 0,
                                                  nullptr, nonce, key.data());
      },
      [&](Bytes& out, const Bytes& ct) {
        return crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &len, nullptr, ct.data(),
                                                         ct.size(), nullptr, 0, nonce, key.data());
      });
}
BENCHMARK(BM_SodiumOpen)->Apply(sizes);

void BM_XAeadSeal(benchmark::State& state) {
  auto key = bench_key();
  std::array<uint8_t, kXNonceSize> nonce{};
  std::array<uint8_t, kCookieSize> cookie{};
  std::array<uint8_t, kCookieSize + kTag> out{};
  std::array<uint8_t, kMacSize> ad{};
  for (auto _ : state) {
    xaead_seal(out, key, nonce, cookie, ad);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_XAeadSeal);

}  // namespace

BENCHMARK_MAIN();
