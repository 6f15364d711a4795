// Poly1305 kernels, each SIMD level called directly, on the shapes WireGuard produces: a
// batch of 16 transport packets (1420 bytes each, no ad) and one 64 KiB message; libsodium's
// crypto_onetimeauth_poly1305 over the same bytes for reference.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <array>
#include <vector>

#include "dataplane/cpu_features.h"
#include "dataplane/poly1305.h"
#include "dataplane/poly1305_impl.h"

using namespace qvpn::dataplane;

namespace {

using Kernel = void (*)(std::span<const Poly1305AeadJob>);

struct Batch {
  std::vector<std::array<uint8_t, 32>> keys;
  std::vector<std::vector<uint8_t>> cts;
  std::vector<std::array<uint8_t, 16>> tags;
  std::vector<Poly1305AeadJob> jobs;

  Batch(size_t njobs, size_t len) : keys(njobs), cts(njobs), tags(njobs) {
    for (size_t i = 0; i < njobs; ++i) {
      randombytes_buf(keys[i].data(), keys[i].size());
      cts[i].resize(len);
      randombytes_buf(cts[i].data(), len);
      jobs.push_back({keys[i].data(), nullptr, 0, cts[i].data(), len, tags[i].data()});
    }
  }
  int64_t bytes() const { return static_cast<int64_t>(jobs.size() * cts[0].size()); }
};

bool available(benchmark::State& state, SimdLevel level) {
  if (detected_simd_level() >= level) return true;
  state.SkipWithError("not supported by this CPU");
  return false;
}

void run_aead(benchmark::State& state, Kernel kernel) {
  Batch batch(static_cast<size_t>(state.range(0)), static_cast<size_t>(state.range(1)));
  for (auto _ : state) {
    kernel(batch.jobs);
    benchmark::DoNotOptimize(batch.tags.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * batch.bytes());
}

void BM_AeadTagsPortable(benchmark::State& state) { run_aead(state, poly1305_aead_tags_portable); }

#if defined(__x86_64__)
void BM_AeadTagsAvx2(benchmark::State& state) {
  if (available(state, SimdLevel::kAvx2)) run_aead(state, poly1305_aead_tags_avx2);
}
#endif

// The same bytes through libsodium, one message per job (its MAC has no AEAD form; the
// AEAD's extra length block is 1/90 of the work at 1420 bytes).
void BM_SodiumOnetimeauth(benchmark::State& state) {
  Batch batch(static_cast<size_t>(state.range(0)), static_cast<size_t>(state.range(1)));
  for (auto _ : state) {
    for (size_t i = 0; i < batch.jobs.size(); ++i) {
      crypto_onetimeauth_poly1305(batch.tags[i].data(), batch.cts[i].data(), batch.cts[i].size(),
                                  batch.keys[i].data());
    }
    benchmark::DoNotOptimize(batch.tags.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * batch.bytes());
}

// The plain MAC over one message, per level.
template <void (*Mac)(uint8_t (&)[16], const uint8_t (&)[32], std::span<const uint8_t>)>
void BM_Mac(benchmark::State& state) {
  std::vector<uint8_t> msg(static_cast<size_t>(state.range(0)));
  randombytes_buf(msg.data(), msg.size());
  uint8_t key[32], tag[16];
  randombytes_buf(key, sizeof key);
  for (auto _ : state) {
    Mac(tag, key, msg);
    benchmark::DoNotOptimize(tag);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"jobs", "bytes"});
  b->Args({16, 1420})->Args({1, 65536})->Args({1, 1420})->Args({64, 48});
}

BENCHMARK(BM_AeadTagsPortable)->Apply(shapes);
#if defined(__x86_64__)
BENCHMARK(BM_AeadTagsAvx2)->Apply(shapes);
#endif
BENCHMARK(BM_SodiumOnetimeauth)->Apply(shapes);
BENCHMARK(BM_Mac<poly1305_portable>)->Arg(1420)->Arg(65536);
#if defined(__x86_64__)
void BM_MacAvx2(benchmark::State& state) {
  if (available(state, SimdLevel::kAvx2)) BM_Mac<poly1305_avx2>(state);
}
BENCHMARK(BM_MacAvx2)->Arg(1420)->Arg(65536);
#endif

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
