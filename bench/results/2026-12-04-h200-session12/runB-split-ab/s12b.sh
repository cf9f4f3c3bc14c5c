#!/usr/bin/env bash
# session 12, call B: v0 = HEAD (NVRTC 13.0 with --split-compile), v1 = working tree (no split
# compile before NVRTC 13.5; rs_scan_plain inlined), v2 = v1 with rs_scan_plain __noinline__ again.
# Cold warmup time of each, then alternating bench --dtypes, then ncu local-memory counts of v1.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/rb; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; python3 -m pip show nvidia-cuda-nvrtc 2>/dev/null | grep -i version; } > $R/device.txt
rm -rf /tmp/v0 /tmp/v1 /tmp/v2; mkdir -p /tmp/v0 /tmp/v1 /tmp/v2
tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/v1
cp -r /tmp/v1/. /tmp/v0/; rm -rf /tmp/v0/kernels /tmp/v0/rocsample; cp -r .exp/v0/kernels .exp/v0/rocsample /tmp/v0/
cp /tmp/v1/rocsample/bench.py /tmp/v0/rocsample/bench.py
cp -r /tmp/v1/. /tmp/v2/
sed -i '33s/__forceinline__/__noinline__/' /tmp/v2/kernels/rs_engine_plain.h
sed -n 33p /tmp/v1/kernels/rs_engine_plain.h /tmp/v2/kernels/rs_engine_plain.h /tmp/v0/kernels/rs_engine_plain.h >> $R/device.txt
grep -n "split-compile" /tmp/v*/rocsample/toolchains.py >> $R/device.txt
for v in v0 v1 v2; do
  ( cd /tmp/$v && PYTHONPATH=/tmp/site:/tmp/$v ROCSAMPLE_CACHE_DIR=/tmp/cache-$v CUDA_CACHE_DISABLE=1 timeout 240 python3 -m rocsample warmup > $R/warmup-$v.txt 2>&1; echo "warmup $v rc=$? $(tail -1 $R/warmup-$v.txt)" | tee -a $R/steps.txt )
done
tar czf $OUT/rb.tgz -C /tmp rb
for round in 1 2; do
  for v in v0 v1 v2; do
    t0=$SECONDS
    ( cd /tmp/$v && PYTHONPATH=/tmp/site:/tmp/$v ROCSAMPLE_CACHE_DIR=/tmp/cache-$v timeout 200 python3 -m rocsample bench --dtypes --batch 1 --batch 32 --batch 128 --batch 512 --vocab 128256 --vocab 262144 --out $R/$v-$round > $R/$v-$round.txt 2>&1 )
    echo "$v round $round rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
  done
  tar czf $OUT/rb.tgz -C /tmp rb
done
cp .exp/s12_plain.py /tmp/v1/
( cd /tmp/v1 && PYTHONPATH=/tmp/site:/tmp/v1 ROCSAMPLE_CACHE_DIR=/tmp/cache-v1 timeout 120 python3 s12_plain.py time > $R/plain_times_v1.txt 2>&1 )
M="dram__bytes_read.sum,dram__bytes_write.sum,l1tex__t_sectors_pipe_lsu_mem_local_op_ld.sum,l1tex__t_sectors_pipe_lsu_mem_local_op_st.sum,smsp__inst_executed.sum,gpu__time_duration.sum"
( cd /tmp/v1 && PYTHONPATH=/tmp/site:/tmp/v1 ROCSAMPLE_CACHE_DIR=/tmp/cache-v1 timeout 150 ncu --clock-control none -k regex:'topk_topp_sampling|logits_sampling' -c 12 --metrics $M python3 s12_plain.py ncu > $R/ncu_v1.txt 2>&1; echo "ncu v1 rc=$?" | tee -a $R/steps.txt )
tar czf $OUT/rb.tgz -C /tmp rb
cat $R/steps.txt $R/plain_times_v1.txt
grep -E "^  [a-z_0-9]+ \(|gpu__time|local_op|dram__bytes" $R/ncu_v1.txt | head -40
