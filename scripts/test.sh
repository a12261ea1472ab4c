#!/usr/bin/env bash
# README command 2: installs dependencies, builds kiln, and runs every test: unit tests and ONNX
# conformance (ctest), then model parity against ONNX Runtime and the benchmark
# scripts' table logic (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
BUILD_DIR=${KILN_BUILD_DIR:-build}
status=0
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$(nproc)") || status=1
# The conformance test prints per-op results; show them even when it passes.
[ -f "$BUILD_DIR/Testing/Temporary/LastTest.log" ] &&
  sed -n '/ONNX node test conformance/,/^conformance:/p' "$BUILD_DIR/Testing/Temporary/LastTest.log" | tail -n 12
KILN_BIN="$PWD/$BUILD_DIR/kiln" ${PYTHON:-python3} -m pytest -q -s tests/models tests/bench || status=1
exit $status
