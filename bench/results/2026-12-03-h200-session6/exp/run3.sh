#!/usr/bin/env bash
# session 6, device call 3: elementwise (new rule; 1 tile a block; cap 8) and plain-sampling
# variants (3 sub-chunks a round -> 2 for 2-byte rows; 2 blocks an SM), same-process
# references (torch) in each. Everything in one tarball.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r3; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $R/device.txt; date -u +%FT%TZ >> $R/device.txt
for t in new tiles1 cap8 d2 pm2; do
  (cd .exp/t3/$t && PYTHONPATH=/tmp/site:$PWD timeout 240 python3 -c "
import rocsample, torch
x = torch.ones(4, 4097, device='cuda')[:, 1:]
if '$t' in ('new', 'tiles1', 'cap8'):
    for dt in (torch.float32, torch.bfloat16):
        y = x.to(dt)
        rocsample.unary('gelu', y); rocsample.affine(y, 1.5, -.25); rocsample.where(torch.ones(4,4096,dtype=torch.uint8,device='cuda'), y, y)
if '$t' in ('new', 'd2', 'pm2'):
    for dt in (torch.float32, torch.bfloat16, torch.float16):
        p = torch.softmax(torch.randn(4, 1000, device='cuda'), -1).to(dt)
        rocsample.sample(p, seed=1)
" > $R/warm_$t.txt 2>&1; echo "warm $t rc=$?" >> $R/warm_$t.txt) &
done
wait
cat $R/warm_*.txt | grep -v "^$" | tail -12
S="'sample', 'sample top-k 50 + top-p 0.9'"
for t in new d2 pm2; do
  (cd .exp/t3/$t && PYTHONPATH=/tmp/site:$PWD timeout 150 python3 -c "
import rocsample.bench as b
b.DTYPE_OPS = {k: b.DTYPE_OPS[k] for k in ($S)}
b.run_dtypes(batches=(1, 128, 512), vocabs=(128256,), reps=20, out='$R/dt_$t')
" > $R/dt_$t.txt 2>&1; echo "dtypes $t rc=$?")
done
(cd .exp/t3/new && PYTHONPATH=/tmp/site:$PWD timeout 200 python3 -c "
import rocsample.bench_elementwise as b
from pathlib import Path
b.run(sizes=(1<<20, 1<<22, 1<<26, 1<<28), reps=15, label='new', out=Path('$R/ew_new'))
" > $R/ew_new.txt 2>&1; echo "ew new rc=$?")
for t in tiles1 cap8; do
  (cd .exp/t3/$t && PYTHONPATH=/tmp/site:$PWD timeout 100 python3 -c "
import rocsample.bench_elementwise as b
from pathlib import Path
b.run(sizes=(1<<20, 1<<22, 1<<26), cases=(('unary','slice'),('unary','transposed'),('where','broadcast')), reps=15, label='$t', out=Path('$R/ew_$t'))
" > $R/ew_$t.txt 2>&1; echo "ew $t rc=$?")
done
tar czf $OUT/r3.tgz -C /tmp r3
