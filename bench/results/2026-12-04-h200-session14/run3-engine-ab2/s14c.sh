#!/usr/bin/env bash
# session 14, call C (issue 21): A/B/C of the plain scan: v0 = HEAD's engine (650b2be,
# .exp/v0s14), v1 = the maxima/mass change with its rare paths inlined (.exp/v1s14, run 2's),
# v2 = the working tree (rare paths out of line); bench --dtypes alternating, two rounds.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/rc; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
for v in v0 v1; do
  rm -rf /tmp/$v; mkdir -p /tmp/$v
  tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/$v
  rm -rf /tmp/$v/kernels /tmp/$v/rocsample; cp -r .exp/${v}s14/kernels .exp/${v}s14/rocsample /tmp/$v/
done
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|kernels ready' "$R/$name.txt" | tail -1 | cut -c1-60)" | tee -a $R/steps.txt
    tar czf $OUT/rc.tgz -C /tmp rc 2>/dev/null
    return $rc
}
B="--batch 1 --batch 128 --batch 512 --vocab 128256 --vocab 262144"
( export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache && step warmup_v2 120 python3 -m rocsample warmup )
for v in v0 v1; do
  ( cd /tmp/$v && export PYTHONPATH=/tmp/site:/tmp/$v ROCSAMPLE_CACHE_DIR=/tmp/cache-$v && step warmup_$v 120 python3 -m rocsample warmup )
done
for round in 1 2; do
  for v in v0 v1; do
    ( cd /tmp/$v && export PYTHONPATH=/tmp/site:/tmp/$v ROCSAMPLE_CACHE_DIR=/tmp/cache-$v && step ${v}_$round 90 python3 -m rocsample bench --dtypes $B --out $R/$v-$round )
  done
  ( export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache && step v2_$round 90 python3 -m rocsample bench --dtypes $B --out $R/v2-$round )
done
tar czf $OUT/rc.tgz -C /tmp rc; cat $R/steps.txt
