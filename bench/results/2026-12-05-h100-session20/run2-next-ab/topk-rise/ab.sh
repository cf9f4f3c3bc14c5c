#!/usr/bin/env bash
# topk-rise A/B on the device (one call, about 3 min): HEAD (v0) against HEAD + topk_rise.patch
# (v1), bench --dtypes --rounds 4 at B 128 and 512, L2 warm, each tree twice, each run in its
# own process; then ncu of both trees' top-k kernels at 512 x 128256 (instructions executed).
# Before the call, on the CPU machine:
#   rm -rf .exp/v0 .exp/v1 && mkdir -p .exp/v0 .exp/v1
#   git archive HEAD rocsample kernels pyproject.toml | tar -x -C .exp/v0
#   git archive HEAD rocsample kernels pyproject.toml | tar -x -C .exp/v1
#   (cd .exp/v1 && patch -p1 < ../../bench/experiments/topk-rise/topk_rise.patch)
#   cp bench/experiments/topk-rise/ab.sh bench/results/2026-12-05-h200-session18/run3-ncu-topk/s18c_drv.py .exp/
# Device call: bash .exp/ab.sh, with carry [".whl", ".exp"].
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
ROOT=$PWD
R=/tmp/rr; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (v0) and v0 + bench/experiments/topk-rise/topk_rise.patch (v1)"; } > $R/device.txt
pack() { cp .exp/ab.sh .exp/s18c_drv.py $R/; tar czf $OUT/rr.tgz -C /tmp rr; }
for v in v0 v1; do (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 200 python3 -m rocsample warmup > $R/warmup_$v.txt 2>&1; echo "warmup_$v rc=$?" >> $R/steps.txt) & done; wait
for round in 1 2; do for v in v0 v1; do
  t0=$SECONDS; (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 90 python3 -m rocsample bench --dtypes --batch 128 --batch 512 --reps 10 --rounds 4 --out $R/${v}_r$round > $R/${v}_r$round.txt 2>&1); echo "${v}_r$round rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
done; pack; done
M="smsp__inst_executed.sum,gpu__time_duration.sum,dram__bytes_read.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread,launch__grid_size"
for v in v0 v1; do
  (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 100 ncu --clock-control none -k regex:"topk_sampling|topk_topp_sampling" --launch-skip 6 -c 6 --metrics $M -o $R/tk_$v python3 $ROOT/.exp/s18c_drv.py > $R/ncu_run_$v.txt 2>&1); echo "ncu_$v rc=$?" | tee -a $R/steps.txt
  ncu --import $R/tk_$v.ncu-rep --page raw --csv --metrics $M > $R/raw_$v.csv 2>&1; rm -f $R/tk_$v.ncu-rep
done
pack; cat $R/steps.txt
for f in $R/v*_r*.txt; do echo "== $f"; grep -E "^B=.*(top-k 50)" $f | cut -c1-130; done
for v in v0 v1; do echo "== $v"; cut -d, -f5,12- $R/raw_$v.csv | cut -c1-300 | head -9; done
