#!/usr/bin/env bash
# session 12, call C: A/B of v0 (973a358) and v3 (HEAD) with bench --dtypes, alternating, two
# rounds; then the final suites on HEAD (run19's steps: make test-gpu, the hip halves, memcheck).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/rc; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; python3 -m pip show nvidia-cuda-nvrtc 2>/dev/null | grep -i version; } > $R/device.txt
make -C tools/hipshim PYTHON=python3 > $R/hipshim_build.txt 2>&1 || { echo "hipshim build failed"; tail $R/hipshim_build.txt; }
rm -rf /tmp/v0; mkdir -p /tmp/v0
tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/v0
rm -rf /tmp/v0/kernels /tmp/v0/rocsample; cp -r .exp/v0/kernels .exp/v0/rocsample /tmp/v0/
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches|kernels ready' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/rc.tgz -C /tmp rc 2>/dev/null
    return $rc
}
( export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache && CUDA_CACHE_DISABLE=1 step warmup 120 python3 -m rocsample warmup )
( cd /tmp/v0 && export PYTHONPATH=/tmp/site:/tmp/v0 ROCSAMPLE_CACHE_DIR=/tmp/cache-v0 && CUDA_CACHE_DISABLE=1 step warmup_v0 100 python3 -m rocsample warmup )
for round in 1 2; do
  ( cd /tmp/v0 && export PYTHONPATH=/tmp/site:/tmp/v0 ROCSAMPLE_CACHE_DIR=/tmp/cache-v0 && step v0_$round 90 python3 -m rocsample bench --dtypes --batch 1 --batch 32 --batch 128 --batch 512 --vocab 128256 --vocab 262144 --out $R/v0-$round )
  ( export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache && step v3_$round 90 python3 -m rocsample bench --dtypes --batch 1 --batch 32 --batch 128 --batch 512 --vocab 128256 --vocab 262144 --out $R/v3-$round )
done
export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
A="tests/test_gpu.py tests/test_gpu_distributions.py tests/test_gpu_capture.py tests/test_hipshim.py"
HIP="env ROCM_PATH=$PWD/tools/hipshim/build ROCSAMPLE_BACKEND=hip ROCSAMPLE_REQUIRE_GPU=1 python3 -m pytest -m gpu -ra -q -p no:cacheprovider"
step make_test_gpu 420 make test-gpu PYTEST_ARGS="-q -p no:cacheprovider" &
step hip_half_a 420 $HIP $A &
step hip_half_b 420 $HIP tests $(for f in $A; do echo --ignore=$f; done) &
step memcheck 300 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py &
wait
tar czf $OUT/rc.tgz -C /tmp rc; cat $R/steps.txt
