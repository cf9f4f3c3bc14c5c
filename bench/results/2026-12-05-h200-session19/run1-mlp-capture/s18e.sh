#!/usr/bin/env bash
# session 18, call E: (1) issue 22: bench-mlp --rounds 8 against FlashInfer (.fi/libfi_ref.so)
# and torch, bf16 + fp32, on HEAD (MLP kernels as session 16's); (2) issue 21: a captured
# decode step's replay against the eager calls (python -m rocsample.bench).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rh; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
pack() { cp .exp/s18e.sh $R/; tar czf $OUT/rh.tgz -C /tmp rh; }
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    echo "$name: rc=$? $((SECONDS - t0))s | $(grep -E 'passed|failed|Against|kernels ready' "$R/$name.txt" | tail -1 | cut -c1-160)" | tee -a $R/steps.txt
    pack
}
step warmup 120 python3 -m rocsample warmup
step mlp 200 python3 -m rocsample bench-mlp --rounds 8 --reps 20 --out $R/mlp
step capture 90 python3 -m rocsample.bench
pack; cat $R/steps.txt; tail -5 $R/capture.txt
