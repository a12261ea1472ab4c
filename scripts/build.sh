#!/usr/bin/env bash
# Configures and builds kiln into build/ (KILN_BUILD_DIR): the given ninja targets, or everything
# (library, `kiln` tool, tests) when none are given. KILN_WITH_CUDA=OFF builds the CPU backend
# only, even where the CUDA toolkit is installed; KILN_CONFIGURE_ONLY=1 stops after CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${KILN_BUILD_DIR:-build}
PY=${PYTHON:-$PWD/.venv/bin/python}
# ccache keys on paths relative to the checkout, so build folders side by side (the CUDA and the
# CPU-only build) share the objects that compile the same in both.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$PY" \
  -DKILN_WITH_CUDA="${KILN_WITH_CUDA:-ON}" ${KILN_CMAKE_ARGS:-} >/dev/null
[ "${KILN_CONFIGURE_ONLY:-0}" = 1 ] && exit 0
ninja -C "$BUILD_DIR" -j "$(nproc)" "$@"
