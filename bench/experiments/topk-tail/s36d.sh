#!/usr/bin/env bash
# Session 36, call D (A/B only; no suites). The checkout is HEAD ($COMMIT: f1b + h3g landed).
# Trees: h (the checkout), g3 (h + topk-g3: the candidate histogram for 2-byte rows only; float
# Rise rows take rs_cand_edge again, as before h3g), p0 (h + topk-to-7500fef: the kernels before
# this session). sweep.py MODE=topk and MODE=topp in two rounds, order p0 h g3 then g3 h p0.
# Usage: COMMIT=<sha> LIMIT=<s> bash bench/experiments/topk-tail/s36d.sh, carrying .whl. Ran at
# b595213 with topk-to-7500fef.patch as of d6b7176 (the file now applies to a later HEAD).
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-250}; E=$ROOT/bench/experiments; T=$E/topk-tail
left() { echo $((LIMIT - (SECONDS - T0))); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "h: $COMMIT (the checkout); g3: h + topk-g3; p0: h + topk-to-7500fef"; } > $R/device.txt
cp $T/s36d.sh $R/
for v in g3 p0; do W=/tmp/$v; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git --exclude=./.exp . | tar xf - -C $W; done
(cd /tmp/g3 && patch -p1 < $T/topk-g3.patch && cd /tmp/p0 && patch -p1 < $T/topk-to-7500fef.patch) > $R/patch.txt 2>&1 || { echo "patch failed"; cat $R/patch.txt; exit 1; }
tree() { case $1 in h) echo $ROOT;; *) echo /tmp/$1;; esac; }
for v in h g3 p0; do
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 150 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$? $((SECONDS-T0))s" >> $R/steps.txt) &
done; wait
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 5)) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for order in "p0 h g3" "g3 h p0"; do for m in topk topp; do for v in $order; do MODE_TAG=_$m run $v flat-rows/ab-h100/sweep 30 MODE=$m; done; done; tar czf $OUT/ab.tgz -C /tmp ab; done
cat $R/steps.txt; echo "total $((SECONDS-T0))s"
