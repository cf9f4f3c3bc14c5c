#!/usr/bin/env bash
# session 7: make test-gpu-hip's tests in two halves side by side (the one suite timed out at
# 480 s beside make test-gpu in run9), then bench --dtypes and bench-elementwise alone.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r11; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/r11.tgz -C /tmp r11 2>/dev/null
}
make -C tools/hipshim PYTHON=python3 > $R/hipshim_build.txt 2>&1 || { echo "hipshim build failed"; tail $R/hipshim_build.txt; }
A="tests/test_gpu.py tests/test_gpu_distributions.py tests/test_gpu_capture.py tests/test_hipshim.py"
HIP="env ROCM_PATH=$PWD/tools/hipshim/build ROCSAMPLE_BACKEND=hip ROCSAMPLE_REQUIRE_GPU=1 python3 -m pytest -m gpu -ra -q -p no:cacheprovider"
step hip_half_a 315 $HIP $A &
step hip_half_b 315 $HIP tests $(for f in $A; do echo --ignore=$f; done) &
wait
step bench_dtypes 80 python3 -m rocsample bench --dtypes --out $R/dtypes
step bench_elementwise 170 python3 -m rocsample bench-elementwise --reps 10 --out $R/elementwise
tar czf $OUT/r11.tgz -C /tmp r11
