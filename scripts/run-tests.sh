#!/usr/bin/env bash
# Builds sam2-amg with its tests and runs them all with CTest.
# SAM2AMG_TEST_DEVICE=cuda runs the model and pipeline tests on the GPU instead of the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh -DSAM2AMG_BUILD_TESTS=ON
ctest --test-dir build --output-on-failure -j "$(nproc)"
