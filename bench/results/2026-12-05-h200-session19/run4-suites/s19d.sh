#!/usr/bin/env bash
# session 19, call D: the GPU suites on the commit with the packed top-k candidate scan (1f17fd3):
# make test-gpu, make test-gpu-hip's tests on the hipshim in two halves, side by side,
# as session 18 run 1, then memcheck of
# tools/sanitize_kernels.py. Each step's log is packed into $OUT as it ends.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rd; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
cat $R/device.txt
make -C tools/hipshim PYTHON=python3 > $R/hipshim_build.txt 2>&1 || { echo "hipshim build failed"; tail $R/hipshim_build.txt; }
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches|kernels ready' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/rd.tgz -C /tmp rd 2>/dev/null
    return $rc
}
step warmup 120 python3 -m rocsample warmup
A="tests/test_gpu.py tests/test_gpu_distributions.py tests/test_gpu_capture.py tests/test_hipshim.py"
HIP="env ROCM_PATH=$PWD/tools/hipshim/build ROCSAMPLE_BACKEND=hip python3 -m pytest -m gpu -ra -q -p no:cacheprovider"
step make_test_gpu 470 make test-gpu PYTEST_ARGS="-q -p no:cacheprovider" &
step hip_half_a 470 $HIP $A &
step hip_half_b 470 $HIP tests $(for f in $A; do echo --ignore=$f; done) &
wait
step memcheck 60 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py
cp .exp/s19d.sh $R/; tar czf $OUT/rd.tgz -C /tmp rd; cat $R/steps.txt
