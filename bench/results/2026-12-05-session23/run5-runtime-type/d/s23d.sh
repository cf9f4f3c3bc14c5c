#!/usr/bin/env bash
# session 23, call D: s23d_generic.py (the run-time-type rms entries against the typed ones).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/gen; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
cp .exp/s23d.sh .exp/s23d_generic.py $R/
timeout 200 python3 .exp/s23d_generic.py > $R/generic.txt 2>&1; echo "rc=$?" >> $R/generic.txt
cat $R/device.txt $R/generic.txt; tar czf $OUT/gen.tgz -C /tmp gen
