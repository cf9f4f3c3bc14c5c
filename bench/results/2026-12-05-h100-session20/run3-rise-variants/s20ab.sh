#!/usr/bin/env bash
# session 20: topk-rise v0 / v1 (rise after rounds 1,2,4,..) / v2 (rise after rounds 4,8,16,..), bench --dtypes top-k, two runs each
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
ROOT=$PWD; R=/tmp/r2; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
for v in v0 v1 v2; do (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 200 python3 -m rocsample warmup > $R/warmup_$v.txt 2>&1; echo "warmup_$v rc=$?" >> $R/steps.txt) & done; wait
for round in 1 2; do for v in v0 v1 v2; do
  (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 90 python3 -m rocsample bench --dtypes --batch 128 --batch 512 --reps 10 --rounds 4 --out $R/${v}_r$round > $R/${v}_r$round.txt 2>&1); echo "${v}_r$round rc=$?" >> $R/steps.txt
done; done
cp .exp/s20ab.sh $R/; tar czf $OUT/r2.tgz -C /tmp r2; cat $R/steps.txt
for f in $R/v*_r*.txt; do echo "== $f"; grep -E "^B=.*sample top-k 50  " $f | cut -c1-100; done
