#!/usr/bin/env bash
# session 14, call D: the final suites on HEAD, in parallel (session 12's run C steps):
# make test-gpu, make test-gpu-hip's tests on the hipshim in two halves, memcheck of
# tools/sanitize_kernels.py (every family, the row8 entries included).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rc; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
make -C tools/hipshim PYTHON=python3 > $R/hipshim_build.txt 2>&1 || { echo "hipshim build failed"; tail $R/hipshim_build.txt; }
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches|kernels ready' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/rc.tgz -C /tmp rc 2>/dev/null
    return $rc
}
step warmup 120 python3 -m rocsample warmup
A="tests/test_gpu.py tests/test_gpu_distributions.py tests/test_gpu_capture.py tests/test_hipshim.py"
HIP="env ROCM_PATH=$PWD/tools/hipshim/build ROCSAMPLE_BACKEND=hip python3 -m pytest -m gpu -ra -q -p no:cacheprovider"
step make_test_gpu 520 make test-gpu PYTEST_ARGS="-q -p no:cacheprovider" &
step hip_half_a 520 $HIP $A &
step hip_half_b 520 $HIP tests $(for f in $A; do echo --ignore=$f; done) &
step memcheck 300 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py &
wait
tar czf $OUT/rc.tgz -C /tmp rc; cat $R/steps.txt
