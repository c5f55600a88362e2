#!/usr/bin/env bash
# gpu-check.sh's stages run side by side under one deadline, so that a single command on a lent
# GPU machine (10 minutes a command, a bare machine each time) brings back everything: the build
# and the CUDA tests (with a backtrace of the first crash), seeded exports of every size, the
# bench at 2048x1536 and over a folder, the parity families, the docs tables, and one archive of
# results and logs.
#
#   bash scripts/gpu-session.sh [--deadline SECONDS] [--parity-images FILE...] [--bench-image FILE]
#                               [--out DIR] [--dry-run]
#
# --dry-run prints the gpu-check.sh commands in the order and grouping they would run, without
# running them (a check of this script on any machine).
#
# Needs what gpu-check.sh needs on that machine, carried in an ignored folder: .device/sam2src
# (the sam2 source), .device/sam2-shim (hydra/iopath stand-ins), .device/gpu-build.sh with the
# static OpenCV beside it, and photos in .device/photos. Order, each step bounded by the deadline:
#   1. build | reference extension | exports (t, l: fp32 and bf16; s, b+: fp32), in parallel;
#   2. CUDA ctest beside the remaining exports;
#   3. bench of SAM 2.1-L (bf16, fp32) on one 2048x1536 image, alone on the GPU;
#   4. every parity family for every size, in parallel;
#   5. the folder bench (bf16) if time is left; the docs; the archive (to $OUT or --out).
# Figures from the first H100 session: build 105 s, exports 150 s, bench 70 s, parity 210 s.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
deadline=550 out_dir=${OUT:-} parity_images=() bench_image="" dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --deadline) deadline=$2; shift 2 ;;
    --out) out_dir=$2; shift 2 ;;
    --parity-images) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do parity_images+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"); shift; done ;;
    --bench-image) bench_image=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-session: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
t0=$(date +%s)
elapsed() { echo $(( $(date +%s) - t0 )); }
left() { echo $(( deadline - $(elapsed) )); }
say() { echo "[$(elapsed) s] $*"; }
bounded() { local t=$1; shift; [ "$t" -lt 30 ] && t=30; timeout "$t" "$@"; }

work=build-check logs=build-check/logs
mkdir -p "$logs"
photos=$PWD/.device/photos
[ ${#parity_images[@]} -eq 0 ] && parity_images=("$photos/coffee_550x350.png" "$photos/chelsea_260x195.png")
[ -n "$bench_image" ] || bench_image=$photos/storm_2048x1536.jpg
bin=$PWD/build-gpu/apps/sam2-amg/sam2-amg
gc=(bash scripts/gpu-check.sh --device cuda --work "$work")
if [ $dry = 1 ]; then
  dry_check() { echo "gpu-check.sh $*" >&2; echo "=== gpu-check [dry] done: 0 failure(s)"; }
  gc=(dry_check --device cuda --work "$work")
  timeout() { shift; "$@"; }  # the stub is a shell function, which timeout cannot run
  cmake() { :; }
fi
export PYTHONUNBUFFERED=1

say "start: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2> /dev/null | head -1)"
python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'

# 1. build | extension | exports
bounded 330 "${gc[@]}" --stages build --out /tmp/gs-build > "$logs/session-build.out" 2>&1 & build_pid=$!
bounded 300 "${gc[@]}" --stages ext --out /tmp/gs-ext > "$logs/session-ext.out" 2>&1 & ext_pid=$!
for size in t l s b+; do
  case $size in t|l) precisions=fp32,bf16 ;; *) precisions=fp32 ;; esac
  bounded 300 "${gc[@]}" --stages export --sizes "$size" --precisions "$precisions" --out "/tmp/gs-export-$size" \
    > "$logs/session-export-$size.out" 2>&1 &
done
wait $build_pid; say "build: exit $?"
# A test file that fails to compile must not keep the other targets from being built.
cmake --build build-gpu -j "$(nproc)" -- -k 0 > "$logs/session-build-rest.log" 2>&1
grep -hE 'error:' "$logs/build.log" "$logs/session-build-rest.log" 2> /dev/null | head -10
built=0; { [ -x "$bin" ] || [ $dry = 1 ]; } && built=1

# 2. tests beside the exports
if [ $built = 1 ]; then
  bounded 200 "${gc[@]}" --stages test --out /tmp/gs-test > "$logs/session-test.out" 2>&1 & test_pid=$!
fi
exported() { grep -q '=== gpu-check.*done' "$logs/session-export-$1.out" 2> /dev/null; }
until exported l || [ "$(left)" -lt 200 ]; do sleep 2; done
grep -hE '^wrote|FAILED' "$logs"/session-export-*.out

if [ $built = 1 ]; then
  wait $test_pid; say "tests done"; grep -E 'tests passed|tests failed|^#[0-9]' "$logs/session-test.out" | head -30
  # 3. the bench alone on the GPU
  bounded $(( $(left) - 170 > 150 ? 150 : $(left) - 170 )) "${gc[@]}" --stages bench --bin "$bin" --sizes l \
    --precisions bf16,fp32 --images "$bench_image" --repeat 5 --bench-tag 2048x1536 --bench-args "--warmup 3" \
    --out /tmp/gs-bench > "$logs/session-bench.out" 2>&1
  grep -E 'per image|folder pass|p50 time|FAILED' "$logs/session-bench.out"
  # 4. parity, every family and size, side by side
  wait $ext_pid
  until { exported t && exported s && exported b+; } || [ "$(left)" -lt 150 ]; do sleep 2; done
  # At most 10 at a time (16 cores; SAM 2.1-L with a crop layer and all candidates kept needs
  # about 25 GB of GPU memory), the large model first.
  pids=()
  for size in l t s b+; do
    for family in defaults keepall keepall_crop1 m2m single minregion; do
      while [ "$(jobs -rp | wc -l)" -ge 10 ]; do sleep 1; done
      case $size in t|l) precisions=fp32,bf16 ;; *) precisions=fp32 ;; esac
      bounded $(( $(left) - 75 )) "${gc[@]}" --stages parity --bin "$bin" --sizes "$size" --parity-precisions "$precisions" \
        --families "$family" --images "${parity_images[@]}" --out "/tmp/gs-parity-$size-$family" \
        > "$logs/session-parity-$size-$family.out" 2>&1 & pids+=($!)
    done
  done
  wait "${pids[@]}"; say "parity done"
  grep -hE '=== gpu-check.*parity|matched_share|FAILED' "$logs"/session-parity-*.out | head -150
  # 5. the folder bench when time is left
  if [ "$(left)" -gt 80 ]; then
    bounded $(( $(left) - 30 )) "${gc[@]}" --stages bench --bin "$bin" --sizes l --precisions bf16 --repeat 1 \
      --bench-tag folder --bench-args "--warmup 3" --out /tmp/gs-folder > "$logs/session-folder.out" 2>&1
    grep -E 'per image|folder pass|p50 time|FAILED' "$logs/session-folder.out"
  fi
fi

say "docs"
bounded 25 "${gc[@]}" --stages docs --images "${parity_images[@]}" ${out_dir:+--out "$out_dir"} > "$logs/session-docs.out" 2>&1
tail -3 "$logs/session-docs.out"
say "end"
