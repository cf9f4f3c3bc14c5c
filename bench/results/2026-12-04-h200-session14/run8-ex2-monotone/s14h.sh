#!/usr/bin/env bash
# session 14, call H (issue 21): is ex2.approx(.ftz).f32 monotone on [-Inf, 128]? Exhaustive
# (bench/experiments/ex2-monotone/ex2_monotone.py).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
R=/tmp/rh; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
timeout 120 python3 bench/experiments/ex2-monotone/ex2_monotone.py $R/ex2_monotone.json > $R/ex2_monotone.txt 2>&1; echo "rc=$?" >> $R/ex2_monotone.txt
tar czf $OUT/rh.tgz -C /tmp rh; cat $R/device.txt $R/ex2_monotone.txt
