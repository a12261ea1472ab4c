#!/usr/bin/env bash
# README command 2, and CI's (.ci/run): installs dependencies, then builds and tests kiln in both
# of its configurations:
#   build/      with the CUDA backend, where the CUDA toolkit is installed: unit tests (the GPU
#               ones skip, reported as skipped, on a machine without a GPU)
#   build-cpu/  the CPU backend only, as on a machine without the toolkit: unit tests, ONNX
#               conformance, model parity against ONNX Runtime and the benchmark scripts' table
#               logic (pytest)
# then replays the fuzz corpora and crash reproducers under AddressSanitizer and
# UndefinedBehaviorSanitizer (scripts/fuzz.sh replay). The two builds share every object that
# compiles the same in both through ccache, so the second costs little.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
stage() { echo "== $* ($(((SECONDS - start) / 60)) min in)"; }
status=0
ctest_in() {
  local dir=$1
  shift
  (cd "$dir" && ctest --output-on-failure -j "$(nproc)" "$@") || status=1
}

stage "dependencies"
scripts/install_deps.sh
# As if the virtual environment were activated: the tests that run ONNX Runtime call `python3`.
export PYTHON=$PWD/.venv/bin/python PATH="$PWD/.venv/bin:$PATH"

KILN_BUILD_DIR=build KILN_WITH_CUDA=ON KILN_CONFIGURE_ONLY=1 scripts/build.sh
if grep -q '^CMAKE_CUDA_COMPILER:FILEPATH=/' build/CMakeCache.txt; then
  stage "build/: kiln with the CUDA backend"
  KILN_BUILD_DIR=build KILN_WITH_CUDA=ON scripts/build.sh
  stage "build/: unit tests"
  ctest_in build -E onnx_conformance
else
  echo "no CUDA toolkit here: build/ is CPU-only too, so it is tested once, as build-cpu/"
fi

stage "build-cpu/: kiln with the CPU backend only"
KILN_BUILD_DIR=build-cpu KILN_WITH_CUDA=OFF scripts/build.sh
stage "build-cpu/: unit tests and ONNX conformance"
ctest_in build-cpu
# The conformance test prints per-op results; show them even when it passes.
[ -f build-cpu/Testing/Temporary/LastTest.log ] &&
  sed -n '/ONNX node test conformance/,/^conformance:/p' build-cpu/Testing/Temporary/LastTest.log |
  tail -n 12
stage "model parity against ONNX Runtime (pytest)"
KILN_BIN="$PWD/build-cpu/kiln" "$PYTHON" -m pytest -q -s tests/models tests/bench || status=1

stage "fuzz corpora under AddressSanitizer and UndefinedBehaviorSanitizer"
scripts/fuzz.sh replay || status=1
stage "done, status $status"
exit $status
