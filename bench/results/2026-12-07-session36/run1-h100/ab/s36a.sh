#!/usr/bin/env bash
# Prepared in session 35 for the next device call. p = HEAD ($COMMIT; f1 was landed as d4d79e8
# and reverted in 7fcaf95 because the suites had not run on it). First both GPU suites +
# memcheck, then racecheck/synccheck/initcheck, on f1 = HEAD + topk-f1 (the tree to land);
# the trees p, f1f2 (f1 + topk-f2: the slot path visits the filled slots only) and f1h3 (f1 +
# topk-h1 + topk-h3: the candidate histogram in the Rise scan only) warm meanwhile. Then p f1
# f1f2 f1h3 x2 of sweep.py MODE=topk and MODE=topp, and probe_1row.py on p.
# Usage: COMMIT=<sha> LIMIT=<s> bash bench/experiments/topk-tail/s36a.sh, carrying .whl and
# .fi/libfi_ref.so. About 560 s on an H200; the A/B parts are skipped when time runs short.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-570}; E=$ROOT/bench/experiments; T=$E/topk-tail
left() { echo $((LIMIT - (SECONDS - T0))); }
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "p: $COMMIT (the checkout); f1: + topk-f1; f1f2: f1 + topk-f2; f1h3: f1 + topk-h1 + topk-h3"; } > $R/device.txt
cp $T/s36a.sh $T/pickc.py $T/probe_1row.py $R/
pt() { case $1 in f1) echo topk-f1;; f1f2) echo topk-f1 topk-f2;; f1h3) echo topk-f1 topk-h1 topk-h3;; esac; }
VS="f1 f1f2 f1h3"
for v in $VS; do W=/tmp/$v; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W
  (cd $W && for f in $(pt $v); do patch -p1 < $T/$f.patch || exit 1; done) > $R/patch_$v.txt 2>&1 || { echo "patch $v failed"; cat $R/patch_$v.txt; }
done
tree() { case $1 in p) echo $ROOT;; *) echo /tmp/$1;; esac; }
cache() { case $1 in f1) echo /tmp/rs-cache;; *) echo /tmp/rs-$1;; esac; }  # f1's: the suites'
for v in p f1f2 f1h3; do
  (cd /tmp && ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 250 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$? $((SECONDS-T0))s" >> $R/steps.txt) &
done
part() { local p=$1 l; l=$(($(left) - 5)); [ $l -lt $2 ] && { echo "$p: skipped, ${l}s left" | tee -a $R/steps.txt; return; }
  (cd /tmp/f1 && OUT=$OUT PART=$p WORKERS=4 COMMIT="$COMMIT+topk-f1" timeout $l bash tools/gpu_session.sh > $OUT/$p.log 2>&1); echo "$p rc=$? $((SECONDS-T0))s" | tee -a $R/steps.txt; }
part suites 240
part sanitizers 90
wait
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 5)) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for i in 1 2; do for m in topk topp; do for v in p $VS; do MODE_TAG=_$m run $v flat-rows/ab-h100/sweep 30 MODE=$m; done; tar czf $OUT/ab.tgz -C /tmp ab; done; done
run p topk-tail/probe_1row 40
python3 $T/pickc.py $R $VS >> $R/steps.txt 2>&1
tar czf $OUT/ab.tgz -C /tmp ab
cat $OUT/suites-steps.txt $OUT/sanitizers-steps.txt 2>/dev/null; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
