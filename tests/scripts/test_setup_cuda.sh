#!/usr/bin/env bash
# The checks of scripts/setup-cuda.sh on stand-in LibTorch folders and CUDA toolkits (seconds, no
# GPU, no CUDA, no network: --dry-run --no-install). Each case asserts the exit status and the
# phrase of the message a user acts on:
#  - a LibTorch of the old C++ ABI is refused (exit 2) and the fix named;
#  - a CUDA LibTorch with no toolkit of its major version is refused, naming the toolkits found;
#  - --cuda-home with the right major version is taken, its nvcc passed to CMake, and a minor
#    version that differs only warns;
#  - a LibTorch without CUDA builds the same way, saying so; a CUDA LibTorch's zip build-version
#    is read for its CUDA version;
#  - a --prebuilt prefix is passed to CMake as the static OpenCV's, and a bad one refused.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -r "$tmp"' EXIT
failures=0

# A LibTorch folder as the official zip lays it out: its CMake config, build-version and libraries.
fake_libtorch() {  # DIR ABI BUILD_VERSION CUDA(0|1)
  mkdir -p "$1/share/cmake/Torch" "$1/lib"
  echo "  set(TORCH_CXX_FLAGS \"-D_GLIBCXX_USE_CXX11_ABI=$2\")" > "$1/share/cmake/Torch/TorchConfig.cmake"
  echo "$3" > "$1/build-version"
  : > "$1/lib/libtorch_cpu.so"
  [ "$4" = 1 ] && : > "$1/lib/libtorch_cuda.so"
  return 0
}
fake_cuda() {  # DIR VERSION: a toolkit whose nvcc reports VERSION
  mkdir -p "$1/bin"
  printf '#!/bin/sh\necho "Cuda compilation tools, release %s, V%s.0"\n' "$2" "$2" > "$1/bin/nvcc"
  chmod +x "$1/bin/nvcc"
}
# expect NAME STATUS PHRASE ARGS...: setup-cuda.sh's exit status and a phrase of its output.
expect() {
  local name=$1 status=$2 phrase=$3; shift 3
  local out rc
  out=$(cd "$root" && PYTHON=/nonexistent bash scripts/setup-cuda.sh --dry-run --no-install --build-dir "$tmp/build" "$@" 2>&1)
  rc=$?
  if [ "$rc" != "$status" ] || [[ $out != *"$phrase"* ]]; then
    echo "FAILED: $name: exit $rc (expected $status), output lacks '$phrase':"; echo "    ${out//$'\n'/$'\n'    }"
    failures=$((failures + 1))
  else
    echo "ok: $name"
  fi
}

fake_libtorch "$tmp/old-abi" 0 "2.5.1+cu990" 1
fake_libtorch "$tmp/cu990" 1 "2.11.0+cu990" 1
fake_libtorch "$tmp/cu992" 1 "2.11.0+cu992" 1
fake_libtorch "$tmp/cpu" 1 "2.11.0+cpu" 0
fake_cuda "$tmp/cuda-99.0" 99.0
fake_cuda "$tmp/cuda-98.0" 98.0
mkdir -p "$tmp/kit/lib/cmake/opencv4" && : > "$tmp/kit/lib/cmake/opencv4/OpenCVConfig.cmake"

expect "old C++ ABI refused" 2 "uses _GLIBCXX_USE_CXX11_ABI=0, the system libraries" --libtorch "$tmp/old-abi"
expect "old C++ ABI: the fix" 2 "install torch 2.7 or" --libtorch "$tmp/old-abi"
expect "no toolkit of LibTorch's CUDA" 2 "LibTorch was built with CUDA 99.0; the CUDA toolkits found are another major version" \
  --libtorch "$tmp/cu990" --cuda-home "$tmp/cuda-98.0"
expect "the toolkits found are named" 2 "$tmp/cuda-98.0 (nvcc 98.0)" --libtorch "$tmp/cu990" --cuda-home "$tmp/cuda-98.0"
expect "--cuda-home taken" 0 "CUDA toolkit: $tmp/cuda-99.0 (nvcc 99.0)" --libtorch "$tmp/cu990" --cuda-home "$tmp/cuda-99.0"
expect "its nvcc given to CMake" 0 "-DCMAKE_CUDA_COMPILER=$tmp/cuda-99.0/bin/nvcc" --libtorch "$tmp/cu990" --cuda-home "$tmp/cuda-99.0"
expect "build-version read" 0 "LibTorch CUDA: 99.2" --libtorch "$tmp/cu992" --cuda-home "$tmp/cuda-99.0"
expect "another minor version warns" 0 "CUDA toolkit 99.0 at $tmp/cuda-99.0, LibTorch's is 99.2 (same major version" \
  --libtorch "$tmp/cu992" --cuda-home "$tmp/cuda-99.0"
expect "CPU LibTorch said" 0 "no CUDA LibTorch found: building against a CPU-only LibTorch" --libtorch "$tmp/cpu"
expect "CPU LibTorch: no toolkit needed" 0 "-DTorch_DIR=$tmp/cpu/share/cmake/Torch" --libtorch "$tmp/cpu" --cuda-home "$tmp/none"
expect "not a LibTorch folder" 2 "is not a LibTorch folder" --libtorch "$tmp/kit"
expect "prebuilt prefix passed on" 0 "-DOpenCV_DIR=$tmp/kit/lib/cmake/opencv4" --libtorch "$tmp/cpu" --prebuilt "$tmp/kit"
expect "prebuilt libjpeg passed on" 0 "-DJPEG_LIBRARY=$tmp/kit/lib/deps/libjpeg.a" --libtorch "$tmp/cpu" --prebuilt "$tmp/kit"
expect "bad prebuilt refused" 2 "neither a prefix" --libtorch "$tmp/cpu" --prebuilt "$tmp/cpu"

[ "$failures" = 0 ] && echo "all setup-cuda checks passed"
[ "$failures" = 0 ]
