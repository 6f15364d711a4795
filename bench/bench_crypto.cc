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

void BM_AeadSeal(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto key = bench_key();
  std::vector<uint8_t> buf(n + kTag, 0x5a);
  uint64_t counter = 0;
  for (auto _ : state) {
    // In place, as the send path does.
    aead_seal(buf, key, counter++, std::span(buf).first(n));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_AeadSeal)->Apply(sizes);

void BM_AeadOpen(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto key = bench_key();
  std::vector<uint8_t> pt(n, 0x5a), ct(n + kTag), out(n);
  aead_seal(ct, key, 7, pt);
  for (auto _ : state) {
    bool ok = aead_open(out, key, 7, ct);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_AeadOpen)->Apply(sizes);

// BoringSSL with a context kept across calls: the floor for aead_seal's per-call init.
void BM_BoringSslSeal(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto key = bench_key();
  EVP_AEAD_CTX ctx;
  EVP_AEAD_CTX_init(&ctx, EVP_aead_chacha20_poly1305(), key.data(), key.size(), kTag, nullptr);
  std::vector<uint8_t> buf(n + kTag, 0x5a);
  uint8_t nonce[12] = {};
  for (auto _ : state) {
    size_t len = 0;
    EVP_AEAD_CTX_seal(&ctx, buf.data(), &len, buf.size(), nonce, sizeof nonce, buf.data(), n,
                      nullptr, 0);
    ++nonce[4];
    benchmark::ClobberMemory();
  }
  EVP_AEAD_CTX_cleanup(&ctx);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_BoringSslSeal)->Apply(sizes);

void BM_BoringSslOpen(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto key = bench_key();
  EVP_AEAD_CTX ctx;
  EVP_AEAD_CTX_init(&ctx, EVP_aead_chacha20_poly1305(), key.data(), key.size(), kTag, nullptr);
  std::vector<uint8_t> pt(n, 0x5a), ct(n + kTag), out(n);
  uint8_t nonce[12] = {};
  size_t len = 0;
  EVP_AEAD_CTX_seal(&ctx, ct.data(), &len, ct.size(), nonce, sizeof nonce, pt.data(), n, nullptr,
                    0);
  for (auto _ : state) {
    int ok = EVP_AEAD_CTX_open(&ctx, out.data(), &len, out.size(), nonce, sizeof nonce, ct.data(),
                               ct.size(), nullptr, 0);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  EVP_AEAD_CTX_cleanup(&ctx);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_BoringSslOpen)->Apply(sizes);

void BM_SodiumSeal(benchmark::State& state) {
  if (sodium_init() < 0) state.SkipWithError("sodium_init failed");
  const size_t n = static_cast<size_t>(state.range(0));
  auto key = bench_key();
  std::vector<uint8_t> buf(n + kTag, 0x5a);
  uint8_t nonce[12] = {};
  for (auto _ : state) {
    unsigned long long len = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(buf.data(), &len, buf.data(), n, nullptr, 0, nullptr,
                                              nonce, key.data());
    ++nonce[4];
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_SodiumSeal)->Apply(sizes);

void BM_SodiumOpen(benchmark::State& state) {
  if (sodium_init() < 0) state.SkipWithError("sodium_init failed");
  const size_t n = static_cast<size_t>(state.range(0));
  auto key = bench_key();
  std::vector<uint8_t> pt(n, 0x5a), ct(n + kTag), out(n);
  uint8_t nonce[12] = {};
  unsigned long long len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(ct.data(), &len, pt.data(), n, nullptr, 0, nullptr,
                                            nonce, key.data());
  for (auto _ : state) {
    int rc = crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &len, nullptr, ct.data(),
                                                       ct.size(), nullptr, 0, nonce, key.data());
    benchmark::DoNotOptimize(rc);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
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
