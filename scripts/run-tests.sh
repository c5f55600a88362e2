#!/usr/bin/env bash
# Builds sam2-amg with its tests and runs them all with CTest, then lists the tests that skipped,
# with their reasons, and fails on any skip tests/skips-allowed.txt does not allow on this device.
# SAM2AMG_TEST_DEVICE=cuda runs the model and pipeline tests on the GPU instead of the CPU.
# Usage: bash scripts/run-tests.sh [ctest args, e.g. -L cli]
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests' processes run two at a time on CI's 2 cores: thread pools that sleep when idle
# instead of spinning (what sam2-amg sets for itself, src/model/runtime.h) keep them from
# taking turns at a spinning core.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}"
bash scripts/build.sh -DSAM2AMG_BUILD_TESTS=ON
device="${SAM2AMG_TEST_DEVICE:-cpu}"
device="${device%%:*}"
mkdir -p build/Testing
skip_log="$PWD/build/Testing/skip-reasons.txt"
output="$PWD/build/Testing/ctest-output.txt"
rm -f "$skip_log"
status=0
SAM2AMG_SKIP_LOG="$skip_log" ctest --test-dir build --output-on-failure -j "$(nproc)" "$@" 2>&1 | tee "$output" ||
  status=$?

# CTest's summary names each skipped test as "<n> - <name> (Skipped)".
mapfile -t skipped < <(sed -n 's/^[[:space:]]*[0-9][0-9]* - \(.*\) (Skipped)$/\1/p' "$output")
mapfile -t allowed < <(awk -v d="$device" '!/^#/ && NF > 1 && $1 == d { sub(/^[^ ]+ /, ""); print }' \
  tests/skips-allowed.txt)
echo "Skipped on $device: ${#skipped[@]} test(s)"
unexpected=0
for name in "${skipped[@]}"; do
  reason="$(awk -v n="$name: " 'index($0, n) == 1 { print substr($0, length(n) + 1); exit }' "$skip_log" 2>/dev/null)"
  verdict="not allowed on $device"
  for a in "${allowed[@]}"; do
    if [ "$a" = "$name" ]; then verdict="allowed"; fi
  done
  echo "  $name: ${reason:-no reason given} ($verdict)"
  if [ "$verdict" != allowed ]; then unexpected=$((unexpected + 1)); fi
done
if [ "$unexpected" -ne 0 ]; then
  echo "FAILED: $unexpected test(s) skipped that must run here (tests/skips-allowed.txt)" >&2
  status=1
fi
exit "$status"
