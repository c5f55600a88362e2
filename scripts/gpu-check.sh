#!/usr/bin/env bash
# One command that proves sam2-amg on a machine: build, test, make seeded SAM 2.1 checkpoints and
# export them, compare with the official SAM2AutomaticMaskGenerator, benchmark, and write the
# tables into docs/parity.md and docs/performance.md (generated sections between markers).
#
#   bash scripts/gpu-check.sh [--device cuda|cpu] [--stages build,test,ext,export,parity,bench,docs]
#                             [--sizes t,s,b+,l] [--precisions fp32,bf16,bf16fast] [--families LIST] ...
#
# A precision ending in "fast" (bf16fast, fp16fast) is that precision exported with the fast
# decoder (export_sam2.py --decoder fast); its files and table rows carry the name as it is.
# Stages not in the default list: probe (the CUDA kernel probe's device test, its verdict) and
# profile (Nsight Compute over one image: kernel count and top kernels); both write
# results/session/*.json for the docs stage, as the test stage writes its counts.
#
# GPU machine (bare, no network, CUDA PyTorch 2.x preinstalled): carry the sam2 source
# (.device/sam2src or .ref/sam2src), the hydra/iopath stand-ins (.device/sam2-shim), photos
# (.device/photos, optional) and the prebuilt kit (the static OpenCV tarball) in .device/ or
# shared/device/: the build stage runs scripts/setup-cuda.sh --prebuilt with it.
# scripts/gpu-session.sh runs these stages side by side under one deadline (one device command).
# One command may run at most 10 minutes there, so split the work with --stages and --sizes,
# e.g. "--stages build,test", then "--stages export,parity --sizes t,s", ... Results accumulate in
# the work folder (default build-check/) and every run regenerates the tables from all of them;
# with $OUT set (or --out DIR) the docs and results are copied there at the end.
#
# CPU mode (--device cpu): tiny only, one small image, points_per_side 8, parity in fp32; the
# build stage runs scripts/setup-cuda.sh (CPU LibTorch; --prebuilt $SAM2AMG_PREBUILT when set)
# unless --bin names an existing binary.
#
# Checkpoints: scripts/make_test_checkpoint.py (seeded weights, decoder output layers scaled so
# masks and scores vary like a trained model's; see its header), always computed on the CPU.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
repo=$PWD

device=cuda stages="" sizes="" precisions="" parity_precisions="" families="" images=() pps="" repeat=""
bin="" build_dir="" work=build-check python_bin="" sam2_src="" shim="" out_dir="${OUT:-}" max_images=""
bench_args="" bench_tag="" seed=0 matmul_tf32=off cudnn_tf32=default min_region=100 reference=1
profile_seconds=120 notes_doc=docs/gpu-notes.md ctest_seconds=0
usage() { sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; cat <<'EOF'
Options:
  --device cuda|cpu         where sam2-amg, the exports and the reference run (default cuda)
  --stages LIST             build,test,ext,export,parity,bench,docs (default: all; ext builds the
                            reference's sam2._C ahead of parity, which builds it when missing);
                            also probe and profile (not in the default)
  --sizes LIST              t,s,b+,l (default: all on cuda, t on cpu)
  --precisions LIST         exports to make (default fp32,bf16; bf16fast: bf16 with the fast decoder)
  --parity-precisions LIST  exports compared with the reference (default fp32,bf16 on cuda, fp32 on cpu)
  --families LIST           defaults,keepall,keepall_crop1,m2m,single,minregion (default: all)
  --images FILE...          images (ends at the next --option; default .device/photos/* or tests/data/images/*)
  --max-images N            use at most N of them (default: all on cuda, 1 on cpu)
  --points-per-side N       grid for parity and bench (default 32 on cuda, 8 on cpu)
  --repeat N                timed passes in the bench (default 3 on cuda, 1 on cpu)
  --min-region-area A       min_mask_region_area of the minregion family (default 100)
  --matmul-tf32 on|off      the reference's matmul TF32 (default off)
  --cudnn-tf32 on|off|default  cuDNN TF32 traced into the exports (default: PyTorch's, recorded)
  --bin PATH                use this sam2-amg binary (skips the build stage)
  --build-dir DIR           build folder (default build-gpu on cuda, build on cpu)
  --work DIR                checkpoints, exports, results (default build-check)
  --python PY               Python with torch (default: python3, else /usr/bin/python3)
  --sam2-src DIR            folder holding the sam2 package (default .device/sam2src or .ref/sam2src)
  --shim DIR                hydra/omegaconf/iopath stand-ins (default .device/sam2-shim)
  --bench-args "ARGS"       extra arguments for sam2-amg bench
  --bench-tag NAME          suffix of this bench run's result files (keeps runs over other images apart)
  --no-reference            bench sam2-amg alone (e.g. a folder pass), without the reference beside it
  --profile-seconds S       bound of the profile stage's ncu run (default 120)
  --ctest-seconds S         bound of the test stage's ctest (default none); cut short, its
                            result counts the tests that finished
  --out DIR                 copy docs and results here at the end (default $OUT)
  --notes-doc FILE          where the docs stage writes the session's figures (default docs/gpu-notes.md)
EOF
}
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --stages) stages=$2; shift 2 ;;
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
    --bin) bin=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --python) python_bin=$2; shift 2 ;;
    --sam2-src) sam2_src=$2; shift 2 ;;
    --shim) shim=$2; shift 2 ;;
    --bench-args) bench_args=$2; shift 2 ;;
    --bench-tag) bench_tag=$2; shift 2 ;;
    --no-reference) reference=0; shift ;;
    --profile-seconds) profile_seconds=$2; shift 2 ;;
    --ctest-seconds) ctest_seconds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --out) out_dir=$2; shift 2 ;;
    --notes-doc) notes_doc=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$device" in cuda|cpu) ;; *) echo "gpu-check: --device must be cuda or cpu" >&2; exit 2 ;; esac
if [ "$device" = cuda ]; then
  : "${sizes:=t,s,b+,l}" "${parity_precisions:=fp32,bf16}" "${pps:=32}" "${repeat:=3}" "${build_dir:=build-gpu}"
else
  : "${sizes:=t}" "${parity_precisions:=fp32}" "${pps:=8}" "${repeat:=1}" "${build_dir:=build}" "${max_images:=1}"
fi
: "${stages:=build,test,ext,export,parity,bench,docs}" "${precisions:=fp32,bf16}"
: "${families:=defaults,keepall,keepall_crop1,m2m,single,minregion}"
has() { case ",$1," in *",$2,"*) return 0 ;; *) return 1 ;; esac; }

log() { printf '\n=== gpu-check [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
failures=()
fail() { failures+=("$*"); echo "gpu-check: FAILED: $*" >&2; }

# --- Python, sam2 source, stand-ins -------------------------------------------------------------
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

# On CUDA the reference needs sam2._C for min_mask_region_area; it is built into a copy of the
# sam2 source inside the work folder so the carried source stays untouched.
ref_src=${sam2_src:+$(cd "$sam2_src" && pwd)}
cc_status="not needed"
build_sam2_ext() {
  [ "$device" = cuda ] || { cc_status="CPU: the reference skips hole filling (sam2._C is CUDA only)"; return; }
  if [ -e "$work/sam2src/sam2/_C.so" ]; then ref_src=$work/sam2src; cc_status="sam2._C built"; return; fi
  # A failed build is not retried by every later (possibly parallel) stage of the same work folder.
  if [ -e "$work/logs/sam2_ext.failed" ]; then
    cc_status="sam2._C NOT built (see $work/logs/sam2_ext.log); the reference skips hole filling"; return
  fi
  if ! command -v nvcc > /dev/null && [ ! -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
    cc_status="sam2._C NOT built: no nvcc on this machine; the reference skips hole filling"
    echo "gpu-check: $cc_status" >&2; return
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
    echo "gpu-check: $cc_status" >&2; tail -5 "$work/logs/sam2_ext.log" >&2
  fi
}
pypath() { echo "$ref_src:$(cd "$shim" 2> /dev/null && pwd)"; }
need_python() {
  [ -n "$python_bin" ] || { fail "no Python with torch (use --python)"; return 1; }
  [ -n "$ref_src" ] || { fail "no sam2 source (use --sam2-src)"; return 1; }
  [ -d "$shim" ] || echo "gpu-check: note: no $shim; sam2 must import hydra/iopath on its own" >&2
}

if has "$stages" ext && need_python; then build_sam2_ext; echo "gpu-check: reference connected components: $cc_status"; fi

# --- images --------------------------------------------------------------------------------------
if [ ${#images[@]} -eq 0 ]; then
  if [ -d .device/photos ]; then
    mapfile -t images < <(find .device/photos -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort)
  else
    mapfile -t images < <(ls tests/data/images/*.png)
  fi
fi
[ -n "$max_images" ] && images=("${images[@]:0:$max_images}")
for i in "${!images[@]}"; do images[$i]=$(cd "$(dirname "${images[$i]}")" && pwd)/$(basename "${images[$i]}"); done

# --- build and test ------------------------------------------------------------------------------
if [ -z "$bin" ]; then bin=$build_dir/apps/sam2-amg/sam2-amg; fi
if has "$stages" build && { [ ! -x "$bin" ] || [ "$bin" = "$build_dir/apps/sam2-amg/sam2-amg" ]; }; then
  log "build ($device) into $build_dir"
  # The user's path, scripts/setup-cuda.sh, installing nothing: in its registry-free mode with
  # the prebuilt kit (the static OpenCV tarball) when one is found ($SAM2AMG_PREBUILT; on cuda
  # also .device/, shared/device/, ../shared/device/), else against the system's libraries.
  kits=("${SAM2AMG_PREBUILT:-}")
  [ "$device" = cuda ] && kits+=(.device shared/device ../shared/device)
  kit=""
  for d in "${kits[@]}"; do
    [ -n "$d" ] && compgen -G "$d/opencv-*.tar.*" > /dev/null && { kit=$d; break; }
  done
  setup_cmd=(bash scripts/setup-cuda.sh --tests --build-dir "$build_dir" ${python_bin:+--python "$python_bin"})
  if [ -n "$kit" ]; then setup_cmd+=(--prebuilt "$kit"); else setup_cmd+=(--no-install); fi
  echo "gpu-check: ${setup_cmd[*]}"
  "${setup_cmd[@]}" > "$work/logs/build.log" 2>&1 || fail "build (see $work/logs/build.log)"
  grep -E '^setup-cuda: (LibTorch|no CUDA|CUDA toolkit|GPU|prebuilt|error)' "$work/logs/build.log"
  tail -3 "$work/logs/build.log"
elif has "$stages" build; then
  echo "gpu-check: build: skipped, using $bin"
fi
bin=$(cd "$(dirname "$bin")" 2> /dev/null && pwd)/$(basename "$bin")
# A ctest log's counts (and the lines matching the --grep patterns) as results/session/NAME.json.
ctest_result() {
  local name=$1 rc=$2; shift 2
  "${python_bin:-python3}" scripts/session_results.py ctest "$work/logs/$name.log" --exit "$rc" "$@" \
    --json "$work/results/session/$name.json" > /dev/null || fail "$name: no summary"
}
if has "$stages" probe; then
  if [ -f "$build_dir/CTestTestfile.cmake" ]; then
    # The fused CUDA kernel's probe runs at first use; this device test fails, naming the path
    # that ran (cuda_stats_path), when the probe chose the ATen fallback.
    log "kernel probe: ctest -R 'On the test device' in $build_dir (SAM2AMG_TEST_DEVICE=$device)"
    (cd "$build_dir" && SAM2AMG_TEST_DEVICE=$device ctest -R "On the test device" --timeout 300 --output-on-failure \
      > "$work/logs/probe.log" 2>&1); rc=$?
    ctest_result probe "$rc" --grep 'cuda_stats_path' --grep 'probe' --grep '(tests passed|tests failed)'
    grep -E 'tests passed|tests failed|cuda_stats_path|probe' "$work/logs/probe.log" | head -8
    [ "$rc" = 0 ] || fail "kernel probe test (see $work/logs/probe.log)"
  else
    echo "gpu-check: probe: $build_dir has no ctest files (build it first)" >&2
  fi
fi
if has "$stages" test; then
  if [ -f "$build_dir/CTestTestfile.cmake" ]; then
    log "ctest in $build_dir (SAM2AMG_TEST_DEVICE=$device)"
    (cd "$build_dir" && SAM2AMG_TEST_DEVICE=$device timeout "$ctest_seconds" ctest -j "$(nproc)" --timeout 600 \
      --output-on-failure > "$work/logs/ctest.log" 2>&1); rc=$?
    [ "$rc" = 0 ] || fail "ctest (see $work/logs/ctest.log)"
    ctest_result ctest "$rc"
    [ "$rc" = 124 ] && echo "gpu-check: ctest cut short after --ctest-seconds $ctest_seconds; results/session/ctest.json counts the tests that finished"
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
  else
    echo "gpu-check: test: $build_dir has no ctest files (build it, or drop the test stage)" >&2
  fi
fi

# --- checkpoints and exports ---------------------------------------------------------------------
ckpt() { echo "$work/ckpt/$1.seed$seed.pt"; }
export_file() { echo "$work/export/$1.$device.$2.pt"; }
if has "$stages" export && need_python; then
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
fi

# --- parity --------------------------------------------------------------------------------------
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
      *) echo "gpu-check: unknown family $1" >&2; return 1 ;;
    esac
  } > "$f"
  echo "$f"
}
if has "$stages" parity && need_python; then
  build_sam2_ext
  echo "gpu-check: reference connected components: $cc_status"
  [ -x "$bin" ] || fail "parity: no sam2-amg binary at $bin"
  for size in ${sizes//,/ }; do
    for prec in ${parity_precisions//,/ }; do
      model=$(export_file "$size" "$prec")
      [ -s "$model" ] || { fail "parity $size $prec: no export (run the export stage)"; continue; }
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
fi

# --- bench ---------------------------------------------------------------------------------------
# sam2-amg bench runs the reference itself (--reference), so both are timed in the same invocation
# and the reference alone runs only when the binary has no bench. --bench-tag names a run (e.g.
# "big" and "folder") so that runs over other images keep their own result files.
if has "$stages" bench && need_python; then
  yaml=$(family_yaml defaults)
  tag=${bench_tag:+.$bench_tag}
  for size in ${sizes//,/ }; do
    [ -s "$(ckpt "$size")" ] || { fail "bench $size: no checkpoint (run the export stage)"; continue; }
    ref_cmd="env PYTHONPATH=$(pypath) $python_bin $repo/scripts/bench_reference.py --checkpoint $(ckpt "$size") --config $size --device $device"
    # (The help is read whole first: grep -q leaving early would fail the pipe under pipefail.)
    if [ ! -x "$bin" ] || ! grep -qE '^[[:space:]]+bench([[:space:]]|$)' <<< "$("$bin" --help 2>&1)"; then
      log "bench: reference $size fp32 alone (${#images[@]} images, points_per_side $pps, repeat $repeat)"
      $ref_cmd --repeat "$repeat" --amg-config "$yaml" --images "${images[@]}" --json "$work/results/bench/$size.reference.fp32$tag.json" \
        > "$work/logs/bench.$size.reference$tag.log" 2>&1 || fail "bench reference $size (see $work/logs/bench.$size.reference$tag.log)"
      grep '^reference:' "$work/logs/bench.$size.reference$tag.log"
      echo "gpu-check: sam2-amg has no bench subcommand; only the reference was measured"
      continue
    fi
    ref_args=(--reference "$ref_cmd")
    [ "$reference" = 1 ] || ref_args=()
    for prec in ${precisions//,/ }; do
      model=$(export_file "$size" "$prec")
      [ -s "$model" ] || { fail "bench $size $prec: no export (run the export stage)"; continue; }
      log "bench: sam2-amg $size $prec ${ref_args:+against the reference }(${#images[@]} images, points_per_side $pps, repeat $repeat)"
      # shellcheck disable=SC2086
      "$bin" bench -c "$yaml" -m "$model" --device "$device" "${ref_args[@]}" --repeat "$repeat" \
        --bench-json "$work/results/bench/$size.sam2-amg.$prec$tag.json" $bench_args --input "${images[@]}" \
        > "$work/logs/bench.$size.$prec$tag.log" 2>&1 || fail "bench sam2-amg $size $prec (see $work/logs/bench.$size.$prec$tag.log)"
      tail -12 "$work/logs/bench.$size.$prec$tag.log"
    done
  done
fi

# --- profile -------------------------------------------------------------------------------------
# Nsight Compute over one image (the first of --images, the first size and precision): every
# kernel launch with its GPU time only (one metric, no cache flush, the GPU's own clocks), so the
# run stays near real time. Where the bound cuts it short, the log still names each launch.
if has "$stages" profile; then
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
    echo "gpu-check: profile: no ncu here; the result says so" >&2
  elif [ ! -s "$model" ] || [ ! -x "$bin" ]; then
    echo "no export $model or no binary $bin" > "$rep.log"; rc=2
    fail "profile: no export or binary (run the export and build stages)"
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
fi

# --- docs ----------------------------------------------------------------------------------------
if has "$stages" docs; then
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2> /dev/null | head -1)
  cpu=$(grep -m1 'model name' /proc/cpuinfo 2> /dev/null | cut -d: -f2 | sed 's/^ *//')
  tv=$("${python_bin:-python3}" -c 'import torch; print(torch.__version__)' 2> /dev/null)
  [ -e "$work/sam2src/sam2/_C.so" ] && cc_status="sam2._C built"
  setup="Machine: ${gpu:-no GPU}; ${cpu:-unknown CPU}, $(nproc) cores; PyTorch $tv. Images: ${#images[@]} ($(for i in "${images[@]}"; do basename "$i"; done | paste -sd, - | sed 's/,/, /g')); points_per_side $pps; seeded checkpoints (seed $seed, scripts/make_test_checkpoint.py). Reference connected components: $cc_status."
  log "docs: tables into docs/parity.md and docs/performance.md, the session's figures into $notes_doc"
  "${python_bin:-python3}" scripts/gpu_check_report.py --results "$work/results" --device "$device" \
    --parity-doc docs/parity.md --performance-doc docs/performance.md --notes-doc "$notes_doc" \
    --setup "$setup" || fail "docs"
fi

if [ -n "$out_dir" ]; then
  mkdir -p "$out_dir/gpu-check"
  cp docs/parity.md docs/performance.md "$notes_doc" "$out_dir/gpu-check/" 2> /dev/null
  # One archive: a device tool may bring back only a few files, none deeply nested.
  # (Without ncu's binary report: the CSV beside it holds what the docs use.)
  tar -C "$work" --exclude='*.ncu-rep' -czf "$out_dir/gpu-check/results-logs.tgz" results logs 2> /dev/null
fi

log "done: ${#failures[@]} failure(s)"
for f in "${failures[@]}"; do echo "  - $f"; done
[ ${#failures[@]} -eq 0 ]
