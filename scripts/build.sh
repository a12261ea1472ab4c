#!/usr/bin/env bash
# Configures and builds kiln (library, `kiln` tool, tests) into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${KILN_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$(command -v "${PYTHON:-python3}")" >/dev/null
ninja -C "$BUILD_DIR" -j "$(nproc)"
