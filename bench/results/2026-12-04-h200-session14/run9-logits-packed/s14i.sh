#!/usr/bin/env bash
# session 14, call I (issue 21): the packed-logit plain scan (bench/experiments/logits-packed,
# .exp/v3s14 = HEAD + logits_packed.patch) against HEAD: bench --dtypes alternating, two
# rounds (the first of each compiles its modules before timing), then test_gpu_half's logit
# tests on the experiment's tree.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/ri; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
rm -rf /tmp/v3; mkdir -p /tmp/v3
tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/v3
rm -rf /tmp/v3/kernels /tmp/v3/rocsample; cp -r .exp/v3s14/kernels .exp/v3s14/rocsample /tmp/v3/
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error' "$R/$name.txt" | tail -1 | cut -c1-80)" | tee -a $R/steps.txt
    tar czf $OUT/ri.tgz -C /tmp ri 2>/dev/null
    return $rc
}
B="--batch 128 --batch 512 --vocab 128256 --vocab 262144"
for round in 1 2; do
  ( export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache && step v0_$round 90 python3 -m rocsample bench --dtypes $B --out $R/v0-$round )
  ( cd /tmp/v3 && export PYTHONPATH=/tmp/site:/tmp/v3 ROCSAMPLE_CACHE_DIR=/tmp/cache-v3 && step v3_$round 90 python3 -m rocsample bench --dtypes $B --out $R/v3-$round )
done
( cd /tmp/v3 && export PYTHONPATH=/tmp/site:/tmp/v3 ROCSAMPLE_CACHE_DIR=/tmp/cache-v3 && step tests_v3 70 python3 -m pytest -q -p no:cacheprovider tests/test_gpu_half.py -k "logits or signed" -x )
tar czf $OUT/ri.tgz -C /tmp ri; cat $R/steps.txt
