#!/usr/bin/env bash
# session 24, call B: .exp/s24b_check.py at HEAD's kernels (v0) and variant C.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/s24b; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "tree: ${COMMIT:-unknown} + .exp/rmsvar/<v>.hip"; } > $R/device.txt
cp .exp/s24b.sh .exp/s24b_check.py $R/
for v in v0 C; do
  t=/tmp/tree-$v; rm -rf $t; mkdir -p $t; cp -r rocsample kernels pyproject.toml $t/
  cp .exp/rmsvar/$v.hip $t/kernels/rms_norm.hip
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$t timeout 200 python3 $ROOT/.exp/s24b_check.py > $R/$v.txt 2>&1; echo "$v rc=$?" >> $R/steps.txt)
  echo "== $v"; cat $R/$v.txt | cut -c1-400
done
tar czf $OUT/s24b.tgz -C /tmp s24b
