#!/usr/bin/env bash
# Session 38's second device call, on HEAD with the bench's host guard (rocsample.bench.
# gpu_times times a call again when the host fell behind the GPU sleep; -v logs how many):
# issue 21's figure (bench --dtypes --flush-l2, 4 rounds), the fit run again with 1 row added
# (fit.py), and issue 22's bench-mlp (8 rounds of 20, FlashInfer from .fi/libfi_ref.so).
# Usage: COMMIT=<sha> bash bench/experiments/dtype-intercept/s38b.sh, carrying .whl and
# .fi/libfi_ref.so. About 350 s on an H100.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; R=/tmp/s38b; rm -rf $R; mkdir -p $R
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; } > $R/device.txt
cp bench/experiments/dtype-intercept/s38b.sh $R/
export ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
step() { local n=$1 l=$2; shift 2; local t=$SECONDS
  timeout $l "$@" > $R/$n.txt 2>&1; echo "$n rc=$? $((SECONDS-t))s" | tee -a $R/steps.txt
  tar czf $OUT/s38b.tgz -C /tmp s38b; }
step warmup 150 python3 -m rocsample warmup
step dtypes_cold 150 python3 -m rocsample -v bench --dtypes --flush-l2 --rounds 4 --reps 10 --out $R/dtypes-cold
step fit 90 python3 -m rocsample -v bench --dtypes --flush-l2 --rounds 2 --reps 10 --batch 1 \
  --batch 128 --batch 512 --vocab 65536 --vocab 98304 --vocab 131072 --vocab 163840 \
  --vocab 196608 --vocab 229376 --out $R/fit
step mlp 180 python3 -m rocsample -v bench-mlp --rounds 8 --reps 20 --out $R/mlp
echo "total $((SECONDS-T0))s" | tee -a $R/steps.txt
