#!/usr/bin/env bash
# prepared in session 7 (no device time was left to run it): small_bench.py (compact small-call MLP entries against
# the current ones and FlashInfer, same process).
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
R=/tmp/r14; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
timeout 140 python3 bench/experiments/mlp-small/small_bench.py $R > $R/small_bench.txt 2>&1; echo "rc=$?" >> $R/small_bench.txt
tar czf $OUT/r14.tgz -C /tmp r14; tail -4 $R/small_bench.txt
