#!/usr/bin/env bash
# session 19, call C (issue 21): the candidate scan, four trees: v0 HEAD (.exp/v0); v1 the
# one-maximum reject and packed test for every row type (.exp/v1); vA v1 with float and logit
# rows kept one by one (.exp/vA); vB the working tree (vA with float and logit rows' code as
# HEAD's). bench --dtypes --rounds 4 at B 128 and 512, L2 warm, each tree twice, each run in
# its own process; then ncu of vB's and v0's top-k kernels (instructions executed).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rc; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (v0); v1, vA, vB: the trees named above"; } > $R/device.txt
pack() { cp .exp/s19c.sh .exp/s19_drv.py $R/; tar czf $OUT/rc.tgz -C /tmp rc; }
ROOT=$PWD
tree() { case $1 in v0) echo $ROOT/.exp/v0;; v1) echo $ROOT/.exp/v1;; vA) echo $ROOT/.exp/vA;; vB) echo $ROOT;; esac; }
t0=$SECONDS
for v in v0 v1 vA vB; do (cd /tmp && PYTHONPATH=/tmp/site:$(tree $v) timeout 200 python3 -m rocsample warmup > $R/warmup_$v.txt 2>&1; echo "warmup_$v rc=$?" >> $R/steps.txt) & done; wait
echo "warmups $((SECONDS-t0))s" | tee -a $R/steps.txt
for round in 1 2; do for v in v0 v1 vA vB; do
  t0=$SECONDS; (cd /tmp && PYTHONPATH=/tmp/site:$(tree $v) timeout 90 python3 -m rocsample bench --dtypes --batch 128 --batch 512 --reps 10 --rounds 4 --out $R/${v}_r$round > $R/${v}_r$round.txt 2>&1); echo "${v}_r$round rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
done; pack; done
M="smsp__inst_executed.sum,gpu__time_duration.sum,dram__bytes_read.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread,launch__grid_size"
for v in v0 vB; do
  t0=$SECONDS
  (cd /tmp && PYTHONPATH=/tmp/site:$(tree $v) timeout 100 ncu --clock-control none -k regex:"topk_sampling|topk_topp_sampling" --launch-skip 6 -c 6 --metrics $M -o $R/tk_$v python3 $ROOT/.exp/s19_drv.py > $R/ncu_run_$v.txt 2>&1); echo "ncu_$v rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
  ncu --import $R/tk_$v.ncu-rep --page raw --csv --metrics $M > $R/raw_$v.csv 2>&1; rm -f $R/tk_$v.ncu-rep
done
pack; cat $R/steps.txt
for f in $R/v*_r*.txt; do echo "== $f"; grep -E "^B=.*(sample top-k 50  |sample_from_logits top-k)" $f | cut -c1-130; done
for v in v0 vB; do echo "== $v"; cut -d, -f5,12- $R/raw_$v.csv | cut -c1-300 | head -9; done
