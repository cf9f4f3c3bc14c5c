#!/usr/bin/env bash
# session 8, first call: both prepared experiments (where by value; compact MLP entries).
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
R=/tmp/r15; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
ROCSAMPLE_CACHE_DIR=/tmp/rs-cache-where timeout 170 python3 bench/experiments/where-byvalue/where_bench.py $R > $R/where_bench.txt 2>&1; echo "rc=$?" >> $R/where_bench.txt
timeout 170 python3 bench/experiments/mlp-small/small_bench.py $R > $R/small_bench.txt 2>&1; echo "rc=$?" >> $R/small_bench.txt
tar czf $OUT/r15.tgz -C /tmp r15; tail -5 $R/where_bench.txt; tail -5 $R/small_bench.txt
