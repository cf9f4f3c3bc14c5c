#!/usr/bin/env bash
# session 8: plain sampling depth for 2-byte rows (D 3 vs 4), A/B/A/B in separate processes.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
R=/tmp/r16; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
mkdir -p /tmp/v4 && cp -r rocsample kernels pyproject.toml /tmp/v4/
sed -i 's/constexpr int D = sizeof(T) == 2 ? 3 : 2;/constexpr int D = sizeof(T) == 2 ? 4 : 2;/' /tmp/v4/kernels/rs_engine_plain.h
grep -c "sizeof(T) == 2 ? 4 : 2" /tmp/v4/kernels/rs_engine_plain.h > $R/variant_check.txt
for i in 1 2; do
  for t in head:$PWD d4:/tmp/v4; do
    PYTHONPATH=/tmp/site:${t#*:} ROCSAMPLE_CACHE_DIR=/tmp/cache-${t%%:*} timeout 100 python3 .exp/plain_depth.py ${t%%:*} >> $R/depth.jsonl 2>> $R/depth.err
  done
done
tar czf $OUT/r16.tgz -C /tmp r16; cat $R/depth.jsonl | cut -c1-200; tail -3 $R/depth.err
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
ROCSAMPLE_CACHE_DIR=/tmp/rs-cache-where timeout 150 python3 bench/experiments/where-byvalue/where_bench.py $R > $R/where_bench.txt 2>&1; echo "rc=$?" >> $R/where_bench.txt
ROCSAMPLE_REQUIRE_GPU=1 timeout 200 python3 -m pytest tests/test_gpu_elementwise.py tests/test_gpu_api_elementwise.py -q -k "where" > $R/where_tests.txt 2>&1; echo "rc=$?" >> $R/where_tests.txt
tar czf $OUT/r16.tgz -C /tmp r16; tail -3 $R/where_bench.txt; tail -3 $R/where_tests.txt
