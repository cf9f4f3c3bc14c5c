#!/usr/bin/env bash
# session 12, call D: the issue-22 grid of bench-mlp (with the same-bytes copy column) on HEAD,
# FlashInfer's kernels from the reference library built on the CPU machine.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rd; mkdir -p $R .fi; cp .exp/fi/libfi_ref.so .fi/
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
t0=$SECONDS
timeout 300 python3 -m rocsample bench-mlp --reps 30 --label grid --out $R > $R/bench_grid.txt 2>&1; echo "grid rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
tar czf $OUT/rd.tgz -C /tmp rd
cat $R/steps.txt; head -3 $R/bench_grid.txt
