#!/usr/bin/env bash
# Everything kiln does on the GPU machine, in one run (device time is scarce): build kiln there
# with the carried dependencies (scripts/pack_for_gpu.sh), then the stages named on the command
# line (default: gputests coverage layers; `none` only builds):
#   gputests  the unit tests, GPU ones included (every CUDA kernel against the CPU reference), in
#             GPU_TEST_SHARDS (4) processes at once
#   sanitize  compute-sanitizer memcheck on the tests of SANITIZE_FILTER (ConcurrentContexts.Gpu*)
#   baseline  builds the kiln of .carry/baseline_src.tar.xz (pack_for_gpu.sh --baseline COMMIT) in
#             the background; its binary comes back as $OUT/kiln_baseline.xz (carry it as
#             .carry/kiln_baseline.xz in later calls)
#   beforeafter  that baseline kiln against this one, same models and GPU, alternating rounds
#             (bench/before_after.py; BEFOREAFTER_MODELS, default ResNet-50, BERT-base, ViT-B/16
#             at batch 64 FP16)
#   conformance  the ONNX backend node tests (generated from the onnx package there) on the CUDA
#             backend: every op's cases against ONNX's reference outputs, FP32 without TF32
#   coverage  export the model suite from PyTorch with both exporters and check kiln's CPU
#             outputs against ONNX Runtime on each (tests/models/torch_coverage.py); then the
#             CUDA backend's. COVERAGE_MODELS limits the suite, COVERAGE_BACKENDS=cuda skips the
#             CPU table
#   layers    layer counts and activation memory of the builder on torchvision/transformers
#             models (bench/layer_counts.py)
#   bench     kiln vs PyTorch eager, eager + CUDA graph and torch.compile (bench/peer_bench.py);
#             BENCH_MODELS, BENCH_BATCHES, BENCH_PRECISIONS and BENCH_BUDGET_S narrow it. The whole
#             suite (32 rows; torch.compile and kiln's tuned builds take 20-60 s a row) does not
#             fit one 10-minute call on one GPU: on a machine with four, scripts/gpu_parallel.sh
#             runs a few models per GPU at once; merge the groups' peer_bench.json files here
#             with bench/merge_peer_bench.py.
#   buildtime build time with a cold and a warm timing cache, and plan load time (BUILDTIME_MODELS),
#             beside torch.compile's compile time within BUILDTIME_TORCH_BUDGET_S (300)
#             (bench/build_time.py; after bench, it reuses bench's exports)
#   layerbench single layers at BERT/ViT shapes, kiln vs PyTorch (bench/layer_bench.py), and
#             Nsight Compute on the cases numbered in NCU_CASES
#   profile   `kiln bench --profile` (each layer's time) on PROFILE_MODELS at batch PROFILE_BATCH,
#             FP16 (PROFILE_PRECISION=tf32: the FP32 build), to see where kiln's time goes
# Results go to $OUT (or ./out when run elsewhere). With .carry/kiln_build.tar.xz (made by
# scripts/pack_for_gpu.sh --build) the carried binaries run instead of a build here.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
stages=${*:-gputests coverage layers}
[ "$stages" = none ] && stages=""

# Build on this machine's cores from the working tree, with the carried Debian dependencies.
# KILN_PREBUILT=1 (scripts/gpu_parallel.sh) reuses a build made by an earlier gpu.sh on this machine.
DEPS=/tmp/kiln_deps BUILD=/tmp/kiln_build KILN_HOME=/tmp/kiln_home
[ "${KILN_PREBUILT:-0}" = 1 ] || { mkdir -p "$DEPS" && tar -C "$DEPS" -xJf .carry/deps.tar.xz; }
export PATH="$DEPS/usr/bin:$PATH" LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
# cuDNN, cuBLASLt and NVRTC: from the system if the loader finds them, else from the wheels that
# PyTorch installed.
for pkg in cudnn cublas cuda_nvrtc cuda_runtime; do
  dir=$(python3 -c "import importlib, os; m = importlib.import_module('nvidia.$pkg'); print(os.path.join(list(m.__path__)[0], 'lib'))" 2>/dev/null) &&
    [ -d "$dir" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$dir"
done
CUDNN_SO=$(ls /usr/local/cuda/lib64/libcudnn.so.9 /usr/lib/x86_64-linux-gnu/libcudnn.so.9 2>/dev/null | head -1)
[ -z "$CUDNN_SO" ] && CUDNN_SO=$(find / -name 'libcudnn.so.9' -not -path '/proc/*' 2>/dev/null | head -1)
export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$CUDNN_SO")"
# build_kiln SOURCE BUILD_DIR NINJA_ARGS...: a Release build of the tree at SOURCE with the carried
# dependencies; prints the failing lines and returns non-zero on failure.
build_kiln() {
  local src=$1 dir=$2
  shift 2
  mkdir -p /tmp/kiln_cudnn && ln -sf "$CUDNN_SO" /tmp/kiln_cudnn/libcudnn.so
  local inc="-I$DEPS/usr/include -I$DEPS/usr/local/cuda/include"
  cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$(command -v python3)" \
    -DCMAKE_PREFIX_PATH="$DEPS/usr;$DEPS/usr/lib/x86_64-linux-gnu/cmake;$DEPS/usr/share/cmake" \
    -DCUDNN_LIBRARY=/tmp/kiln_cudnn/libcudnn.so -DCMAKE_CXX_FLAGS="$inc" -DCMAKE_CUDA_FLAGS="$inc" \
    -DProtobuf_PROTOC_EXECUTABLE="$DEPS/usr/bin/protoc" -DProtobuf_INCLUDE_DIR="$DEPS/usr/include" \
    -DProtobuf_LIBRARY="$DEPS/usr/lib/x86_64-linux-gnu/libprotobuf.so" > "$dir.cmake.log" 2>&1 ||
    { tail -30 "$dir.cmake.log"; return 1; }
  ninja -C "$dir" "$@" > "$dir.build.log" 2>&1 ||
    { grep -B2 -A20 "FAILED\|error" "$dir.build.log" | head -80; return 1; }
}
if [ "${KILN_PREBUILT:-0}" != 1 ] && [ -f .carry/kiln_build.tar.xz ]; then
  # Binaries built for sm_90a on the development machine (scripts/pack_for_gpu.sh --build).
  mkdir -p "$KILN_HOME/bin" && tar -C "$KILN_HOME/bin" -xJf .carry/kiln_build.tar.xz
  echo "using the carried build of $(head -1 "$KILN_HOME/bin/BUILD_COMMIT"), $(( $(wc -l < "$KILN_HOME/bin/BUILD_COMMIT") - 1 )) uncommitted change(s)"
elif [ "${KILN_PREBUILT:-0}" != 1 ]; then
  start=$(date +%s)
  build_kiln . "$BUILD" -j"$(nproc)" kiln_tool kiln_unit_tests kiln_conformance || exit 1
  echo "built in $(( $(date +%s) - start )) s"
  mkdir -p "$KILN_HOME/bin" && cp "$BUILD/kiln" "$BUILD/tests/kiln_unit_tests" "$BUILD/tests/conformance/kiln_conformance" "$KILN_HOME/bin/"
fi
KILN="$KILN_HOME/bin/kiln"
# PACK_KILN=1: this kiln, stripped, comes back as $OUT/kiln.xz (for a later call's comparisons).
[ "${PACK_KILN:-0}" = 1 ] && (strip -o /tmp/kiln_packed "$KILN" && xz -T4 -c /tmp/kiln_packed > "$OUT/kiln.xz") &
# Scratch for the stages; per job when several run at once on separate GPUs.
WORK=${TMPDIR:-/tmp}
mkdir -p "$WORK"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc; uname -r;
  python3 -c 'import torch, torchvision, onnx, onnxruntime, transformers; print("torch", torch.__version__, "torchvision", torchvision.__version__, "onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__, "transformers", transformers.__version__)'; } \
  2>&1 | tee "$OUT/machine.txt"
"$KILN" --help >/dev/null || { ldd "$KILN" | grep "not found"; echo "the carried kiln does not run here"; exit 1; }

# A second kiln to compare with (beforeafter): built from .carry/baseline_src.tar.xz (`git archive`
# of the commit before a change: scripts/pack_for_gpu.sh --baseline COMMIT) in the background
# while the other stages run; its stripped binary comes back as $OUT/kiln_baseline.xz, which a
# later call carries as .carry/kiln_baseline.xz.
BASELINE_KILN=/tmp/kiln_baseline/kiln
if [ -f .carry/kiln_baseline.xz ] && [ ! -x "$BASELINE_KILN" ]; then
  mkdir -p /tmp/kiln_baseline && xz -dc .carry/kiln_baseline.xz > "$BASELINE_KILN" && chmod +x "$BASELINE_KILN"
fi
baseline_pid=
if [[ " $stages " == *" baseline "* ]] && [ ! -x "$BASELINE_KILN" ]; then
  (mkdir -p /tmp/kiln_baseline_src /tmp/kiln_baseline &&
    tar -C /tmp/kiln_baseline_src -xJf .carry/baseline_src.tar.xz &&
    build_kiln /tmp/kiln_baseline_src /tmp/kiln_baseline_build -j"${BASELINE_JOBS:-10}" kiln_tool &&
    strip -o "$BASELINE_KILN.part" /tmp/kiln_baseline_build/kiln && mv "$BASELINE_KILN.part" "$BASELINE_KILN" &&
    xz -T4 -c "$BASELINE_KILN" > "$OUT/kiln_baseline.xz" && echo "baseline built") > "$OUT/baseline_build.txt" 2>&1 &
  baseline_pid=$!
fi
wait_for_baseline() {
  [ -n "$baseline_pid" ] || return 0
  wait "$baseline_pid"
  echo "baseline build exit code $?: $(tail -1 "$OUT/baseline_build.txt")"
  baseline_pid=
}

# The comparison's ONNX exports run on the CPU while the GPU tests run.
export_pid=
if [[ " $stages " == *" beforeafter "* ]]; then
  # shellcheck disable=SC2086
  python3 bench/before_after.py ${BEFOREAFTER_MODELS:-} --before none --after none --export-only \
    --work "$WORK/kiln_before_after" > "$OUT/beforeafter_export.txt" 2>&1 &
  export_pid=$!
fi

if [[ " $stages " == *" gputests "* ]] && [ -x "$KILN_HOME/bin/kiln_unit_tests" ]; then
  # Tests find the kiln binary through KILN_BINARY_DIR; the conformance data is not carried.
  # GPU_TEST_SHARDS processes share the GPU, each a shard of the tests (gtest sharding).
  mkdir -p $WORK/kiln_bin && ln -sf "$KILN" $WORK/kiln_bin/kiln
  shards=${GPU_TEST_SHARDS:-4} shard_pids=()
  for ((k = 0; k < shards; k++)); do
    (cd "$WORK" && GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$k KILN_BINARY_DIR=$WORK/kiln_bin \
       timeout "${GPU_TEST_TIMEOUT_S:-480}" "$KILN_HOME/bin/kiln_unit_tests" --gtest_brief=1 ${GTEST_FILTER:+--gtest_filter="$GTEST_FILTER"} \
       > "$OUT/unit_tests_$k.log" 2>&1; echo "shard $k exit code $?" > "$WORK/unit_exit_$k") &
    shard_pids+=($!)
  done
  wait "${shard_pids[@]}"
  cat "$WORK"/unit_exit_* | tee "$OUT/unit_summary.txt"
  cat "$OUT"/unit_tests_*.log > "$OUT/unit_tests.log" && rm -f "$OUT"/unit_tests_*.log
  grep -E "^\[  FAILED  \]|tests? from .* ran|^\[  PASSED|^\[  SKIPPED \] [0-9]" "$OUT/unit_tests.log" >> "$OUT/unit_summary.txt"
  grep -E "^\[  (FAILED|PASSED|SKIPPED) |tests? from .* ran" "$OUT/unit_tests.log" | tail -40
fi

if [[ " $stages " == *" sanitize "* ]] && [ -x "$KILN_HOME/bin/kiln_unit_tests" ]; then
  # compute-sanitizer's memcheck on the GPU tests named by SANITIZE_FILTER (default: one engine
  # from 8 threads and 8 contexts, 10,000 inferences).
  CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
  if [ -z "$CS" ]; then
    echo "no compute-sanitizer" | tee "$OUT/sanitizer.log"
  else
    (cd "$WORK" && timeout "${SANITIZE_TIMEOUT_S:-300}" "$CS" --tool memcheck --leak-check full --error-exitcode 99 \
       "$KILN_HOME/bin/kiln_unit_tests" --gtest_filter="${SANITIZE_FILTER:-ConcurrentContexts.Gpu*}" > "$OUT/sanitizer.log" 2>&1)
    echo "compute-sanitizer memcheck exit code $?"
    grep -E "ERROR SUMMARY|LEAK SUMMARY|^\[  (FAILED|PASSED|SKIPPED|       OK) " "$OUT/sanitizer.log" | head -20
  fi
fi

if [[ " $stages " == *" beforeafter "* ]]; then
  [ -n "$export_pid" ] && wait "$export_pid"
  wait_for_baseline
  if [ -x "$BASELINE_KILN" ]; then
    # shellcheck disable=SC2086
    timeout "${BEFOREAFTER_TIMEOUT_S:-420}" python3 bench/before_after.py ${BEFOREAFTER_MODELS:-} --before "$BASELINE_KILN" \
      --after "$KILN" --out-dir "$OUT" --work "$WORK/kiln_before_after" --rounds "${BEFOREAFTER_ROUNDS:-3}"
  else
    echo "beforeafter: no baseline kiln (stage baseline, or .carry/kiln_baseline.xz)"
  fi
fi

if [[ " $stages " == *" conformance "* ]]; then
  timeout 200 python3 scripts/gen_onnx_node_tests.py $WORK/kiln_nodetests > /dev/null 2>&1
  # The CPU's known failures apply to CUDA too (the same six one-ulp cases in session 4's run), so
  # any other failure is reported as unexpected.
  timeout 400 "$KILN_HOME/bin/kiln_conformance" $WORK/kiln_nodetests --backend cuda --jobs 16 \
    --known-failures tests/conformance/known_failures.txt \
    --report "$OUT/conformance_cuda.txt" > "$OUT/conformance_cuda_summary.txt" 2>&1
  echo "conformance exit code $?"
  grep -E "FAIL$|cases:|pass rate|^conformance|unexpected" "$OUT/conformance_cuda_summary.txt" | head -60
fi

if [[ " $stages " == *" coverage "* ]]; then
  models=$WORK/kiln_models
  mkdir -p "$models"
  names=${COVERAGE_MODELS:-$(python3 -c 'import sys; sys.path.insert(0, "bench"); import torch_models as t; print(" ".join(t.MODELS))')}
  # Eight exporter processes of two threads each: the suite exports in a few minutes.
  i=0
  for exporter in torchscript dynamo; do
    for chunk in 0 1 2 3; do
      sel=$(echo $names | tr ' ' '\n' | awk -v c=$chunk 'NR % 4 == c' | tr '\n' ' ')
      OMP_NUM_THREADS=2 timeout 300 python3 -c "import torch; torch.set_num_threads(2); import runpy, sys; sys.argv=['torch_models.py', '$models', '--exporter', '$exporter', '--only'] + '$sel'.split(); runpy.run_path('bench/torch_models.py', run_name='__main__')" \
        > "$OUT/export_${exporter}_$chunk.jsonl" 2> "$WORK/export_${exporter}_$chunk.log" &
      i=$((i + 1))
    done
  done
  wait
  cat "$OUT"/export_*.jsonl > $WORK/kiln_exports.jsonl; rm -f "$OUT"/export_*_*.jsonl
  grep -h '"ok": false' $WORK/kiln_exports.jsonl | cut -c1-200 > "$OUT/export_failures.txt"
  # (CI checks the CPU backend on every commit.)
  if [[ " ${COVERAGE_BACKENDS:-cpu cuda} " == *" cpu "* ]]; then
    timeout 200 python3 tests/models/torch_coverage.py "$KILN" "$models" --timeout 150 | tee "$OUT/coverage.md"
  fi
  # The CUDA backend, four models at a time on the one GPU.
  timeout "${COVERAGE_TIMEOUT_S:-300}" python3 tests/models/torch_coverage.py "$KILN" "$models" --timeout 100 --backend cuda --jobs 4 --no-tf32 \
    | tee "$OUT/coverage_cuda.md"
  # COVERAGE_BENCH=1: `kiln bench` of each CUDA-built detection model (split engines: the GPU
  # part's time and the whole end to end) beside its CPU build.
  if [ "${COVERAGE_BENCH:-0}" = 1 ]; then
    for model in "$models"/*rcnn*.torchscript.onnx "$models"/*retinanet*.torchscript.onnx "$models"/*ssd*.torchscript.onnx; do
      [ -f "$model" ] || continue
      name=$(basename "$model" .onnx)
      for backend in cuda cpu; do
        timeout 120 "$KILN" bench "$model" --backend "$backend" --duration 2 > "$OUT/bench_${name}_$backend.txt" 2>&1
        echo "== $name $backend: exit $?"; grep -E "GPU compute|end-to-end|median|layers run on the host" "$OUT/bench_${name}_$backend.txt" | head -6
      done
    done
  fi
fi

if [[ " $stages " == *" layers "* ]] && [ -f bench/layer_counts.py ]; then
  timeout 300 python3 bench/layer_counts.py --kiln "$KILN" --work-dir $WORK/kiln_layers --json "$OUT/layer_counts.json" | tee "$OUT/layer_counts.md"
fi

if [[ " $stages " == *" bench "* ]]; then
  # shellcheck disable=SC2086
  timeout $(( ${BENCH_BUDGET_S:-420} + 60 )) python3 bench/peer_bench.py ${BENCH_MODELS:-} --kiln "$KILN" \
    --out-dir "$OUT" --budget-s "${BENCH_BUDGET_S:-420}" --batches ${BENCH_BATCHES:-1 64} \
    --precisions ${BENCH_PRECISIONS:-fp16 tf32} --kiln-timeout-s "${BENCH_KILN_TIMEOUT_S:-120}"
  cat "$OUT/peer_bench.md" 2>/dev/null
fi

if [[ " $stages " == *" buildtime "* ]]; then
  # shellcheck disable=SC2086
  timeout "${BUILDTIME_TIMEOUT_S:-500}" python3 bench/build_time.py ${BUILDTIME_MODELS:-${BENCH_MODELS:-}} --kiln "$KILN" --out-dir "$OUT" \
    --torch-budget-s "${BUILDTIME_TORCH_BUDGET_S:-300}"
fi

if [[ " $stages " == *" layerbench "* ]]; then
  lb=$WORK/kiln_layer_bench
  timeout 300 python3 bench/layer_bench.py --kiln "$KILN" --out-dir "$OUT" --work "$lb" ${LAYERBENCH_ONLY:+--only $LAYERBENCH_ONLY}
  # Nsight Compute on chosen cases (their built plans, so tuning trials are not profiled).
  NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  for c in ${NCU_CASES:-}; do
    [ -n "$NCU" ] || { echo "no ncu"; break; }
    "$KILN" build "$lb/case$c.onnx" --backend cuda --fp16 -o "$lb/case$c.plan" > "$OUT/ncu_build$c.txt" 2>&1
    "$KILN" inspect "$lb/case$c.plan" >> "$OUT/ncu_build$c.txt" 2>&1  # the tactics chosen
    timeout 120 "$NCU" --clock-control none --launch-count 4 --section SpeedOfLight --section Occupancy \
      --section LaunchStats --section MemoryWorkloadAnalysis --section WarpStateStats \
      --section ComputeWorkloadAnalysis "$KILN" bench "$lb/case$c.plan" --iterations 2 \
      --warmup-ms 0 > "$OUT/ncu_case$c.txt" 2>&1
    echo "ncu case $c: exit $?"
  done
fi

if [[ " $stages " == *" profile "* ]]; then
  work=$WORK/kiln_profile
  mkdir -p "$work"
  for name in ${PROFILE_MODELS:-resnet50 vit_b_16 bert_base}; do
    exporter=$(python3 -c "import sys; sys.path.insert(0, 'bench'); from exporters import exporter_for; print(exporter_for('$name'))")
    OMP_NUM_THREADS=4 CUDA_VISIBLE_DEVICES= timeout 200 python3 bench/torch_models.py "$work" --exporter "$exporter" \
      --only "$name" --batch "${PROFILE_BATCH:-64}" > /dev/null 2> "$WORK/profile_export_$name.log" &
  done
  wait
  for model in "$work"/*.onnx; do
    name=$(basename "$model" .onnx)
    # PROFILE_PRECISION=tf32 profiles the FP32 build (TF32 matrix work) instead of the FP16 one.
    prec=()
    [ "${PROFILE_PRECISION:-fp16}" = fp16 ] && prec=(--fp16)
    timeout 150 "$KILN" bench "$model" --backend cuda "${prec[@]}" --graph --profile --duration 1 \
      --json "$OUT/profile_$name.json" > "$OUT/profile_$name.txt" 2>&1
    echo "$name: exit $?"; head -c 6000 "$OUT/profile_$name.txt"
  done
fi

wait_for_baseline
