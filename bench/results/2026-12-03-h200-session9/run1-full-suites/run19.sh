#!/usr/bin/env bash
# session 8, final verification in one call (device time is short): warmup, then side by side
# make test-gpu, make test-gpu-hip's tests in two halves, and memcheck of sanitize_kernels.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r19; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/r19.tgz -C /tmp r19 2>/dev/null
    return $rc
}
make -C tools/hipshim PYTHON=python3 > $R/hipshim_build.txt 2>&1 || { echo "hipshim build failed"; tail $R/hipshim_build.txt; }
step warmup 100 python3 -m rocsample warmup || exit 1
A="tests/test_gpu.py tests/test_gpu_distributions.py tests/test_gpu_capture.py tests/test_hipshim.py"
HIP="env ROCM_PATH=$PWD/tools/hipshim/build ROCSAMPLE_BACKEND=hip ROCSAMPLE_REQUIRE_GPU=1 python3 -m pytest -m gpu -ra -q -p no:cacheprovider"
step make_test_gpu ${LIM:-470} make test-gpu PYTEST_ARGS="-q -p no:cacheprovider" &
[ -n "${HALF_A:-}" ] && step hip_half_a ${LIM:-470} $HIP $A &
step hip_half_b ${LIM:-470} $HIP tests $(for f in $A; do echo --ignore=$f; done) &
step memcheck 300 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py &
wait
tar czf $OUT/r19.tgz -C /tmp r19; cat $R/steps.txt
