#!/usr/bin/env bash
# session 13, call D: which part of the one-group entry keeps few-row rms_norm behind
# FlashInfer (bench/experiments/mlp-row1/row1_variants.hip, variants_bench.py).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD
R=/tmp/rd; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
timeout 200 python3 bench/experiments/mlp-row1/variants_bench.py $R .exp/fi/libfi_ref.so > $R/variants_bench.txt 2>&1; echo "rc=$?" >> $R/variants_bench.txt
tar czf $OUT/rd.tgz -C /tmp rd; cat $R/variants_bench.txt
