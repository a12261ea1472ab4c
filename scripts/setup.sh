#!/usr/bin/env bash
# README command 1: installs dependencies (Debian packages; Python packages into .venv/), builds
# the kiln library and the `kiln` tool into build/ (not the tests: scripts/test.sh builds those),
# and runs the shipped demo model through `kiln run`, printing its outputs.
# The CUDA backend is built where a GPU can run it (nvidia-smi lists one); elsewhere the CPU
# backend alone, which takes a third of the time. KILN_WITH_CUDA=ON or OFF decides instead.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
echo "== kiln set-up: dependencies, then the library and the kiln tool =="
scripts/install_deps.sh
if [ -z "${KILN_WITH_CUDA:-}" ]; then
  KILN_WITH_CUDA=OFF
  nvidia-smi -L >/dev/null 2>&1 && KILN_WITH_CUDA=ON
fi
jobs=$(nproc)
if [ "$KILN_WITH_CUDA" = ON ]; then
  minutes=$((34 / jobs))
else
  minutes=$((10 / jobs))
fi
echo "building kiln (CUDA backend: $KILN_WITH_CUDA) into build/ with $jobs compiler job(s): about" \
  "$minutes minutes with a cold compiler cache"
KILN_WITH_CUDA=$KILN_WITH_CUDA scripts/build.sh kiln_tool
echo
echo "== kiln run models/resnet_tiny.onnx =="
build/kiln run models/resnet_tiny.onnx --shape input=1x3x32x32 --output-dir out/demo
echo "set-up done in $((SECONDS - start)) s"
