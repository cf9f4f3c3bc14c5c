#!/usr/bin/env bash
# session 33, call B (prepared; no machine could start for it): where top-k's last-block work (the "tail") goes. p = HEAD ($COMMIT);
# ns = + topk-nosel.patch (no selection, no draw); t1 = + topk-t1.patch (the shared-memory copy
# of the candidates, then the end); t2 = + topk-t2.patch (the copy and the one radix level).
# Tokens differ by design. p ns t1 t2 x2 of sweep.py MODE=topk; then bench --dtypes with the L2
# flushed on p.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-300}; E=$ROOT/bench/experiments
left() { echo $((LIMIT - (SECONDS - T0))); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab2; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "p: $COMMIT; ns: + topk-nosel.patch; t1: + topk-t1.patch; t2: + topk-t2.patch"; } > $R/device.txt
cp $E/topk-tail/s33b.sh $E/topk-tail/topk-nosel.patch $E/topk-tail/topk-t1.patch $E/topk-tail/topk-t2.patch $R/
pt() { case $1 in ns) echo topk-nosel;; t1) echo topk-t1;; t2) echo topk-t2;; esac; }
for v in ns t1 t2; do W=/tmp/$v; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W
  (cd $W && patch -p1 < $E/topk-tail/$(pt $v).patch) > $R/patch_$v.txt 2>&1 || { echo "patch $v failed"; cat $R/patch_$v.txt; }; done
tree() { case $1 in p) echo $ROOT;; *) echo /tmp/$1;; esac; }
for v in p ns t1 t2; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs2-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 150 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$? $((SECONDS-T0))s" >> $R/steps.txt) & done; wait
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 5)) ] && { echo "${p##*/}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=/tmp/rs2-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/sweep_topk_$v.jsonl 2>> $R/sweep_$v.err); echo "sweep_topk_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for v in p ns t1 t2 p ns t1 t2; do run $v flat-rows/ab-h100/sweep 30 MODE=topk; tar czf $OUT/ab2.tgz -C /tmp ab2; done
t0=$SECONDS; [ $(left) -gt 40 ] && { timeout $(( $(left) - 5 )) env PYTHONPATH=/tmp/site:$ROOT ROCSAMPLE_CACHE_DIR=/tmp/rs2-p PYTHONUNBUFFERED=1 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --flush-l2 --out $R/dtypes-cold > $R/dtypes_cold.txt 2>&1; echo "dtypes_cold rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
tar czf $OUT/ab2.tgz -C /tmp ab2; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
