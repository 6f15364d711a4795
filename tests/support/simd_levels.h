#pragma once
// For tests of code that dispatches on simd_level() (dataplane/cpu_features.h): the levels
// this CPU can be forced to, a scope that forces one, and random inputs for the sweeps over
// message lengths the crypto tests run at every level.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "dataplane/cpu_features.h"

namespace qvpn::test {

// The levels to check, lowest first: every level up to the detected one.
inline std::vector<dataplane::SimdLevel> simd_levels() {
  std::vector<dataplane::SimdLevel> out;
  for (int l = 0; l <= static_cast<int>(dataplane::detected_simd_level()); ++l) {
    out.push_back(static_cast<dataplane::SimdLevel>(l));
  }
  return out;
}

// Forces a level for one scope, then goes back to the detected one, even when the scope ends
// by a failed REQUIRE.
struct ForcedLevel {
  explicit ForcedLevel(dataplane::SimdLevel level) { dataplane::force_simd_level(level); }
  ~ForcedLevel() { dataplane::force_simd_level(dataplane::detected_simd_level()); }
  ForcedLevel(const ForcedLevel&) = delete;
  ForcedLevel& operator=(const ForcedLevel&) = delete;
};

// Every length 0..upto, then `random` lengths below 65536 drawn from rng, then 65535.
inline std::vector<size_t> sweep_lengths(std::mt19937_64& rng, size_t upto, int random) {
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= upto; ++n) lengths.push_back(n);
  for (int i = 0; i < random; ++i) lengths.push_back(rng() % 65536);
  lengths.push_back(65535);
  return lengths;
}

// n bytes drawn from rng, one draw a byte.
inline std::vector<uint8_t> random_bytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

}  // namespace qvpn::test
