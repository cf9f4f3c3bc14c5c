#!/usr/bin/env bash
# Prepared in session 36 for the next device call. The checkout is HEAD ($COMMIT). Trees: h (the
# checkout: f1b + h3g), p0 (h + topk-to-7500fef: the kernels before session 36), nr (h +
# topk-nr: the non-Rise entries' sm_90 .text byte for byte 7500fef's; the slot path in Rise
# entries only, rs_topk_shared back to a bool). Both GPU suites + memcheck, then
# racecheck/synccheck/initcheck, on nr (the tree to land) while the others warm; then
# sweep.py MODE=topk and MODE=topp in two rounds, order p0 h nr then nr h p0.
# Usage: COMMIT=<sha> LIMIT=<s> bash bench/experiments/topk-tail/s37a.sh, carrying .whl and
# .fi/libfi_ref.so. About 420 s on an H100. ORDER1 / ORDER2: the trees of each round (short
# of device time, "p0 nr" first). NEW=nr4 (session 37): the tree to land is h + topk-nr4
# instead (named nr4 in the results; ORDER1 / ORDER2 then name it too).
NEW=${NEW:-nr}
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-570}; E=$ROOT/bench/experiments; T=$E/topk-tail
left() { echo $((LIMIT - (SECONDS - T0))); }
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "h: $COMMIT (the checkout); p0: h + topk-to-7500fef; $NEW: h + topk-$NEW"; } > $R/device.txt
cp $T/s37a.sh $R/
for v in p0 $NEW; do W=/tmp/$v; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W; done
(cd /tmp/p0 && patch -p1 < $T/topk-to-7500fef.patch && cd /tmp/$NEW && patch -p1 < $T/topk-$NEW.patch) > $R/patch.txt 2>&1 || { echo "patch failed"; cat $R/patch.txt; exit 1; }
tree() { case $1 in h) echo $ROOT;; *) echo /tmp/$1;; esac; }
cache() { case $1 in "$NEW") echo /tmp/rs-cache;; *) echo /tmp/rs-$1;; esac; }  # the suites'
for v in h p0; do
  (cd /tmp && ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 250 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$? $((SECONDS-T0))s" >> $R/steps.txt) &
done
part() { local p=$1 l; l=$(($(left) - 5)); [ $l -lt $2 ] && { echo "$p: skipped, ${l}s left" | tee -a $R/steps.txt; return; }
  (cd /tmp/$NEW && OUT=$OUT PART=$p WORKERS=4 COMMIT="$COMMIT+topk-$NEW" timeout $l bash tools/gpu_session.sh > /dev/null 2>&1); echo "$p rc=$? $((SECONDS-T0))s" | tee -a $R/steps.txt; }
part suites 240
part sanitizers 90
wait
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 5)) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for order in "${ORDER1:-p0 h $NEW}" "${ORDER2:-$NEW h p0}"; do for m in topk topp; do for v in $order; do MODE_TAG=_$m run $v flat-rows/ab-h100/sweep 30 MODE=$m; done; done; tar czf $OUT/ab.tgz -C /tmp ab; done
tar czf $OUT/ab.tgz -C /tmp ab
cat $OUT/suites-steps.txt $OUT/sanitizers-steps.txt 2>/dev/null; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
