#!/usr/bin/env bash
# session 6, device call 4: the 2-dim walk's grid (4, 2, 1 elements a thread) at small sizes;
# ncu warp states and SASS-level samples of plain sampling on bf16 vs f16 rows.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r4; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $R/device.txt; date -u +%FT%TZ >> $R/device.txt
for t in new w2 w1; do
  (cd .exp/t4/$t && PYTHONPATH=/tmp/site:$PWD timeout 240 python3 -c "
import rocsample, torch
x = torch.ones(4, 4097, device='cuda')[:, 1:]
for dt in (torch.float32, torch.bfloat16):
    y = x.to(dt)
    rocsample.unary('gelu', y); rocsample.affine(y, 1.5, -.25); rocsample.where(torch.ones(4,4096,dtype=torch.uint8,device='cuda'), y, y)
if '$t' == 'new':
    for dt in (torch.bfloat16, torch.float16):
        rocsample.sample(torch.softmax(torch.randn(4, 1000, device='cuda'), -1).to(dt), seed=1)
" > $R/warm_$t.txt 2>&1; echo "warm $t rc=$?" >> $R/warm_$t.txt) &
done
wait
tail -q -n1 $R/warm_*.txt
for t in new w2 w1; do
  (cd .exp/t4/$t && PYTHONPATH=/tmp/site:$PWD timeout 100 python3 -c "
import rocsample.bench_elementwise as b
from pathlib import Path
b.run(sizes=(1<<20, 1<<22, 1<<24), cases=(('unary','transposed'),('where','broadcast')), reps=20, label='$t', out=Path('$R/ew_$t'))
" > $R/ew_$t.txt 2>&1; echo "ew $t rc=$?")
done
(cd .exp/t4/new && PYTHONPATH=/tmp/site:$PWD timeout 200 ncu --clock-control none -k regex:'topk_topp_sampling_kernel_(bf16|f16)$' -c 2 --section WarpStateStats --section SourceCounters --section SpeedOfLight --section MemoryWorkloadAnalysis -o $R/plain python3 ../../plain_ncu.py > $R/ncu_run.txt 2>&1; echo "ncu rc=$?")
ncu --import $R/plain.ncu-rep --page details > $R/plain_details.txt 2>&1
ncu --import $R/plain.ncu-rep --page source --print-source sass --csv > $R/plain_source.csv 2>&1
ls -la $R
tar czf $OUT/r4.tgz -C /tmp r4
