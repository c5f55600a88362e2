#!/usr/bin/env bash
# gpu-check.sh's stages run side by side under one deadline, so that a single command on a lent
# GPU machine (10 minutes a command, a bare machine each time) brings back everything: the build
# and the CUDA tests (with a backtrace of the first crash), seeded exports of every size, the
# bench at 2048x1536 and over a folder, the parity families, the docs tables, and one archive of
# results and logs.
#
#   bash scripts/gpu-session.sh [--deadline SECONDS] [--parity-images FILE...] [--bench-image FILE]
#                               [--out DIR] [--skip STAGE,...] [--cpu] [--dry-run]
#
# --dry-run prints the gpu-check.sh commands in the order and grouping they would run, without
# running them (a check of this script on any machine). --cpu rehearses the session on a machine
# without a GPU: the same stages and the same build path, with gpu-check.sh --device cpu, the
# tiny model in fp32 on the test images, into build-session-cpu/ and build-check-cpu/.
# --skip leaves stages out (e.g. --skip parity,folder).
#
# The build is the user's: scripts/setup-cuda.sh in its registry-free mode (--prebuilt) with the
# kit carried in the ignored .device/ (SAM2AMG_PREBUILT: another folder). Also needed there:
# .device/sam2src (the sam2 source), .device/sam2-shim (hydra/iopath stand-ins) and photos in
# .device/photos. Stages, in order (the STAGES list below; each bounded by the deadline):
#   start   build | reference extension | exports (t, l: fp32 and bf16; s, b+: fp32), in parallel;
#   build   waits for the build, then builds what a failing target left out;
#   test    CUDA ctest beside the remaining exports;
#   bench   SAM 2.1-L (bf16, fp32) on one 2048x1536 image, alone on the GPU;
#   parity  every parity family for every size, in parallel;
#   folder  the folder bench (bf16) if time is left;
#   docs    the docs tables, and the archive (to $OUT or --out).
# A new stage is a function stage_<name> and its name in STAGES.
# Figures from the first H100 session: build 105 s, exports 150 s, bench 70 s, parity 210 s.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
deadline=550 out_dir=${OUT:-} parity_images=() bench_image="" dry=0 cpu=0 skip=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deadline) deadline=$2; shift 2 ;;
    --out) out_dir=$2; shift 2 ;;
    --parity-images) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do parity_images+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"); shift; done ;;
    --bench-image) bench_image=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    --cpu) cpu=1; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-session: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
STAGES=(start build test bench parity folder docs)

t0=$(date +%s)
elapsed() { echo $(( $(date +%s) - t0 )); }
left() { echo $(( deadline - $(elapsed) )); }
say() { echo "[$(elapsed) s] $*"; }
bounded() { local t=$1; shift; [ "$t" -lt 30 ] && t=30; timeout "$t" "$@"; }
has() { case ",$1," in *",$2,"*) return 0 ;; *) return 1 ;; esac; }

# What differs between the GPU session and its CPU rehearsal.
photos=$PWD/.device/photos
if [ $cpu = 1 ]; then
  device=cpu work=build-check-cpu build_dir=build-session-cpu
  sizes=(t) bench_size=t bench_precisions=fp32 bench_tag=small families=(defaults keepall)
  export_bound=$(( deadline - 200 )) bench_repeat=1 bench_warmup=0  # one CPU core or two make the tiny checkpoint in minutes
  precisions_of() { echo fp32; }
  [ ${#parity_images[@]} -eq 0 ] && parity_images=("$PWD/tests/data/images/shapes.png")
  [ -n "$bench_image" ] || bench_image=$PWD/tests/data/images/wide.png
else
  device=cuda work=build-check build_dir=build-gpu
  sizes=(t l s b+) bench_size=l bench_precisions=bf16,fp32 bench_tag=2048x1536 families=(defaults keepall keepall_crop1 m2m single minregion)
  export_bound=300 bench_repeat=5 bench_warmup=3
  precisions_of() { case $1 in t|l) echo fp32,bf16 ;; *) echo fp32 ;; esac; }
  [ ${#parity_images[@]} -eq 0 ] && parity_images=("$photos/coffee_550x350.png" "$photos/chelsea_260x195.png")
  [ -n "$bench_image" ] || bench_image=$photos/storm_2048x1536.jpg
fi
export SAM2AMG_PREBUILT=${SAM2AMG_PREBUILT:-$PWD/.device}
logs=$work/logs
[ $dry = 1 ] && logs=$(mktemp -d)  # a dry run leaves a real session's logs alone
mkdir -p "$logs"
bin=$PWD/$build_dir/apps/sam2-amg/sam2-amg
gc=(bash scripts/gpu-check.sh --device "$device" --work "$work" --build-dir "$build_dir")
if [ $dry = 1 ]; then
  exec 3>&1  # the commands are shown here, not in the logs their output goes to
  dry_check() { echo "  gpu-check.sh $*" >&3; echo "=== gpu-check [dry] done: 0 failure(s)"; }
  gc=(dry_check --device "$device" --work "$work" --build-dir "$build_dir")
  timeout() { shift; "$@"; }  # the stub is a shell function, which timeout cannot run
  cmake() { echo "  cmake $*" >&3; }
fi
export PYTHONUNBUFFERED=1
exported() { grep -q '=== gpu-check.*done' "$logs/session-export-$1.out" 2> /dev/null; }
all_exported() { local s; for s in "${sizes[@]}"; do exported "$s" || return 1; done; }
built=0

stage_start() {
  bounded 330 "${gc[@]}" --stages build --out /tmp/gs-build > "$logs/session-build.out" 2>&1 & build_pid=$!
  bounded 300 "${gc[@]}" --stages ext --out /tmp/gs-ext > "$logs/session-ext.out" 2>&1 & ext_pid=$!
  for size in "${sizes[@]}"; do
    bounded "$export_bound" "${gc[@]}" --stages export --sizes "$size" --precisions "$(precisions_of "$size")" \
      --out "/tmp/gs-export-$size" > "$logs/session-export-$size.out" 2>&1 &
  done
}

stage_build() {
  [ -n "${build_pid:-}" ] && { wait "$build_pid"; say "build: exit $?"; }
  # The dry run checks what the build would find here (LibTorch, ABI, CUDA toolkit, the kit).
  [ $dry = 1 ] && bash scripts/setup-cuda.sh --dry-run --tests --prebuilt "$SAM2AMG_PREBUILT" --build-dir "$build_dir" 2>&1 |
    sed 's/^/  /'

  grep -hE '^(gpu-check: bash scripts/setup-cuda|setup-cuda: (LibTorch|no CUDA|CUDA toolkit|GPU|prebuilt|error))' \
    "$logs/session-build.out" 2> /dev/null
  # A test file that fails to compile must not keep the other targets from being built.
  cmake --build "$build_dir" -j "$(nproc)" -- -k 0 > "$logs/session-build-rest.log" 2>&1
  grep -hE 'error:' "$logs/build.log" "$logs/session-build-rest.log" 2> /dev/null | head -10
  { [ -x "$bin" ] || [ $dry = 1 ]; } && built=1
  [ $built = 1 ] || say "no binary at $bin: the stages that need it are skipped"
}

stage_test() {
  [ $built = 1 ] || return 0
  bounded 200 "${gc[@]}" --stages test --out /tmp/gs-test > "$logs/session-test.out" 2>&1 & test_pid=$!
  until exported "${sizes[1]:-${sizes[0]}}" || [ "$(left)" -lt 200 ]; do sleep 2; done
  grep -hE '^wrote|FAILED' "$logs"/session-export-*.out
  wait "$test_pid"; say "tests done"
  grep -E 'tests passed|tests failed|^#[0-9]' "$logs/session-test.out" | head -30
}

stage_bench() {
  [ $built = 1 ] || return 0
  until exported "$bench_size" || [ "$(left)" -lt 200 ]; do sleep 2; done
  local t=$(( $(left) - 170 > 150 ? 150 : $(left) - 170 ))
  bounded "$t" "${gc[@]}" --stages bench --bin "$bin" --sizes "$bench_size" --precisions "$bench_precisions" \
    --images "$bench_image" --repeat "$bench_repeat" --bench-tag "$bench_tag" --bench-args "--warmup $bench_warmup" \
    --out /tmp/gs-bench > "$logs/session-bench.out" 2>&1
  grep -E 'per image|folder pass|p50 time|FAILED' "$logs/session-bench.out"
}

stage_parity() {
  [ $built = 1 ] || return 0
  [ -n "${ext_pid:-}" ] && wait "$ext_pid"
  until all_exported || [ "$(left)" -lt 150 ]; do sleep 2; done
  # At most 10 at a time (16 cores; SAM 2.1-L with a crop layer and all candidates kept needs
  # about 25 GB of GPU memory), the large model first.
  local pids=() order=(l t s b+)
  [ $cpu = 1 ] && order=("${sizes[@]}")
  for size in "${order[@]}"; do
    for family in "${families[@]}"; do
      while [ "$(jobs -rp | wc -l)" -ge 10 ]; do sleep 1; done
      bounded $(( $(left) - 75 )) "${gc[@]}" --stages parity --bin "$bin" --sizes "$size" \
        --parity-precisions "$(precisions_of "$size")" --families "$family" --images "${parity_images[@]}" \
        --out "/tmp/gs-parity-$size-$family" > "$logs/session-parity-$size-$family.out" 2>&1 & pids+=($!)
    done
  done
  wait "${pids[@]}"; say "parity done"
  grep -hE '=== gpu-check.*parity|matched_share|FAILED' "$logs"/session-parity-*.out | head -150
}

stage_folder() {
  [ $built = 1 ] && [ "$(left)" -gt 80 ] || return 0
  bounded $(( $(left) - 30 )) "${gc[@]}" --stages bench --bin "$bin" --sizes "$bench_size" \
    --precisions "${bench_precisions%%,*}" --repeat 1 --bench-tag folder --bench-args "--warmup $bench_warmup" \
    --out /tmp/gs-folder > "$logs/session-folder.out" 2>&1
  grep -E 'per image|folder pass|p50 time|FAILED' "$logs/session-folder.out"
}

stage_docs() {
  bounded 25 "${gc[@]}" --stages docs --images "${parity_images[@]}" ${out_dir:+--out "$out_dir"} \
    > "$logs/session-docs.out" 2>&1
  tail -3 "$logs/session-docs.out"
}

say "start ($device): $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2> /dev/null | head -1)"
python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)' 2> /dev/null ||
  /usr/bin/python3 -c 'import torch; print("torch", torch.__version__)'
for stage in "${STAGES[@]}"; do
  if has "$skip" "$stage"; then say "$stage: skipped"; continue; fi
  say "$stage"
  "stage_$stage"
done
say "end"
