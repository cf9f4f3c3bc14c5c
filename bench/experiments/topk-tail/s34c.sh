#!/usr/bin/env bash
# session 34, call C: prepared, not run (too little device time was left to start a machine).
# Run as COMMIT=<sha> LIMIT=<s> bash bench/experiments/topk-tail/s34c.sh, carrying .whl and
# .fi/libfi_ref.so; at LIMIT 270 it fits the A/B, both suites with memcheck, and racecheck.
# p = HEAD ($COMMIT); h2r = + topk-h1 + topk-h2 + topk-r1 (the histogram-raised bound for every
# top-k candidate scan, and rs_topk_small with G threads a candidate). Warm both (h2r into the
# suites' cache), p h2r x2 of sweep.py MODE=topk; if h2r draws p's tokens and is faster
# (pickb.py): both suites + memcheck on it, then racecheck while time is left.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-270}; E=$ROOT/bench/experiments
left() { echo $((LIMIT - (SECONDS - T0))); }
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "p: $COMMIT (the checkout); h2r: + topk-h1 + topk-h2 + topk-r1"; } > $R/device.txt
T=$E/topk-tail; cp $T/s34c.sh $T/pickb.py $T/topk-h1.patch $T/topk-h2.patch $T/topk-r1.patch $R/
W=/tmp/h2r; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W
(cd $W && for f in topk-h1 topk-h2 topk-r1; do patch -p1 < $T/$f.patch || exit 1; done) > $R/patch_h2r.txt 2>&1 || { echo "patch failed"; cat $R/patch_h2r.txt; exit 1; }
tree() { case $1 in p) echo $ROOT;; *) echo /tmp/$1;; esac; }
cache() { case $1 in p) echo /tmp/rs-p;; *) echo /tmp/rs-cache;; esac; }
for v in p h2r; do (cd /tmp && ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 150 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$? $((SECONDS-T0))s" >> $R/steps.txt) & done; wait
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 5)) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for v in p h2r p h2r; do MODE_TAG=_topk run $v flat-rows/ab-h100/sweep 20 MODE=topk; tar czf $OUT/ab.tgz -C /tmp ab; done
echo "ab $((SECONDS-T0))s" | tee -a $R/steps.txt
P=$(python3 $T/pickb.py $R h2r 2>> $R/steps.txt); echo "suites tree: $P" | tee -a $R/steps.txt; tar czf $OUT/ab.tgz -C /tmp ab
if [ "$P" = h2r ]; then
  l=$(($(left) - 3)); (cd $W && OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT+topk-h1+topk-h2+topk-r1" timeout $l bash tools/gpu_session.sh > $OUT/suites.log 2>&1); echo "suites rc=$? $((SECONDS-T0))s" | tee -a $R/steps.txt
  l=$(($(left) - 3)); [ $l -gt 30 ] && { (cd $W && PYTHONPATH=/tmp/site:$W ROCSAMPLE_CACHE_DIR=/tmp/rs-cache timeout $l compute-sanitizer --tool racecheck --error-exitcode 9 python3 tools/sanitize_kernels.py > $R/racecheck.txt 2>&1); echo "racecheck rc=$? $((SECONDS-T0))s | $(grep 'RACECHECK SUMMARY' $R/racecheck.txt)" | tee -a $R/steps.txt; }
fi
tar czf $OUT/ab.tgz -C /tmp ab; cat $OUT/suites-steps.txt 2>/dev/null; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
