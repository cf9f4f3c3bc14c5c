#!/usr/bin/env bash
# One device call of the GPU verification, by part (each part fits one 600 s call; logs and
# JSON under OUT). Parts: suites (make test-gpu and make test-gpu-hip side by side, then
# memcheck), tests (warmup + make test-gpu), hip (make test-gpu-hip + memcheck of
# tools/sanitize_kernels.py), some (TESTS= and BENCH= below), dtypes (bench --dtypes in rounds,
# L2 warm and flushed), bench (elementwise, MLP vs torch and FlashInfer, bf16 vs fp32
# sampling, captured step vs eager, sampling A/B against OLD when given), sanitizers
# (racecheck, synccheck and initcheck of tools/sanitize_kernels.py; memcheck is in suites).
# Usage: OUT=dir PART=suites|tests|hip|some|dtypes|bench|sanitizers [OLD=tree] [COMMIT=sha]
#        [WORKERS=n]
#        tools/gpu_session.sh
# WORKERS=n runs the pytest steps in n processes (pytest-xdist, which the device image has;
# the cold compiles are the serial part: NVRTC 13.0 compiles an engine module on one core) and
# lists the 30 slowest tests either way.
# Carry: .whl (wheels the device lacks), .fi/libfi_ref.so (make flashinfer-ref), OLD's tree.
# The device tool brings back at most 8 files from $OUT, so everything is written to a staging
# folder and packed after each step into $OUT/PART.tgz (unpacked: PART/...), beside
# $OUT/PART-steps.txt, the steps' summary lines. Two files a part, however many logs.
set -u -o pipefail
OUT=${OUT:?set OUT}; PART=${PART:?set PART}
DEST=$OUT; OUT=/tmp/gpu-session/$PART; rm -rf "$OUT"  # a warm machine may hold an earlier call's
mkdir -p "$OUT" "$DEST"
pack() {  # one at a time: PART=suites runs two steps side by side
    (flock 9; tar czf "$DEST/$PART.tgz" -C /tmp/gpu-session "$PART"
     cp "$OUT/steps.txt" "$DEST/$PART-steps.txt") 9> /tmp/gpu-session/.pack-lock
}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
PYARGS="-q -p no:cacheprovider --durations=30${WORKERS:+ -n $WORKERS}"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ
  echo "commit: ${COMMIT:-unknown}"; } > "$OUT/device.txt"
tee "$OUT/steps.txt" < "$OUT/device.txt"
step() {  # step NAME SECONDS command...: run with a limit, log to OUT/NAME.txt, one summary line
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
    local rc=$?
    echo "$name: rc=$rc $((SECONDS - t0))s | $(grep -E 'passed|failed|error|ERROR SUMMARY|mismatches' "$OUT/$name.txt" | tail -1)$(grep -q 'Segmentation fault' "$OUT/$name.txt" && echo ' | SEGFAULT')" | tee -a "$OUT/steps.txt"
    pack
}
case $PART in
tests)
    step warmup 200 python3 -m rocsample warmup
    step make_test_gpu "${GPU_S:-380}" make test-gpu PYTEST_ARGS="$PYARGS"
    ;;
suites)  # warmup, then make test-gpu and make test-gpu-hip side by side (mostly host-bound),
    # then the sanitizer driver under memcheck
    step warmup 200 python3 -m rocsample warmup
    step make_test_gpu "${GPU_S:-420}" make test-gpu PYTEST_ARGS="$PYARGS" &
    step make_test_gpu_hip "${HIP_S:-420}" make test-gpu-hip PYTEST_ARGS="$PYARGS" &
    wait
    command -v compute-sanitizer >/dev/null && step memcheck "${SAN_S:-120}" compute-sanitizer \
        --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py
    ;;
hip)
    step make_test_gpu_hip "${HIP_S:-420}" make test-gpu-hip PYTEST_ARGS="$PYARGS"
    command -v compute-sanitizer >/dev/null && step memcheck "${SAN_S:-150}" compute-sanitizer \
        --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py
    ;;
some)  # warmup, then the gpu tests of TESTS (files or node ids), then the benches of BENCH
    step warmup 200 python3 -m rocsample warmup
    step gpu_tests "${GPU_S:-300}" make test-gpu PYTEST_ARGS="$PYARGS ${TESTS:-}"
    for b in ${BENCH:-}; do
        case $b in
        elementwise) step bench_elementwise 150 python3 -m rocsample bench-elementwise --out "$OUT" --label new --reps 10 ;;
        mlp) step bench_mlp 170 python3 -m rocsample bench-mlp --out "$OUT" --reps 10 ;;
        dtypes) step bench_dtypes 240 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --out "$OUT/dtypes" ;;
        capture) step bench_capture 60 python3 -m rocsample.bench ;;
        esac
    done
    ;;
sanitizers)  # the three tools suites does not run (after it: the kernels are in the cache)
    for tool in racecheck synccheck initcheck; do
        command -v compute-sanitizer >/dev/null && step "$tool" "${SAN_S:-150}" \
            compute-sanitizer --tool "$tool" --error-exitcode 9 python3 tools/sanitize_kernels.py
    done
    ;;
dtypes)  # bf16/f16 against f32 in rounds, the L2 warm and then flushed (issue 21's figures)
    step warmup 200 python3 -m rocsample warmup
    step bench_dtypes 240 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --out "$OUT/dtypes"
    step bench_dtypes_cold 240 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --flush-l2 --out "$OUT/dtypes-cold"
    ;;
bench)
    step bench_elementwise 150 python3 -m rocsample bench-elementwise --out "$OUT" --label new --reps 10
    step bench_mlp 170 python3 -m rocsample bench-mlp --out "$OUT" --reps 10
    step bench_dtypes 240 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --out "$OUT/dtypes"
    step bench_capture 60 python3 -m rocsample.bench
    if [ -n "${OLD:-}" ]; then
        step ab 150 python3 tools/ab_bench.py "$OLD" . --control --rounds 2 --reps 20 --out "$OUT/ab"
    fi
    ;;
esac
