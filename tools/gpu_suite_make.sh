#!/usr/bin/env bash
# `make test-gpu` then `make test-gpu-hip` on an NVIDIA machine, logs under OUT (one device
# call; wheels the device lacks travel in .whl/).   Usage: OUT=dir [COMMIT=sha] tools/gpu_suite_make.sh
set -u -o pipefail
OUT=${OUT:?set OUT}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache-suite
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ
  echo "commit: ${COMMIT:-unknown}"; } > "$OUT/device.txt"
timeout "${GPU_S:-290}" make test-gpu PYTEST_ARGS="-q -p no:cacheprovider" > "$OUT/make_test_gpu.txt" 2>&1
echo "make test-gpu: rc=$? $(tail -1 "$OUT/make_test_gpu.txt")"
timeout "${HIP_S:-290}" make test-gpu-hip PYTEST_ARGS="-q -p no:cacheprovider" > "$OUT/make_test_gpu_hip.txt" 2>&1
echo "make test-gpu-hip: rc=$? $(tail -1 "$OUT/make_test_gpu_hip.txt")"
