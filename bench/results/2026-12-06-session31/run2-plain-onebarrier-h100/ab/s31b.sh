#!/usr/bin/env bash
# session 31, call B (issue 21): A/B of one barrier a round in the plain scan (three sets of
# rs_sm.cmax / wsum, a round's sums published behind the next round's barrier). p = HEAD's
# kernels ($COMMIT: .exp/ph's two headers over the checkout), w = the checkout (patched).
# p w p w of sweep.py MODE other/topp/topk, odd.py (odd V, logit rows), flat_more.py.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-400}
left() { echo $((LIMIT - (SECONDS - T0))); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "p: $COMMIT's kernels; w: $COMMIT + plain-onebarrier (the checkout)"; } > $R/device.txt
P=/tmp/p; rm -rf $P; mkdir -p $P; cp -r rocsample kernels pyproject.toml $P/; cp .exp/ph/*.h $P/kernels/
cp .exp/s31b.sh .exp/sweep.py .exp/odd.py .exp/flat_more.py $R/; cp .exp/plain-onebarrier.patch $R/
warm() {
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-p PYTHONPATH=/tmp/site:$P PYTHONUNBUFFERED=1 timeout 200 python3 -m rocsample warmup > $R/warm_p.txt 2>&1; echo "warm_p rc=$?" >> $R/steps.txt) &
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 timeout 200 python3 -m rocsample warmup > $R/warm_w.txt 2>&1; echo "warm_w rc=$?" >> $R/steps.txt)
  wait; echo "warm $((SECONDS-T0))s" | tee -a $R/steps.txt; }
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS pp=$ROOT cd=/tmp/rs-cache; [ $v = p ] && { pp=$P; cd=/tmp/rs-p; }
  [ $(left) -lt $((t + 10)) ] && { echo "$p${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$cd PYTHONPATH=/tmp/site:$pp PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $ROOT/.exp/$p.py >> $R/${p}${MODE_TAG:-}_$v.jsonl 2>> $R/${p}_$v.err); echo "$p${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
warm
for v in p w p w; do for m in other topp topk; do MODE_TAG=_$m run $v sweep 60 MODE=$m; done; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in p w p w; do run $v odd 45; run $v flat_more 45; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in w p w p; do MODE_TAG=_other run $v sweep 60 MODE=other; done
echo "ab $((SECONDS-T0))s" | tee -a $R/steps.txt; tar czf $OUT/ab.tgz -C /tmp ab
cat $R/steps.txt; echo "total $((SECONDS-T0))s"
