#!/usr/bin/env bash
# The GPU evidence for Candle's elementwise family, in one device call (NVIDIA):
#   - the elementwise GPU tests (hand launches as Candle's host code does, and the API);
#   - compute-sanitizer memcheck over the layout cases (both grids, misaligned, many dims);
#   - bench-elementwise of this tree and, when OLD names another tree (git archive of an
#     earlier commit: rocsample/ kernels/), of that one in the same run.
# Usage: OUT=dir [OLD=dir] tools/gpu_elementwise.sh     (wheels the device lacks: .whl/)
set -u -o pipefail
OUT=${OUT:?set OUT}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache-new
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ
  git rev-parse HEAD 2>/dev/null || echo "commit: ${COMMIT:-unknown}"; } > "$OUT/device.txt"
cat "$OUT/device.txt"
python3 -m rocsample warmup > "$OUT/warmup.txt" 2>&1; tail -1 "$OUT/warmup.txt"
ROCSAMPLE_REQUIRE_GPU=1 timeout 240 python3 -m pytest -m gpu -q -ra -p no:cacheprovider \
    tests/test_gpu_elementwise.py tests/test_gpu_api_elementwise.py > "$OUT/test_gpu_elementwise.txt" 2>&1
echo "gpu elementwise tests: rc=$? $(tail -1 "$OUT/test_gpu_elementwise.txt")"
timeout 200 python3 -m rocsample bench-elementwise --out "$OUT" --label new > "$OUT/bench_new.log" 2>&1
echo "bench new: rc=$?"
if [ -n "${OLD:-}" ]; then
    ROCSAMPLE_CACHE_DIR=/tmp/rs-cache-old PYTHONPATH=/tmp/site:$PWD/$OLD timeout 200 \
        python3 rocsample/bench_elementwise.py --out "$OUT" --label old > "$OUT/bench_old.log" 2>&1
    echo "bench old: rc=$?"
fi
if command -v compute-sanitizer >/dev/null; then
    ROCSAMPLE_REQUIRE_GPU=1 timeout "${SANITIZE_S:-150}" compute-sanitizer --tool memcheck \
        --error-exitcode 9 python3 -m pytest -m gpu -q -p no:cacheprovider tests/test_gpu_elementwise.py \
        -k "layouts or where or affine or packed or many_dims" > "$OUT/memcheck.txt" 2>&1
    echo "memcheck: rc=$? $(grep -E 'ERROR SUMMARY|passed|failed' "$OUT/memcheck.txt" | tail -2 | tr '\n' ' ')"
fi
