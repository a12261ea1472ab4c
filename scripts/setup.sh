#!/usr/bin/env bash
# README command 1: installs dependencies, builds kiln, and runs the shipped demo model through
# `kiln run`, printing its outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
echo
echo "== kiln run models/resnet_tiny.onnx =="
build/kiln run models/resnet_tiny.onnx --shape input=1x3x32x32 --output-dir out/demo
