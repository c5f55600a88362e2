#!/usr/bin/env bash
# Configures and builds sam2-amg (Release, Ninja, ccache when present) into ./build.
# Usage: bash scripts/build.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > /dev/null
cmake --build build -j "$(nproc)"
