#!/usr/bin/env bash
# session 15, call E (issue 21): plain sampling of probabilities at two blocks an SM (v5:
# rocsample.ops.sampling._per_sm returns 2 for plain calls) against HEAD (v0 = 1a99942, one),
# bench --dtypes alternating, three rounds; the kernels are the same (one cache).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/re; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
for v in v0 v5; do
  rm -rf /tmp/$v; mkdir -p /tmp/$v
  tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/$v
  rm -rf /tmp/$v/kernels /tmp/$v/rocsample
  src=.exp/${v}s15; [ $v = v0 ] && src=.exp/v0s15b
  cp -r $src/kernels $src/rocsample /tmp/$v/
done
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|kernels ready' "$R/$name.txt" | tail -1 | cut -c1-70)" | tee -a $R/steps.txt
    tar czf $OUT/re.tgz -C /tmp re 2>/dev/null
    return $rc
}
inv() { local v=$1; shift; ( cd /tmp/$v && export PYTHONPATH=/tmp/site:/tmp/$v ROCSAMPLE_CACHE_DIR=/tmp/cache-shared && "$@" ); }
inv v0 step warmup 150 python3 -m rocsample warmup
B="--batch 8 --batch 32 --batch 64 --batch 128 --vocab 128256 --vocab 262144"
for round in 1 2 3; do
  for v in v0 v5; do inv $v step ${v}_$round 90 python3 -m rocsample bench --dtypes $B --out $R/$v-$round; done
done
cp .exp/s15e.sh $R/; tar czf $OUT/re.tgz -C /tmp re; cat $R/steps.txt
