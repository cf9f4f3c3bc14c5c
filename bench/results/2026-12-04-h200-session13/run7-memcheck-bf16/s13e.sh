#!/usr/bin/env bash
# session 13, call E: memcheck of tools/sanitize_kernels.py with its bf16 MLP cases (the
# one-group entries through the recipe), and tests/test_gpu_mlp.py on cuda.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/re; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
t0=$SECONDS; timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py > $R/memcheck.txt 2>&1; echo "memcheck: rc=$? $((SECONDS-t0))s | $(grep -E 'ERROR SUMMARY|mismatches' $R/memcheck.txt | tail -2 | tr '\n' ' ')" | tee -a $R/steps.txt
t0=$SECONDS; timeout 200 python3 -m pytest -m gpu -q -p no:cacheprovider tests/test_gpu_mlp.py > $R/mlp_cuda.txt 2>&1; echo "mlp_cuda: rc=$? $((SECONDS-t0))s | $(tail -1 $R/mlp_cuda.txt)" | tee -a $R/steps.txt
tar czf $OUT/re.tgz -C /tmp re; grep -E "MISMATCH|bf16 MLP entries" $R/memcheck.txt | head
