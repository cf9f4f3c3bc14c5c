#!/usr/bin/env bash
# session 13, call A: the one-group RMSNorm row entries (row1) against the entries picked
# before them and FlashInfer (bench/experiments/mlp-row1/row1_bench.py, v0 = 482d9b8's
# kernels/rms_norm.hip); then the MLP GPU tests on cuda and on the hipshim, and memcheck of
# tools/sanitize_kernels.py, in parallel.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/ra; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
make -C tools/hipshim PYTHON=python3 > $R/hipshim_build.txt 2>&1 || { echo "hipshim build failed"; tail $R/hipshim_build.txt; }
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/ra.tgz -C /tmp ra 2>/dev/null
    return $rc
}
step row1_bench 240 python3 bench/experiments/mlp-row1/row1_bench.py $R .exp/row1/rms_norm_v0.hip .exp/fi/libfi_ref.so
HIP="env ROCM_PATH=$PWD/tools/hipshim/build ROCSAMPLE_BACKEND=hip python3 -m pytest -m gpu -ra -q -p no:cacheprovider"
step mlp_cuda 300 python3 -m pytest -m gpu -ra -q -p no:cacheprovider tests/test_gpu_mlp.py &
step mlp_hip 300 $HIP tests/test_gpu_mlp.py &
step memcheck 200 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py &
wait
tar czf $OUT/ra.tgz -C /tmp ra; cat $R/steps.txt; cat $R/row1_bench.txt | head -120
