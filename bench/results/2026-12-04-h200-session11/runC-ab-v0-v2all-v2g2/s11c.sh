#!/usr/bin/env bash
# session 11, call C: v0 = HEAD, v2all = working tree (grouped online stats, ftz ex2, the mode
# tested once a sub-chunk) with every filter direct, v2g2 = v2all with 2 blocks an SM for logit
# rows. Alternating bench --dtypes; then ncu counts of v2's kernels; then GPU tests on v2all.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/rc; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
rm -rf /tmp/v0 /tmp/v2all /tmp/v2g2; mkdir -p /tmp/v0 /tmp/v2all /tmp/v2g2
tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/v2all
cp -r /tmp/v2all/. /tmp/v0/; rm -rf /tmp/v0/kernels /tmp/v0/rocsample; cp -r .exp/v0/kernels .exp/v0/rocsample /tmp/v0/
cp /tmp/v2all/rocsample/bench.py /tmp/v0/rocsample/bench.py
sed -i 's/^_DIRECT_METHODS = frozenset({"topk"})/_DIRECT_METHODS = frozenset({"topk", "topp", "fused"})/' /tmp/v2all/rocsample/ops/sampling.py
cp -r /tmp/v2all/. /tmp/v2g2/
sed -i 's/                                  _per_sm(method, params, nphase, vocab)))/                                  2 if logits else _per_sm(method, params, nphase, vocab)))/' /tmp/v2g2/rocsample/ops/sampling.py
grep -n "^_DIRECT_METHODS\|2 if logits" /tmp/v2all/rocsample/ops/sampling.py /tmp/v2g2/rocsample/ops/sampling.py >> $R/device.txt
for round in 1 2; do
  for v in v0 v2all v2g2; do
    t0=$SECONDS
    ( cd /tmp/$v && PYTHONPATH=/tmp/site:/tmp/$v ROCSAMPLE_CACHE_DIR=/tmp/cache-$v timeout 200 python3 -m rocsample bench --dtypes --batch 1 --batch 32 --batch 128 --batch 512 --vocab 128256 --vocab 262144 --out $R/$v-$round > $R/$v-$round.txt 2>&1 )
    echo "$v round $round rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
  done
  tar czf $OUT/rc.tgz -C /tmp rc
done
cp .exp/ncu_drv.py /tmp/v2all/
( cd /tmp/v2all && PYTHONPATH=/tmp/site:/tmp/v2all ROCSAMPLE_CACHE_DIR=/tmp/cache-v2all timeout 200 ncu --clock-control none -k regex:'(softmax_stats|logits_sampling|topk_topp_sampling)_kernel' --launch-skip 9 -c 9 --section SpeedOfLight --section InstructionStats --section WarpStateStats --section Occupancy -o $R/v2 python3 ncu_drv.py > $R/ncu_run.txt 2>&1; echo "ncu rc=$?" | tee -a $R/steps.txt )
ncu --import $R/v2.ncu-rep --page details > $R/v2_details.txt 2>&1; rm -f $R/v2.ncu-rep
tar czf $OUT/rc.tgz -C /tmp rc
( cd /tmp/v2all && t0=$SECONDS; PYTHONPATH=/tmp/site:/tmp/v2all ROCSAMPLE_CACHE_DIR=/tmp/cache-v2all timeout 280 python3 -m pytest -m gpu -q -p no:cacheprovider tests/test_gpu.py tests/test_gpu_half.py tests/test_gpu_seeds.py tests/test_gpu_capture.py -k "logits or softmax or half or capture" > $R/tests-v2all.txt 2>&1; echo "tests v2all rc=$? $((SECONDS-t0))s | $(tail -1 $R/tests-v2all.txt)" | tee -a $R/steps.txt )
tar czf $OUT/rc.tgz -C /tmp rc
cat $R/steps.txt
grep -E "^  [a-z_0-9]+ \(|Duration|Executed Instructions  " $R/v2_details.txt
