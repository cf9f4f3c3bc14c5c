#!/usr/bin/env bash
# session 24, call C (issue 22): as call A (s24a.sh), trees v0, C and H (H = C for f16 and bf16, the float32 case on the typed paths)
# fused_add_rms_norm_kernel) of four kernel sources, each run twice alternating with
# .exp/s24_generic.py (typed and recipe columns: the same code in every tree, a control):
#   v0 = HEAD's kernels/rms_norm.hip (spills 244/292 and 200/244 bytes on sm_90)
#   C  = the run-time-type entries' rms_norm without the K = 4 path and without the row
#        stream, the fused add on the two-pass path only, one group in flight (no spill)
#   E  = C with rms_norm's row stream (24/24 bytes of spill)
#   B  = C with the fused add's one-read path (64/64 bytes of spill)
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/s24c; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "tree: ${COMMIT:-unknown} + .exp/rmsvar/<v>.hip as kernels/rms_norm.hip"; } > $R/device.txt
cat $R/device.txt
cp .exp/s24c.sh .exp/s24_generic.py $R/
for v in v0 C H; do
  t=/tmp/tree-$v; rm -rf $t; mkdir -p $t; cp -r rocsample kernels pyproject.toml $t/
  cp .exp/rmsvar/$v.hip $t/kernels/rms_norm.hip
done
for v in v0 C H v0 C H; do
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:/tmp/tree-$v timeout 150 python3 $ROOT/.exp/s24_generic.py >> $R/$v.txt 2>&1; echo "$v rc=$? $(date -u +%T)" >> $R/steps.txt)
  tail -1 $R/steps.txt
done
for v in v0 C H; do echo "== $v"; grep runtime/typed $R/$v.txt | sed 's/ grid.*typed=/ typed=/' ; done
tar czf $OUT/s24c.tgz -C /tmp s24c
