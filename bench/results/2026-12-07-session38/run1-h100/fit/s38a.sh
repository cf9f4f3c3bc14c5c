#!/usr/bin/env bash
# Session 38's device call: s37a.sh on nr4 (suites + sanitizers on HEAD + topk-nr4, then the
# p0 / h / nr4 sweeps), then `bench --dtypes --flush-l2` on HEAD (the checkout, its cache
# warmed by s37a) at 128 and 512 rows over six vocabularies of one regime each (no top-k 50
# row rises below 249856: 50 x sub-chunks <= RISE_CAND), for fit.py: time = intercept +
# bytes / bandwidth per operation, rows and dtype.
# Usage: COMMIT=<sha> bash bench/experiments/dtype-intercept/s38a.sh, carrying .whl and
# .fi/libfi_ref.so. S37=<s>: s37a.sh's LIMIT (default 430); FIT=<s>: the fit's limit (140).
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD
COMMIT=$COMMIT LIMIT=${S37:-430} NEW=nr4 bash bench/experiments/topk-tail/s37a.sh
F=/tmp/fit; rm -rf $F; mkdir -p $F
cp bench/experiments/dtype-intercept/s38a.sh $F/
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; } > $F/device.txt
(cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-h PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 \
  timeout ${FIT:-140} python3 -m rocsample bench --dtypes --flush-l2 --rounds 2 --reps 10 \
  --batch 128 --batch 512 --vocab 65536 --vocab 98304 --vocab 131072 --vocab 163840 \
  --vocab 196608 --vocab 229376 --out $F > $F/dtypes.txt 2>&1; echo "fit rc=$? $((SECONDS-T0))s" >> $F/dtypes.txt)
tail -2 $F/dtypes.txt
tar czf $OUT/fit.tgz -C /tmp fit
echo "total $((SECONDS-T0))s"
