#!/usr/bin/env bash
# session 6, device call 6 (final): warmup, make test-gpu and make test-gpu-hip side by side,
# and compute-sanitizer memcheck of tools/sanitize_kernels.py beside them (one GPU, all three).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r6; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/r6.tgz -C /tmp r6 2>/dev/null  # what is done so far comes back if the call is cut
    return $rc
}
step warmup 90 python3 -m rocsample warmup || exit 1
step make_test_gpu 440 make test-gpu PYTEST_ARGS="-q -p no:cacheprovider" &
step make_test_gpu_hip 440 make test-gpu-hip PYTEST_ARGS="-q -p no:cacheprovider" &
step memcheck 300 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py &
wait
# the issue's MLP shapes at the decode and prefill ends, torch eager and FlashInfer in the same run
step bench_mlp 70 python3 -m rocsample bench-mlp --rows 1 --rows 16 --rows 1024 --rows 8192 \
    --hidden 4096 --hidden 14336 --reps 10 --out $R/mlp
tar czf $OUT/r6.tgz -C /tmp r6
