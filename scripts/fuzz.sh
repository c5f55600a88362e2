#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_targets.h) with clang, AddressSanitizer and UBSan
# into build-fuzz, writes a seed corpus for each, and runs each target for SECONDS (default 60).
# A crashing input is saved as build-fuzz/findings/<target>/crash-*; once fixed, commit it under
# tests/data/fuzz/<target>/ (the io tests replay that folder) and note it in docs/fuzzing.md.
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]    (needs clang: setup-debian.sh --fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(rle_codec config_yaml point_grids_file image_header)
root="$PWD"
out="$root/build-fuzz"

CC=clang CXX=clang++ cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSAM2AMG_FUZZ=ON \
  -DSAM2AMG_SANITIZE=ON -DSAM2AMG_BUILD_TESTS=OFF -DSAM2AMG_BUILD_APPS=OFF > /dev/null
cmake --build "$out" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

# Seeds: one valid input of each kind (and the committed reproducers) for the fuzzer to mutate.
seed() {  # seed TARGET NAME: the file's bytes on stdin
  mkdir -p "$out/corpus/$1"
  cat > "$out/corpus/$1/seed-$2"
}
printf '\x00\x03\x00\x02123' | seed rle_codec small                 # 3x2, runs 1,2,3
printf '\x00\x04\x00\x04094J' | seed rle_codec deltas              # runs 0,9,4,3: a negative delta
printf '\x01\x00\x01\x00' | seed rle_codec empty
for f in configs/*.yaml; do seed config_yaml "$(basename "$f")" < "$f"; done
printf 'points_per_side: null\npoint_grids: [[[0.25, 0.5], [0.75, 0.5]], [[0.5, 0.5]]]\ncrop_n_layers: 1\n' |
  seed config_yaml grids
printf 'crop_overlap_ratio: 512/1500\ninput: [a.png, "b c.png"]\ndevice: cuda:1\nexif: ignore\nshard: 3/8\n' |
  seed config_yaml io
printf '[[[0.25, 0.5], [0.75, 0.5]]]' | seed point_grids_file one
printf '[[[0.5, 0.5]], [[0.0, 1.0], [1e-3, 0.999]]]' | seed point_grids_file two
for f in tests/data/images/*.png; do seed image_header "$(basename "$f")" < "$f"; done
# A baseline JPEG's markers (SOI, APP0, SOF0 of 16x8, SOS, a scan byte, EOI) and a BMP header.
printf '\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xc0\x00\x0b\x08\x00\x08\x00\x10\x01\x01\x11\x00\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\x00\xff\xd9' |
  seed image_header jpeg
printf 'BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x02\x00\x00\x00\xfe\xff\xff\xff\x01\x00\x18\x00' |
  seed image_header bmp
for t in "${targets[@]}"; do
  if [ -d "tests/data/fuzz/$t" ]; then cp tests/data/fuzz/"$t"/* "$out/corpus/$t/"; fi
done

# Each target runs in a scratch folder: a YAML point_grids file name is read relative to it.
status=0
for t in "${targets[@]}"; do
  mkdir -p "$out/findings/$t" "$out/work/$t"
  echo "== $t: ${seconds} s"
  if ! (cd "$out/work/$t" && "$out/tests/fuzz/fuzz_$t" "$out/corpus/$t" -max_total_time="$seconds" \
          -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
          -artifact_prefix="$out/findings/$t/" > "$out/findings/$t.log" 2>&1); then
    status=1
    echo "   CRASH: $(ls "$out/findings/$t" | head -1) (log: build-fuzz/findings/$t.log)"
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$out/findings/$t.log" | sed 's/^/   /' || true
  grep -E 'cov: ' "$out/findings/$t.log" | tail -1 | sed 's/^/   /' || true
done
exit $status
