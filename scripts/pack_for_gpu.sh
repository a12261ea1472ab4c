#!/usr/bin/env bash
# Packs what the GPU machine lacks to build kiln there (it has CUDA, cuDNN, g++, CMake and Python,
# but no package registry): the files of kiln's Debian build dependencies and cuDNN's headers, as
# .carry/deps.tar.xz. Pass `carry: [".carry"]` to the device tool; scripts/gpu.sh builds from the
# working tree with them, on the GPU machine's 16 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(libprotobuf-dev libprotobuf32 protobuf-compiler libprotoc32 libflatbuffers-dev
  flatbuffers-compiler libflatbuffers2 libcli11-dev nlohmann-json3-dev libdnnl-dev libdnnl2
  libgtest-dev libgmock-dev ocl-icd-libopencl1)
list=$(mktemp)
for p in "${PACKAGES[@]}"; do
  dpkg -L "$p" | while read -r f; do [ -f "$f" ] || [ -L "$f" ] && echo "${f#/}"; done
done > "$list"
ls usr/local/cuda/include/cudnn*.h >/dev/null 2>&1 || true
(cd / && ls usr/local/cuda/include/cudnn*.h) >> "$list"
mkdir -p .carry
tar -C / -cJf .carry/deps.tar.xz -T "$list"
rm -f "$list" .carry/kiln.tar.xz
ls -la .carry/deps.tar.xz

# With --build: also this machine's kiln, unit-test and conformance binaries (a Release build for
# sm_90a in ./build, linked against the packed libraries and the CUDA libraries the GPU machine
# has), as .carry/kiln_build.tar.xz with the commit they were built from. scripts/gpu.sh then runs
# them instead of building there (about 2.5 device minutes saved a call).
# With --baseline COMMIT: the source of COMMIT as .carry/baseline_src.tar.xz, which gpu.sh's
# baseline stage builds there to compare a change with its parent (beforeafter).
build=0 baseline=
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=1 ;;
    --baseline) baseline=${2:?--baseline needs a commit}; shift ;;
    *) echo "usage: $0 [--build] [--baseline COMMIT]" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$baseline" ]; then
  git archive --format=tar "$baseline" | xz -6 -T2 > .carry/baseline_src.tar.xz
  ls -la .carry/baseline_src.tar.xz
fi
if [ "$build" = 1 ]; then
  ninja -C build kiln_tool kiln_unit_tests kiln_conformance >/dev/null
  stage=$(mktemp -d)
  cp build/kiln build/tests/kiln_unit_tests build/tests/conformance/kiln_conformance "$stage/"
  strip "$stage"/*
  { git rev-parse HEAD; git status --short | grep -v '^??' || true; } > "$stage/BUILD_COMMIT"
  XZ_OPT="-6 -T2" tar -C "$stage" -cJf .carry/kiln_build.tar.xz .
  rm -rf "$stage"
  ls -la .carry/kiln_build.tar.xz
fi
