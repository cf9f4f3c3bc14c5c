#!/usr/bin/env bash
# session 15, call B (issue 21): A/B/C of the plain scan. v0 = HEAD (e1d19f2, .exp/v0s15),
# v1 = padding and zero sub-chunks skip the mass (.exp/v1s15 = working tree),
# v2 = v1 + logits-packed (.exp/v2s15). Tokens: test_gpu_half.py in v1 and v2; then
# bench --dtypes alternating, three rounds.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/rb; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
for v in v0 v1 v2; do
  rm -rf /tmp/$v; mkdir -p /tmp/$v
  tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/$v
  rm -rf /tmp/$v/kernels /tmp/$v/rocsample; cp -r .exp/${v}s15/kernels .exp/${v}s15/rocsample /tmp/$v/
done
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|kernels ready' "$R/$name.txt" | tail -1 | cut -c1-70)" | tee -a $R/steps.txt
    tar czf $OUT/rb.tgz -C /tmp rb 2>/dev/null
    return $rc
}
inv() { local v=$1; shift; ( cd /tmp/$v && export PYTHONPATH=/tmp/site:/tmp/$v ROCSAMPLE_CACHE_DIR=/tmp/cache-$v && "$@" ); }
for v in v0 v1 v2; do inv $v step warmup_$v 150 python3 -m rocsample warmup & done; wait
for v in v1 v2; do inv $v step half_$v 200 python3 -m pytest -q -x tests/test_gpu_half.py & done; wait
B="--batch 1 --batch 32 --batch 128 --batch 512 --vocab 128256 --vocab 151936 --vocab 262144"
for round in 1 2 3; do
  for v in v0 v1 v2; do inv $v step ${v}_$round 90 python3 -m rocsample bench --dtypes $B --out $R/$v-$round; done
done
cp .exp/s15b.sh $R/; tar czf $OUT/rb.tgz -C /tmp rb; cat $R/steps.txt
