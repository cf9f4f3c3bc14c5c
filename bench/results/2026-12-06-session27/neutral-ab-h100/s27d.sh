#!/usr/bin/env bash
# session 27, call D: f305272 (p, .exp/p) against the checkout (w: 158bc08, whose kernels are
# f658f16's: the held-digit mass adds), smooth rows: sweep.py MODE other (plain, min-p), topk,
# topp; p w p w. Was the held digit neutral on the paths that never run it?
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "w: $COMMIT; p: f305272"; } > $R/device.txt
cp .exp/s27d.sh .exp/sweep.py $R/
for v in p w; do pp=$ROOT/.exp/p; [ $v = w ] && pp=$ROOT
(cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$pp PYTHONUNBUFFERED=1 timeout 150 python3 -c "
import torch, rocsample
x = torch.rand(2, 262144, device='cuda')
for y in (x, x.bfloat16(), x.half()):
    rocsample.sample(y, top_p=0.9, seed=1); rocsample.sample(y, top_k=50, top_p=0.9, seed=1); rocsample.sample(y, top_k=50, seed=1); rocsample.sample(y, seed=1); rocsample.sample(y, min_p=0.1, seed=1)
" > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
echo "warm $((SECONDS-T0))s"
for v in p w p w; do pp=$ROOT/.exp/p; [ $v = w ] && pp=$ROOT
  for m in other topk topp; do t0=$SECONDS
    (cd /tmp && MODE=$m ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$pp PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout 40 python3 $ROOT/.exp/sweep.py >> $R/sweep_${m}_$v.jsonl 2>> $R/sweep_$v.err); echo "sweep_${m}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
  done; tar czf $OUT/ab.tgz -C /tmp ab
done
cat $R/steps.txt; echo "total $((SECONDS-T0))s"
