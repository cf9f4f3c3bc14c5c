#!/usr/bin/env bash
# session 23, call E: the run-time-type rms entries, HEAD (base) against two variants, each
# run twice alternating, s23d_generic.py (the typed and recipe columns are the same code in
# every tree: a control): g1 = each type's body a __noinline__ call; g2 = the two entries
# bounded by RS_BLOCK only (no minimum of two blocks an SM: 96-98 registers, no spill).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/gab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (base), g1, g2 as in the header"; } > $R/device.txt
cp .exp/s23e.sh .exp/s23d_generic.py $R/
for v in base g1 g2 base g1 g2; do
  t=$ROOT/.exp/$v; [ $v = base ] && t=$ROOT
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$t timeout 120 python3 $ROOT/.exp/s23d_generic.py >> $R/$v.txt 2>&1; echo "$v rc=$?" >> $R/steps.txt)
done
cat $R/steps.txt
for v in base g1 g2; do echo "== $v"; grep runtime/typed $R/$v.txt | sed 's/.*recipe [a-z0-9_]* //' ; done
tar czf $OUT/gab.tgz -C /tmp gab
