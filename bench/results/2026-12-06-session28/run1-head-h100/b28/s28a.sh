#!/usr/bin/env bash
# session 28, call A at HEAD (the checkout): both GPU suites + memcheck (tools/gpu_session.sh
# PART=suites), then issue 22's MLP figures (bench-mlp, 8 rounds of 20, L2 flushed, torch and
# FlashInfer's kernels from .fi/libfi_ref.so), issue 21's bf16/f16 against f32 (bench --dtypes,
# L2 warm and flushed), the captured step against eager, then racecheck / synccheck /
# initcheck of tools/sanitize_kernels.py while the call has time.
set -u -o pipefail
T0=$SECONDS
OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT" timeout 330 bash tools/gpu_session.sh > $OUT/suites.log 2>&1
echo "suites rc=$? $((SECONDS-T0))s"
export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONUNBUFFERED=1
B=/tmp/b28; rm -rf $B; mkdir -p $B
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; } > $B/device.txt
cp .exp/s28a.sh $B/
st() { local n=$1 l=$2; shift 2; local t0=$SECONDS; timeout $l "$@" > $B/$n.txt 2>&1; echo "$n: rc=$? $((SECONDS-t0))s | $(tail -2 $B/$n.txt | head -1)" | tee -a $B/steps.txt; tar czf $OUT/bench.tgz -C /tmp b28; }
st mlp 150 python3 -m rocsample bench-mlp --out $B/mlp --rounds 8 --reps 20
st dtypes 90 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --out $B/dtypes
st dtypes_cold 90 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --flush-l2 --out $B/dtypes-cold
st capture 60 python3 -m rocsample.bench
S=/tmp/san; rm -rf $S; mkdir -p $S
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; compute-sanitizer --version | tail -1; } > $S/device.txt
for tool in racecheck synccheck initcheck; do
  left=$((${LIMIT:-580} - (SECONDS - T0)))
  [ $left -lt 30 ] && { echo "$tool: skipped, ${left}s left" | tee -a $S/steps.txt; continue; }
  t0=$SECONDS
  timeout $left compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $S/$tool.txt 2>&1
  rc=$?
  echo "$tool rc=$rc $((SECONDS-t0))s | $(grep -E 'mismatches' $S/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $S/$tool.txt | tail -1)" | tee -a $S/steps.txt
  tar czf $OUT/san.tgz -C /tmp san
done
cat $OUT/suites-steps.txt; echo "total $((SECONDS-T0))s"
