#!/usr/bin/env bash
# session 14, call E: the issue-22 bench-mlp grid on HEAD (FlashInfer's kernels from the
# reference library built on the CPU machine), then the issue-21 bench --dtypes twice.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/re; mkdir -p $R .fi; cp .exp/fi/libfi_ref.so .fi/
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s" | tee -a $R/steps.txt
    tar czf $OUT/re.tgz -C /tmp re 2>/dev/null
    return $rc
}
step warmup 120 python3 -m rocsample warmup
step grid 300 python3 -m rocsample bench-mlp --reps 30 --label grid --out $R
B="--batch 1 --batch 128 --batch 512 --vocab 128256 --vocab 262144"
step dtypes_1 90 python3 -m rocsample bench --dtypes $B --out $R/dtypes-1
step dtypes_2 90 python3 -m rocsample bench --dtypes $B --out $R/dtypes-2
tar czf $OUT/re.tgz -C /tmp re; cat $R/steps.txt
