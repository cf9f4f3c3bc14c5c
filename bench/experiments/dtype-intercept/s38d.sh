#!/usr/bin/env bash
# Session 38's fourth call: the fit run (128 and 512 rows, six vocabularies, cold L2) on HEAD
# as it is (h) and with every top-k row in the rise entries (ra: rise_all.py, RISE_ALL=1), one
# cache. Usage: COMMIT=<sha> bash bench/experiments/dtype-intercept/s38d.sh, carrying .whl.
# Then the top-k sweep of both, h ra ra h. About 150 s on an H100.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; E=$ROOT/bench/experiments/dtype-intercept; R=/tmp/s38d; rm -rf $R; mkdir -p $R
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "h: the checkout; ra: the same with RISE_ALL=1 (rise_all.py)"; } > $R/device.txt
cp $E/s38d.sh $E/rise_all.py $R/
export ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
go() { local n=$1 ra=$2 l=$3; shift 3; local t=$SECONDS
  (cd /tmp && RISE_ALL=$ra timeout $l python3 $E/rise_all.py "$@" > $R/$n.txt 2>&1); echo "$n rc=$? $((SECONDS-t))s" >> $R/steps.txt
  tar czf $OUT/s38d.tgz -C /tmp s38d; }
go warm 0 90 warmup
FIT="-v bench --dtypes --flush-l2 --rounds 2 --reps 10 --batch 128 --batch 512 --vocab 65536 --vocab 98304 --vocab 131072 --vocab 163840 --vocab 196608 --vocab 229376"
go fit_h 0 40 $FIT --out $R/fit_h
go fit_ra 1 60 $FIT --out $R/fit_ra
# The sweep's settings (1-512 rows x 128256-262144 x top-k 20 / 50 / 128, every dtype, L2 warm,
# tokens hashed: the two must draw the same), h ra ra h, for bench/results/2026-12-06-session27/
# table.py (sweep_topk_{h,ra}.jsonl).
sw() { local v=$1 ra=$2 t=$SECONDS
  (cd /tmp && MODE=topk RISE_ALL=$ra timeout 40 python3 -c "import os, runpy, rocsample.ops.sampling as s
if os.environ['RISE_ALL'] == '1': s.RISE_CAND = 0
runpy.run_path('$ROOT/bench/experiments/flat-rows/ab-h100/sweep.py', run_name='__main__')" >> $R/sweep_topk_$v.jsonl 2>> $R/sweep_$v.err)
  echo "sweep_$v rc=$? $((SECONDS-t))s" >> $R/steps.txt; tar czf $OUT/s38d.tgz -C /tmp s38d; }
sw h 0; sw ra 1; sw ra 1; sw h 0
cat $R/steps.txt; echo "total $((SECONDS-T0))s"
