#pragma once
// The ChaCha20 kernels behind chacha20_xor(), one per SIMD level, so tests and benchmarks
// can run each directly. Each has chacha20_xor()'s contract (chacha20.h). The AVX2 kernel
// may only be called when the CPU has AVX2 (detected_simd_level() >= kAvx2).
#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/chacha20.h"

namespace qvpn::dataplane {

inline constexpr size_t kChachaBlockSize = 64;

// One block at a time in plain C++.
void chacha20_xor_portable(std::span<const ChachaStream> streams);

#if defined(__x86_64__)
// Eight blocks per step in the "vertical" layout: ymm register w holds state word w of
// eight blocks. The blocks of all streams are dealt to the eight lanes in order, so a short
// stream or the tail of a long one shares a step with the next stream's blocks.
void chacha20_xor_avx2(std::span<const ChachaStream> streams);
#endif

}  // namespace qvpn::dataplane
