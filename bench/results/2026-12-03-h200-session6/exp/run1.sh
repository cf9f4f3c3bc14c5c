#!/usr/bin/env bash
# session 6, device call 1: memory test on both backends, ncu of plain sample by dtype,
# elementwise row-walk variants (trees in .exp/ew) against torch in each process.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/device.txt; date -u +%FT%TZ >> $OUT/device.txt
# compile the variant trees in parallel (disk cache), while the memory tests run
for t in cur b16 b32 b16x2 curx4; do
  (cd .exp/ew/$t && PYTHONPATH=/tmp/site:$PWD timeout 200 python3 -c "
import rocsample, numpy as np, torch
x = torch.ones(4, 4097, device='cuda')[:, 1:]
for dt in (torch.float32, torch.bfloat16):
    y = x.to(dt)
    rocsample.unary('gelu', y); rocsample.affine(y, 1.5, -.25); rocsample.where(torch.ones(4,4096,dtype=torch.uint8,device='cuda'), y, y)
" > $OUT/warm_$t.txt 2>&1; echo "warm $t rc=$?" >> $OUT/warm_$t.txt) &
done
(export PYTHONPATH=/tmp/site:$PWD; timeout 240 make test-gpu PYTEST_ARGS="-q -p no:cacheprovider tests/test_gpu.py -k memory_is_stable" > $OUT/mem_cuda.txt 2>&1; echo "rc=$?" >> $OUT/mem_cuda.txt)
(export PYTHONPATH=/tmp/site:$PWD; timeout 240 make test-gpu-hip PYTEST_ARGS="-q -p no:cacheprovider tests/test_gpu.py -k memory_is_stable" > $OUT/mem_hip.txt 2>&1; echo "rc=$?" >> $OUT/mem_hip.txt)
wait
tail -2 $OUT/mem_cuda.txt $OUT/mem_hip.txt; tail -1 $OUT/warm_*.txt
(export PYTHONPATH=/tmp/site:$PWD; timeout 150 ncu --clock-control none --csv --metrics gpu__time_duration.sum,launch__grid_size,launch__registers_per_thread,dram__bytes_read.sum,sm__warps_active.avg.pct_of_peak_sustained_active python3 .exp/sample_ncu.py > $OUT/sample_ncu.csv 2> $OUT/sample_ncu.err; echo "ncu rc=$?")
for t in cur b16 b32 b16x2 curx4; do
  (cd .exp/ew/$t && PYTHONPATH=/tmp/site:$PWD timeout 120 python3 -c "
import rocsample.bench_elementwise as b
from pathlib import Path
b.run(sizes=(1<<20, 1<<22, 1<<24, 1<<28), cases=(('unary','slice'),('unary','transposed'),('affine','transposed'),('where','broadcast')), reps=20, label='$t', out=Path('$OUT/ew_$t'))
" > $OUT/ew_$t.txt 2>&1; echo "ew $t rc=$?")
done
