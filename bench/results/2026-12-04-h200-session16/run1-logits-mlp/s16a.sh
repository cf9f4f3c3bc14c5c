#!/usr/bin/env bash
# session 16, call A: (1) issue 21, logit rows' blocks an SM at a span of one sub-chunk
# (.exp/s16_logits.py, v0 = two an SM always, v1 = _logit_per_sm); (2) issue 22, bench-mlp
# with 8 rounds (order turned) against FlashInfer (.fi/libfi_ref.so) and torch, bf16 + fp32.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/ra; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} + working tree (ops/sampling.py _logit_per_sm, bench_mlp rounds)"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|Against' "$R/$name.txt" | tail -1 | cut -c1-150)" | tee -a $R/steps.txt
    tar czf $OUT/ra.tgz -C /tmp ra 2>/dev/null
    return $rc
}
step logits 200 python3 .exp/s16_logits.py $R/logits.json
step mlp 330 python3 -m rocsample bench-mlp --rounds 8 --reps 20 --out $R/mlp
cp .exp/s16a.sh .exp/s16_logits.py $R/; tar czf $OUT/ra.tgz -C /tmp ra; cat $R/steps.txt
