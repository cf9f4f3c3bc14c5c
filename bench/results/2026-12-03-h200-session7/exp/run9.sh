#!/usr/bin/env bash
# session 7, final verification: warmup, then side by side on the one GPU: make test-gpu,
# make test-gpu-hip, compute-sanitizer memcheck of tools/sanitize_kernels.py, and memcheck of
# the elementwise layout tests (tile walk included). Results tarred after each step.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r9; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/r9.tgz -C /tmp r9 2>/dev/null
    return $rc
}
step warmup 120 python3 -m rocsample warmup || exit 1
step make_test_gpu 480 make test-gpu PYTEST_ARGS="-q -p no:cacheprovider" &
step make_test_gpu_hip 480 make test-gpu-hip PYTEST_ARGS="-q -p no:cacheprovider" &
step memcheck 300 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py &
step memcheck_elementwise 300 env ROCSAMPLE_REQUIRE_GPU=1 compute-sanitizer --tool memcheck --error-exitcode 9 \
    python3 -m pytest -m gpu -q -p no:cacheprovider tests/test_gpu_elementwise.py \
    -k "layouts or where or affine or packed or many_dims" &
wait
tar czf $OUT/r9.tgz -C /tmp r9
