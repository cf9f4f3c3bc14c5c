#!/usr/bin/env bash
# session 33, call A. p = HEAD ($COMMIT, the landed rs_scan_plain_halves, whose GPU suites never
# ran on the tree itself); m1 = p + minp-held.patch (min-p candidate scan: packed 2-byte loads,
# the round's maximum by one wave reduction, packed maxima and candidate tests); m2 = m1 +
# minp-deep4.patch (four sub-chunks a round for packed rows). Attribution of top-k's time
# (tokens differ, by design): ns = p + topk-nosel.patch (top-k rows end after the scan, no
# selection or draw), nc = p + topk-nocand.patch (ns, and the scan keeps no candidates).
# Order: warm the five trees; A/B p m1 m2 x2 of sweep.py MODE=other (plain, min_p 0.1) and
# minp_more.py, p ns nc x2 of sweep.py MODE=topk; pick.py names the tree the suites run on
# (the min-p variant that drew p's tokens everywhere and is fastest on 2-byte min-p, else p);
# both GPU suites + memcheck on it (tools/gpu_session.sh PART=suites); on an H200 bench-mlp
# (issue 22); then racecheck/synccheck/initcheck (PART=sanitizers) while time is left.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-590}; E=$ROOT/bench/experiments
left() { echo $((LIMIT - (SECONDS - T0))); }
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "card: $CARD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
B=/tmp/b33; R=/tmp/ab; rm -rf $B $R; mkdir -p $B $R
for d in $B $R; do { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; } > $d/device.txt; done
echo "p: $COMMIT (the checkout); m1: + minp-held.patch; m2: + minp-held.patch + minp-deep4.patch; ns: + topk-nosel.patch; nc: + topk-nocand.patch" >> $R/device.txt
cp .exp/s33a.sh .exp/pick.py $B/; cp .exp/s33a.sh .exp/pick.py .exp/*.patch $R/
pt() { case $1 in m1) echo minp-held;; m2) echo "minp-held minp-deep4";; ns) echo topk-nosel;; nc) echo topk-nocand;; esac; }
for v in m1 m2 ns nc; do W=/tmp/$v; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W
  (cd $W && for f in $(pt $v); do patch -p1 < $ROOT/.exp/$f.patch || exit 1; done) > $R/patch_$v.txt 2>&1 || { echo "patch $v failed"; cat $R/patch_$v.txt; exit 1; }; done
tree() { case $1 in p) echo $ROOT;; *) echo /tmp/$1;; esac; }
cache() { echo /tmp/rs-$1; }
for v in p m1 m2 ns nc; do (cd /tmp && ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 200 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$? $((SECONDS-T0))s" >> $R/steps.txt) & done; wait
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 5)) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for v in p m1 m2 p m1 m2; do MODE_TAG=_other run $v flat-rows/ab-h100/sweep 30 MODE=other; run $v minp-held/minp_more 30; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in p ns nc p ns nc; do MODE_TAG=_topk run $v flat-rows/ab-h100/sweep 30 MODE=topk; tar czf $OUT/ab.tgz -C /tmp ab; done
echo "ab $((SECONDS-T0))s" | tee -a $R/steps.txt
W=$(python3 .exp/pick.py $R m1 m2 2>> $R/steps.txt); echo "suites tree: $W" | tee -a $R/steps.txt; tar czf $OUT/ab.tgz -C /tmp ab
TAG=$COMMIT; [ $W = p ] || TAG="$COMMIT+$(pt $W | tr ' ' '+')"
part() { local p=$1 l; l=$(($(left) - 5)); [ $l -lt $2 ] && { echo "$p: skipped, ${l}s left" | tee -a $B/steps.txt; return; }
  (cd $(tree $W) && OUT=$OUT PART=$p WORKERS=4 COMMIT="$TAG" timeout $l bash tools/gpu_session.sh > $OUT/$p.log 2>&1); echo "$p rc=$? $((SECONDS-T0))s" | tee -a $B/steps.txt; }
part suites 180
case $CARD in
*H200*)
  t0=$SECONDS; (cd $ROOT && timeout 150 env PYTHONPATH=/tmp/site:$ROOT ROCSAMPLE_CACHE_DIR=/tmp/rs-p PYTHONUNBUFFERED=1 python3 -m rocsample bench-mlp --out $B/mlp --rounds 8 --reps 20 > $B/mlp.txt 2>&1); echo "mlp rc=$? $((SECONDS-t0))s" | tee -a $B/steps.txt ;;
esac
part sanitizers 40
tar czf $OUT/bench.tgz -C /tmp b33; tar czf $OUT/ab.tgz -C /tmp ab
cat $OUT/suites-steps.txt $OUT/sanitizers-steps.txt 2>/dev/null; cat $B/steps.txt; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
