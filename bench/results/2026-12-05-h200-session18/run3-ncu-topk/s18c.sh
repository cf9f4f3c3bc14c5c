#!/usr/bin/env bash
# session 18, call C (issue 21): ncu of top-k sampling of probability rows (bf16/f32 0.95-0.97,
# f16 1.02-1.03 at 512 rows in call B) beside plain sampling (0.72-0.74), 512 x 128256.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rf; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
pack() { tar czf $OUT/rf.tgz -C /tmp rf; }
t0=$SECONDS
timeout 150 python3 -m rocsample warmup > $R/warmup.txt 2>&1; echo "warmup rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
M="smsp__inst_executed.sum,gpu__time_duration.sum,dram__bytes_read.sum,sm__warps_active.avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active,l1tex__t_sectors_pipe_lsu_mem_local_op_ld.sum,l1tex__t_sectors_pipe_lsu_mem_local_op_st.sum,launch__registers_per_thread,launch__grid_size"
timeout 300 ncu --clock-control none -k regex:'topk_sampling|topk_topp_sampling' --launch-skip 6 -c 6 --section SpeedOfLight --section WarpStateStats --section InstructionStats --metrics $M -o $R/tk python3 .exp/s18c_drv.py > $R/ncu_run.txt 2>&1; echo "ncu rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
ncu --import $R/tk.ncu-rep --page details > $R/details.txt 2>&1
ncu --import $R/tk.ncu-rep --page raw --csv --metrics $M,smsp__average_warp_latency_issue_stalled_long_scoreboard,smsp__average_warp_latency_issue_stalled_barrier,smsp__average_warp_latency_issue_stalled_short_scoreboard > $R/raw.csv 2>&1
ncu --import $R/tk.ncu-rep --page raw --csv --metrics sass__inst_executed_per_opcode > $R/opcodes.csv 2>&1
rm -f $R/tk.ncu-rep; cp .exp/s18c*.* $R/; pack
cat $R/steps.txt
grep -E "^  [a-zA-Z_0-9:<>, ]+ \(|Duration|DRAM Throughput|Issue Slots Busy|Executed Ipc A|Achieved Occupancy|Registers Per|Warp Cycles Per Issued" $R/details.txt | cut -c1-120
