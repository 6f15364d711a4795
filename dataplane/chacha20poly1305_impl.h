#pragma once
// Internal to ChaCha20-Poly1305: the two ways chacha20poly1305_seal/open (chacha20poly1305.h)
// are computed, so tests and benchmarks can run each directly. Both have the contract of
// the public functions.
#include <span>

#include "dataplane/chacha20poly1305.h"

namespace qvpn::dataplane {

// Composed: chacha20_xor over all jobs, then poly1305_aead_tags over all jobs (each
// dispatching on simd_level()). The path for every job without AVX2, and for the jobs the
// stitched kernel leaves to it.
void chacha20poly1305_seal_composed(std::span<AeadJob> jobs);
void chacha20poly1305_open_composed(std::span<AeadJob> jobs);

#if defined(__x86_64__)
// Stitched: scalar (mulx) Poly1305 interleaved with the AVX2 ChaCha20 rounds, so the MAC
// runs on the integer ports while the keystream runs on the vector ports. Takes jobs of
// at least kStitchedMinLen bytes (open: at most kStitchedMaxOpenLen) and hands the others
// to the composed path. Only call when detected_simd_level() >= kAvx2.
void chacha20poly1305_seal_avx2(std::span<AeadJob> jobs);
void chacha20poly1305_open_avx2(std::span<AeadJob> jobs);
#endif

}  // namespace qvpn::dataplane
