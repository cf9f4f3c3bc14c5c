#!/usr/bin/env bash
# Prepared in session 35 for the next device call. p = HEAD ($COMMIT, with f1: d4d79e8). First
# both GPU suites + memcheck on p, then racecheck/synccheck/initcheck (f1 landed without
# them); the h3 tree (topk-h1 + topk-h3: the candidate histogram in the Rise scan only) warms
# meanwhile. Then p h3 x2 of sweep.py MODE=topk and MODE=topp, and probe_1row.py on p.
# Usage: COMMIT=<sha> LIMIT=<s> bash bench/experiments/topk-tail/s36a.sh, carrying .whl and
# .fi/libfi_ref.so. About 560 s on an H200; the A/B parts are skipped when time runs short.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-570}; E=$ROOT/bench/experiments; T=$E/topk-tail
left() { echo $((LIMIT - (SECONDS - T0))); }
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "p: $COMMIT (the checkout); h3: + topk-h1 + topk-h3"; } > $R/device.txt
cp $T/s36a.sh $T/pickc.py $T/probe_1row.py $R/
W=/tmp/h3; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W
(cd $W && for f in topk-h1 topk-h3; do patch -p1 < $T/$f.patch || exit 1; done) > $R/patch_h3.txt 2>&1 || { echo "patch h3 failed"; cat $R/patch_h3.txt; }
(cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-h3 PYTHONPATH=/tmp/site:$W PYTHONUNBUFFERED=1 timeout 250 python3 -m rocsample warmup > $R/warm_h3.txt 2>&1; echo "warm_h3 rc=$? $((SECONDS-T0))s" >> $R/steps.txt) &
part() { local p=$1 l; l=$(($(left) - 5)); [ $l -lt $2 ] && { echo "$p: skipped, ${l}s left" | tee -a $R/steps.txt; return; }
  (OUT=$OUT PART=$p WORKERS=4 COMMIT="$COMMIT" timeout $l bash tools/gpu_session.sh > $OUT/$p.log 2>&1); echo "$p rc=$? $((SECONDS-T0))s" | tee -a $R/steps.txt; }
part suites 240
part sanitizers 90
wait
tree() { case $1 in p) echo $ROOT;; *) echo /tmp/$1;; esac; }
cache() { case $1 in p) echo /tmp/rs-cache;; *) echo /tmp/rs-$1;; esac; }
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 5)) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for i in 1 2; do for m in topk topp; do for v in p h3; do MODE_TAG=_$m run $v flat-rows/ab-h100/sweep 30 MODE=$m; done; tar czf $OUT/ab.tgz -C /tmp ab; done; done
run p topk-tail/probe_1row 40
python3 $T/pickc.py $R h3 >> $R/steps.txt 2>&1
tar czf $OUT/ab.tgz -C /tmp ab
cat $OUT/suites-steps.txt $OUT/sanitizers-steps.txt 2>/dev/null; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
