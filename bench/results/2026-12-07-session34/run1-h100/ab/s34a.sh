#!/usr/bin/env bash
# session 34, call A. p = HEAD ($COMMIT). Top-k tail attribution (tokens differ by design):
# ns = + topk-nosel.patch (no selection, no draw), t1 = + topk-t1.patch (the shared copy, then
# the end), t2 = + topk-t2.patch (the copy and one radix level). Min-p float rows' candidate
# write: m3 = + minp-m3.patch (float rows: the unrolled write with fixed indices), m4 = +
# minp-m4.patch (any type: all eight at fixed indices when all eight are candidates). Top-k's
# ranks and draw: r1 = + topk-r1.patch (rs_topk_small with G threads a candidate).
# Order: warm seven trees; p m3 m4 x2 of sweep.py MODE=other and minp_more.py; p ns t1 t2 r1 x2
# of sweep.py MODE=topk, p r1 of MODE=topp; pick34.py picks the min-p variant, pickr.py whether
# r1 joins; if either: that tree (s, built here) gets both suites + memcheck, then
# racecheck/synccheck/initcheck; then bench --dtypes --flush-l2 on p while time is left.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-585}; E=$ROOT/bench/experiments
left() { echo $((LIMIT - (SECONDS - T0))); }
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
B=/tmp/b34; R=/tmp/ab; rm -rf $B $R; mkdir -p $B $R
for d in $B $R; do { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; } > $d/device.txt; done
echo "p: $COMMIT (the checkout); ns: + topk-nosel; t1: + topk-t1; t2: + topk-t2; m3: + minp-m3; m4: + minp-m4; r1: + topk-r1" >> $R/device.txt
cp .exp/s34a.sh .exp/pick34.py .exp/pickr.py .exp/*.patch $R/
pt() { case $1 in r1) echo topk-r1;; m3) echo minp-m3;; m4) echo minp-m4;; ns) echo topk-nosel;; t1) echo topk-t1;; t2) echo topk-t2;; esac; }
for v in ns t1 t2 m3 m4 r1; do W=/tmp/$v; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W
  (cd $W && patch -p1 < $ROOT/.exp/$(pt $v).patch) > $R/patch_$v.txt 2>&1 || { echo "patch $v failed"; cat $R/patch_$v.txt; }; done
tree() { case $1 in p) echo $ROOT;; *) echo /tmp/$1;; esac; }
cache() { echo /tmp/rs-$1; }
for v in p ns t1 t2 m3 m4 r1; do (cd /tmp && ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 200 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$? $((SECONDS-T0))s" >> $R/steps.txt) & done; wait
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 5)) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for v in p m3 m4 p m3 m4; do MODE_TAG=_other run $v flat-rows/ab-h100/sweep 30 MODE=other; run $v minp-held/minp_more 30; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in p ns t1 t2 r1 p ns t1 t2 r1; do MODE_TAG=_topk run $v flat-rows/ab-h100/sweep 30 MODE=topk; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in p r1; do MODE_TAG=_topp run $v flat-rows/ab-h100/sweep 30 MODE=topp; done
echo "ab $((SECONDS-T0))s" | tee -a $R/steps.txt
M=$(python3 .exp/pick34.py $R m3 m4 2>> $R/steps.txt); K=$(python3 .exp/pickr.py $R r1 2>> $R/steps.txt)
PS=""; [ "$M" != p ] && PS="$(pt $M)"; [ -n "$K" ] && PS="$PS $(pt $K)"; PS=$(echo $PS)
echo "suites tree: p + [$PS]" | tee -a $R/steps.txt; tar czf $OUT/ab.tgz -C /tmp ab
if [ -n "$PS" ]; then
  W=/tmp/s; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W
  (cd $W && for f in $PS; do patch -p1 < $ROOT/.exp/$f.patch || exit 1; done) > $B/patch_s.txt 2>&1 || { echo "patch s failed"; PS=""; }
fi
part() { local p=$1 l; l=$(($(left) - 5)); [ $l -lt $2 ] && { echo "$p: skipped, ${l}s left" | tee -a $B/steps.txt; return; }
  (cd /tmp/s && OUT=$OUT PART=$p WORKERS=4 COMMIT="$COMMIT+$(echo $PS | tr ' ' '+')" timeout $l bash tools/gpu_session.sh > $OUT/$p.log 2>&1); echo "$p rc=$? $((SECONDS-T0))s" | tee -a $B/steps.txt; }
if [ -n "$PS" ]; then
  part suites 180
  part sanitizers 40
fi
t0=$SECONDS; [ $(left) -gt 60 ] && { timeout $(( $(left) - 5 )) env PYTHONPATH=/tmp/site:$ROOT ROCSAMPLE_CACHE_DIR=/tmp/rs-p PYTHONUNBUFFERED=1 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --flush-l2 --out $B/dtypes-cold > $B/dtypes_cold.txt 2>&1; echo "dtypes_cold rc=$? $((SECONDS-t0))s" | tee -a $B/steps.txt; }
tar czf $OUT/bench.tgz -C /tmp b34; tar czf $OUT/ab.tgz -C /tmp ab
cat $OUT/suites-steps.txt $OUT/sanitizers-steps.txt 2>/dev/null; cat $B/steps.txt 2>/dev/null; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
