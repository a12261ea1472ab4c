#!/usr/bin/env bash
# scripts/gpu.sh on a machine with several GPUs: builds kiln once, then runs one group of stages
# per GPU at the same time (device time is scarce; the benchmark suite split over four GPUs takes
# a quarter of the wall time). Each argument is one group: environment assignments followed by
# stages, e.g.
#   scripts/gpu_parallel.sh "gputests conformance" \
#     "BENCH_MODELS='resnet50 vgg19' bench" "BENCH_MODELS='bert_base vit_b_16' bench"
# Group i runs on GPU i modulo the GPU count, with its own scratch folder and its results under
# $OUT/gI/; at the end everything is packed into $OUT/results.tar.gz (the device tool returns few
# files) and each group's log tail is printed. GROUP_TIMEOUT_S (default 480) bounds every group.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
bash scripts/gpu.sh none || exit 1
gpus=$(nvidia-smi --list-gpus | wc -l)
[ "$gpus" -ge 1 ] || { echo "no GPU"; exit 1; }
i=0
pids=()
for group in "$@"; do
  dir="$OUT/g$i"
  mkdir -p "$dir" "/tmp/kiln_job$i"
  (
    export CUDA_VISIBLE_DEVICES=$((i % gpus)) KILN_PREBUILT=1 TMPDIR=/tmp/kiln_job$i OUT=$dir
    eval "set -- $group"
    while [[ $# -gt 0 && "$1" == *=* ]]; do export "${1?}"; shift; done
    # A group past GROUP_TIMEOUT_S is stopped, so the results of all groups still get packed
    # inside the device call's own limit.
    timeout -k 5 "${GROUP_TIMEOUT_S:-480}" bash scripts/gpu.sh "$@" > "$dir/log.txt" 2>&1
  ) &
  pids+=($!)
  i=$((i + 1))
done
# Until the groups finish, pack what they have written every 30 s: if the device call is cut
# off, partial.tar.gz still comes back (the device tool returns only a few files, so the group
# folders themselves would not).
(while sleep 30; do
  tar -C "$OUT" -czf "$OUT/partial.tar.gz.tmp" $(cd "$OUT" && ls -d g*) 2>/dev/null &&
    mv "$OUT/partial.tar.gz.tmp" "$OUT/partial.tar.gz"
done) &
packer=$!
wait "${pids[@]}"
kill "$packer" 2>/dev/null
wait "$packer" 2>/dev/null
rm -f "$OUT/partial.tar.gz" "$OUT/partial.tar.gz.tmp"
for ((j = 0; j < i; j++)); do
  echo "=== group $j: $(sed -n "$((j + 1))p" <(printf '%s\n' "$@"))"
  tail -c 2500 "$OUT/g$j/log.txt"
done
tar -C "$OUT" -czf "$OUT/results.tar.gz" $(cd "$OUT" && ls -d g*) && rm -rf "$OUT"/g*
