#!/usr/bin/env bash
# Session 36, call C. The checkout is HEAD ($COMMIT: f1 landed). In calls A and B, f1 made the
# rows that fit the shared copy 1-3 % slower at 128 rows (A/A control 1.000). Trees: f1 (the
# checkout), p (f1 reversed), f1b (f1's slot path in a call of its own, rs_topk_slots, over a
# visitor type of its own: ptxas gives p's figures again), g2 (f1b + topk-h3g), pg (p +
# topk-h3g). Both GPU suites + memcheck, then racecheck/synccheck/initcheck, on g2 (the tree to
# land) while the others warm; then sweep.py MODE=topk and MODE=topp in two rounds, in the
# order p f1 f1b g2 pg and then pg g2 f1b f1 p; then bench --dtypes --flush-l2 on g2.
# Usage: COMMIT=<sha> LIMIT=<s> bash bench/experiments/topk-tail/s36c.sh, carrying .whl and
# .fi/libfi_ref.so. About 470 s on an H100.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-570}; E=$ROOT/bench/experiments; T=$E/topk-tail
left() { echo $((LIMIT - (SECONDS - T0))); }
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "f1: $COMMIT (the checkout); p: f1 with topk-f1 reversed; f1b: f1 + topk-f1b; g2: f1b + topk-h3g; pg: p + topk-h3g"; } > $R/device.txt
cp $T/s36c.sh $R/
for v in p f1b g2 pg; do W=/tmp/$v; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W; done
(cd /tmp/p && patch -R -p1 < $T/topk-f1.patch && cd /tmp/pg && patch -R -p1 < $T/topk-f1.patch && patch -p1 < $T/topk-h3g.patch && cd /tmp/f1b && patch -p1 < $T/topk-f1b.patch && cd /tmp/g2 && patch -p1 < $T/topk-f1b.patch && patch -p1 < $T/topk-h3g.patch) > $R/patch.txt 2>&1 || { echo "patch failed"; cat $R/patch.txt; exit 1; }
tree() { case $1 in f1) echo $ROOT;; *) echo /tmp/$1;; esac; }
cache() { case $1 in g2) echo /tmp/rs-cache;; *) echo /tmp/rs-$1;; esac; }  # g2's: the suites'
for v in f1 p f1b pg; do
  (cd /tmp && ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 250 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$? $((SECONDS-T0))s" >> $R/steps.txt) &
done
part() { local p=$1 l; l=$(($(left) - 5)); [ $l -lt $2 ] && { echo "$p: skipped, ${l}s left" | tee -a $R/steps.txt; return; }
  (cd /tmp/g2 && OUT=$OUT PART=$p WORKERS=4 COMMIT="$COMMIT+topk-f1b+topk-h3g" timeout $l bash tools/gpu_session.sh > /dev/null 2>&1); echo "$p rc=$? $((SECONDS-T0))s" | tee -a $R/steps.txt; }
part suites 240
part sanitizers 90
wait
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 5)) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for order in "p f1 f1b g2 pg" "pg g2 f1b f1 p"; do for m in topk topp; do for v in $order; do MODE_TAG=_$m run $v flat-rows/ab-h100/sweep 30 MODE=$m; done; done; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in g2; do t0=$SECONDS; [ $(left) -gt 45 ] || { echo "dtypes_cold_$v: skipped" >> $R/steps.txt; continue; }
  (cd /tmp && timeout 40 env PYTHONPATH=/tmp/site:$(tree $v) ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONUNBUFFERED=1 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --flush-l2 --out $R/dtypes-cold-$v > $R/dtypes_cold_$v.txt 2>&1); echo "dtypes_cold_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; done
tar czf $OUT/ab.tgz -C /tmp ab
cat $OUT/suites-steps.txt $OUT/sanitizers-steps.txt 2>/dev/null; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
