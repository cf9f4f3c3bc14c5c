#!/usr/bin/env bash
# session 32, call A. On an H200: HEAD's GPU suites (+memcheck), bench-mlp, bench --dtypes (L2 warm),
# the captured step, bench --dtypes (flushed), racecheck/synccheck/initcheck, while time is left.
# On any other card: the plain-halves A/B (bench/experiments/plain-halves/ab.sh).
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-585}
left() { echo $((LIMIT - (SECONDS - T0))); }
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
case $CARD in *H200*) ;; *) echo "not an H200: plain-halves A/B"; LIMIT=$LIMIT exec bash bench/experiments/plain-halves/ab.sh ;; esac
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
B=/tmp/b32; S=/tmp/san; rm -rf $B $S; mkdir -p $B $S
for d in $B $S; do { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; } > $d/device.txt; done
cp .exp/s32a.sh $B/
H="env PYTHONPATH=/tmp/site:$ROOT ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONUNBUFFERED=1"
st() { local n=$1 l=$2; shift 2; local t0=$SECONDS; [ $(left) -lt $((l / 3)) ] && { echo "$n: skipped, $(left)s left" | tee -a $B/steps.txt; return; }
  [ $l -gt $(left) ] && l=$(left)
  (cd $ROOT && timeout $l $H "$@" > $B/$n.txt 2>&1); echo "$n: rc=$? $((SECONDS-t0))s | $(tail -2 $B/$n.txt | head -1)" | tee -a $B/steps.txt; tar czf $OUT/bench.tgz -C /tmp b32; }
san() { local tool=$1 l; l=$(left); [ $l -lt 30 ] && { echo "$tool: skipped, ${l}s left" | tee -a $S/steps.txt; return; }
  local t0=$SECONDS; (cd $ROOT && timeout $l $H compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $S/$tool.txt 2>&1)
  echo "$tool rc=$? $((SECONDS-t0))s | $(grep -E 'mismatches' $S/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $S/$tool.txt | tail -1)" | tee -a $S/steps.txt
  tar czf $OUT/san.tgz -C /tmp san; }
l=$(($(left) - 10)); OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT" timeout $l bash tools/gpu_session.sh > $OUT/suites.log 2>&1; echo "suites rc=$? $((SECONDS-T0))s"
st mlp 150 python3 -m rocsample bench-mlp --out $B/mlp --rounds 8 --reps 20
st dtypes 90 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --out $B/dtypes
st capture 60 python3 -m rocsample.bench
st dtypes_cold 90 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --flush-l2 --out $B/dtypes-cold
for t in racecheck synccheck initcheck; do san $t; done
cat $OUT/suites-steps.txt 2>/dev/null; cat $B/steps.txt; cat $S/steps.txt; echo "total $((SECONDS-T0))s"
