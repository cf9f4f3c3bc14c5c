#!/usr/bin/env bash
# session 9: the two-pass RMSNorm rows kept in shared memory between passes (working tree)
# against HEAD's kernels (.exp/kernels_old via ROCSAMPLE_KERNEL_DIR), A/B/A/B in separate
# processes; then the MLP GPU tests on cuda (bit equality of general vs row entries).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/s9r2; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
chmod -R go-w .exp/kernels_old
SH="--rows 128 --rows 1024 --rows 8192 --hidden 8192 --hidden 14336 --hidden 16384 --reps 30"
for p in 1 2; do
  ROCSAMPLE_KERNEL_DIR=$PWD/.exp/kernels_old timeout 120 python3 -m rocsample bench-mlp $SH --label old$p --out $R > $R/old$p.txt 2>&1; echo "old$p rc=$?"
  timeout 120 python3 -m rocsample bench-mlp $SH --label new$p --out $R > $R/new$p.txt 2>&1; echo "new$p rc=$?"
  tar czf $OUT/s9r2.tgz -C /tmp s9r2
done
timeout 240 env ROCSAMPLE_REQUIRE_GPU=1 python3 -m pytest -m gpu -q -p no:cacheprovider tests/test_gpu_mlp.py > $R/test_mlp.txt 2>&1; echo "tests rc=$? $(tail -1 $R/test_mlp.txt)"
tar czf $OUT/s9r2.tgz -C /tmp s9r2
