#!/usr/bin/env bash
# session 18, call D (issue 21): bench/experiments/topk-deep A/B: bench --dtypes --rounds 4,
# L2 warm, HEAD (.) and the patched tree (.exp/deep) alternated twice, each in its own process.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rg; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (v0) and v0 + bench/experiments/topk-deep/topk_deep.patch (v1)"; } > $R/device.txt
pack() { cp .exp/s18d.sh $R/; tar czf $OUT/rg.tgz -C /tmp rg; }
for v in 0 1; do
  T=$PWD; [ $v = 1 ] && T=$PWD/.exp/deep
  t0=$SECONDS; (cd /tmp && PYTHONPATH=/tmp/site:$T timeout 120 python3 -m rocsample warmup > $R/warmup_v$v.txt 2>&1); echo "warmup_v$v rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
done
for round in 1 2; do for v in 0 1; do
  T=$PWD; [ $v = 1 ] && T=$PWD/.exp/deep
  t0=$SECONDS; (cd /tmp && PYTHONPATH=/tmp/site:$T timeout 100 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --out $R/v${v}_r$round > $R/v${v}_r$round.txt 2>&1); echo "v${v}_r$round rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
  pack
done; done
pack; cat $R/steps.txt
for f in $R/v*_r*.txt; do echo "== $f"; grep -E "sample top-k 50  |sample top-k 50 \+|sample_from_logits top-k" $f | grep -v "B=   1"; done
