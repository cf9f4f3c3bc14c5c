#!/usr/bin/env bash
# session 21: topk-rise v3 (rise only while >= RS_RISE_LEFT=8 rounds follow; no count on shorter spans)
# v0 = HEAD, v1 = HEAD + rise3.patch; bench --dtypes at B 64 128 256 512, three runs each, L2 warm;
# then HEAD's bench --dtypes (B 1 128 512) with --flush-l2 for issue 21's H200 figures.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
ROOT=$PWD; R=/tmp/r1; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (v0), v0 + rise3.patch (v1)"; } > $R/device.txt
pack() { cp .exp/s21ab.sh .exp/rise3.patch $R/ 2>/dev/null; tar czf $OUT/r1.tgz -C /tmp r1; }
for v in v0 v1; do (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 200 python3 -m rocsample warmup > $R/warmup_$v.txt 2>&1; echo "warmup_$v rc=$?" >> $R/steps.txt) & done; wait
for round in 1 2 3; do for v in v0 v1; do
  t0=$SECONDS; (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 120 python3 -m rocsample bench --dtypes --batch 64 --batch 128 --batch 256 --batch 512 --reps 10 --rounds 4 --out $R/${v}_r$round > $R/${v}_r$round.txt 2>&1); echo "${v}_r$round rc=$? $((SECONDS-t0))s" >> $R/steps.txt
done; pack; done
t0=$SECONDS; (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/v0 timeout 150 python3 -m rocsample bench --dtypes --flush-l2 --reps 10 --rounds 4 --out $R/head_flush > $R/head_flush.txt 2>&1); echo "head_flush rc=$? $((SECONDS-t0))s" >> $R/steps.txt
pack; cat $R/steps.txt
for f in $R/v*_r*.txt; do echo "== $f"; grep -E "^B=.*sample top-k 50  " $f | cut -c1-110; done
