#!/usr/bin/env bash
# A/B of plain-halves.patch (session 31, prepared, not yet run): p = the checkout ($COMMIT),
# w = a copy with the patch applied. p w p w of sweep.py MODE other (plain, min-p) / topp /
# topk and odd.py (rows not 16-byte aligned, logit rows), flat_more.py p w; then, while time
# is left, both GPU suites + memcheck and racecheck / synccheck / initcheck on w.
# Run from the repository root: COMMIT=<sha> LIMIT=540 bash bench/experiments/plain-halves/ab.sh
# carry [".whl", ".fi/libfi_ref.so"]. Results under $OUT (ab.tgz, suites.tgz, san.tgz).
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-540}; E=$ROOT/bench/experiments
left() { echo $((LIMIT - (SECONDS - T0))); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "p: $COMMIT (the checkout); w: + plain-halves.patch"; } > $R/device.txt
W=/tmp/w; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git . | tar xf - -C $W
(cd $W && { patch -p1 < $E/plain-halves/plain-halves.patch || git apply $E/plain-halves/plain-halves.patch; }) > $R/patch.txt 2>&1 || { echo "patch failed"; cat $R/patch.txt; exit 1; }
tree() { case $1 in w) echo $W;; *) echo $ROOT;; esac; }
for v in p w; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 240 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 10)) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for v in p w p w; do for m in other topp topk; do MODE_TAG=_$m run $v flat-rows/ab-h100/sweep 60 MODE=$m; done; run $v cold-load/odd 45; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in p w; do run $v flat-rows/ab-h100/flat_more 45; done
echo "ab $((SECONDS-T0))s" | tee -a $R/steps.txt; tar czf $OUT/ab.tgz -C /tmp ab
S=/tmp/san; rm -rf $S; mkdir -p $S; cp $R/device.txt $S/
l=$(( $(left) - 75 )); if [ $l -gt 180 ]; then (cd $W && OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT+plain-halves" timeout $l bash tools/gpu_session.sh > $OUT/suites.log 2>&1); echo "suites rc=$? $((SECONDS-T0))s"; else echo "suites skipped ${l}s"; fi
for tool in racecheck synccheck initcheck; do l=$(left); [ $l -lt 15 ] && { echo "$tool: skipped" | tee -a $S/steps.txt; continue; }
  t0=$SECONDS; (cd $W && timeout $l env PYTHONPATH=/tmp/site:$W ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONUNBUFFERED=1 compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $S/$tool.txt 2>&1)
  echo "$tool rc=$? $((SECONDS-t0))s | $(grep -E 'mismatches' $S/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $S/$tool.txt | tail -1)" | tee -a $S/steps.txt; tar czf $OUT/san.tgz -C /tmp san; done
cat $R/steps.txt; cat $OUT/suites-steps.txt 2>/dev/null; echo "total $((SECONDS-T0))s"
