#!/usr/bin/env bash
# Prepared in session 7 (not run: no device time left). About 40 s on an H200.
# carry: [".whl"]   usage: COMMIT=<sha> bash bench/experiments/where-byvalue/run.sh
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache-where
R=/tmp/where; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
timeout 150 python3 bench/experiments/where-byvalue/where_bench.py $R > $R/where_bench.txt 2>&1; echo "rc=$?" >> $R/where_bench.txt
tar czf $OUT/where.tgz -C /tmp where; tail -5 $R/where_bench.txt
