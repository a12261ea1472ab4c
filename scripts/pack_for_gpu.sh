#!/usr/bin/env bash
# Packs what the GPU machine needs to run kiln (it has CUDA and Python but none of kiln's other
# libraries, and no package registry): the built binaries and the shared libraries they link,
# as .carry/kiln.tar.xz. Pass `carry: [".carry"]` to the device tool; scripts/gpu.sh unpacks it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${KILN_BUILD_DIR:-build}
stage=$(mktemp -d)
mkdir -p "$stage/kiln/bin" "$stage/kiln/lib" .carry
cp "$BUILD_DIR/kiln" "$stage/kiln/bin/"
for t in "$BUILD_DIR"/tests/kiln_unit_tests "$BUILD_DIR"/tests/kiln_gpu_tests "$BUILD_DIR"/bench/kiln_bench; do
  [ -f "$t" ] && cp "$t" "$stage/kiln/bin/"
done
strip "$stage"/kiln/bin/* 2>/dev/null || true
# Libraries that Ubuntu's CUDA image lacks; glibc, libstdc++ and CUDA's own come from there.
for lib in libprotobuf.so.32 libdnnl.so.2 libOpenCL.so.1 libgomp.so.1; do
  cp -L "/lib/x86_64-linux-gnu/$lib" "$stage/kiln/lib/"
done
tar -C "$stage" -cJf .carry/kiln.tar.xz kiln
rm -rf "$stage"
ls -la .carry/kiln.tar.xz
