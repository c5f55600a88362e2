#!/usr/bin/env bash
# Builds sam2-amg's tests with AddressSanitizer and UBSan (-DSAM2AMG_SANITIZE=ON) into build-asan
# and runs the fast tests there: labels amg, io and pipeline unless LABELS (a ctest -L regex,
# e.g. 'amg|io|pipeline|cli') says otherwise. Any sanitizer report fails its test.
# Usage: bash scripts/run-sanitized-tests.sh [LABELS]
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests' processes run two at a time on CI's 2 cores: thread pools that sleep when idle
# instead of spinning (what sam2-amg sets for itself, src/model/runtime.h) keep them from
# taking turns at a spinning core.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}"
labels="${1:-amg|io|pipeline}"
targets=()
for t in amg io pipeline cli; do
  if [[ "$t" =~ ^($labels)$ ]]; then targets+=("test_$t"); fi
done
# -O1 -g1 (line tables): what ASan suggests, and much quicker to compile against LibTorch's
# headers than -O2 -g; assertions stay on.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DSAM2AMG_SANITIZE=ON -DSAM2AMG_BUILD_TESTS=ON > /dev/null
cmake --build build-asan -j "$(nproc)" --target "${targets[@]}"
supp="$PWD/tests/sanitize"
# allocator_may_return_null: a model test makes LibTorch's CPU allocator fail (2^50 floats) and
# expects its error, as without ASan.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -L "$labels"
