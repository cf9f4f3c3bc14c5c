#!/usr/bin/env bash
# session 7, device call 2: experiments, same run. (1) .exp/tile = HEAD with a tile walk for
# 2-dim layouts with a transposed operand (shared-memory staging), bench-elementwise against
# torch in the same process, beside HEAD's; (2) .exp/split = HEAD with wip/plain-scan-split's
# plain scan, plain sampling by dtype beside HEAD's.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache8
R=/tmp/r8; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
save() { tar czf $OUT/r8.tgz -C /tmp r8 2>/dev/null; }
for t in head tile split; do
  d=$PWD; [ $t != head ] && d=$PWD/.exp/$t
  (cd $d && PYTHONPATH=/tmp/site:$d timeout 150 python3 -c "
import rocsample, torch
x = torch.ones(64, 4097, device='cuda')[:, 1:]
for dt in (torch.float32, torch.bfloat16):
    y = x.to(dt); z = torch.randn(64, 64, device='cuda').to(dt).t()
    rocsample.unary('gelu', y); rocsample.unary('gelu', z); rocsample.affine(z, 1.5, -.25)
    rocsample.where(torch.ones(64, dtype=torch.uint8, device='cuda').expand(64, 64), z, z.t().contiguous())
    rocsample.where(torch.ones(4,4096,dtype=torch.uint8,device='cuda'), y, y)
for dt in (torch.float32, torch.bfloat16, torch.float16):
    rocsample.sample(torch.softmax(torch.randn(4, 1000, device='cuda'), -1).to(dt), seed=1)
print('warm ok')
" > $R/warm_$t.txt 2>&1; echo "warm $t rc=$?" >> $R/warm_$t.txt) &
done
wait; cat $R/warm_*.txt | tail -8; save
(cd .exp/tile && PYTHONPATH=/tmp/site:$PWD timeout 60 python3 ../tile_check.py > $R/tile_check.txt 2>&1; echo "tile check rc=$?" >> $R/tile_check.txt); tail -3 $R/tile_check.txt; save
EW="import rocsample.bench_elementwise as b
from pathlib import Path"
for t in tile head; do
  d=$PWD; [ $t != head ] && d=$PWD/.exp/$t
  cases="b.CASES"; sizes="(1<<20, 1<<22, 1<<26, 1<<28)"
  [ $t = head ] && cases="(('unary','transposed'),('affine','transposed'),('where','broadcast'),('unary','contiguous'),('where','contiguous'))" && sizes="(1<<20, 1<<22, 1<<26)"
  (cd $d && PYTHONPATH=/tmp/site:$d timeout 200 python3 -c "$EW
b.run(sizes=$sizes, cases=$cases, reps=15, label='$t', out=Path('$R/ew_$t'))
" > $R/ew_$t.txt 2>&1; echo "ew $t rc=$?"); save
done
S="'sample', 'sample top-k 50 + top-p 0.9'"
for t in split head split2 head2; do
  d=$PWD; case $t in split*) d=$PWD/.exp/split;; esac
  (cd $d && PYTHONPATH=/tmp/site:$d timeout 80 python3 -c "
import rocsample.bench as b
b.DTYPE_OPS = {k: b.DTYPE_OPS[k] for k in ($S)}
b.run_dtypes(batches=(1, 128, 512), vocabs=(128256, 262144), reps=15, out='$R/dt_$t')
" > $R/dt_$t.txt 2>&1; echo "dtypes $t rc=$?"); save
done
save
