#!/usr/bin/env bash
# session 6, device call 5 (final): warmup, make test-gpu and make test-gpu-hip side by side,
# plain sampling bf16/f16/f32 on this tree and on .exp/ctrl (this tree with the scan's loads
# issued as before), then compute-sanitizer memcheck of tools/sanitize_kernels.py.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r5; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/r5.tgz -C /tmp r5 2>/dev/null  # what is done so far comes back if the call is cut
}
(cd .exp/ctrl && PYTHONPATH=/tmp/site:$PWD timeout 100 python3 -c "
import rocsample, torch
for dt in (torch.float32, torch.bfloat16, torch.float16):
    rocsample.sample(torch.softmax(torch.randn(4, 1000, device='cuda'), -1).to(dt), seed=1)
" > $R/warm_ctrl.txt 2>&1) &
step warmup 90 python3 -m rocsample warmup
wait
step make_test_gpu 440 make test-gpu PYTEST_ARGS="-q -p no:cacheprovider" &
step make_test_gpu_hip 440 make test-gpu-hip PYTEST_ARGS="-q -p no:cacheprovider" &
wait
for t in head ctrl; do
  d=$PWD; [ $t = ctrl ] && d=$PWD/.exp/ctrl
  (cd $d && PYTHONPATH=/tmp/site:$d step dt_$t 45 python3 -c "
import rocsample.bench as b
b.DTYPE_OPS = {k: b.DTYPE_OPS[k] for k in ('sample', 'sample top-k 50 + top-p 0.9')}
b.run_dtypes(batches=(1, 128, 512), vocabs=(128256, 262144), reps=15, out='$R/dt_$t')
")
done
step memcheck 120 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py
tar czf $OUT/r5.tgz -C /tmp r5
