#!/usr/bin/env bash
# All GPUs of one node: one sam2-amg process per GPU, each on its own shard, then one merge.
#   scripts/multi-gpu.sh MODEL IMAGES OUT.json [extra sam2-amg flags...]
set -euo pipefail
model=${1:?model}; images=${2:?images}; out=${3:?out.json}; shift 3
n=$(nvidia-smi -L | wc -l)
pids=()
for ((i = 0; i < n; i++)); do
  sam2-amg --model "$model" --input "$images" --out "$out" --shard "$i/$n" --device "cuda:$i" --progress none "$@" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
[ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || exit "$rc"
sam2-amg merge --out "$out"
