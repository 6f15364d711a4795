// Our batch ChaCha20-Poly1305 at each SIMD level against BoringSSL, measured in the same
// run. Shapes: a burst of 16 packets of 1420 bytes from one peer (same key, consecutive
// counters) in one call, and single packets of 64, 1420 and 65535 bytes. BoringSSL seals
// or opens the same packets one call each, with a context kept across calls.
//
//   bench_aead --benchmark_min_time=0.3
//   (level arg: 0 portable, 1 avx2, 2 avx512; levels this CPU lacks are skipped)
#include <benchmark/benchmark.h>
#include <openssl/aead.h>

#include <array>
#include <vector>

#include "dataplane/chacha20poly1305.h"
#include "dataplane/chacha20poly1305_impl.h"
#include "dataplane/cpu_features.h"

using namespace qvpn::dataplane;

namespace {

constexpr size_t kTag = 16;
constexpr size_t kBurst = 16;
constexpr size_t kPacket = 1420;

std::array<uint8_t, 32> bench_key() {
  std::array<uint8_t, 32> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(0x3c * i + 1);
  return k;
}

// count packets of n bytes, each in a buffer with room for its tag.
struct Packets {
  Packets(size_t count, size_t n) : bufs(count, std::vector<uint8_t>(n + kTag, 0x5a)), n(n) {}
  std::vector<std::vector<uint8_t>> bufs;
  size_t n;
};

// Forces a level for one benchmark; false (and the benchmark skipped) if the CPU lacks it.
bool force_level(benchmark::State& state) {
  const auto level = static_cast<SimdLevel>(state.range(0));
  if (level > detected_simd_level()) {
    state.SkipWithError("level not supported by this CPU");
    return false;
  }
  force_simd_level(level);
  state.SetLabel(simd_level_name(level));
  return true;
}

using AeadFn = void (*)(std::span<AeadJob>);

// Our seal, in place: count packets of n bytes per call.
void run_seal(benchmark::State& state, size_t count, size_t n,
              AeadFn seal = chacha20poly1305_seal) {
  if (!force_level(state)) return;
  const auto key = bench_key();
  Packets p(count, n);
  std::vector<AeadJob> jobs(count);
  uint64_t counter = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < count; ++i) {
      uint8_t* b = p.bufs[i].data();
      jobs[i] = {key.data(), counter++, nullptr, 0, b, b, n, false};
    }
    seal(jobs);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * count * n));
  force_simd_level(detected_simd_level());
}

// Our open of count sealed packets of n bytes per call, out of place (the ciphertexts
// stay intact between iterations).
void run_open(benchmark::State& state, size_t count, size_t n,
              AeadFn open = chacha20poly1305_open) {
  if (!force_level(state)) return;
  const auto key = bench_key();
  Packets p(count, n);
  std::vector<std::vector<uint8_t>> out(count, std::vector<uint8_t>(n));
  std::vector<AeadJob> jobs(count);
  for (size_t i = 0; i < count; ++i) {
    uint8_t* b = p.bufs[i].data();
    jobs[i] = {key.data(), i, nullptr, 0, b, b, n, false};
  }
  chacha20poly1305_seal(jobs);
  for (size_t i = 0; i < count; ++i) {
    jobs[i] = {key.data(), i, nullptr, 0, p.bufs[i].data(), out[i].data(), n + kTag, false};
  }
  for (auto _ : state) {
    open(jobs);
    benchmark::ClobberMemory();
  }
  for (const AeadJob& j : jobs) {
    if (!j.ok) state.SkipWithError("open failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * count * n));
  force_simd_level(detected_simd_level());
}

void levels(benchmark::internal::Benchmark* b) {
  b->ArgName("level");
  for (int l = 0; l <= 2; ++l) b->Arg(l);
}
void levels_and_sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"level", "bytes"});
  for (int l = 0; l <= 2; ++l) {
    for (int n : {64, 1420, 65535}) b->Args({l, n});
  }
}

void BM_SealBurst(benchmark::State& state) { run_seal(state, kBurst, kPacket); }
BENCHMARK(BM_SealBurst)->Apply(levels);

void BM_OpenBurst(benchmark::State& state) { run_open(state, kBurst, kPacket); }
BENCHMARK(BM_OpenBurst)->Apply(levels);

void BM_Seal(benchmark::State& state) { run_seal(state, 1, static_cast<size_t>(state.range(1))); }
BENCHMARK(BM_Seal)->Apply(levels_and_sizes);

void BM_Open(benchmark::State& state) { run_open(state, 1, static_cast<size_t>(state.range(1))); }
BENCHMARK(BM_Open)->Apply(levels_and_sizes);

// The composed path (ChaCha20, then Poly1305) at each level, to compare with the stitched
// kernel that the dispatcher picks at AVX2.
void BM_SealBurstComposed(benchmark::State& state) {
  run_seal(state, kBurst, kPacket, chacha20poly1305_seal_composed);
}
BENCHMARK(BM_SealBurstComposed)->Apply(levels);

void BM_OpenBurstComposed(benchmark::State& state) {
  run_open(state, kBurst, kPacket, chacha20poly1305_open_composed);
}
BENCHMARK(BM_OpenBurstComposed)->Apply(levels);

void BM_SealComposed(benchmark::State& state) {
  run_seal(state, 1, static_cast<size_t>(state.range(1)), chacha20poly1305_seal_composed);
}
BENCHMARK(BM_SealComposed)->Apply(levels_and_sizes);

void BM_OpenComposed(benchmark::State& state) {
  run_open(state, 1, static_cast<size_t>(state.range(1)), chacha20poly1305_open_composed);
}
BENCHMARK(BM_OpenComposed)->Apply(levels_and_sizes);

// ---- BoringSSL, one EVP_AEAD_CTX_seal/open per packet ----------------------------------

struct BoringCtx {
  BoringCtx() {
    const auto key = bench_key();
    EVP_AEAD_CTX_init(ctx.get(), EVP_aead_chacha20_poly1305(), key.data(), key.size(), kTag,
                      nullptr);
  }
  bssl::ScopedEVP_AEAD_CTX ctx;
};

void wg_nonce(uint8_t (&nonce)[12], uint64_t counter) {
  for (int i = 0; i < 4; ++i) nonce[i] = 0;
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
}

void run_boringssl_seal(benchmark::State& state, size_t count, size_t n) {
  BoringCtx c;
  Packets p(count, n);
  uint64_t counter = 0;
  uint8_t nonce[12];
  for (auto _ : state) {
    for (size_t i = 0; i < count; ++i) {
      wg_nonce(nonce, counter++);
      size_t len = 0;
      uint8_t* b = p.bufs[i].data();
      EVP_AEAD_CTX_seal(c.ctx.get(), b, &len, n + kTag, nonce, sizeof nonce, b, n, nullptr, 0);
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * count * n));
}

void run_boringssl_open(benchmark::State& state, size_t count, size_t n) {
  BoringCtx c;
  Packets p(count, n);
  std::vector<uint8_t> out(n);
  uint8_t nonce[12];
  for (size_t i = 0; i < count; ++i) {
    wg_nonce(nonce, i);
    size_t len = 0;
    uint8_t* b = p.bufs[i].data();
    EVP_AEAD_CTX_seal(c.ctx.get(), b, &len, n + kTag, nonce, sizeof nonce, b, n, nullptr, 0);
  }
  for (auto _ : state) {
    for (size_t i = 0; i < count; ++i) {
      wg_nonce(nonce, i);
      size_t len = 0;
      const int ok = EVP_AEAD_CTX_open(c.ctx.get(), out.data(), &len, n, nonce, sizeof nonce,
                                       p.bufs[i].data(), n + kTag, nullptr, 0);
      if (!ok) state.SkipWithError("open failed");
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * count * n));
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgName("bytes");
  for (int n : {64, 1420, 65535}) b->Arg(n);
}

void BM_BoringSslSealBurst(benchmark::State& state) { run_boringssl_seal(state, kBurst, kPacket); }
BENCHMARK(BM_BoringSslSealBurst);

void BM_BoringSslOpenBurst(benchmark::State& state) { run_boringssl_open(state, kBurst, kPacket); }
BENCHMARK(BM_BoringSslOpenBurst);

void BM_BoringSslSeal(benchmark::State& state) {
  run_boringssl_seal(state, 1, static_cast<size_t>(state.range(0)));
}
BENCHMARK(BM_BoringSslSeal)->Apply(sizes);

void BM_BoringSslOpen(benchmark::State& state) {
  run_boringssl_open(state, 1, static_cast<size_t>(state.range(0)));
}
BENCHMARK(BM_BoringSslOpen)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
