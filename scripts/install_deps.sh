#!/usr/bin/env bash
# Installs what kiln needs to build and test, only where it is missing: Debian packages (compiler
# toolchain, protobuf, FlatBuffers, CLI11, nlohmann-json, oneDNN, GoogleTest) and Python packages
# (onnx for the schema and conformance tests, onnxruntime for parity tests, numpy, pytest).
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build ccache python3 python3-pip
  libprotobuf-dev protobuf-compiler libflatbuffers-dev flatbuffers-compiler
  libcli11-dev nlohmann-json3-dev libdnnl-dev libgtest-dev
)
# Pinned so that the ONNX schema, the generated conformance cases and the known-failures list agree.
PIP_PACKAGES=(onnx==1.23.2 onnxruntime==1.32.0 numpy pytest)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! "$PY" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
want = {"onnx": "1.23.2", "onnxruntime": "1.32.0"}
for name, version in want.items():
    if m.version(name) != version:
        sys.exit(1)
import numpy, pytest  # noqa: F401
PY
then
  echo "installing Python packages: ${PIP_PACKAGES[*]}"
  "$PY" -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}" ||
    "$PY" -m pip install --quiet --disable-pip-version-check --break-system-packages "${PIP_PACKAGES[@]}"
fi
