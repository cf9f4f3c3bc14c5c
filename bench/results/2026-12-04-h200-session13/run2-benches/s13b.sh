#!/usr/bin/env bash
# session 13, call B: the row1 A/B again with the rule's edges (row1_bench.py, v0 = 482d9b8's
# rms_norm.hip), then the issue-22 grid of bench-mlp on HEAD (FlashInfer's kernels from the
# reference library built on the CPU machine).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rb; mkdir -p $R .fi; cp .exp/fi/libfi_ref.so .fi/
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s" | tee -a $R/steps.txt
    tar czf $OUT/rb.tgz -C /tmp rb 2>/dev/null
    return $rc
}
step row1_bench 240 python3 bench/experiments/mlp-row1/row1_bench.py $R .exp/row1/rms_norm_v0.hip .exp/fi/libfi_ref.so
step grid 300 python3 -m rocsample bench-mlp --reps 30 --label grid --out $R
tar czf $OUT/rb.tgz -C /tmp rb; cat $R/steps.txt
