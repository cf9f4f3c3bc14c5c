#!/usr/bin/env bash
# Session 41 (issue 21, top-p's slope: bf16 costs 0.82 of f32 per element at 128 rows). ncu of
# sample(top_p=0.9) at 128 x 229376, f32 and bf16, the second round of drv.py: both phases of
# topk_topp_sampling each (4 launches). Sections: speed of light, warp states, instruction
# stats, memory workload, source counters (the SASS lines where warps stall); then the per-opcode
# counts and the SASS with per-line samples. Usage (device, after a warm-up of ROCSAMPLE_CACHE_DIR):
#   OUT=dir ROCSAMPLE_CACHE_DIR=/tmp/rs-h bash bench/experiments/topp-profile/ncu.sh
set -u -o pipefail
ROOT=$PWD; R=/tmp/topp-ncu; rm -rf $R; mkdir -p $R; t0=$SECONDS
[ -d /tmp/site ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
pack() { tar czf $OUT/topp-ncu.tgz -C /tmp topp-ncu; }
M="gpu__time_duration.sum,dram__bytes_read.sum,smsp__inst_executed.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active,smsp__average_warp_latency_issue_stalled_long_scoreboard,smsp__average_warp_latency_issue_stalled_barrier,smsp__average_warp_latency_issue_stalled_short_scoreboard,smsp__average_warp_latency_issue_stalled_mio_throttle,l1tex__data_pipe_lsu_wavefronts_mem_shared_op_atom.sum,launch__registers_per_thread,launch__grid_size"
(cd /tmp && timeout ${NCU_S:-150} ncu --clock-control none -k regex:topk_topp_sampling --launch-skip 4 -c 4 \
  --section SpeedOfLight --section WarpStateStats --section InstructionStats --section MemoryWorkloadAnalysis \
  --section SourceCounters --metrics $M -o $R/tp python3 $ROOT/bench/experiments/topp-profile/drv.py) > $R/ncu_run.txt 2>&1
echo "ncu rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
ncu --import $R/tp.ncu-rep --page details > $R/details.txt 2>&1
ncu --import $R/tp.ncu-rep --page raw --csv --metrics $M > $R/raw.csv 2>&1
ncu --import $R/tp.ncu-rep --page raw --csv --metrics sass__inst_executed_per_opcode > $R/opcodes.csv 2>&1
ncu --import $R/tp.ncu-rep --page source --csv --print-source sass > $R/sass.csv 2>&1
gzip -f $R/sass.csv; rm -f $R/tp.ncu-rep; pack
echo "ncu total $((SECONDS-t0))s" | tee -a $R/steps.txt
grep -E "^  [a-zA-Z_0-9:<>, ]+ \(|Duration|DRAM Throughput|Issue Slots Busy|Warp Cycles Per Issued|Achieved Occupancy" $R/details.txt | cut -c1-110 | head -40
