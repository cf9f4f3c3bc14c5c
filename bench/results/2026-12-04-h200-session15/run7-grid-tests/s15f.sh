#!/usr/bin/env bash
# session 15, call F: the GPU tests of the sampling paths on the new plain-sampling grid rule
# (device budget left for a subset only: the kernels are bbaf182's, whose full suites passed
# in run 5): test_gpu.py in one process; seeds, capture, grid and distribution tests in another.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rf; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|kernels ready' "$R/$name.txt" | tail -1 | cut -c1-90)" | tee -a $R/steps.txt
    tar czf $OUT/rf.tgz -C /tmp rf 2>/dev/null
    return $rc
}
step warmup 70 python3 -m rocsample warmup
P="python3 -m pytest -m gpu -q -p no:cacheprovider"
step gpu_main 230 $P tests/test_gpu.py &
step gpu_paths 230 $P tests/test_gpu_seeds.py tests/test_gpu_capture.py tests/test_ops_sampling.py tests/test_gpu_distributions.py &
wait
cp .exp/s15f.sh $R/; tar czf $OUT/rf.tgz -C /tmp rf; cat $R/steps.txt
