#!/usr/bin/env bash
# session 14, call A (issue 22): RMSNorm rows of more than four groups a thread, and many-row
# calls of four, against register-held variants (bench/experiments/mlp-row8/row8_bench.py).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/ra; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s" | tee -a $R/steps.txt
    tar czf $OUT/ra.tgz -C /tmp ra 2>/dev/null
    return $rc
}
step row8_bench 420 python3 bench/experiments/mlp-row8/row8_bench.py $R
tar czf $OUT/ra.tgz -C /tmp ra; cat $R/steps.txt; tail -5 $R/row8_bench.txt
