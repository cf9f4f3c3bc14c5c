#!/usr/bin/env bash
# Issue 21's two prepared experiments in one device call (about 5 min, under the 600 s limit):
#   1. topk-rise (bench/experiments/topk-rise/ab.sh): HEAD (v0) against HEAD + topk_rise.patch
#      (v1), bench --dtypes top-k lines at 128 and 512 rows, then ncu's instruction counts;
#   2. logits-grid, warm L2 (bench/experiments/logits-grid): HEAD + logit_per_sm.patch (vg), the
#      rule swapped in one process, tokens compared (logits_grid_ab.py OUT warm).
# Before the call, on the CPU machine (paths are computed before any cd):
#   rm -rf .exp/v0 .exp/v1 .exp/vg && mkdir -p .exp/v0 .exp/v1 .exp/vg
#   for v in v0 v1 vg; do git archive HEAD rocsample kernels pyproject.toml | tar -x -C .exp/$v; done
#   (cd .exp/v1 && patch -p1 < ../../bench/experiments/topk-rise/topk_rise.patch)
#   (cd .exp/vg && patch -p1 < ../../bench/experiments/logits-grid/logit_per_sm.patch)
#   cp bench/experiments/topk-rise/ab.sh bench/experiments/next-ab.sh \
#      bench/experiments/logits-grid/logits_grid_ab.py \
#      bench/results/2026-12-05-h200-session18/run3-ncu-topk/s18c_drv.py .exp/
# Device call: COMMIT=<sha> bash .exp/next-ab.sh, with carry [".whl", ".exp"]. Results come back
# as $OUT/rr.tgz (topk-rise) and $OUT/lg.tgz (logits-grid).
set -u -o pipefail
ROOT=$PWD
[ -d .exp/v1 ] && [ -d .exp/vg ] || { echo "next-ab: prepare .exp first (see the header)"; exit 2; }
t0=$SECONDS
timeout 330 bash .exp/ab.sh
echo "topk-rise: rc=$? $((SECONDS - t0))s"
G=/tmp/lg; mkdir -p $G
t1=$SECONDS
(cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/vg PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 \
    ROCSAMPLE_CACHE_DIR=/tmp/rs-cache timeout 200 python3 $ROOT/.exp/logits_grid_ab.py \
    $G/logits_warm.json warm > $G/logits_warm.txt 2>&1)
echo "logits-grid warm: rc=$? $((SECONDS - t1))s" | tee $G/steps.txt
cp .exp/next-ab.sh $G/; tar czf $OUT/lg.tgz -C /tmp lg
tail -25 $G/logits_warm.txt
