#!/usr/bin/env bash
# cmake/check_layers.cmake on scratch copies of src/, apps/, cmake/ (and tests/support): the clean copy (and the
# uses the rule allows) passes, and each planted violation fails with its own reason.
# Usage: test_check_layers.sh <source dir>
set -euo pipefail
root="$(cd "$1" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failures=0

fresh() {
  rm -rf "$scratch/tree"
  mkdir -p "$scratch/tree"
  cp -r "$root/src" "$root/apps" "$root/cmake" "$scratch/tree/"
  mkdir -p "$scratch/tree/tests" && cp -r "$root/tests/support" "$scratch/tree/tests/"
}
check() { cmake -DROOT="$scratch/tree" -P "$scratch/tree/cmake/check_layers.cmake" > "$scratch/out.txt" 2>&1; }

# expect_pass NAME FILE LINE: appends LINE to FILE (created if missing); the check must pass.
expect_pass() {
  fresh
  mkdir -p "$(dirname "$scratch/tree/$2")"
  printf '%s\n' "$3" >> "$scratch/tree/$2"
  if check; then
    echo "ok   allowed: $1"
  else
    echo "FAIL allowed use refused: $1"; sed 's/^/     /' "$scratch/out.txt"; failures=$((failures + 1))
  fi
}

# expect_fail NAME FILE LINE REASON: the check must fail, naming FILE and REASON.
expect_fail() {
  fresh
  mkdir -p "$(dirname "$scratch/tree/$2")"
  printf '%s\n' "$3" >> "$scratch/tree/$2"
  if check; then
    echo "FAIL not caught: $1 ($2: $3)"; failures=$((failures + 1))
  elif grep -qF "$2: " "$scratch/out.txt" && grep -qF -- "$4" "$scratch/out.txt"; then
    echo "ok   caught: $1"
  else
    echo "FAIL caught for another reason: $1 (expected '$4')"; sed 's/^/     /' "$scratch/out.txt"
    failures=$((failures + 1))
  fi
}

fresh
if check; then echo "ok   the clean tree passes"; else
  echo "FAIL the clean tree fails"; cat "$scratch/out.txt"; failures=$((failures + 1)); fi

expect_pass "ATen in amg" src/amg/nms.cpp '#include <ATen/ATen.h>'
expect_pass "a CUDA header in a CUDA source of amg" src/amg/planted.cu '#include <cuda_runtime.h>'
expect_pass "a CUDA header in model" src/model/sam2_model.cpp '#include <cuda_runtime.h>'
expect_pass "a sibling header by its own folder" apps/sam2-amg/main.cpp '#include "image_loop.h"'
expect_pass "nlohmann/json in model" src/model/model_file.cpp '#include <nlohmann/json.hpp>'
expect_pass "a core header from io" src/io/outputs.cpp '#include "amg/mask_filters.h"'
expect_pass "POSIX headers" src/pipeline/memory_check.cpp '#include <sys/resource.h>'

# Paths: '..' resolved, not read as a folder name.
expect_fail "'..' out of amg into io" src/amg/nms.cpp '#include "../io/outputs.h"' "a header of layer io"
expect_fail "'..' inside a path" src/io/outputs.cpp '#include "io/../model/sam2_model.h"' "a header of layer model"
expect_fail "'..' out of the layers" src/io/outputs.cpp '#include "../../tests/support/fixtures.h"' \
  "a file outside the layers"
expect_fail "a project path naming no file" src/amg/nms.cpp '#include "../io/no_such.h"' \
  "a project path that names no file"
# Project headers.
expect_fail "io includes amg's tensor helpers" src/io/outputs.cpp '#include "amg/nms.h"' "a header of layer amg"
expect_fail "apps include model internals" apps/sam2-amg/main.cpp '#include "model/torch_errors.h"' \
  "a header of layer model"
expect_fail "model includes the pipeline" src/model/sam2_model.cpp '#include "pipeline/mask_generator.h"' \
  "a header of layer pipeline"
expect_fail "the core includes amg's tensor helpers" src/amg/rle_host.cpp '#include "amg/nms.h"' \
  "a header of layer amg"
# Every library, in a layer that may not use it.
expect_fail "ATen in the core (CMake's list)" src/amg/mask_filters.cpp '#include <ATen/ATen.h>' "ATen"
expect_fail "c10 in io" src/io/outputs.cpp '#include <c10/util/Optional.h>' "ATen"
expect_fail "LibTorch in the pipeline" src/pipeline/memory_check.cpp '#include <torch/script.h>' "LibTorch"
expect_fail "caffe2 in amg" src/amg/nms.cpp '#include <caffe2/serialize/inline_container.h>' "LibTorch"
expect_fail "OpenCV in the pipeline" src/pipeline/memory_check.cpp '#include <opencv2/core.hpp>' "OpenCV"
expect_fail "libpng in model" src/model/transforms.cpp '#include <png.h>' "libpng/libjpeg"
expect_fail "libjpeg in apps" apps/sam2-amg/main.cpp '#include <jpeglib.h>' "libpng/libjpeg"
expect_fail "yaml-cpp in the pipeline" src/pipeline/memory_check.cpp '#include <yaml-cpp/yaml.h>' "yaml-cpp"
expect_fail "nlohmann/json in amg" src/amg/nms.cpp '#include <nlohmann/json.hpp>' "nlohmann/json"
expect_fail "nlohmann/json in apps" apps/sam2-amg/main.cpp '#include <nlohmann/json.hpp>' "nlohmann/json"
expect_fail "spdlog in io" src/io/outputs.cpp '#include <spdlog/spdlog.h>' "a CLI library"
expect_fail "CLI11 in the pipeline" src/pipeline/memory_check.cpp '#include <CLI/CLI.hpp>' "a CLI library"
expect_fail "a CUDA header in a C++ source of amg" src/amg/nms.cpp '#include <cuda_runtime.h>' "a CUDA header"
expect_fail "a CUDA header in the pipeline" src/pipeline/memory_check.cpp '#include <c10/cuda/CUDAStream.h>' \
  "a CUDA header"
expect_fail "a library with no rule" src/io/outputs.cpp '#include <zlib.h>' "a library with no rule"
# LibTorch's message texts outside the model layer.
expect_fail "apps read LibTorch's allocator message" apps/sam2-amg/main.cpp \
  'static const char* k = "DefaultCPUAllocator";' "reads LibTorch's message text"
expect_fail "the pipeline catches c10::Error" src/pipeline/memory_check.cpp '// catch (const c10::Error&)' \
  "reads LibTorch's message text"
# The core list is CMake's and must name real files.
fresh
sed -i 's|amg/rle_host.h amg/rle_host.cpp|amg/rle_host.h amg/rle_host.cpp amg/gone.cpp|' \
  "$scratch/tree/cmake/core_sources.cmake"
if check; then echo "FAIL not caught: a core list naming a missing file"; failures=$((failures + 1))
elif grep -qF "lists src/amg/gone.cpp, which does not exist" "$scratch/out.txt"; then
  echo "ok   caught: a core list naming a missing file"
else echo "FAIL caught for another reason: a core list naming a missing file"; cat "$scratch/out.txt"
  failures=$((failures + 1)); fi
# A folder of no layer.
expect_fail "a folder of no layer" src/extra/x.cpp '#include <vector>' "folder of no layer"

if [ "$failures" -ne 0 ]; then echo "$failures case(s) failed"; exit 1; fi
echo "all cases behave"
