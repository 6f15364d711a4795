#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cc) with clang and runs each one for
# FUZZ_SECONDS (default 20). Each keeps a growing corpus in build-fuzz/corpus/<name>,
# seeded read-only from tests/fuzz/corpus/<name> when that exists. Crash inputs land in
# build-fuzz/artifacts/<name>/, logs in build-fuzz/logs/. Exits non-zero if any target
# fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
seconds="${FUZZ_SECONDS:-20}"
jobs="${JOBS:-$(nproc)}"

shopt -s nullglob
sources=("$root"/tests/fuzz/fuzz_*.cc)
if ((${#sources[@]} == 0)); then
  echo "run-fuzzers: no fuzz targets in tests/fuzz yet; nothing to do"
  exit 0
fi

for tool in clang clang++ cmake; do
  command -v "$tool" >/dev/null || { echo "run-fuzzers: $tool not found" >&2; exit 1; }
done
# CC/CXX only count on the first configure; a tree made with gcc cannot build fuzzers.
if [[ -f $build/CMakeCache.txt ]] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++' "$build/CMakeCache.txt"; then
  echo "run-fuzzers: $build was configured without clang++; remove it and rerun" >&2
  exit 1
fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DQVPN_FUZZ=ON -DQVPN_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target qvpn_fuzzers -j "$jobs"

mkdir -p "$build/logs"
failed=()
for src in "${sources[@]}"; do
  name="$(basename "$src" .cc)"
  corpus="$build/corpus/$name"
  artifacts="$build/artifacts/$name/"
  log="$build/logs/$name.log"
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus")  # libFuzzer adds new inputs to the first directory only
  [[ -d $root/tests/fuzz/corpus/$name ]] && dirs+=("$root/tests/fuzz/corpus/$name")

  if "$build/tests/fuzz/$name" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$artifacts" "${dirs[@]}" >"$log" 2>&1; then
    runs="$(grep -o 'number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
    files=("$corpus"/*)
    printf '%-28s ok      %s runs in %ss, corpus %d inputs\n' "$name" "${runs:-?}" "$seconds" \
      "${#files[@]}"
  else
    printf '%-28s FAILED  log %s, inputs in %s\n' "$name" "$log" "$artifacts"
    grep -E 'mismatch|==ERROR|^SUMMARY|runtime error' "$log" | head -n 5 || true
    failed+=("$name")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "run-fuzzers: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "run-fuzzers: all ${#sources[@]} target(s) passed"
