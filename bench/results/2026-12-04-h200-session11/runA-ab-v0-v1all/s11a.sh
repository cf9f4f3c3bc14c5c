#!/usr/bin/env bash
# session 11, call A: A/B of kernel source trees in separate processes, alternating:
# v0 = HEAD (0d9af81), v1all = working tree (online softmax stats, exp2/fma probability,
# 2-byte logit rows held as probabilities) with sample_from_logits direct for every filter.
# Then the logits/softmax/half GPU tests on v1all.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/ra; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
rm -rf /tmp/v0 /tmp/v1all; mkdir -p /tmp/v0 /tmp/v1all
tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/v1all
tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/v0
rm -rf /tmp/v0/kernels /tmp/v0/rocsample; cp -r .exp/v0/kernels .exp/v0/rocsample /tmp/v0/
sed -i 's/^_DIRECT_METHODS = frozenset({"topk"})/_DIRECT_METHODS = frozenset({"topk", "topp", "fused"})/' /tmp/v1all/rocsample/ops/sampling.py
grep -n "^_DIRECT_METHODS" /tmp/v1all/rocsample/ops/sampling.py >> $R/device.txt
cp /tmp/v1all/rocsample/bench.py /tmp/v0/rocsample/bench.py   # the same ops on both sides
for round in 1 2; do
  for v in v0 v1all; do
    t0=$SECONDS
    ( cd /tmp/$v && PYTHONPATH=/tmp/site:/tmp/$v ROCSAMPLE_CACHE_DIR=/tmp/cache-$v timeout 200 python3 -m rocsample bench --dtypes --batch 1 --batch 32 --batch 128 --batch 512 --vocab 128256 --vocab 262144 --out $R/$v-$round > $R/$v-$round.txt 2>&1 )
    echo "$v round $round rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
  done
  tar czf $OUT/ra.tgz -C /tmp ra
done
( cd /tmp/v1all && t0=$SECONDS; PYTHONPATH=/tmp/site:/tmp/v1all ROCSAMPLE_CACHE_DIR=/tmp/cache-v1all timeout 280 python3 -m pytest -m gpu -q -p no:cacheprovider tests/test_gpu.py tests/test_gpu_half.py tests/test_gpu_seeds.py tests/test_gpu_capture.py -k "logits or softmax or half or capture" > $R/tests-v1all.txt 2>&1; echo "tests v1all rc=$? $((SECONDS-t0))s | $(tail -1 $R/tests-v1all.txt)" | tee -a $R/steps.txt )
tar czf $OUT/ra.tgz -C /tmp ra
cat $R/steps.txt
for v in v0 v1all; do echo "== $v"; grep -hE "sample_from_logits|softmax, then|  softmax " $R/$v-2.txt ; done
