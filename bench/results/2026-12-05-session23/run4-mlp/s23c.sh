#!/usr/bin/env bash
# session 23, call C: the MLP GPU tests (tests/test_gpu_mlp.py) through the cuda backend and
# through the hip backend on the hipshim, after the grid-and-block test was extended to the
# entries that take the type at run time (rms_norm_kernel, fused_add_rms_norm_kernel; only
# swiglu_kernel ran on a GPU before).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/mlp; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
cp .exp/s23c.sh $R/
t0=$SECONDS
timeout 240 make test-gpu PYTEST_ARGS="-q -p no:cacheprovider tests/test_gpu_mlp.py" > $R/cuda_mlp.txt 2>&1; echo "cuda rc=$? $((SECONDS-t0))s | $(tail -n 1 $R/cuda_mlp.txt)" >> $R/steps.txt
timeout 240 make test-gpu-hip PYTEST_ARGS="-q -p no:cacheprovider tests/test_gpu_mlp.py" > $R/hip_mlp.txt 2>&1; echo "hip rc=$? $((SECONDS-t0))s | $(tail -n 1 $R/hip_mlp.txt)" >> $R/steps.txt
cat $R/device.txt $R/steps.txt; grep -h "any_grid" $R/*_mlp.txt | head; tar czf $OUT/mlp.tgz -C /tmp mlp
