#!/usr/bin/env bash
# session 6, device call 7 (final, about 300 s of device time left): the GPU tests of what this
# session changed (Candle's elementwise kernels and their grid, the MLP API's sm_count) on the
# cuda backend and on the hip backend (hipshim) side by side, with compute-sanitizer memcheck
# of tools/sanitize_kernels.py beside them.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r7; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/r7.tgz -C /tmp r7 2>/dev/null  # what is done so far comes back if the call is cut
    return $rc
}
F="tests/test_gpu_elementwise.py tests/test_gpu_api_elementwise.py tests/test_gpu_mlp.py"
step warmup 45 python3 -m rocsample warmup || exit 1
step gpu_cuda 190 make test-gpu PYTEST_ARGS="-q -p no:cacheprovider $F" &
step gpu_hip 190 make test-gpu-hip PYTEST_ARGS="-q -p no:cacheprovider $F" &
step memcheck 190 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py &
wait
tar czf $OUT/r7.tgz -C /tmp r7
