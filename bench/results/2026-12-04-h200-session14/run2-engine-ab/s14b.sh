#!/usr/bin/env bash
# session 14, call B (issue 21): A/B of the plain scan's maxima and mass (v1, the working tree)
# against HEAD's engine (v0 = 650b2be, .exp/v0s14), bench --dtypes alternating, two rounds;
# then the GPU tests the change touches on cuda (the new signed-zero test, half, MLP).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
R=/tmp/rb; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
rm -rf /tmp/v0; mkdir -p /tmp/v0
tar cf - --exclude=.exp --exclude=.whl . | tar xf - -C /tmp/v0
rm -rf /tmp/v0/kernels /tmp/v0/rocsample; cp -r .exp/v0s14/kernels .exp/v0s14/rocsample /tmp/v0/
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$R/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|kernels ready' "$R/$name.txt" | tail -1)" | tee -a $R/steps.txt
    tar czf $OUT/rb.tgz -C /tmp rb 2>/dev/null
    return $rc
}
B="--batch 1 --batch 128 --batch 512 --vocab 128256 --vocab 262144"
( export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache && step warmup 120 python3 -m rocsample warmup )
( cd /tmp/v0 && export PYTHONPATH=/tmp/site:/tmp/v0 ROCSAMPLE_CACHE_DIR=/tmp/cache-v0 && step warmup_v0 120 python3 -m rocsample warmup )
for round in 1 2; do
  ( cd /tmp/v0 && export PYTHONPATH=/tmp/site:/tmp/v0 ROCSAMPLE_CACHE_DIR=/tmp/cache-v0 && step v0_$round 90 python3 -m rocsample bench --dtypes $B --out $R/v0-$round )
  ( export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache && step v1_$round 90 python3 -m rocsample bench --dtypes $B --out $R/v1-$round )
done
export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
step gpu_tests 200 python3 -m pytest -q -p no:cacheprovider -ra tests/test_gpu_half.py tests/test_gpu_mlp.py "tests/test_gpu.py::test_bad_rows_give_minus_one" "tests/test_gpu.py::test_plain_rows_at_many_scales"
tar czf $OUT/rb.tgz -C /tmp rb; cat $R/steps.txt
