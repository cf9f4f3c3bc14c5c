#!/usr/bin/env bash
# session 11, call B: ncu of the direct plain path (softmax_stats + logits_sampling, f32/bf16/
# f16) and of plain sampling of probabilities at 512 x 128256; then a G = 2 a row variant.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/rb; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
rm -rf /tmp/v1all /tmp/v1g2; mkdir -p /tmp/v1all /tmp/v1g2
tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/v1all
sed -i 's/^_DIRECT_METHODS = frozenset({"topk"})/_DIRECT_METHODS = frozenset({"topk", "topp", "fused"})/' /tmp/v1all/rocsample/ops/sampling.py
cp -r /tmp/v1all/. /tmp/v1g2/
sed -i 's/                                  _per_sm(method, params, nphase, vocab)))/                                  2 if logits else _per_sm(method, params, nphase, vocab)))/' /tmp/v1g2/rocsample/ops/sampling.py
grep -n "2 if logits" /tmp/v1g2/rocsample/ops/sampling.py >> $R/device.txt
cp .exp/ncu_drv.py /tmp/v1all/
( cd /tmp/v1all && PYTHONPATH=/tmp/site:/tmp/v1all ROCSAMPLE_CACHE_DIR=/tmp/cache-v1all timeout 240 ncu --clock-control none -k regex:'(softmax_stats|logits_sampling|topk_topp_sampling)_kernel' --launch-skip 9 -c 9 --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats --section Occupancy --section InstructionStats --section LaunchStats --section SourceCounters -o $R/plain python3 ncu_drv.py > $R/ncu_run.txt 2>&1; echo "ncu rc=$?" | tee -a $R/steps.txt )
ncu --import $R/plain.ncu-rep --page details > $R/plain_details.txt 2>&1
ncu --import $R/plain.ncu-rep --page source --print-source sass --csv > $R/plain_source.csv 2>&1
rm -f $R/plain.ncu-rep.keep
tar czf $OUT/rb.tgz -C /tmp rb
for round in 1 2; do
  for v in v1all v1g2; do
    t0=$SECONDS
    ( cd /tmp/$v && PYTHONPATH=/tmp/site:/tmp/$v ROCSAMPLE_CACHE_DIR=/tmp/cache-v1all timeout 200 python3 -m rocsample bench --dtypes --batch 32 --batch 64 --batch 128 --vocab 128256 --vocab 262144 --out $R/$v-$round > $R/$v-$round.txt 2>&1 )
    echo "$v round $round rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
  done
done
tar czf $OUT/rb.tgz -C /tmp rb
cat $R/steps.txt
for v in v1all v1g2; do echo "== $v"; grep -hE "sample_from_logits" $R/$v-2.txt ; done
grep -E "^  [a-z_0-9]+ \(|Duration|Compute \(SM\) Throughput|DRAM Throughput|Executed Ipc Active|Achieved Occupancy|Registers Per|Warp Cycles Per Issued" $R/plain_details.txt
