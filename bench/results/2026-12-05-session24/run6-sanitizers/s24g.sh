#!/usr/bin/env bash
# session 24, call G: racecheck, synccheck and initcheck of tools/sanitize_kernels.py at HEAD
# (every kernel family: sampling with the rise entries, elementwise, MLP with the run-time-type
# rms entries); last run in session 9, before most of today's kernels.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/san; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; compute-sanitizer --version | tail -1; } > $R/device.txt
cat $R/device.txt; cp .exp/s24g.sh $R/
t0=$SECONDS; timeout 200 python3 -m rocsample warmup > $R/warmup.txt 2>&1; echo "warmup rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
for tool in racecheck synccheck initcheck; do
  t0=$SECONDS
  timeout ${LIMIT:-130} compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $R/$tool.txt 2>&1
  rc=$?
  echo "$tool rc=$rc $((SECONDS-t0))s | $(grep -E 'mismatches' $R/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $R/$tool.txt | tail -1)" | tee -a $R/steps.txt
  tar czf $OUT/san.tgz -C /tmp san
done
