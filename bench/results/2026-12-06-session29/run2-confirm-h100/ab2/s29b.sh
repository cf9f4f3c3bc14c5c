#!/usr/bin/env bash
# session 29, call B (same warm H100 as call A): more rounds where call A's A/B was unclear:
# flat_more p w x3 (flat rows; call A's single run had bf16 128256x128 top-k 50 + top-p at 1.085)
# and sweep MODE=topk p w x2 (1-row 2-byte cells about +1 %). p = HEAD, w = HEAD + span-depth.patch.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab2; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "p: $COMMIT; w: $COMMIT + span-depth.patch"; } > $R/device.txt
W=/tmp/w; rm -rf $W; mkdir -p $W; cp -r rocsample kernels pyproject.toml $W/; cp .exp/wk/*.h $W/kernels/
cp .exp/s29b.sh $R/
(cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-w PYTHONPATH=/tmp/site:$W timeout 200 python3 -m rocsample warmup > $R/warm_w.txt 2>&1; echo "warm_w rc=$?" >> $R/steps.txt) &
(cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONPATH=/tmp/site:$ROOT timeout 200 python3 -m rocsample warmup > $R/warm_p.txt 2>&1; echo "warm_p rc=$?" >> $R/steps.txt)
wait; echo "warm $((SECONDS-T0))s" | tee -a $R/steps.txt
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS pp=$ROOT cd=/tmp/rs-cache; [ $v = w ] && { pp=$W; cd=/tmp/rs-w; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$cd PYTHONPATH=/tmp/site:$pp PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $ROOT/.exp/$p.py >> $R/${p}${MODE_TAG:-}_$v.jsonl 2>> $R/${p}_$v.err); echo "$p${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for v in p w p w p w; do run $v flat_more 60; done
for v in w p w p; do MODE_TAG=_topk run $v sweep 60 MODE=topk; done
tar czf $OUT/ab2.tgz -C /tmp ab2; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
