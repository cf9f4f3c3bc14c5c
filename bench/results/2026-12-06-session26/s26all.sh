#!/usr/bin/env bash
# session 26: one device call: s26a.sh (top-p A/B, cold A/B), then tools/gpu_session.sh
# PART=suites at the working tree (n2), then racecheck / synccheck / initcheck of
# tools/sanitize_kernels.py while time is left (a call may run 590 s).
set -u -o pipefail
T0=$SECONDS
timeout 260 bash .exp/s26a.sh > $OUT/s26a.log 2>&1; echo "s26a rc=$? $((SECONDS-T0))s"
[ -f $OUT/ab.tgz ] || tar czf $OUT/ab.tgz -C /tmp ab
OUT=$OUT PART=suites WORKERS=4 COMMIT="${COMMIT:-working tree}" timeout 200 bash tools/gpu_session.sh > $OUT/suites.log 2>&1; echo "suites rc=$? $((SECONDS-T0))s"
export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONUNBUFFERED=1
R=/tmp/san; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-working tree}"; compute-sanitizer --version | tail -1; } > $R/device.txt
for tool in racecheck synccheck initcheck; do
  left=$((${BUDGET:-480} - (SECONDS - T0)))
  [ $left -lt 30 ] && { echo "$tool: skipped, ${left}s left" | tee -a $R/steps.txt; continue; }
  t0=$SECONDS
  timeout $left compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $R/$tool.txt 2>&1
  rc=$?
  echo "$tool rc=$rc $((SECONDS-t0))s | $(grep -E 'mismatches' $R/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $R/$tool.txt | tail -1)" | tee -a $R/steps.txt
  tar czf $OUT/san.tgz -C /tmp san
done
tail -12 $OUT/s26a.log; cat $OUT/suites-steps.txt
