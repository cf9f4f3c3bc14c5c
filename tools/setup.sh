#!/usr/bin/env bash
# Idempotent set-up for rocsample on Debian: ROCm compile toolchain, a virtualenv, pip installs.
# Usage: tools/setup.sh [VENV_DIR]   (default .venv). Safe to run again: it only adds what is missing.
set -euo pipefail
VENV="${1:-.venv}"
PY="${PYTHON:-python3}"
ROCM_PKGS="libamdhip64-5 libamd-comgr2 libhiprtc-builtins5 libhsa-runtime64-1 rocm-device-libs libamdhip64-dev hipcc"
# g++ builds the kernels as host code for the CPU tests (tests/kernel_host, tests/kernel_device.py).
ROCM_PKGS="$ROCM_PKGS g++"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $ROCM_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  "$PY" -c "import venv, ensurepip" 2>/dev/null || missing="$missing python3-venv"
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup: not root, so not installing:$missing (hiprtc tests will skip; run 'sudo make setup')" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.rocsample-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: pip install -e .[hip,cuda,test,plot]"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[hip,cuda,test,plot]"
  touch "$stamp"
fi
