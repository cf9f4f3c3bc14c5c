#!/usr/bin/env bash
# session 32, call C: the landed tree (rs_scan_plain_halves) at $COMMIT: both GPU suites (+memcheck),
# racecheck/synccheck/initcheck, then bench --dtypes (L2 warm; bench-mlp on an H200) while time is left.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-480}
left() { echo $((LIMIT - (SECONDS - T0))); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
B=/tmp/b32; S=/tmp/san; rm -rf $B $S; mkdir -p $B $S
for d in $B $S; do { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; } > $d/device.txt; done
cp .exp/s32c.sh $B/
H="env PYTHONPATH=/tmp/site:$ROOT ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONUNBUFFERED=1"
l=$(($(left) - ${RESERVE:-150})); OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT" timeout $l bash tools/gpu_session.sh > $OUT/suites.log 2>&1; echo "suites rc=$? $((SECONDS-T0))s"
for tool in racecheck synccheck initcheck; do l=$(left); [ $l -lt 30 ] && { echo "$tool: skipped" | tee -a $S/steps.txt; continue; }
  t0=$SECONDS; (cd $ROOT && timeout $l $H compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $S/$tool.txt 2>&1)
  echo "$tool rc=$? $((SECONDS-t0))s | $(grep -E 'mismatches' $S/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $S/$tool.txt | tail -1)" | tee -a $S/steps.txt; tar czf $OUT/san.tgz -C /tmp san; done
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case $CARD in *H200*) what="mlp"; cmd="python3 -m rocsample bench-mlp --out $B/mlp --rounds 8 --reps 20";;
  *) what="dtypes"; cmd="python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --out $B/dtypes";; esac
l=$(($(left) - 5)); if [ $l -gt 40 ]; then t0=$SECONDS; (timeout $l $H $cmd > $B/$what.txt 2>&1); echo "$what: rc=$? $((SECONDS-t0))s" | tee -a $B/steps.txt; else echo "$what: skipped ${l}s" | tee -a $B/steps.txt; fi
tar czf $OUT/bench.tgz -C /tmp b32
cat $OUT/suites-steps.txt 2>/dev/null; cat $S/steps.txt; cat $B/steps.txt; echo "total $((SECONDS-T0))s"
