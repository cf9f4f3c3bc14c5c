#!/usr/bin/env bash
# Session 38's fourth call (prepared, not run): the fit run (128 and 512 rows, six vocabularies,
# cold L2) on HEAD as it is (h) and with every top-k row rising (ra: the tree + rise-all.patch,
# whose rise entries make every row rise, run through rise_all.py with RISE_ALL=1, which sends
# every row of k <= 128 to them; cand_count.py on CPU: 3.2-5.5x fewer candidates, the same
# tokens). Usage: COMMIT=<sha> bash bench/experiments/dtype-intercept/s38d.sh, carrying .whl.
# Then the top-k sweep of both, h ra ra h. About 150 s on an H100.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; E=$ROOT/bench/experiments/dtype-intercept; R=/tmp/s38d; rm -rf $R; mkdir -p $R
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "h: the checkout; ra: h + rise-all.patch, RISE_ALL=1 (rise_all.py)"; } > $R/device.txt
cp $E/s38d.sh $E/rise_all.py $E/rise-all.patch $R/
W=/tmp/ra; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git . | tar xf - -C $W
(cd $W && patch -p1 < $E/rise-all.patch) > $R/patch.txt 2>&1 || { cat $R/patch.txt; exit 1; }
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
tree() { [ "$1" = 1 ] && echo /tmp/ra || echo $ROOT; }
go() { local n=$1 ra=$2 l=$3; shift 3; local t=$SECONDS
  (cd /tmp && RISE_ALL=$ra ROCSAMPLE_CACHE_DIR=/tmp/rs-$ra PYTHONPATH=/tmp/site:$(tree $ra) timeout $l \
   python3 $(tree $ra)/bench/experiments/dtype-intercept/rise_all.py "$@" > $R/$n.txt 2>&1)
  echo "$n rc=$? $((SECONDS-t))s" >> $R/steps.txt; tar czf $OUT/s38d.tgz -C /tmp s38d; }
go warm_h 0 120 warmup & go warm_ra 1 120 warmup & wait
FIT="-v bench --dtypes --flush-l2 --rounds 2 --reps 10 --batch 128 --batch 512 --vocab 65536 --vocab 98304 --vocab 131072 --vocab 163840 --vocab 196608 --vocab 229376"
go fit_h 0 40 $FIT --out $R/fit_h
go fit_ra 1 60 $FIT --out $R/fit_ra
# The sweep's settings (1-512 rows x 128256-262144 x top-k 20 / 50 / 128, every dtype, L2 warm,
# tokens hashed: the two must draw the same), h ra ra h, for bench/results/2026-12-06-session27/
# table.py (sweep_topk_{h,ra}.jsonl).
sw() { local v=$1 ra=$2 t=$SECONDS
  (cd /tmp && MODE=topk RISE_ALL=$ra ROCSAMPLE_CACHE_DIR=/tmp/rs-$ra PYTHONPATH=/tmp/site:$(tree $ra) timeout 40 \
   python3 $(tree $ra)/bench/experiments/dtype-intercept/rise_all.py \
   $ROOT/bench/experiments/flat-rows/ab-h100/sweep.py >> $R/sweep_topk_$v.jsonl 2>> $R/sweep_$v.err)
  echo "sweep_$v rc=$? $((SECONDS-t))s" >> $R/steps.txt; tar czf $OUT/s38d.tgz -C /tmp s38d; }
sw h 0; sw ra 1; sw ra 1; sw h 0
cat $R/steps.txt; echo "total $((SECONDS-T0))s"
