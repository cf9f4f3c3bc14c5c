#!/usr/bin/env bash
# session 7: bench-mlp through the public API, the grid, torch and FlashInfer in the same run.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/r12; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
( while sleep 20; do tar czf $OUT/r12.tgz -C /tmp r12 2>/dev/null; done ) &
timeout 225 python3 -m rocsample bench-mlp --rows 1 --rows 16 --rows 128 --rows 1024 --rows 8192 \
    --hidden 2048 --hidden 4096 --hidden 8192 --hidden 14336 --reps 10 --out $R/mlp > $R/bench_mlp.txt 2>&1
echo "bench_mlp rc=$?" >> $R/bench_mlp.txt
kill %1 2>/dev/null; tar czf $OUT/r12.tgz -C /tmp r12; tail -3 $R/bench_mlp.txt
