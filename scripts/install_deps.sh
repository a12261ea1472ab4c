#!/usr/bin/env bash
# Installs what kiln needs to build and test, only where it is missing: Debian packages (compiler
# toolchain, protobuf, FlatBuffers, CLI11, nlohmann-json, oneDNN, GoogleTest; clang for the
# fuzzers and sanitizers) and, into the virtual environment .venv/ that it creates, the Python
# packages (onnx for the schema and conformance tests, onnxruntime for parity tests, numpy,
# pytest). Prints where the Python interpreter is, for the caller to use.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build ccache python3 python3-venv
  libprotobuf-dev protobuf-compiler libflatbuffers-dev flatbuffers-compiler
  libcli11-dev nlohmann-json3-dev libdnnl-dev libgtest-dev
  # oneDNN's CMake config looks for OpenCL, which Debian only recommends.
  ocl-icd-opencl-dev
)
# The fuzz targets and the sanitizer replay need clang's libFuzzer and sanitizer runtimes; only the
# test command asks for them (KILN_WITH_FUZZERS=1), so set-up stays small.
[ "${KILN_WITH_FUZZERS:-0}" = 1 ] && APT_PACKAGES+=(clang libclang-rt-dev)
# Pinned so that the ONNX schema, the generated conformance cases and the known-failures list agree.
PIP_PACKAGES=(onnx==1.23.2 onnxruntime==1.32.0 "numpy<3" pytest)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages (about 2 minutes): ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# Python packages live in a virtual environment of the checkout's own (PEP 668: Debian's python3
# refuses system-wide pip installs). KILN_PYTHON names another interpreter to create it from.
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating the Python virtual environment $VENV" >&2
  "${KILN_PYTHON:-python3}" -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" - <<'PY' 2>/dev/null; then
import importlib.metadata as m, sys
want = {"onnx": "1.23.2", "onnxruntime": "1.32.0"}
for name, version in want.items():
    if m.version(name) != version:
        sys.exit(1)
import numpy, pytest  # noqa: F401
PY
  echo "installing Python packages into $VENV (about 1 minute): ${PIP_PACKAGES[*]}" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi
