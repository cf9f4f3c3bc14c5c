#!/usr/bin/env bash
# Run the whole GPU verification on a device machine and write a summary under $OUT
# (or bench/results/ when OUT is unset): tests, sanitizers, agreement rate, device, date.
# Usage on the device: bash tools/gpu_suite.sh   (needs the .whl wheels: `make wheels`)
set -uo pipefail
OUT="${OUT:-bench/results}"
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/rs-site .whl/platformdirs*.whl .whl/hip_python*.whl .whl/rocm_bindings*.whl
  export PYTHONPATH="/tmp/rs-site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 ROCSAMPLE_RESULTS_DIR="$OUT" ROCSAMPLE_BACKEND="${ROCSAMPLE_BACKEND:-cuda}"
export ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
{ date -u +%FT%TZ; nvidia-smi -L; } > "$OUT/device.txt"
python3 -m rocsample info > "$OUT/info.txt" 2>&1
python3 tools/cache_timing.py --json "$OUT/cache_timing.json" > "$OUT/cache_timing.txt" 2>&1
make -s test-gpu PYTEST_ARGS="-q -p no:cacheprovider --durations=5 tests/test_gpu.py tests/test_gpu_distributions.py" 2>&1 | tee "$OUT/gpu_tests.txt" | tail -5
tests_rc=${PIPESTATUS[0]}
san_rc=0
: > "$OUT/sanitizers.txt"
for tool in memcheck racecheck synccheck initcheck; do  # no pipe: san_rc must survive the loop
  extra=""; [ "$tool" = memcheck ] && extra="--leak-check full"
  compute-sanitizer --tool $tool $extra --error-exitcode 9 python3 tools/sanitize_kernels.py \
    > "$OUT/sanitizer_$tool.txt" 2>&1
  rc=$?; [ $rc -ne 0 ] && san_rc=$rc
  echo "$tool: rc=$rc $(grep -E 'ERROR SUMMARY|mismatches' "$OUT/sanitizer_$tool.txt" | tr '\n' ' ')" \
    | tee -a "$OUT/sanitizers.txt"
done
echo "tests_rc=$tests_rc sanitizers_rc=$san_rc"
[ $tests_rc -eq 0 ] && [ $san_rc -eq 0 ]
