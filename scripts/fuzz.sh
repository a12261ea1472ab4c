#!/usr/bin/env bash
# Builds and runs kiln's fuzz targets (tests/fuzz, docs/reliability.md).
#
#   scripts/fuzz.sh run SECONDS [TARGET...]  libFuzzer (clang) for SECONDS per target, starting
#                                            from the committed corpora; new inputs go to
#                                            build-fuzz/corpus/TARGET, crash reproducers to
#                                            build-fuzz/crashes/TARGET (a crash does not stop it)
#   scripts/fuzz.sh replay [TARGET...]       for CI: the targets built without libFuzzer (gcc,
#                                            -O1, ASan + UBSan) run every corpus and regression
#                                            file once; prints "fuzz replay: N passed, M failed"
#                                            and exits non-zero on any failure
#   scripts/fuzz.sh build | build-replay     only the build of either
#   scripts/fuzz.sh corpora KILN             regenerates the committed corpora (KILN: a kiln
#                                            tool binary, which builds the plan seeds)
#
# TARGET is one of onnx_build, plan_load, npy_read, shape_parse (default: all). Environment:
# FUZZ_BUILD_DIR (build-fuzz), FUZZ_REPLAY_BUILD_DIR (build-fuzz-replay), PYTHON, FUZZ_JOBS
# (compiler jobs, default nproc), FUZZ_ARGS (more libFuzzer flags for `run`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ALL_TARGETS=(onnx_build plan_load npy_read shape_parse)
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
REPLAY_BUILD=${FUZZ_REPLAY_BUILD_DIR:-build-fuzz-replay}
PY=${PYTHON:-$ROOT/.venv/bin/python}
JOBS=${FUZZ_JOBS:-$(nproc)}
# Bounds checks in the standard library (vector::operator[] and friends) catch out-of-range
# indexes that stay inside an allocation, which ASan alone does not see.
COMMON_FLAGS="-fno-omit-frame-pointer -fno-sanitize-recover=undefined -D_GLIBCXX_ASSERTIONS"

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

targets_from_args() {
  if [ $# -eq 0 ]; then
    echo "${ALL_TARGETS[@]}"
    return
  fi
  for t in "$@"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "unknown fuzz target '$t'" >&2; exit 2; }
  done
  echo "$@"
}

# configure DIR COMPILER FLAGS EXTRA_CMAKE_ARGS...
configure() {
  local dir=$1 cxx=$2 flags=$3
  shift 3
  # As in scripts/build.sh: ccache keys on paths relative to the checkout.
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_CXX_FLAGS="$flags" -DPython3_EXECUTABLE="$PY" -DKILN_WITH_CUDA=OFF \
    -DKILN_BUILD_TESTS=OFF -DKILN_BUILD_FUZZERS=ON "$@" >/dev/null
}

build_targets() {
  local dir=$1
  shift
  local names=()
  for t in "$@"; do names+=("fuzz_$t"); done
  ninja -C "$dir" -j "$JOBS" "${names[@]}"
}

build_libfuzzer() {
  configure "$BUILD" clang++ "-O1 -g -fsanitize=fuzzer-no-link,address,undefined $COMMON_FLAGS"
  build_targets "$BUILD" "$@"
}

build_replay() {
  # No debug info: CI needs the verdict, and the function names ASan prints without it; rebuild
  # with FUZZ_REPLAY_FLAGS=-g for line numbers.
  configure "$REPLAY_BUILD" g++ "-O1 -fsanitize=address,undefined $COMMON_FLAGS ${FUZZ_REPLAY_FLAGS:-}" \
    -DKILN_FUZZ_REPLAY=ON
  build_targets "$REPLAY_BUILD" "$@"
}

# Sanitizer settings for every run: fail on the first report, one thread of kernels.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:handle_abort=1:detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1

run_fuzzers() {
  local seconds=$1
  shift
  local summary=()
  for t in "$@"; do
    local corpus="$BUILD/corpus/$t" crashes="$BUILD/crashes/$t" log="$BUILD/logs/$t.log"
    mkdir -p "$corpus" "$crashes" "$BUILD/logs" "$BUILD/tmp"
    echo "== fuzz_$t for ${seconds}s (log: $log) =="
    # New inputs go to the first folder only; the committed corpus is read. The regressions are
    # left to `replay`, so that the reproducers saved here are new findings. Fork mode with
    # ignore_*: a crash is saved and fuzzing goes on, so one known crash does not end the run.
    # A tensor byte limit of 32 MiB (fuzz_engine.hpp) makes any allocation over 1 GiB a bug.
    set +e
    TMPDIR="$ROOT/$BUILD/tmp" "$BUILD/tests/fuzz/fuzz_$t" "$corpus" "tests/fuzz/corpus/$t" \
      -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 \
      -malloc_limit_mb=1024 -artifact_prefix="$crashes/" -fork=1 -ignore_crashes=1 \
      -ignore_timeouts=1 -ignore_ooms=1 ${FUZZ_ARGS:-} >"$log" 2>&1
    local rc=$?
    set -e
    # The last progress line: "#EXECS: cov: ... oom/timeout/crash: A/B/C time: Ss ...".
    local last execs seconds_run rate found
    last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1)
    execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
    seconds_run=$(sed -E 's/.* time: ([0-9]+)s.*/\1/' <<<"$last")
    rate="?"
    [ -n "$execs" ] && [ "${seconds_run:-0}" -gt 0 ] && rate=$((execs / seconds_run))
    found=$(find "$crashes" -type f | wc -l)
    summary+=("fuzz_$t: ${execs:-?} execs in ${seconds_run:-?}s (${rate}/s), exit $rc, $found reproducer(s) in $crashes")
  done
  printf '%s\n' "${summary[@]}"
}

replay() {
  local failed=0 passed=0 out line
  for t in "$@"; do
    local dirs=()
    for d in "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t"; do
      [ -d "$d" ] && dirs+=("$d")
    done
    set +e
    out=$(TMPDIR="${TMPDIR:-/tmp}" "$REPLAY_BUILD/tests/fuzz/fuzz_$t" "${dirs[@]}" 2>&1)
    set -e
    # The driver's own lines: failures, then "fuzz_TARGET: N passed, M failed".
    printf '%s\n' "$out" | grep -v -E "^fuzz_$t: [0-9]+ passed" || true
    line=$(printf '%s\n' "$out" | grep -E "^fuzz_$t: [0-9]+ passed, [0-9]+ failed$" | tail -n 1)
    if [ -z "$line" ]; then
      echo "fuzz_$t: the replay driver did not finish" >&2
      failed=$((failed + 1))
      continue
    fi
    echo "$line" | sed 's/^/  /'
    passed=$((passed + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
    failed=$((failed + $(echo "$line" | sed -E 's/.*, ([0-9]+) failed/\1/')))
  done
  echo "fuzz replay: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

[ $# -ge 1 ] || usage
mode=$1
shift
case "$mode" in
  build)
    read -r -a targets <<<"$(targets_from_args "$@")"
    build_libfuzzer "${targets[@]}"
    ;;
  build-replay)
    read -r -a targets <<<"$(targets_from_args "$@")"
    build_replay "${targets[@]}"
    ;;
  run)
    [ $# -ge 1 ] && [[ $1 =~ ^[0-9]+$ ]] || usage
    seconds=$1
    shift
    read -r -a targets <<<"$(targets_from_args "$@")"
    build_libfuzzer "${targets[@]}"
    run_fuzzers "$seconds" "${targets[@]}"
    ;;
  replay)
    read -r -a targets <<<"$(targets_from_args "$@")"
    mkdir -p "$REPLAY_BUILD"
    if ! build_replay "${targets[@]}" >"$REPLAY_BUILD/fuzz-build.log" 2>&1; then
      tail -n 40 "$REPLAY_BUILD/fuzz-build.log"
      echo "fuzz replay: the build failed (log: $REPLAY_BUILD/fuzz-build.log)"
      exit 1
    fi
    replay "${targets[@]}"
    ;;
  corpora)
    [ $# -eq 1 ] || usage
    "$PY" tests/fuzz/make_corpora.py --kiln "$1" --out tests/fuzz
    ;;
  *)
    usage
    ;;
esac
