#!/usr/bin/env bash
# session 19, call B (issue 21): the candidate scan's one-maximum reject and packed test
# (v1: the working tree) against HEAD (v0: .exp/v0), bench --dtypes --rounds 4 at B 128 and
# 512, L2 warm, alternated twice, each in its own process; then ncu of v1's top-k kernel
# (instructions executed; session 18: 57-58 M at 512 x 128256 for f32, bf16, f16).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rb; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (v0: HEAD; v1: HEAD + the working tree's kernels/rs_engine_scan.h, rs_engine_block.h)"; } > $R/device.txt
pack() { cp .exp/s19b.sh .exp/s19_drv.py $R/; tar czf $OUT/rb.tgz -C /tmp rb; }
for v in 0 1; do
  T=$PWD; [ $v = 0 ] && T=$PWD/.exp/v0
  t0=$SECONDS; (cd /tmp && PYTHONPATH=/tmp/site:$T timeout 120 python3 -m rocsample warmup > $R/warmup_v$v.txt 2>&1); echo "warmup_v$v rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
done
for round in 1 2; do for v in 0 1; do
  T=$PWD; [ $v = 0 ] && T=$PWD/.exp/v0
  t0=$SECONDS; (cd /tmp && PYTHONPATH=/tmp/site:$T timeout 110 python3 -m rocsample bench --dtypes --batch 128 --batch 512 --reps 10 --rounds 4 --out $R/v${v}_r$round > $R/v${v}_r$round.txt 2>&1); echo "v${v}_r$round rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
  pack
done; done
M="smsp__inst_executed.sum,gpu__time_duration.sum,dram__bytes_read.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread,launch__grid_size"
t0=$SECONDS
(PYTHONPATH=/tmp/site:$PWD timeout 150 ncu --clock-control none -k regex:'topk_sampling' --launch-skip 6 -c 6 --metrics $M -o $R/tk python3 .exp/s19_drv.py > $R/ncu_run.txt 2>&1); echo "ncu rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
ncu --import $R/tk.ncu-rep --page raw --csv --metrics $M > $R/raw.csv 2>&1; rm -f $R/tk.ncu-rep
pack; cat $R/steps.txt
for f in $R/v*_r*.txt; do echo "== $f"; grep -E "sample top-k 50  |sample top-k 50 \+|sample_from_logits top-k|then sample it top-k" $f; done
cut -c1-400 $R/raw.csv | head -12
