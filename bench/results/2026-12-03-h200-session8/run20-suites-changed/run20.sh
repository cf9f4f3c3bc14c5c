#!/usr/bin/env bash
# session 8, final verification cut to what changed (device time short): the elementwise and
# MLP GPU tests on the cuda backend and on the hip backend over the hipshim, side by side,
# and memcheck of tools/sanitize_kernels.py (every family).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r20; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/r20.tgz -C /tmp r20 2>/dev/null
    return $rc
}
make -C tools/hipshim PYTHON=python3 > $R/hipshim_build.txt 2>&1 || { echo "hipshim build failed"; tail $R/hipshim_build.txt; }
T="tests/test_gpu_elementwise.py tests/test_gpu_api_elementwise.py tests/test_gpu_mlp.py"
step cuda ${LIM:-300} env ROCSAMPLE_REQUIRE_GPU=1 python3 -m pytest -m gpu -ra -q -p no:cacheprovider $T &
step hip ${LIM:-300} env ROCM_PATH=$PWD/tools/hipshim/build ROCSAMPLE_BACKEND=hip ROCSAMPLE_REQUIRE_GPU=1 python3 -m pytest -m gpu -ra -q -p no:cacheprovider $T &
step memcheck 250 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py &
wait
tar czf $OUT/r20.tgz -C /tmp r20; cat $R/steps.txt
