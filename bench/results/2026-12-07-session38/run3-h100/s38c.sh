#!/usr/bin/env bash
# Session 38's third call: how much of top-k's extra cost per sub-chunk over plain sampling
# (SUMMARY.md) is its candidates. nb (nb.patch, TIMING ONLY: no candidate after a block's
# first round, so later sub-chunks skip the put and the last block selects among fewer) against
# h (HEAD), each through the fit run (bench --dtypes --flush-l2 at 128 and 512 rows over the six
# vocabularies), in the order h nb nb h. fit.py on each: if nb's top-k slope comes near plain
# sampling's, the candidates are the extra; if it stays at h's, the rounds are.
# Usage: COMMIT=<sha> bash bench/experiments/dtype-intercept/s38c.sh, carrying .whl. About 180 s.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; E=$ROOT/bench/experiments/dtype-intercept; R=/tmp/s38c; rm -rf $R; mkdir -p $R
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "h: the checkout; nb: h + nb.patch (timing only)"; } > $R/device.txt
cp $E/s38c.sh $E/nb.patch $R/
W=/tmp/nb; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git . | tar xf - -C $W
(cd $W && patch -p1 < $E/nb.patch) > $R/patch.txt 2>&1 || { cat $R/patch.txt; exit 1; }
tree() { case $1 in h) echo $ROOT;; *) echo /tmp/$1;; esac; }
go() { local v=$1 n=$2 l=$3; shift 3; local t=$SECONDS
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 \
   timeout $l python3 -m rocsample "$@" > $R/$n.txt 2>&1); echo "$n rc=$? $((SECONDS-t))s" >> $R/steps.txt
  tar czf $OUT/s38c.tgz -C /tmp s38c; }
go h warm_h 150 warmup & go nb warm_nb 150 warmup & wait
FIT="-v bench --dtypes --flush-l2 --rounds 2 --reps 10 --batch 128 --batch 512 --vocab 65536 --vocab 98304 --vocab 131072 --vocab 163840 --vocab 196608 --vocab 229376"
go h fit_h1 90 $FIT --out $R/fit_h1
go nb fit_nb1 90 $FIT --out $R/fit_nb1
go nb fit_nb2 90 $FIT --out $R/fit_nb2
go h fit_h2 90 $FIT --out $R/fit_h2
cat $R/steps.txt; echo "total $((SECONDS-T0))s"
