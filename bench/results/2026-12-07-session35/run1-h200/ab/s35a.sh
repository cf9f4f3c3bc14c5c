#!/usr/bin/env bash
# session 35, call A. p = HEAD ($COMMIT). Variants (patches in this folder, applied in order):
# f1 = topk-f1 (a top-k row with more candidates than the shared copy holds finds the k-th
# largest by one radix level over the slots and a rank, not three levels), h12 = topk-h1 +
# topk-h2 (a 256-bin histogram of the block's own top-k candidates raises the bound after
# rounds 1, 2, 4, 8, ..., in both candidate scans), h12f1 = h12 + f1, h12r12 = h12 + topk-r1 +
# topk-r2 (rs_topk_small with G threads a candidate from 48 candidates), h12r12f1 = all.
# Warm the six trees, then p and the variants x2 of sweep.py MODE=topk and MODE=topp (each
# round in that order, skipped when the suites' time is not left);
# probe_1row.py on p; pickc.py picks the suites' tree; on it both suites + memcheck, then
# racecheck/synccheck/initcheck; then probe_1row.py on it.
# Usage: COMMIT=<sha> LIMIT=<s> bash bench/experiments/topk-tail/s35a.sh, carrying .whl and
# .fi/libfi_ref.so.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-570}; E=$ROOT/bench/experiments; T=$E/topk-tail
left() { echo $((LIMIT - (SECONDS - T0))); }
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "p: $COMMIT (the checkout); f1: + topk-f1; h12: + topk-h1 + topk-h2; h12f1: h12 + topk-f1; h12r12: h12 + topk-r1 + topk-r2; h12r12f1: h12r12 + topk-f1"; } > $R/device.txt
cp $T/s35a.sh $T/pickc.py $T/probe_1row.py $R/
pt() { case $1 in f1) echo topk-f1;; h12) echo topk-h1 topk-h2;; h12f1) echo topk-h1 topk-h2 topk-f1;; h12r12) echo topk-h1 topk-h2 topk-r1 topk-r2;; h12r12f1) echo topk-h1 topk-h2 topk-r1 topk-r2 topk-f1;; esac; }
VS="f1 h12 h12f1 h12r12 h12r12f1"
for v in $VS; do W=/tmp/$v; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W
  (cd $W && for f in $(pt $v); do patch -p1 < $T/$f.patch || exit 1; done) > $R/patch_$v.txt 2>&1 || { echo "patch $v failed"; cat $R/patch_$v.txt; exit 1; }; done
tree() { case $1 in p) echo $ROOT;; *) echo /tmp/$1;; esac; }
cache() { echo /tmp/rs-$1; }
for v in p $VS; do (cd /tmp && ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 200 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$? $((SECONDS-T0))s" >> $R/steps.txt) & done; wait
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + ${RES:-240})) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for i in 1 2; do for m in topk topp; do for v in p $VS; do MODE_TAG=_$m run $v flat-rows/ab-h100/sweep 30 MODE=$m; done; tar czf $OUT/ab.tgz -C /tmp ab; done; done
run p topk-tail/probe_1row 40
echo "ab $((SECONDS-T0))s" | tee -a $R/steps.txt
P=$(python3 $T/pickc.py $R $VS 2>> $R/steps.txt); echo "suites tree: $P" | tee -a $R/steps.txt; tar czf $OUT/ab.tgz -C /tmp ab
rm -rf /tmp/rs-cache; cp -a $(cache $P) /tmp/rs-cache
part() { local p=$1 l; l=$(($(left) - 5)); [ $l -lt $2 ] && { echo "$p: skipped, ${l}s left" | tee -a $R/steps.txt; return; }
  (cd $(tree $P) && OUT=$OUT PART=$p WORKERS=4 COMMIT="$COMMIT$(for f in $(pt $P); do printf +%s $f; done)" timeout $l bash tools/gpu_session.sh > $OUT/$p.log 2>&1); echo "$p rc=$? $((SECONDS-T0))s" | tee -a $R/steps.txt; }
part suites 170
part sanitizers 40
[ "$P" != p ] && RES=0 run $P topk-tail/probe_1row 40
tar czf $OUT/ab.tgz -C /tmp ab
cat $OUT/suites-steps.txt $OUT/sanitizers-steps.txt 2>/dev/null; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
