#!/usr/bin/env bash
# session 15, call A (issue 22): bench/experiments/mlp-ldg/ldg_bench.py
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD
R=/tmp/ra; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
timeout 420 python3 bench/experiments/mlp-ldg/ldg_bench.py $R .exp/fi/libfi_ref.so ${OPS:-rms_norm,fused_add} > $R/ldg_bench.txt 2>&1; echo "rc=$?" >> $R/ldg_bench.txt
cp .exp/s15a.sh $R/; tar czf $OUT/ra.tgz -C /tmp ra; cat $R/ldg_bench.txt
