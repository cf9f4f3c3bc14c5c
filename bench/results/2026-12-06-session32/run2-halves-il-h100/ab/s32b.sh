#!/usr/bin/env bash
# session 32, call B: A/B/C of plain-halves variants. p = the checkout ($COMMIT);
# x = + plain-halves-il.patch (the thread's two 8-value groups half a sub-chunk apart, so each
#     warp load is contiguous); y = + plain-halves-ilal.patch (x for 16-byte aligned packed
#     rows only; other packed rows keep the 3-sub-chunk scan).
# p x y p x y of sweep.py MODE other / topk and odd.py, flat_more.py p x y; then both GPU suites,
# memcheck, racecheck/synccheck/initcheck on y while time is left.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-585}; E=$ROOT/bench/experiments
left() { echo $((LIMIT - (SECONDS - T0))); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "p: $COMMIT (the checkout); x: + plain-halves-il.patch; y: + plain-halves-ilal.patch"; } > $R/device.txt
cp .exp/s32b.sh .exp/*.patch $R/
for v in x y; do W=/tmp/$v; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git . | tar xf - -C $W
  pf=il; [ $v = y ] && pf=ilal
  (cd $W && patch -p1 < $ROOT/.exp/plain-halves-$pf.patch) > $R/patch_$v.txt 2>&1 || { echo "patch $v failed"; cat $R/patch_$v.txt; exit 1; }; done
tree() { case $1 in p) echo $ROOT;; *) echo /tmp/$1;; esac; }
for v in p x y; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 240 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
echo "warm $((SECONDS-T0))s" >> $R/steps.txt
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 10)) ] && { echo "${p##*/}${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $E/$p.py >> $R/${p##*/}${MODE_TAG:-}_$v.jsonl 2>> $R/${p##*/}_$v.err); echo "${p##*/}${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for v in p x y p x y; do for m in other topk; do MODE_TAG=_$m run $v flat-rows/ab-h100/sweep 60 MODE=$m; done; run $v cold-load/odd 45; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in p x y; do run $v flat-rows/ab-h100/flat_more 45; done
echo "ab $((SECONDS-T0))s" | tee -a $R/steps.txt; tar czf $OUT/ab.tgz -C /tmp ab
S=/tmp/san; rm -rf $S; mkdir -p $S; cp $R/device.txt $S/
l=$(( $(left) - 75 )); if [ $l -gt 180 ]; then (cd /tmp/y && OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT+plain-halves-ilal" timeout $l bash tools/gpu_session.sh > $OUT/suites.log 2>&1); echo "suites rc=$? $((SECONDS-T0))s"; else echo "suites skipped ${l}s"; fi
for tool in racecheck synccheck initcheck; do l=$(left); [ $l -lt 15 ] && { echo "$tool: skipped" | tee -a $S/steps.txt; continue; }
  t0=$SECONDS; (cd /tmp/y && timeout $l env PYTHONPATH=/tmp/site:/tmp/y ROCSAMPLE_CACHE_DIR=/tmp/rs-y PYTHONUNBUFFERED=1 compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $S/$tool.txt 2>&1)
  echo "$tool rc=$? $((SECONDS-t0))s | $(grep -E 'mismatches' $S/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $S/$tool.txt | tail -1)" | tee -a $S/steps.txt; tar czf $OUT/san.tgz -C /tmp san; done
cat $R/steps.txt; cat $OUT/suites-steps.txt 2>/dev/null; echo "total $((SECONDS-T0))s"
