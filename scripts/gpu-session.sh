#!/usr/bin/env bash
# One command on a lent GPU machine (bare, no registry, 16 cores; 9 minutes of wall time) that
# measures everything, in order of value, under one deadline: a stage that will not fit is
# skipped and says so, a failing stage never stops the later ones, and the docs stage always
# writes what was measured.
#
#   bash scripts/gpu-session.sh [--deadline SECONDS] [--parity-images FILE...] [--bench-image FILE]
#                               [--folder-images N] [--out DIR] [--skip STAGE,...] [--cpu] [--dry-run]
#
# --dry-run prints every stage's commands (the gpu-check.sh calls, in the order and grouping they
# would run) without running them, and what setup-cuda.sh finds here. --cpu rehearses the session
# on a machine without a GPU: the same stages and build path with gpu-check.sh --device cpu, the
# tiny model in fp32, into build-session-cpu/ and build-check-cpu/. --skip leaves stages out
# (e.g. --skip start,build,test to reuse a built build-session-cpu/ and its exports).
#
# The build is the user's: scripts/setup-cuda.sh in its registry-free mode (--prebuilt) with the
# kit carried in the ignored .device/ (SAM2AMG_PREBUILT: another folder). Also needed there:
# .device/sam2src (the sam2 source), .device/sam2-shim (hydra/iopath stand-ins) and photos in
# .device/photos (the bench image storm_2048x1536.jpg and the parity photos coffee_550x350.png and
# chelsea_260x195.png; without them the photos there: the first two for parity, the first one
# resized to 2048x1536 for the bench; Debian's python3-skimage package holds a few, e.g.
# `apt-get download python3-skimage && dpkg -x python3-skimage_*.deb x`, in x/usr/lib/python3/
# dist-packages/skimage/data). Stages (STAGES below):
#   start   build | reference extension | exports, side by side: t and l in fp32 (exact) and
#           bf16fast (bf16, fast decoder), then bf16 (exact) for comparison; s and b+ in fp32;
#   build   waits for the build, then builds what a failing target left out;
#   probe   the fused CUDA kernel's probe: its device test, SAM2AMG_TEST_DEVICE=cuda ctest -R
#           "On the test device" (fails naming the path when the ATen fallback ran);
#   test    the whole CUDA ctest beside the remaining exports (at most 150 s; the counts are
#           recorded, of the tests that finished where it is cut short);
#   bench   SAM 2.1-L at 2048x1536, bf16fast then fp32, each beside the reference in the same
#           run (ratio, syncs per image, paths), alone on the GPU;
#   folder  images/s over a folder of distinct images (made from the photos), bf16fast;
#   parity  fp32 rows the last session did not fit, bf16fast (and bf16) against the fp32
#           reference (mean IoU, images whose mask count changed), l fp32 re-checks; 10 at a time;
#   profile Nsight Compute over one image (kernel count, top kernels by GPU time);
#   docs    tables into docs/parity.md and docs/performance.md, figures into docs/gpu-notes.md,
#           and one archive of results and logs (to $OUT or --out).
# A new stage is a function stage_<name> and its name in STAGES.
# Figures from the first H100 session: build 105 s, exports 150 s, bench 70 s, parity 210 s.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
deadline=530 out_dir=${OUT:-} parity_images=() bench_image="" bench_source="" dry=0 cpu=0 skip="" folder_n=""
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --deadline) deadline=$2; shift 2 ;;
    --out) out_dir=$2; shift 2 ;;
    --parity-images) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do parity_images+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"); shift; done ;;
    --bench-image) bench_image=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --folder-images) folder_n=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    --cpu) cpu=1; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-session: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
STAGES=(start build probe test bench folder parity profile docs)

t0=$(date +%s)
elapsed() { echo $(( $(date +%s) - t0 )); }
left() { echo $(( deadline - $(elapsed) )); }
say() { echo "[$(elapsed) s] $*"; }
bounded() { local t=$1; shift; [ "$t" -lt 30 ] && t=30; timeout "$t" "$@"; }
has() { case ",$1," in *",$2,"*) return 0 ;; *) return 1 ;; esac; }
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }
reserve=30  # what the docs stage and the archive need at the end
# fits NAME NEED: enough time left for a stage that needs NEED seconds (else it says so).
fits() { [ "$(left)" -ge $(( $2 + reserve )) ] && return 0; say "$1: skipped, $(left) s left and it needs $2 (+ $reserve for docs)"; return 1; }

# What differs between the GPU session and its CPU rehearsal. A parity job is size:precision:family.
photos=$PWD/.device/photos
if [ $cpu = 1 ]; then
  device=cpu work=build-check-cpu build_dir=build-session-cpu
  sizes=(t) bench_size=t bench_precisions=fp32 bench_tag=small
  export_bound=$(( deadline - 200 )) bench_repeat=1 bench_warmup=0  # one CPU core or two make the tiny checkpoint in minutes
  precisions_of() { echo fp32; }
  compare_of() { :; }
  parity_jobs=(t:fp32:defaults t:fp32:keepall)
  folder_size=320x240 folder_n=${folder_n:-3} folder_bound=900
  [ ${#parity_images[@]} -eq 0 ] && parity_images=("$PWD/tests/data/images/shapes.png")
  [ -n "$bench_image" ] || bench_image=$PWD/tests/data/images/wide.png
  folder_sources=("$PWD"/tests/data/images/*.png)
else
  device=cuda work=build-check build_dir=build-gpu
  sizes=(t l s b+) bench_size=l bench_precisions=bf16fast,fp32 bench_tag=2048x1536
  export_bound=300 bench_repeat=5 bench_warmup=3
  precisions_of() { case $1 in t|l) echo fp32,bf16fast ;; *) echo fp32 ;; esac; }
  compare_of() { case $1 in t|l) echo bf16 ;; esac; }  # exported after the others, for comparison
  # In order of value: the fp32 rows the first session did not fit (docs/parity.md), bf16fast
  # against the fp32 reference, l fp32 re-checked through the CUDA kernel, the exact bf16 beside.
  parity_jobs=(t:fp32:keepall_crop1 t:fp32:m2m t:fp32:single t:fp32:minregion
               s:fp32:keepall_crop1 s:fp32:minregion b+:fp32:single b+:fp32:keepall_crop1 b+:fp32:minregion
               l:bf16fast:defaults l:bf16fast:keepall l:bf16fast:keepall_crop1 t:bf16fast:defaults t:bf16fast:keepall
               l:fp32:keepall l:fp32:keepall_crop1 l:fp32:defaults
               l:bf16:defaults l:bf16:keepall t:bf16:keepall l:bf16fast:m2m l:bf16fast:single l:bf16fast:minregion)
  folder_size=2048x1536 folder_n=${folder_n:-32} folder_bound=120
  # The photos of the first H100 run where .device/photos has them, else the photos it has: the
  # first two for parity, and a bench image made at 2048x1536 from the first (figures then not
  # comparable image for image with the earlier sessions', which the session's output says).
  mapfile -t have < <(find "$photos" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) \
                        2> /dev/null | sort)
  if [ ${#parity_images[@]} -eq 0 ]; then
    for p in coffee_550x350.png chelsea_260x195.png; do [ -f "$photos/$p" ] && parity_images+=("$photos/$p"); done
    [ ${#parity_images[@]} -eq 0 ] && parity_images=("${have[@]:0:2}")
  fi
  if [ -z "$bench_image" ]; then
    bench_image=$photos/storm_2048x1536.jpg
    [ -f "$bench_image" ] || [ ${#have[@]} -eq 0 ] || { bench_source=${have[0]}; bench_image=$PWD/$work/bench_2048x1536.jpg; }
  fi
  folder_sources=("$photos"/*.jpg "$photos"/*.png)
fi
export SAM2AMG_PREBUILT=${SAM2AMG_PREBUILT:-$PWD/.device}
logs=$work/logs
[ $dry = 1 ] && logs=$(mktemp -d)  # a dry run leaves a real session's logs alone
mkdir -p "$logs"
bin=$PWD/$build_dir/apps/sam2-amg/sam2-amg
gc=(bash scripts/gpu-check.sh --device "$device" --work "$work" --build-dir "$build_dir")
py=python3
python3 -c 'import PIL' 2> /dev/null || py=/usr/bin/python3
run() { "$@"; }  # what the dry run shows instead of running
if [ $dry = 1 ]; then
  exec 3>&1  # the commands are shown here, not in the logs their output goes to
  dry_check() { echo "  gpu-check.sh $*" >&3; echo "=== gpu-check [dry] done: 0 failure(s)"; }
  gc=(dry_check --device "$device" --work "$work" --build-dir "$build_dir")
  timeout() { shift; "$@"; }  # the stub is a shell function, which timeout cannot run
  cmake() { echo "  cmake $*" >&3; }
  run() { echo "  $*" >&3; }
else
  exec > >(tee "$logs/session.log") 2>&1  # this run's timeline, for the docs stage
fi
export PYTHONUNBUFFERED=1
export_file() { echo "$work/export/$1.$device.$2.pt"; }
# A size's exports are done when its export job said so (a file may exist while it is still being
# written and verified), or, with the start stage skipped, when an earlier session left them.
exported() {
  grep -q '=== gpu-check.*done' "$logs/session-export-$1.out" 2> /dev/null && return 0
  has "$skip" start || return 1
  local p; for p in $(precisions_of "$1" | tr , ' '); do [ -s "$(export_file "$1" "$p")" ] || return 1; done
}
all_exported() { local s; for s in "${sizes[@]}"; do exported "$s" || return 1; done; }
# One export ready for use: the size's own precisions, or a comparison one whose job said done.
export_ready() {
  case ",$(precisions_of "$1")," in *",$2,"*) exported "$1"; return ;; esac
  grep -q '=== gpu-check.*done' "$logs/session-export-$1-$2.out" 2> /dev/null ||
    { has "$skip" start && [ -s "$(export_file "$1" "$2")" ]; }
}
built=0
[ -x "$bin" ] && built=1  # a skipped build stage leaves an earlier build usable
build_pid="" ext_pid="" test_pid=""

stage_start() {
  bounded 330 "${gc[@]}" --stages build --out /tmp/gs-build > "$logs/session-build.out" 2>&1 & build_pid=$!
  bounded 300 "${gc[@]}" --stages ext --out /tmp/gs-ext > "$logs/session-ext.out" 2>&1 & ext_pid=$!
  local size
  for size in "${sizes[@]}"; do
    # One size's exports in turn (its checkpoint once), the comparison precision last.
    (
      bounded "$export_bound" "${gc[@]}" --stages export --sizes "$size" --precisions "$(precisions_of "$size")" \
        --out "/tmp/gs-export-$size" > "$logs/session-export-$size.out" 2>&1
      extra=$(compare_of "$size")
      if [ -n "$extra" ] && [ "$(elapsed)" -lt $(( export_bound - 40 )) ]; then
        bounded $(( export_bound - $(elapsed) )) "${gc[@]}" --stages export --sizes "$size" --precisions "$extra" \
          --out "/tmp/gs-export-$size-$extra" > "$logs/session-export-$size-$extra.out" 2>&1
      fi
    ) &
  done
}

stage_build() {
  [ -n "$build_pid" ] && { wait "$build_pid"; say "build: exit $?"; }
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

stage_probe() {
  [ $built = 1 ] && fits probe 20 || return 0
  bounded 60 "${gc[@]}" --stages probe --out /tmp/gs-probe > "$logs/session-probe.out" 2>&1
  say "probe: exit $?"
  grep -E 'tests passed|tests failed|cuda_stats_path|FAILED' "$logs/session-probe.out" | head -8
}

stage_test() {
  [ $built = 1 ] && fits test 60 || return 0
  # ctest's own bound is shorter, so that a cut-short run still records the tests that finished.
  local t; t=$(min 150 $(( $(left) - reserve - 150 )))
  bounded "$t" "${gc[@]}" --stages test --ctest-seconds $(( t > 50 ? t - 20 : 30 )) --out /tmp/gs-test \
    > "$logs/session-test.out" 2>&1 & test_pid=$!
  until exported "${sizes[1]:-${sizes[0]}}" || [ "$(left)" -lt 200 ]; do sleep 2; done
  grep -hE '^wrote|FAILED' "$logs"/session-export-*.out 2> /dev/null
  wait "$test_pid"; say "tests: exit $?"
  grep -E 'tests passed|tests failed|cut short|^#[0-9]' "$logs/session-test.out" | head -30
}

stage_bench() {
  [ $built = 1 ] || return 0
  until exported "$bench_size" || [ "$(left)" -lt 150 ]; do sleep 2; done
  fits bench 60 || return 0
  # Both precisions, each beside the reference in its own invocation (the ratio of that run).
  bounded "$(min 200 $(( $(left) - reserve )))" "${gc[@]}" --stages bench --bin "$bin" --sizes "$bench_size" \
    --precisions "$bench_precisions" --images "$bench_image" --repeat "$bench_repeat" --bench-tag "$bench_tag" \
    --bench-args "--warmup $bench_warmup" --out /tmp/gs-bench > "$logs/session-bench.out" 2>&1
  say "bench: exit $?"
  grep -E '^=== gpu-check.*bench|FAILED' "$logs/session-bench.out"
  # The figures, from each bench log (gpu-check shows only their tails).
  grep -E 'per image +p50|p50 time|images/s +[0-9.]+x|device waits|postprocess_kernel|decoder(_graph)?:' \
    "$work/logs/bench.$bench_size".*".$bench_tag.log" 2> /dev/null
}

stage_folder() {
  [ $built = 1 ] && fits folder 60 || return 0
  # Distinct images (crops and mirror images of the photos at one size), so that nothing is
  # cached between them; the bench's folder pass overlaps decode and write with the model.
  local dir=$work/folder
  run "$py" - "$dir" "$folder_n" "$folder_size" "${folder_sources[@]}" <<'EOF'
import os, sys
from PIL import Image, ImageOps
out, n, size, srcs = sys.argv[1], int(sys.argv[2]), sys.argv[3], [s for s in sys.argv[4:] if os.path.isfile(s)]
w, h = (int(v) for v in size.split("x"))
os.makedirs(out, exist_ok=True)
for name in os.listdir(out):
    os.remove(os.path.join(out, name))
for i in range(n):
    img = Image.open(srcs[i % len(srcs)]).convert("RGB")
    k = i // len(srcs)
    if k % 2:
        img = ImageOps.mirror(img)
    # a different crop each round: up to a fifth off the left/top, then the one size
    f = (k // 2) % 5 / 25.0
    img = img.crop((int(img.width * f), int(img.height * f), img.width, img.height)).resize((w, h), Image.BILINEAR)
    img.save(os.path.join(out, "img%03d.jpg" % i), quality=92)
print(f"folder: {n} images {w}x{h} from {len(srcs)} photos in {out}")
EOF
  local images=("$dir"/img*.jpg)
  [ $dry = 1 ] && images=("$dir/img000.jpg" "...")
  [ -e "${images[0]}" ] || [ $dry = 1 ] || { say "folder: skipped, no images made (photos in ${folder_sources[0]%/*}?)"; return 0; }
  bounded "$(min "$folder_bound" $(( $(left) - reserve )))" "${gc[@]}" --stages bench --no-reference --bin "$bin" \
    --sizes "$bench_size" --precisions "${bench_precisions%%,*}" --images "${images[@]}" --max-images "$folder_n" --repeat 1 \
    --bench-tag folder --bench-args "--warmup 1" --out /tmp/gs-folder > "$logs/session-folder.out" 2>&1
  say "folder: exit $?"
  grep -E 'FAILED' "$logs/session-folder.out"
  grep -E 'folder pass' "$work/logs/bench.$bench_size.${bench_precisions%%,*}.folder.log" 2> /dev/null
}

stage_parity() {
  [ $built = 1 ] || return 0
  [ -n "$ext_pid" ] && wait "$ext_pid"
  until all_exported || [ "$(left)" -lt 150 ]; do sleep 2; done
  fits parity 60 || return 0
  # At most 10 at a time (16 cores; SAM 2.1-L with a crop layer and all candidates kept needs
  # about 25 GB of GPU memory); a job whose export is missing is skipped and says so.
  local pids=() job size prec family
  for job in "${parity_jobs[@]}"; do
    IFS=: read -r size prec family <<< "$job"
    while [ "$(jobs -rp | wc -l)" -ge 10 ]; do sleep 1; done
    if [ "$(left)" -lt $(( reserve + 45 )) ]; then say "parity: $job and the rest not started, $(left) s left"; break; fi
    if [ $dry = 0 ] && ! { export_ready "$size" "$prec" && [ -s "$(export_file "$size" "$prec")" ]; }; then
      say "parity: $job skipped, no export"; continue
    fi
    bounded $(( $(left) - reserve )) "${gc[@]}" --stages parity --bin "$bin" --sizes "$size" \
      --parity-precisions "$prec" --families "$family" --images "${parity_images[@]}" \
      --out "/tmp/gs-parity-$size-$prec-$family" > "$logs/session-parity-$size-$prec-$family.out" 2>&1 & pids+=($!)
  done
  [ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
  say "parity done"
  grep -hE '=== gpu-check.*parity|matched_share|FAILED' "$logs"/session-parity-*.out 2> /dev/null | head -150
}

stage_profile() {
  [ $built = 1 ] && fits profile 60 || return 0
  local t; t=$(min 150 $(( $(left) - reserve - 15 )))
  bounded $(( t + 15 )) "${gc[@]}" --stages profile --bin "$bin" --sizes "$bench_size" \
    --precisions "${bench_precisions%%,*}" --images "$bench_image" --profile-seconds "$t" \
    --out /tmp/gs-profile > "$logs/session-profile.out" 2>&1
  say "profile: exit $?"
  grep -E '^\{|FAILED|ncu' "$logs/session-profile.out" | cut -c1-300 | head -5
}

stage_docs() {
  run mkdir -p "$work/results/session"
  run "$py" scripts/session_results.py stages --log "$logs/session.log" --json "$work/results/session/stages.json" \
    > /dev/null
  bounded 25 "${gc[@]}" --stages docs --images "${parity_images[@]}" ${out_dir:+--out "$out_dir"} \
    > "$logs/session-docs.out" 2>&1
  tail -3 "$logs/session-docs.out"
}

say "start ($device): $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2> /dev/null | head -1)"
[ ${#parity_images[@]} -gt 0 ] || say "no photos in $photos: parity and folder stages will have no images (see --help)"
if [ -n "$bench_source" ]; then
  say "bench image: made at 2048x1536 from ${bench_source##*/} (no storm_2048x1536.jpg in $photos)"
  run mkdir -p "$work"
  run "$py" -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").resize((2048, 1536), Image.BILINEAR).save(sys.argv[2], quality=92)' \
    "$bench_source" "$bench_image"
fi
python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)' 2> /dev/null ||
  /usr/bin/python3 -c 'import torch; print("torch", torch.__version__)'
for stage in "${STAGES[@]}"; do
  if has "$skip" "$stage"; then say "stage $stage: skipped (--skip)"; continue; fi
  say "stage $stage"
  "stage_$stage" || true  # a failed stage says so in its log; the next one runs regardless
done
say "end"
