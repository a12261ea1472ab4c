#!/usr/bin/env bash
# README command 1: installs dependencies (Debian packages; Python packages into .venv/), builds
# the kiln library and the `kiln` tool (not the tests: scripts/test.sh builds those), and runs the
# shipped demo model through `kiln run`, printing its outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
echo "== kiln set-up: dependencies, then the library and the kiln tool =="
scripts/install_deps.sh
jobs=$(nproc)
echo "building kiln into build/ with $jobs compiler job(s); with a cold compiler cache this takes" \
  "about $((40 / jobs)) minutes with the CUDA toolkit and $((14 / jobs)) without" >&2
scripts/build.sh kiln_tool
echo
echo "== kiln run models/resnet_tiny.onnx =="
build/kiln run models/resnet_tiny.onnx --shape input=1x3x32x32 --output-dir out/demo
echo "set-up done in $((SECONDS - start)) s"
