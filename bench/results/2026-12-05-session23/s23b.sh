#!/usr/bin/env bash
# session 23, call B (issue 21): (1) ncu of the checkout's top-k kernels at 512 x 128256 (top-k 50
# and plain; f32, bf16, f16; base entries, identical to 61cf71a's): pipe utilisation and warp
# stall reasons, raw CSV of every collected metric; (2) bench --dtypes (gpu_session.sh
# PART=dtypes: L2 warm, then flushed) of the checkout, the rise modules in.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/ncu; rm -rf $R; mkdir -p $R; t0=$SECONDS
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
cp .exp/s18c_drv.py .exp/s23b.sh $R/
(export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
 timeout 100 python3 -c "import torch, rocsample; rocsample.sample(torch.rand(2, 128256, device='cuda').bfloat16(), top_k=50)" > $R/warm.txt 2>&1
 timeout 170 ncu --clock-control none -k regex:'topk_sampling|topk_topp_sampling' --launch-skip 6 -c 6 --section ComputeWorkloadAnalysis --section WarpStateStats --section SchedulerStats -o $R/pipes python3 .exp/s18c_drv.py > $R/ncu_run.txt 2>&1; echo "ncu rc=$? $((SECONDS-t0))s" >> $R/steps.txt
 ncu --import $R/pipes.ncu-rep --page details > $R/details.txt 2>&1
 ncu --import $R/pipes.ncu-rep --page raw --csv > $R/raw.csv 2>&1; rm -f $R/pipes.ncu-rep)
cat $R/steps.txt; tar czf $OUT/ncu.tgz -C /tmp ncu
[ "${DTYPES:-1}" = 1 ] && { OUT=$OUT PART=dtypes bash tools/gpu_session.sh; echo "dtypes done $((SECONDS-t0))s"; }
cat $OUT/dtypes-steps.txt 2>/dev/null; true
