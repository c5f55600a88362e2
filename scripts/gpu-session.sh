#!/usr/bin/env bash
# The GPU tooling in one script. One command on a lent GPU machine (bare, no registry, 16 cores;
# 9 minutes of wall time) that measures everything, in order of value, under one deadline: a
# stage that will not fit is skipped and says so, a failing stage never stops the later ones, and
# the docs stage always writes what was measured.
#
#   bash scripts/gpu-session.sh [--deadline SECONDS] [--parity-images FILE...] [--bench-image FILE]
#                               [--folder-images N] [--out DIR] [--skip STAGE,...] [--cpu] [--dry-run]
#   bash scripts/gpu-session.sh [--cpu] --job JOB [JOB OPTIONS]
#
# --dry-run prints every stage's commands (the jobs it runs, in the order and grouping they would
# run) without running them, and what setup-cuda.sh finds here. --cpu rehearses the session on a
# machine without a GPU: the same stages, jobs and build path on the CPU, the tiny model in fp32,
# into build-session-cpu/ and build-check-cpu/. --skip leaves stages out (e.g. --skip
# start,build,test to reuse a built build-session-cpu/ and its exports).
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
#
# Jobs: what the stages run, each in a process of its own under the stage's bound (the script
# runs itself with --job); by hand, e.g. every parameter family on the CPU: --cpu --job build,
# then --cpu --job export, then --cpu --job parity. Results accumulate in the work folder
# (build-check/, build-check-cpu/ with --cpu); each job ends with "=== job [time] done: N
# failure(s)" and exits 1 after a failure. A new job is a function job_<name> and its name in JOBS.
#   build    scripts/setup-cuda.sh --tests, with the prebuilt kit (the static OpenCV tarball:
#            $SAM2AMG_PREBUILT; on cuda also .device/, shared/device/) else --no-install;
#   ext      the reference's sam2._C (connected components, CUDA only) in a copy of the sam2
#            source in the work folder (parity builds it when missing);
#   export   seeded checkpoints (scripts/make_test_checkpoint.py: decoder output layers scaled so
#            that masks and scores vary like a trained model's; on the CPU) and their exports; a
#            precision ending in "fast" (bf16fast) is that precision with export_sam2.py --decoder fast;
#   probe    the kernel probe's device test; test: ctest (counts into results/session/, the first
#            crashed test's backtrace);
#   parity   compare_reference.py per size, precision and family;
#   bench    sam2-amg bench beside the reference in the same invocation (--reference);
#   profile  ncu over one image; docs: the tables (scripts/gpu_check_report.py), and with $OUT
#            (or --out) the docs and one archive of results and logs copied there.
# On the CPU a job defaults to tiny, one image, points_per_side 8, parity in fp32.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
repo=$PWD
deadline=530 out_dir=${OUT:-} parity_images=() bench_image="" bench_source="" dry=0 cpu=0 skip="" folder_n=""
job="" sizes="" precisions="" parity_precisions="" families="" images=() max_images="" pps="" repeat=""
bin="" bin_given=0 build_dir="" work="" python_bin="" sam2_src="" shim="" bench_args="" bench_tag="" seed=0
matmul_tf32=off cudnn_tf32=default min_region=100 reference=1 profile_seconds=120 notes_doc=docs/gpu-notes.md
ctest_seconds=0
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; cat <<'EOF'
Job options:
  --sizes LIST              t,s,b+,l (default: all on cuda, t on cpu)
  --precisions LIST         exports to make and bench (default fp32,bf16; bf16fast: bf16, fast decoder)
  --parity-precisions LIST  exports compared with the reference (default fp32,bf16 on cuda, fp32 on cpu)
  --families LIST           defaults,keepall,keepall_crop1,m2m,single,minregion (default: all)
  --images FILE...          images (ends at the next --option; default .device/photos/* or tests/data/images/*)
  --max-images N            use at most N of them (default: all on cuda, 1 on cpu)
  --points-per-side N       grid for parity and bench (default 32 on cuda, 8 on cpu)
  --repeat N                timed passes in the bench (default 3 on cuda, 1 on cpu)
  --min-region-area A       min_mask_region_area of the minregion family (default 100)
  --matmul-tf32 on|off      the reference's matmul TF32 (default off)
  --cudnn-tf32 on|off|default  cuDNN TF32 traced into the exports (default: PyTorch's, recorded)
  --bin PATH                the sam2-amg binary (default: the build folder's)
  --build-dir DIR           build folder (default build-gpu on cuda, build-session-cpu on cpu)
  --work DIR                checkpoints, exports, results (default build-check, build-check-cpu on cpu)
  --python PY               Python with torch (default: python3, else /usr/bin/python3)
  --sam2-src DIR            folder holding the sam2 package (default .device/sam2src or .ref/sam2src)
  --shim DIR                hydra/omegaconf/iopath stand-ins (default .device/sam2-shim)
  --seed N                  the checkpoints' seed (default 0)
  --bench-args "ARGS"       extra arguments for sam2-amg bench
  --bench-tag NAME          suffix of this bench run's result files (keeps runs over other images apart)
  --no-reference            bench sam2-amg alone (e.g. a folder pass), without the reference beside it
  --profile-seconds S       bound of the profile job's ncu run (default 120)
  --ctest-seconds S         bound of the test job's ctest (default none); cut short, its result
                            counts the tests that finished
  --notes-doc FILE          where the docs job writes the session's figures (default docs/gpu-notes.md)
EOF
}
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
    --job) job=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --precisions) precisions=$2; shift 2 ;;
    --parity-precisions) parity_precisions=$2; shift 2 ;;
    --families) families=$2; shift 2 ;;
    --images) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do images+=("$1"); shift; done ;;
    --max-images) max_images=$2; shift 2 ;;
    --points-per-side) pps=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --min-region-area) min_region=$2; shift 2 ;;
    --matmul-tf32) matmul_tf32=$2; shift 2 ;;
    --cudnn-tf32) cudnn_tf32=$2; shift 2 ;;
    --bin) bin=$2 bin_given=1; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --python) python_bin=$2; shift 2 ;;
    --sam2-src) sam2_src=$2; shift 2 ;;
    --shim) shim=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --bench-args) bench_args=$2; shift 2 ;;
    --bench-tag) bench_tag=$2; shift 2 ;;
    --no-reference) reference=0; shift ;;
    --profile-seconds) profile_seconds=$2; shift 2 ;;
    --ctest-seconds) ctest_seconds=$2; shift 2 ;;
    --notes-doc) notes_doc=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-session: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
STAGES=(start build probe test bench folder parity profile docs)
JOBS=(build ext export probe test parity bench profile docs)
has() { case ",$1," in *",$2,"*) return 0 ;; *) return 1 ;; esac; }

# What differs between the GPU and the CPU: the jobs' defaults here, the session's below.
if [ $cpu = 1 ]; then
  device=cpu
  : "${work:=build-check-cpu}" "${build_dir:=build-session-cpu}"
  : "${sizes:=t}" "${parity_precisions:=fp32}" "${pps:=8}" "${repeat:=1}" "${max_images:=1}"
else
  device=cuda
  : "${work:=build-check}" "${build_dir:=build-gpu}"
  : "${sizes:=t,s,b+,l}" "${parity_precisions:=fp32,bf16}" "${pps:=32}" "${repeat:=3}"
fi
: "${precisions:=fp32,bf16}" "${families:=defaults,keepall,keepall_crop1,m2m,single,minregion}"
: "${bin:=$build_dir/apps/sam2-amg/sam2-amg}"
export_file() { echo "$work/export/$1.$device.$2.pt"; }

# --- jobs ----------------------------------------------------------------------------------------
log() { printf '\n=== job [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
failures=()
fail() { failures+=("$*"); echo "gpu-session: FAILED: $*" >&2; }
ckpt() { echo "$work/ckpt/$1.seed$seed.pt"; }

# Python with torch, the sam2 source and its stand-ins; the work folder's layout.
job_setup() {
  if [ -z "$python_bin" ]; then
    for py in python3 /usr/bin/python3; do
      if command -v "$py" > /dev/null && "$py" -c 'import torch' 2> /dev/null; then python_bin=$py; break; fi
    done
  fi
  if [ -z "$sam2_src" ]; then
    for d in .device/sam2src .ref/sam2src; do [ -d "$d/sam2" ] && { sam2_src=$d; break; }; done
  fi
  : "${shim:=.device/sam2-shim}"
  mkdir -p "$work"/{ckpt,export,params,results/parity,results/bench,results/session,logs}
  work=$(cd "$work" && pwd)
  ref_src=${sam2_src:+$(cd "$sam2_src" && pwd)}
  cc_status="not needed"
  if [ ${#images[@]} -eq 0 ]; then
    if [ -d .device/photos ]; then
      mapfile -t images < <(find .device/photos -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort)
    else
      mapfile -t images < <(ls tests/data/images/*.png)
    fi
  fi
  [ -n "$max_images" ] && images=("${images[@]:0:$max_images}")
  for i in "${!images[@]}"; do images[$i]=$(cd "$(dirname "${images[$i]}")" && pwd)/$(basename "${images[$i]}"); done
  bin=$(cd "$(dirname "$bin")" 2> /dev/null && pwd)/$(basename "$bin")
}

# On CUDA the reference needs sam2._C for min_mask_region_area; it is built into a copy of the
# sam2 source inside the work folder so the carried source stays untouched.
build_sam2_ext() {
  [ "$device" = cuda ] || { cc_status="CPU: the reference skips hole filling (sam2._C is CUDA only)"; return; }
  if [ -e "$work/sam2src/sam2/_C.so" ]; then ref_src=$work/sam2src; cc_status="sam2._C built"; return; fi
  # A failed build is not retried by every later (possibly parallel) job of the same work folder.
  if [ -e "$work/logs/sam2_ext.failed" ]; then
    cc_status="sam2._C NOT built (see $work/logs/sam2_ext.log); the reference skips hole filling"; return
  fi
  if ! command -v nvcc > /dev/null && [ ! -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
    cc_status="sam2._C NOT built: no nvcc on this machine; the reference skips hole filling"
    echo "gpu-session: $cc_status" >&2; return
  fi
  rm -rf "$work/sam2src" && cp -r "$ref_src" "$work/sam2src"
  log "building sam2._C (connected components) with torch.utils.cpp_extension"
  if "$python_bin" - "$work/sam2src" > "$work/logs/sam2_ext.log" 2>&1 <<'EOF'
import os, shutil, sys
from torch.utils.cpp_extension import load
src = sys.argv[1]
build = os.path.join(src, "build-ext")
os.makedirs(build, exist_ok=True)
mod = load(name="_C", sources=[os.path.join(src, "sam2", "csrc", "connected_components.cu")],
           extra_cuda_cflags=["-DCUDA_HAS_FP16=1", "-D__CUDA_NO_HALF_OPERATORS__",
                              "-D__CUDA_NO_HALF_CONVERSIONS__", "-D__CUDA_NO_HALF2_OPERATORS__"],
           build_directory=build, verbose=False)
shutil.copy(mod.__file__, os.path.join(src, "sam2", "_C.so"))
EOF
  then
    ref_src=$work/sam2src; cc_status="sam2._C built"
  else
    cc_status="sam2._C NOT built (see $work/logs/sam2_ext.log); the reference skips hole filling"
    touch "$work/logs/sam2_ext.failed"
    echo "gpu-session: $cc_status" >&2; tail -5 "$work/logs/sam2_ext.log" >&2
  fi
}
pypath() { echo "$ref_src:$(cd "$shim" 2> /dev/null && pwd)"; }
need_python() {
  [ -n "$python_bin" ] || { fail "no Python with torch (use --python)"; return 1; }
  [ -n "$ref_src" ] || { fail "no sam2 source (use --sam2-src)"; return 1; }
  [ -d "$shim" ] || echo "gpu-session: note: no $shim; sam2 must import hydra/iopath on its own" >&2
}

job_ext() {
  need_python || return 0
  build_sam2_ext
  echo "gpu-session: reference connected components: $cc_status"
}

job_build() {
  [ $bin_given = 1 ] && [ -x "$bin" ] && { echo "gpu-session: build: skipped, using $bin"; return; }
  log "build ($device) into $build_dir"
  # The user's path, scripts/setup-cuda.sh, installing nothing: in its registry-free mode with
  # the prebuilt kit (the static OpenCV tarball) when one is found ($SAM2AMG_PREBUILT; on cuda
  # also .device/, shared/device/, ../shared/device/), else against the system's libraries.
  local kits=("${SAM2AMG_PREBUILT:-}") kit="" d
  [ "$device" = cuda ] && kits+=(.device shared/device ../shared/device)
  for d in "${kits[@]}"; do
    [ -n "$d" ] && compgen -G "$d/opencv-*.tar.*" > /dev/null && { kit=$d; break; }
  done
  local setup_cmd=(bash scripts/setup-cuda.sh --tests --build-dir "$build_dir" ${python_bin:+--python "$python_bin"})
  if [ -n "$kit" ]; then setup_cmd+=(--prebuilt "$kit"); else setup_cmd+=(--no-install); fi
  echo "gpu-session: ${setup_cmd[*]}"
  "${setup_cmd[@]}" > "$work/logs/build.log" 2>&1 || fail "build (see $work/logs/build.log)"
  grep -E '^setup-cuda: (LibTorch|no CUDA|CUDA toolkit|GPU|prebuilt|error)' "$work/logs/build.log"
  tail -3 "$work/logs/build.log"
}

# A ctest log's counts (and the lines matching the --grep patterns) as results/session/NAME.json.
ctest_result() {
  local name=$1 rc=$2; shift 2
  "${python_bin:-python3}" scripts/session_results.py ctest "$work/logs/$name.log" --exit "$rc" "$@" \
    --json "$work/results/session/$name.json" > /dev/null || fail "$name: no summary"
}
no_ctest() { [ -f "$build_dir/CTestTestfile.cmake" ] && return 1; echo "gpu-session: $1: $build_dir has no ctest files (build it first)" >&2; }

job_probe() {
  no_ctest probe && return 0
  # The fused CUDA kernel's probe runs at first use; this device test fails, naming the path
  # that ran (cuda_stats_path), when the probe chose the ATen fallback.
  log "kernel probe: ctest -R 'On the test device' in $build_dir (SAM2AMG_TEST_DEVICE=$device)"
  local rc
  (cd "$build_dir" && SAM2AMG_TEST_DEVICE=$device ctest -R "On the test device" --timeout 300 --output-on-failure \
    > "$work/logs/probe.log" 2>&1); rc=$?
  ctest_result probe "$rc" --grep 'cuda_stats_path' --grep 'probe' --grep '(tests passed|tests failed)'
  grep -E 'tests passed|tests failed|cuda_stats_path|probe' "$work/logs/probe.log" | head -8
  [ "$rc" = 0 ] || fail "kernel probe test (see $work/logs/probe.log)"
}

job_test() {
  no_ctest test && return 0
  log "ctest in $build_dir (SAM2AMG_TEST_DEVICE=$device)"
  local rc crashed debugger cmd
  (cd "$build_dir" && SAM2AMG_TEST_DEVICE=$device timeout "$ctest_seconds" ctest -j "$(nproc)" --timeout 600 \
    --output-on-failure > "$work/logs/ctest.log" 2>&1); rc=$?
  [ "$rc" = 0 ] || fail "ctest (see $work/logs/ctest.log)"
  ctest_result ctest "$rc"
  [ "$rc" = 124 ] && echo "gpu-session: ctest cut short after --ctest-seconds $ctest_seconds; results/session/ctest.json counts the tests that finished"
  grep -E 'tests passed|tests failed|\*\*\*(Failed|Skipped|Timeout|Exception)' "$work/logs/ctest.log" | tail -20
  # A crashed test: its backtrace, so that one GPU session is enough to see where (cuda-gdb also
  # debugs host code; gdb may be missing on a GPU machine).
  crashed=$(grep -m1 -oE 'Test +#[0-9]+: .* \.\.\.+\*\*\*Exception' "$work/logs/ctest.log" | sed -E 's/Test +#[0-9]+: (.*) \.\.\.+.*/\1/')
  debugger=$(command -v gdb || command -v cuda-gdb || true)
  if [ -n "$crashed" ] && [ -n "$debugger" ]; then
    cmd=$(cd "$build_dir" && ctest -N -V -R "^${crashed//[\[\]().*+?^$|]/.}\$" 2> /dev/null | sed -n 's/^[0-9]*: Test command: //p' | head -1)
    log "backtrace of the first crashed test: $crashed"
    # The command line is ctest's, with its quoting: eval keeps each quoted test name whole.
    (cd "$build_dir" && eval "SAM2AMG_TEST_DEVICE=$device timeout 120 $debugger -batch -ex run -ex bt \
      -ex 'info sharedlibrary' --args $cmd" > "$work/logs/ctest.backtrace.log" 2>&1)
    grep -E '^#[0-9]+' "$work/logs/ctest.backtrace.log" | head -25
  fi
}

job_export() {
  need_python || return 0
  local size prec f decoder
  for size in ${sizes//,/ }; do
    if [ ! -s "$(ckpt "$size")" ]; then
      log "checkpoint $size (seed $seed, scaled decoder, CPU)"
      PYTHONPATH=$(pypath) "$python_bin" scripts/make_test_checkpoint.py --config "$size" --seed "$seed" \
        --out "$(ckpt "$size")" 2> "$work/logs/ckpt.$size.log" | tee -a "$work/logs/ckpt.$size.log" ||
        { fail "checkpoint $size (see $work/logs/ckpt.$size.log)"; continue; }
    fi
    for prec in ${precisions//,/ }; do
      f=$(export_file "$size" "$prec")
      [ -s "$f" ] && continue
      log "export $size $prec on $device"
      decoder=exact
      case "$prec" in *fast) decoder=fast ;; esac
      PYTHONPATH=$(pypath) "$python_bin" scripts/export_sam2.py --checkpoint "$(ckpt "$size")" --config "$size" \
        --device "$device" --precision "${prec%fast}" --decoder "$decoder" --cudnn-tf32 "$cudnn_tf32" --out "$f" \
        > "$work/logs/export.$size.$prec.log" 2>&1 || { rm -f "$f"; fail "export $size $prec"; }
      grep -E '^wrote|Error|error' "$work/logs/export.$size.$prec.log" | tail -3
    done
  done
}

family_yaml() {
  local f=$work/params/$1.pps$pps.yaml
  {
    echo "points_per_side: $pps"
    case "$1" in
      defaults) ;;
      keepall) printf 'pred_iou_thresh: 0.0\nstability_score_thresh: 0.0\nbox_nms_thresh: 1.0\n' ;;
      keepall_crop1) printf 'pred_iou_thresh: 0.0\nstability_score_thresh: 0.0\nbox_nms_thresh: 1.0\ncrop_n_layers: 1\n' ;;
      m2m) echo "use_m2m: true" ;;
      single) echo "multimask_output: false" ;;
      minregion) echo "min_mask_region_area: $min_region" ;;
      *) echo "gpu-session: unknown family $1" >&2; return 1 ;;
    esac
  } > "$f"
  echo "$f"
}

job_parity() {
  need_python || return 0
  build_sam2_ext
  echo "gpu-session: reference connected components: $cc_status"
  [ -x "$bin" ] || fail "parity: no sam2-amg binary at $bin"
  local size prec fam model yaml res
  for size in ${sizes//,/ }; do
    for prec in ${parity_precisions//,/ }; do
      model=$(export_file "$size" "$prec")
      [ -s "$model" ] || { fail "parity $size $prec: no export (run the export job)"; continue; }
      for fam in ${families//,/ }; do
        yaml=$(family_yaml "$fam") || continue
        res=$work/results/parity/$size.$prec.$fam.json
        log "parity $size $prec $fam (${#images[@]} images, points_per_side $pps)"
        if ! PYTHONPATH=$(pypath) "$python_bin" scripts/compare_reference.py --checkpoint "$(ckpt "$size")" \
             --config "$size" --model "$model" --amg-config "$yaml" --images "${images[@]}" --device "$device" \
             --sam2-amg "$bin" --matmul-tf32 "$matmul_tf32" --json "$res" > "$work/logs/parity.$size.$prec.$fam.log" 2>&1; then
          fail "parity $size $prec $fam (see $work/logs/parity.$size.$prec.$fam.log)"
          printf '{"error": %s}\n' "$("$python_bin" -c 'import json,sys; print(json.dumps(sys.stdin.read()[-300:]))' \
            < "$work/logs/parity.$size.$prec.$fam.log")" > "$res"
        fi
        grep -E 'matched at|"(reference|sam2_amg)_matched_share"' "$work/logs/parity.$size.$prec.$fam.log" | tail -4
      done
    done
  done
}

# sam2-amg bench runs the reference itself (--reference), so both are timed in the same invocation
# and the reference alone runs only when the binary has no bench. --bench-tag names a run (e.g.
# "big" and "folder") so that runs over other images keep their own result files.
job_bench() {
  need_python || return 0
  local yaml tag size prec model ref_cmd ref_args
  yaml=$(family_yaml defaults)
  tag=${bench_tag:+.$bench_tag}
  for size in ${sizes//,/ }; do
    [ -s "$(ckpt "$size")" ] || { fail "bench $size: no checkpoint (run the export job)"; continue; }
    ref_cmd="env PYTHONPATH=$(pypath) $python_bin $repo/scripts/bench_reference.py --checkpoint $(ckpt "$size") --config $size --device $device"
    # (The help is read whole first: grep -q leaving early would fail the pipe under pipefail.)
    if [ ! -x "$bin" ] || ! grep -qE '^[[:space:]]+bench([[:space:]]|$)' <<< "$("$bin" --help 2>&1)"; then
      log "bench: reference $size fp32 alone (${#images[@]} images, points_per_side $pps, repeat $repeat)"
      $ref_cmd --repeat "$repeat" --amg-config "$yaml" --images "${images[@]}" --json "$work/results/bench/$size.reference.fp32$tag.json" \
        > "$work/logs/bench.$size.reference$tag.log" 2>&1 || fail "bench reference $size (see $work/logs/bench.$size.reference$tag.log)"
      grep '^reference:' "$work/logs/bench.$size.reference$tag.log"
      echo "gpu-session: sam2-amg has no bench subcommand; only the reference was measured"
      continue
    fi
    ref_args=(--reference "$ref_cmd")
    [ "$reference" = 1 ] || ref_args=()
    for prec in ${precisions//,/ }; do
      model=$(export_file "$size" "$prec")
      [ -s "$model" ] || { fail "bench $size $prec: no export (run the export job)"; continue; }
      log "bench: sam2-amg $size $prec ${ref_args:+against the reference }(${#images[@]} images, points_per_side $pps, repeat $repeat)"
      # shellcheck disable=SC2086
      "$bin" bench -c "$yaml" -m "$model" --device "$device" "${ref_args[@]}" --repeat "$repeat" \
        --bench-json "$work/results/bench/$size.sam2-amg.$prec$tag.json" $bench_args --input "${images[@]}" \
        > "$work/logs/bench.$size.$prec$tag.log" 2>&1 || fail "bench sam2-amg $size $prec (see $work/logs/bench.$size.$prec$tag.log)"
      tail -12 "$work/logs/bench.$size.$prec$tag.log"
    done
  done
}

# Nsight Compute over one image (the first of --images, the first size and precision): every
# kernel launch with its GPU time only (one metric, no cache flush, the GPU's own clocks), so the
# run stays near real time. Where the bound cuts it short, the log still names each launch.
job_profile() {
  local ncu_bin c size prec model rep cmd rc
  ncu_bin=$(command -v ncu)
  for c in /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu; do
    [ -z "$ncu_bin" ] && [ -x "$c" ] && ncu_bin=$c
  done
  size=${sizes%%,*} prec=${precisions%%,*}
  model=$(export_file "$size" "$prec")
  rep=$work/logs/profile.$size.$prec
  cmd=("$bin" -c "$(family_yaml defaults)" -m "$model" --device "$device" --input "${images[0]}"
       --jsonl "$rep.jsonl" --overwrite)
  rm -f "$rep".{ncu-rep,csv,log,jsonl}
  if [ -z "$ncu_bin" ]; then
    echo "ncu: not found on this machine" > "$rep.log"; rc=127
    echo "gpu-session: profile: no ncu here; the result says so" >&2
  elif [ ! -s "$model" ] || [ ! -x "$bin" ]; then
    echo "no export $model or no binary $bin" > "$rep.log"; rc=2
    fail "profile: no export or binary (run the export and build jobs)"
  else
    log "profile: ncu over sam2-amg $size $prec on $(basename "${images[0]}") (at most $profile_seconds s)"
    # SIGINT first: ncu then ends the application and may still write its report.
    timeout -s INT -k 20 "$profile_seconds" "$ncu_bin" --metrics gpu__time_duration.sum --cache-control none \
      --clock-control none -f -o "$rep" "${cmd[@]}" > "$rep.log" 2>&1; rc=$?
    if [ -s "$rep.ncu-rep" ]; then
      "$ncu_bin" --import "$rep.ncu-rep" --csv --page raw --print-units base > "$rep.csv" 2>> "$rep.log"
    fi
  fi
  "${python_bin:-python3}" scripts/session_results.py ncu --log "$rep.log" --csv "$rep.csv" --exit "$rc" \
    --command "ncu --metrics gpu__time_duration.sum ${cmd[*]}" --json "$work/results/session/profile.json" \
    | cut -c1-300 || fail "profile: no summary"
}

job_docs() {
  local gpu cpu_name tv setup
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2> /dev/null | head -1)
  cpu_name=$(grep -m1 'model name' /proc/cpuinfo 2> /dev/null | cut -d: -f2 | sed 's/^ *//')
  tv=$("${python_bin:-python3}" -c 'import torch; print(torch.__version__)' 2> /dev/null)
  [ -e "$work/sam2src/sam2/_C.so" ] && cc_status="sam2._C built"
  setup="Machine: ${gpu:-no GPU}; ${cpu_name:-unknown CPU}, $(nproc) cores; PyTorch $tv. Images: ${#images[@]} ($(for i in "${images[@]}"; do basename "$i"; done | paste -sd, - | sed 's/,/, /g')); points_per_side $pps; seeded checkpoints (seed $seed, scripts/make_test_checkpoint.py). Reference connected components: $cc_status."
  log "docs: tables into docs/parity.md and docs/performance.md, the session's figures into $notes_doc"
  "${python_bin:-python3}" scripts/gpu_check_report.py --results "$work/results" --device "$device" \
    --parity-doc docs/parity.md --performance-doc docs/performance.md --notes-doc "$notes_doc" \
    --setup "$setup" || fail "docs"
  if [ -n "$out_dir" ]; then
    mkdir -p "$out_dir/gpu-session"
    cp docs/parity.md docs/performance.md "$notes_doc" "$out_dir/gpu-session/" 2> /dev/null
    # One archive: a device tool may bring back only a few files, none deeply nested.
    # (Without ncu's binary report: the CSV beside it holds what the docs use.)
    tar -C "$work" --exclude='*.ncu-rep' -czf "$out_dir/gpu-session/results-logs.tgz" results logs 2> /dev/null
  fi
}

if [ -n "$job" ]; then
  case " ${JOBS[*]} " in *" $job "*) ;; *) echo "gpu-session: --job must be one of ${JOBS[*]}" >&2; exit 2 ;; esac
  job_setup
  "job_$job"
  log "done: ${#failures[@]} failure(s)"
  for f in "${failures[@]}"; do echo "  - $f"; done
  [ ${#failures[@]} -eq 0 ]
  exit
fi

# --- the session ---------------------------------------------------------------------------------
t0=$(date +%s)
elapsed() { echo $(( $(date +%s) - t0 )); }
left() { echo $(( deadline - $(elapsed) )); }
say() { echo "[$(elapsed) s] $*"; }
bounded() { local t=$1; shift; [ "$t" -lt 30 ] && t=30; timeout "$t" "$@"; }
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }
reserve=30  # what the docs stage and the archive need at the end
# fits NAME NEED: enough time left for a stage that needs NEED seconds (else it says so).
fits() { [ "$(left)" -ge $(( $2 + reserve )) ] && return 0; say "$1: skipped, $(left) s left and it needs $2 (+ $reserve for docs)"; return 1; }

# The session's plan on the GPU and in its CPU rehearsal. A parity job is size:precision:family.
photos=$PWD/.device/photos
if [ $cpu = 1 ]; then
  session_sizes=(t) bench_size=t bench_precisions=fp32 session_bench_tag=small
  export_bound=$(( deadline - 200 )) bench_repeat=1 bench_warmup=0  # one CPU core or two make the tiny checkpoint in minutes
  precisions_of() { echo fp32; }
  compare_of() { :; }
  parity_jobs=(t:fp32:defaults t:fp32:keepall)
  folder_size=320x240 folder_n=${folder_n:-3} folder_bound=900
  [ ${#parity_images[@]} -eq 0 ] && parity_images=("$PWD/tests/data/images/shapes.png")
  [ -n "$bench_image" ] || bench_image=$PWD/tests/data/images/wide.png
  folder_sources=("$PWD"/tests/data/images/*.png)
else
  session_sizes=(t l s b+) bench_size=l bench_precisions=bf16fast,fp32 session_bench_tag=2048x1536
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
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
# Each job in a process of its own (its bound, its log), in the session's mode and folders.
jobs_cmd=(bash scripts/gpu-session.sh)
py=python3
python3 -c 'import PIL' 2> /dev/null || py=/usr/bin/python3
run() { "$@"; }  # what the dry run shows instead of running
if [ $dry = 1 ]; then
  exec 3>&1  # the commands are shown here, not in the logs their output goes to
  dry_job() { echo "  gpu-session.sh $*" >&3; echo "=== job [dry] done: 0 failure(s)"; }
  jobs_cmd=(dry_job)
  timeout() { shift; "$@"; }  # the stub is a shell function, which timeout cannot run
  cmake() { echo "  cmake $*" >&3; }
  run() { echo "  $*" >&3; }
else
  exec > >(tee "$logs/session.log") 2>&1  # this run's timeline, for the docs stage
fi
[ $cpu = 1 ] && jobs_cmd+=(--cpu)
export PYTHONUNBUFFERED=1
# A size's exports are done when its export job said so (a file may exist while it is still being
# written and verified), or, with the start stage skipped, when an earlier session left them.
exported() {
  grep -q '=== job.*done' "$logs/session-export-$1.out" 2> /dev/null && return 0
  has "$skip" start || return 1
  local p; for p in $(precisions_of "$1" | tr , ' '); do [ -s "$(export_file "$1" "$p")" ] || return 1; done
}
all_exported() { local s; for s in "${session_sizes[@]}"; do exported "$s" || return 1; done; }
# One export ready for use: the size's own precisions, or a comparison one whose job said done.
export_ready() {
  case ",$(precisions_of "$1")," in *",$2,"*) exported "$1"; return ;; esac
  grep -q '=== job.*done' "$logs/session-export-$1-$2.out" 2> /dev/null ||
    { has "$skip" start && [ -s "$(export_file "$1" "$2")" ]; }
}
built=0
[ -x "$bin" ] && built=1  # a skipped build stage leaves an earlier build usable
build_pid="" ext_pid="" test_pid=""

stage_start() {
  bounded 330 "${jobs_cmd[@]}" --job build > "$logs/session-build.out" 2>&1 & build_pid=$!
  bounded 300 "${jobs_cmd[@]}" --job ext > "$logs/session-ext.out" 2>&1 & ext_pid=$!
  local size
  for size in "${session_sizes[@]}"; do
    # One size's exports in turn (its checkpoint once), the comparison precision last.
    (
      bounded "$export_bound" "${jobs_cmd[@]}" --job export --sizes "$size" --precisions "$(precisions_of "$size")" \
        > "$logs/session-export-$size.out" 2>&1
      extra=$(compare_of "$size")
      if [ -n "$extra" ] && [ "$(elapsed)" -lt $(( export_bound - 40 )) ]; then
        bounded $(( export_bound - $(elapsed) )) "${jobs_cmd[@]}" --job export --sizes "$size" --precisions "$extra" \
          > "$logs/session-export-$size-$extra.out" 2>&1
      fi
    ) &
  done
}

stage_build() {
  [ -n "$build_pid" ] && { wait "$build_pid"; say "build: exit $?"; }
  # The dry run checks what the build would find here (LibTorch, ABI, CUDA toolkit, the kit).
  [ $dry = 1 ] && bash scripts/setup-cuda.sh --dry-run --tests --prebuilt "$SAM2AMG_PREBUILT" --build-dir "$build_dir" 2>&1 |
    sed 's/^/  /'

  grep -hE '^(gpu-session: bash scripts/setup-cuda|setup-cuda: (LibTorch|no CUDA|CUDA toolkit|GPU|prebuilt|error))' \
    "$logs/session-build.out" 2> /dev/null
  # A test file that fails to compile must not keep the other targets from being built.
  cmake --build "$build_dir" -j "$(nproc)" -- -k 0 > "$logs/session-build-rest.log" 2>&1
  grep -hE 'error:' "$logs/build.log" "$logs/session-build-rest.log" 2> /dev/null | head -10
  { [ -x "$bin" ] || [ $dry = 1 ]; } && built=1
  [ $built = 1 ] || say "no binary at $bin: the stages that need it are skipped"
}

stage_probe() {
  [ $built = 1 ] && fits probe 20 || return 0
  bounded 60 "${jobs_cmd[@]}" --job probe > "$logs/session-probe.out" 2>&1
  say "probe: exit $?"
  grep -E 'tests passed|tests failed|cuda_stats_path|FAILED' "$logs/session-probe.out" | head -8
}

stage_test() {
  [ $built = 1 ] && fits test 60 || return 0
  # ctest's own bound is shorter, so that a cut-short run still records the tests that finished.
  local t; t=$(min 150 $(( $(left) - reserve - 150 )))
  bounded "$t" "${jobs_cmd[@]}" --job test --ctest-seconds $(( t > 50 ? t - 20 : 30 )) \
    > "$logs/session-test.out" 2>&1 & test_pid=$!
  until exported "${session_sizes[1]:-${session_sizes[0]}}" || [ "$(left)" -lt 200 ]; do sleep 2; done
  grep -hE '^wrote|FAILED' "$logs"/session-export-*.out 2> /dev/null
  wait "$test_pid"; say "tests: exit $?"
  grep -E 'tests passed|tests failed|cut short|^#[0-9]' "$logs/session-test.out" | head -30
}

stage_bench() {
  [ $built = 1 ] || return 0
  until exported "$bench_size" || [ "$(left)" -lt 150 ]; do sleep 2; done
  fits bench 60 || return 0
  # Both precisions, each beside the reference in its own invocation (the ratio of that run).
  bounded "$(min 200 $(( $(left) - reserve )))" "${jobs_cmd[@]}" --job bench --bin "$bin" --sizes "$bench_size" \
    --precisions "$bench_precisions" --images "$bench_image" --repeat "$bench_repeat" --bench-tag "$session_bench_tag" \
    --bench-args "--warmup $bench_warmup" > "$logs/session-bench.out" 2>&1
  say "bench: exit $?"
  grep -E '^=== job.*bench|FAILED' "$logs/session-bench.out"
  # The figures, from each bench log (the job shows only their tails).
  grep -E 'per image +p50|p50 time|images/s +[0-9.]+x|device waits|postprocess_kernel|decoder(_graph)?:' \
    "$work/logs/bench.$bench_size".*".$session_bench_tag.log" 2> /dev/null
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
  local folder_images=("$dir"/img*.jpg)
  [ $dry = 1 ] && folder_images=("$dir/img000.jpg" "...")
  [ -e "${folder_images[0]}" ] || [ $dry = 1 ] || { say "folder: skipped, no images made (photos in ${folder_sources[0]%/*}?)"; return 0; }
  bounded "$(min "$folder_bound" $(( $(left) - reserve )))" "${jobs_cmd[@]}" --job bench --no-reference --bin "$bin" \
    --sizes "$bench_size" --precisions "${bench_precisions%%,*}" --images "${folder_images[@]}" --max-images "$folder_n" \
    --repeat 1 --bench-tag folder --bench-args "--warmup 1" > "$logs/session-folder.out" 2>&1
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
  local pids=() one size prec family
  for one in "${parity_jobs[@]}"; do
    IFS=: read -r size prec family <<< "$one"
    while [ "$(jobs -rp | wc -l)" -ge 10 ]; do sleep 1; done
    if [ "$(left)" -lt $(( reserve + 45 )) ]; then say "parity: $one and the rest not started, $(left) s left"; break; fi
    if [ $dry = 0 ] && ! { export_ready "$size" "$prec" && [ -s "$(export_file "$size" "$prec")" ]; }; then
      say "parity: $one skipped, no export"; continue
    fi
    bounded $(( $(left) - reserve )) "${jobs_cmd[@]}" --job parity --bin "$bin" --sizes "$size" \
      --parity-precisions "$prec" --families "$family" --images "${parity_images[@]}" \
      > "$logs/session-parity-$size-$prec-$family.out" 2>&1 & pids+=($!)
  done
  [ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
  say "parity done"
  grep -hE '=== job.*parity|matched_share|FAILED' "$logs"/session-parity-*.out 2> /dev/null | head -150
}

stage_profile() {
  [ $built = 1 ] && fits profile 60 || return 0
  local t; t=$(min 150 $(( $(left) - reserve - 15 )))
  bounded $(( t + 15 )) "${jobs_cmd[@]}" --job profile --bin "$bin" --sizes "$bench_size" \
    --precisions "${bench_precisions%%,*}" --images "$bench_image" --profile-seconds "$t" \
    > "$logs/session-profile.out" 2>&1
  say "profile: exit $?"
  grep -E '^\{|FAILED|ncu' "$logs/session-profile.out" | cut -c1-300 | head -5
}

stage_docs() {
  run mkdir -p "$work/results/session"
  run "$py" scripts/session_results.py stages --log "$logs/session.log" --json "$work/results/session/stages.json" \
    > /dev/null
  bounded 25 "${jobs_cmd[@]}" --job docs --images "${parity_images[@]}" ${out_dir:+--out "$out_dir"} \
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
