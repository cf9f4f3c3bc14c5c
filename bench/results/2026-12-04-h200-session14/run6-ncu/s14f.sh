#!/usr/bin/env bash
# session 14, call F (issue 21): ncu of the logit engine, the softmax statistics and plain
# sampling at 512 x 128256, float32 against bf16, on 1ec7648: where a 2-byte row's time goes.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rf; mkdir -p $R
D=bench/results/2026-12-04-h200-session14/run6-ncu
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
pack() { tar czf $OUT/rf.tgz -C /tmp rf; }
t0=$SECONDS
timeout 150 python3 -m rocsample warmup > $R/warmup.txt 2>&1; echo "warmup rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
M="smsp__inst_executed.sum,gpu__time_duration.sum,dram__bytes_read.sum,sm__warps_active.avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active,l1tex__t_sectors_pipe_lsu_mem_local_op_ld.sum,l1tex__t_sectors_pipe_lsu_mem_local_op_st.sum"
timeout 300 ncu --clock-control none -k regex:'softmax_stats|logits_sampling|topk_topp_sampling' --launch-skip 6 -c 6 --section SpeedOfLight --section ComputeWorkloadAnalysis --section InstructionStats --section WarpStateStats --section SourceCounters --metrics $M -o $R/eng python3 $D/ncu_drv.py > $R/ncu_run.txt 2>&1; echo "ncu rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
ncu --import $R/eng.ncu-rep --page details > $R/details.txt 2>&1
ncu --import $R/eng.ncu-rep --page raw --csv --metrics sass__inst_executed_per_opcode > $R/opcodes.csv 2>&1
rm -f $R/eng.ncu-rep; pack
cat $R/steps.txt
grep -E "^  [a-zA-Z_0-9:<>, ]+ \(|Duration|DRAM Throughput|Issue Slots Busy|Executed Ipc A|smsp__inst_executed|Achieved Occupancy|Registers Per" $R/details.txt | cut -c1-120
