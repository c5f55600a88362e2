#!/usr/bin/env bash
# scripts/gpu-session.sh --dry-run, for the GPU session and its CPU rehearsal (seconds; no GPU):
#  - it exits 0 and every stage of STAGES starts, in order;
#  - each stage prints its commands (the jobs it runs, the folder's images, the timeline
#    summary), so a lent GPU's minutes are not spent finding a missing one;
#  - every job is one the script has, every option of every job line is one the script parses,
#    and the bench options
#    passed through --bench-args are ones `sam2-amg bench --help` lists (argument: the binary);
#  - a dry run writes nothing (it runs in a scratch copy of scripts/ and the test images, so that
#    a real session's files being written meanwhile do not count).
# shellcheck disable=SC2016,SC2034  # the checks are strings for eval
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: test_gpu_session.sh SAM2AMG_BINARY}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
tmp=$(mktemp -d)
trap 'rm -r "$tmp"' EXIT
mkdir -p "$tmp/repo/tests/data"
cp -r "$root/scripts" "$tmp/repo/" && cp -r "$root/tests/data/images" "$tmp/repo/tests/data/" || exit 1
cd "$tmp/repo" || exit 1
failures=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; failures=$((failures + 1)); fi; }

mapfile -t stages < <(sed -n 's/^STAGES=(\(.*\))$/\1/p' scripts/gpu-session.sh | tr ' ' '\n')
check "STAGES is read from the script" '[ ${#stages[@]} -ge 8 ]'
mapfile -t job_names < <(sed -n 's/^JOBS=(\(.*\))$/\1/p' scripts/gpu-session.sh | tr ' ' '\n')
check "JOBS is read from the script" '[ ${#job_names[@]} -ge 9 ]'
# The script's options: the patterns of its argument loop.
mapfile -t known < <(sed -n 's/^    \(--[a-z0-9-]*\)) .*/\1/p' scripts/gpu-session.sh)
check "gpu-session.sh's options are read" '[ ${#known[@]} -ge 30 ]'
bench_help=$("$bin" bench --help 2>&1)

for mode in gpu cpu; do
  args=(--dry-run)
  [ $mode = cpu ] && args+=(--cpu)
  touch "$tmp/mark"
  bash scripts/gpu-session.sh "${args[@]}" > "$tmp/$mode.out" 2>&1
  check "$mode: dry run exits 0" "[ $? = 0 ]"
  out=$tmp/$mode.out
  order=$(sed -n 's/^\[[0-9]* s\] stage \([a-z]*\)$/\1/p' "$out" | paste -sd' ' -)
  check "$mode: every stage starts, in order (got: $order)" '[ "$order" = "${stages[*]}" ]'
  for name in "${job_names[@]}"; do
    check "$mode: a gpu-session.sh --job $name line" "grep -qE -- '^  gpu-session\.sh .*--job $name( |\$)' '$out'"
  done
  check "$mode: the folder bench runs without the reference" "grep -q -- '--job bench --no-reference' '$out'"
  check "$mode: the folder's images are made" "grep -qE -- 'python3 - .*folder [0-9]+ [0-9]+x[0-9]+' '$out'"
  check "$mode: the timeline summary is written" "grep -q -- 'session_results.py stages' '$out'"
  check "$mode: the build is setup-cuda.sh's" "grep -q -- '^  setup-cuda: ' '$out'"
  # Each option of each job line must be one the script parses (a misspelt one exits 2 there).
  bad=""
  while read -r opt; do
    case " ${known[*]} " in *" $opt "*) ;; *) bad="$bad $opt" ;; esac
  done < <(grep -oE '^  gpu-session\.sh .*' "$out" | sed -E 's/--bench-args( --[a-z0-9-]+( [^ -][^ ]*)?)+//' |
             grep -oE '(^| )--[a-z0-9-]+' | tr -d ' ' | sort -u)
  check "$mode: gpu-session.sh knows every option its jobs use (unknown:${bad:- none})" '[ -z "$bad" ]'
  bad=""
  while read -r opt; do
    grep -qE -- "(^|[ ,])$opt([ ,=]|$)" <<< "$bench_help" || bad="$bad $opt"
  done < <(grep -oE -- '--bench-args --[a-z-]+' "$out" | sed 's/--bench-args //' | sort -u)
  check "$mode: sam2-amg bench knows every --bench-args option (unknown:${bad:- none})" '[ -z "$bad" ]'
  check "$mode: nothing written (found: $(find . -newer "$tmp/mark" | head -3 | paste -sd' ' -))" \
    '[ -z "$(find . -newer "$tmp/mark" | head -1)" ]'
done

echo "$failures failure(s)"
[ "$failures" = 0 ]
