#!/usr/bin/env bash
# Build .fi/libfi_ref.so: FlashInfer's RMSNorm / fused-add RMSNorm / SiLU-and-mul kernels behind
# the C ABI of tools/flashinfer_ref/fi_ref.cu, for the MLP benchmark on an NVIDIA GPU that cannot
# fetch packages (the .so travels in the ignored .fi/ via the device tool's carry).
# Needs nvcc (CUDA 13) and PyPI; the headers come from the flashinfer-python wheel (and cuBLAS /
# cuRAND headers its norm header includes), unpacked under .fi/, never committed.
#   Usage: tools/flashinfer_ref/build.sh [ARCH=sm_90]     Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCH=${ARCH:-sm_90}
FI_VERSION=${FI_VERSION:-0.7.4}
W=.fi/wheels
mkdir -p "$W" .fi/include
dl() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
         --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
         --platform manylinux2014_x86_64 --platform any -d "$W" "$@"; }
ls "$W"/flashinfer_python-"$FI_VERSION"-*.whl >/dev/null 2>&1 || dl "flashinfer-python==$FI_VERSION"
ls "$W"/nvidia_cublas-*.whl >/dev/null 2>&1 || dl "nvidia-cublas>=13,<14"
ls "$W"/nvidia_curand-*.whl >/dev/null 2>&1 || dl "nvidia-curand>=10.4,<11"
python3 - "$W" "$FI_VERSION" <<'PY'
import glob, os, sys, zipfile
w, ver = sys.argv[1], sys.argv[2]
for pattern, prefix, dest in ((f"flashinfer_python-{ver}-*.whl", "flashinfer/data/include/", ".fi/include/"),
                              ("nvidia_cublas-*.whl", "nvidia/cu13/include/", ".fi/include/"),
                              ("nvidia_curand-*.whl", "nvidia/cu13/include/", ".fi/include/")):
    z = zipfile.ZipFile(sorted(glob.glob(os.path.join(w, pattern)))[-1])
    for n in z.namelist():
        if n.startswith(prefix) and not n.endswith("/"):
            path = os.path.join(dest, n[len(prefix):])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(z.read(n))
PY
nvcc -O3 -std=c++17 -arch="$ARCH" -shared -Xcompiler -fPIC -I.fi/include \
    -o .fi/libfi_ref.so tools/flashinfer_ref/fi_ref.cu 2>&1 | grep -v -i "warning\|remark\|^$" || true
test -s .fi/libfi_ref.so
echo "built .fi/libfi_ref.so (FlashInfer $FI_VERSION, $ARCH)"
