#!/usr/bin/env bash
# session 6, device call 2: elementwise strided grid caps x row-walk unroll (trees .exp/ew),
# ncu of the small strided cases and of plain sample by dtype. Everything in one tarball.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r2; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $R/device.txt; date -u +%FT%TZ >> $R/device.txt
T="cur c8 c16 b8 b16 b32"
for t in $T; do
  (cd .exp/ew/$t && PYTHONPATH=/tmp/site:$PWD timeout 200 python3 -c "
import rocsample, torch
x = torch.ones(4, 4097, device='cuda')[:, 1:]
for dt in (torch.float32, torch.bfloat16):
    y = x.to(dt)
    rocsample.unary('gelu', y); rocsample.affine(y, 1.5, -.25); rocsample.where(torch.ones(4,4096,dtype=torch.uint8,device='cuda'), y, y)
" > $R/warm_$t.txt 2>&1; echo "warm $t rc=$?" >> $R/warm_$t.txt) &
done
wait
(cd .exp/ew/cur && PYTHONPATH=/tmp/site:$PWD timeout 150 ncu --clock-control none --csv --metrics gpu__time_duration.sum,launch__grid_size,launch__block_size,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active,dram__bytes_read.sum,dram__bytes_write.sum,smsp__inst_executed.sum python3 ../../ew_ncu.py > $R/ew_ncu.csv 2> $R/ew_ncu.err; echo "ew ncu rc=$?")
(PYTHONPATH=/tmp/site:$PWD timeout 150 ncu --clock-control none --csv --metrics gpu__time_duration.sum,launch__grid_size,launch__registers_per_thread,dram__bytes_read.sum,sm__warps_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum python3 .exp/sample_ncu.py > $R/sample_ncu.csv 2> $R/sample_ncu.err; echo "sample ncu rc=$?")
for t in $T; do
  (cd .exp/ew/$t && PYTHONPATH=/tmp/site:$PWD timeout 120 python3 -c "
import rocsample.bench_elementwise as b
from pathlib import Path
b.run(sizes=(1<<20, 1<<22, 1<<24, 1<<26, 1<<28), cases=(('unary','slice'),('unary','transposed'),('affine','transposed'),('where','broadcast')), reps=20, label='$t', out=Path('$R/ew_$t'))
" > $R/ew_$t.txt 2>&1; echo "ew $t rc=$?")
done
tar czf $OUT/r2.tgz -C /tmp r2
