#!/usr/bin/env bash
# session 12, call A: why bf16 plain `sample` is slower than f16/f32 (event times on two
# datasets; ncu with memory metrics), and rocsample vs FlashInfer RMSNorm at few rows (ncu
# kernel durations, SASS sizes, bench-mlp twice).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/ra; mkdir -p $R .fi; cp .exp/fi/libfi_ref.so .fi/
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
pack() { tar czf $OUT/ra.tgz -C /tmp ra; }
t0=$SECONDS
timeout 120 python3 .exp/s12_plain.py time > $R/plain_times.txt 2>&1; echo "plain times rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
cat $R/plain_times.txt; pack
M="dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sectors_srcunit_tex_op_write.sum,l1tex__t_sectors_pipe_lsu_mem_local_op_ld.sum,l1tex__t_sectors_pipe_lsu_mem_local_op_st.sum,l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum,smsp__inst_executed.sum,gpu__time_duration.sum"
timeout 200 ncu --clock-control none -k regex:topk_topp_sampling -c 12 --section SpeedOfLight --section WarpStateStats --section SourceCounters --metrics $M -o $R/plain python3 .exp/s12_plain.py ncu > $R/ncu_plain_run.txt 2>&1; echo "ncu plain rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
ncu --import $R/plain.ncu-rep --page details > $R/plain_details.txt 2>&1
ncu --import $R/plain.ncu-rep --page source --print-source sass --csv > $R/plain_source.csv 2>&1
gzip -f $R/plain_source.csv; rm -f $R/plain.ncu-rep; pack
timeout 150 ncu --clock-control none -k regex:'rms|RMS|Norm|silu|act_and_mul|swiglu' --launch-skip 24 -c 24 --section SpeedOfLight --section LaunchStats --section WarpStateStats --metrics gpu__time_duration.sum,smsp__inst_executed.sum,sm__cycles_active.max -o $R/mlp python3 .exp/s12_mlp.py > $R/ncu_mlp_run.txt 2>&1; echo "ncu mlp rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
ncu --import $R/mlp.ncu-rep --page details > $R/mlp_details.txt 2>&1
ncu --import $R/mlp.ncu-rep --page source --print-source sass --csv > $R/mlp_source.csv 2>&1
gzip -f $R/mlp_source.csv; rm -f $R/mlp.ncu-rep; pack
for f in .fi/libfi_ref.so $(find /tmp/rs-cache -type f | head -50); do
  echo "== $f"; cuobjdump -sass "$f" 2>/dev/null | awk '/Function :/{name=$3} /\/\*[0-9a-f]{4}\*\//{n[name]++} END{for(k in n) print k, n[k]}' | grep -iE "rms|norm|silu|act_and|swiglu|sampling"
done > $R/sass_sizes.txt 2>&1; pack
for p in 1 2; do
  timeout 90 python3 -m rocsample bench-mlp --rows 1 --rows 16 --rows 128 --hidden 2048 --hidden 4096 --reps 50 --label few$p --out $R > $R/bench_few$p.txt 2>&1; echo "bench few$p rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
done
rm -f $R/*.png; pack
cat $R/steps.txt
grep -E "^  [a-zA-Z_0-9:<>, ]+ \(|Duration|DRAM Throughput|dram__bytes|lts__t_sectors_srcunit|local_op|smsp__inst_executed|gpu__time" $R/plain_details.txt | cut -c1-120
grep -E "^  [a-zA-Z_0-9:<>, ]+ \(|gpu__time_duration|smsp__inst_executed" $R/mlp_details.txt | cut -c1-120
cat $R/sass_sizes.txt | head -40
