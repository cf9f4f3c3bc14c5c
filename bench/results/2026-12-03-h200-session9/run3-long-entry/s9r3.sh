#!/usr/bin/env bash
# session 9: the fused add's long-row entry (fused_add_rms_norm_long_DT) in four variants
# (.exp/kv/<unroll, blocks an SM>) against HEAD's kernels (.exp/kernels_old: no long entry,
# so the general entry runs), A/B in separate processes, twice; the outputs of every variant
# compared bit for bit with HEAD's (.exp/long_check.py).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/s9r3; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
chmod -R go-w .exp/kernels_old .exp/kv
SH="--rows 1024 --rows 8192 --hidden 8192 --hidden 14336 --hidden 16384 --reps 30"
V="old u1b4 u2b2 u1b3 u1b2"
dir() { [ $1 = old ] && echo $PWD/.exp/kernels_old || echo $PWD/.exp/kv/$1; }
for v in $V; do ROCSAMPLE_KERNEL_DIR=$(dir $v) timeout 60 python3 .exp/long_check.py $R $v > $R/check_$v.txt 2>&1; echo "check $v rc=$?"; done
python3 - <<'PY' > $R/bits.txt 2>&1
import torch
R = "/tmp/s9r3"
ref = torch.load(f"{R}/old.pt")
for v in ("u1b4", "u2b2", "u1b3", "u1b2"):
    got = torch.load(f"{R}/{v}.pt")
    bad = [k for k in ref if not all(torch.equal(a.view(torch.int16) if a.dtype != torch.float32 else a.view(torch.int32), b.view(torch.int16) if b.dtype != torch.float32 else b.view(torch.int32)) for a, b in zip(ref[k], got[k]))]
    print(v, "bit-identical to HEAD" if not bad else f"DIFFERS in {bad}")
PY
cat $R/bits.txt
for p in 1 2; do for v in $V; do
  ROCSAMPLE_KERNEL_DIR=$(dir $v) timeout 120 python3 -m rocsample bench-mlp $SH --label $v$p --out $R > $R/bench_$v$p.txt 2>&1; echo "$v$p rc=$?"
done; tar czf $OUT/s9r3.tgz -C /tmp s9r3; done
tar czf $OUT/s9r3.tgz -C /tmp s9r3
