#pragma once
// Which SIMD code paths this CPU can run, detected once. Crypto kernels come in one build
// per level (files named *_avx2.cc, *_avx512.cc are compiled with those instruction sets)
// and dispatch on simd_level() at run time. Tests and benchmarks force a lower level to
// check every path against the others.
namespace qvpn::dataplane {

enum class SimdLevel { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

// The best level this CPU supports.
SimdLevel detected_simd_level();
// The level the dispatchers use: detected_simd_level() unless forced lower.
SimdLevel simd_level();
// Forces a level for tests and benchmarks; clamped to what the CPU supports. Not
// thread-safe: call before any crypto runs on other threads.
void force_simd_level(SimdLevel level);

const char* simd_level_name(SimdLevel level);

}  // namespace qvpn::dataplane
