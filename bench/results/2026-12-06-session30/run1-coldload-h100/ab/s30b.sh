#!/usr/bin/env bash
# session 30, call B (issue 21): A/B of cold-load (rs_load_held8's cases other than a whole
# 16-byte group out of line, .exp/vk/rs_engine_block.h). p = the checkout ($COMMIT), w = the
# checkout with .exp/vk's header. p w p w of sweep.py MODE topk/topp/other, then odd.py (rows
# not 16-byte aligned, and logit rows) p w p w; ncu of plain / top-k 50 f32 and bf16 at 512 x
# then on w's tree: both GPU suites + memcheck (tools/gpu_session.sh PART=suites), racecheck,
# synccheck, initcheck while time is left.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-585}
left() { echo $((LIMIT - (SECONDS - T0))); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "p: $COMMIT (checkout); w: $COMMIT + .exp/vk/rs_engine_block.h (cold-load)"; } > $R/device.txt
W=/tmp/w; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git . | tar xf - -C $W; cp .exp/vk/*.h $W/kernels/
cp .exp/s30b.sh .exp/sweep.py .exp/odd.py .exp/vk/rs_engine_block.h $R/
warm() {
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-w PYTHONPATH=/tmp/site:$W PYTHONUNBUFFERED=1 timeout 200 python3 -m rocsample warmup > $R/warm_w.txt 2>&1; echo "warm_w rc=$?" >> $R/steps.txt) &
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 timeout 200 python3 -m rocsample warmup > $R/warm_p.txt 2>&1; echo "warm_p rc=$?" >> $R/steps.txt)
  wait; echo "warm $((SECONDS-T0))s" | tee -a $R/steps.txt; }
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS pp=$ROOT cd=/tmp/rs-cache; [ $v = w ] && { pp=$W; cd=/tmp/rs-w; }
  [ $(left) -lt $((t + 10)) ] && { echo "$p${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$cd PYTHONPATH=/tmp/site:$pp PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $ROOT/.exp/$p.py >> $R/${p}${MODE_TAG:-}_$v.jsonl 2>> $R/${p}_$v.err); echo "$p${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
warm
for v in p w p w; do for m in topk other topp; do MODE_TAG=_$m run $v sweep 70 MODE=$m; done; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in p w p w; do run $v odd 45; tar czf $OUT/ab.tgz -C /tmp ab; done
echo "ab $((SECONDS-T0))s" | tee -a $R/steps.txt; tar czf $OUT/ab.tgz -C /tmp ab
S=/tmp/san; rm -rf $S; mkdir -p $S; cp $R/device.txt $S/
l=$(( $(left) - 10 )); if [ $l -gt 200 ]; then (cd $W && OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT+cold-load" timeout $l bash tools/gpu_session.sh > $OUT/suites.log 2>&1); echo "suites rc=$? $((SECONDS-T0))s"; else echo "suites skipped ${l}s"; fi
for tool in racecheck synccheck initcheck; do l=$(left); [ $l -lt 30 ] && { echo "$tool: skipped, ${l}s left" | tee -a $S/steps.txt; continue; }
  t0=$SECONDS; (cd $W && timeout $l env PYTHONPATH=/tmp/site:$W ROCSAMPLE_CACHE_DIR=/tmp/rs-w PYTHONUNBUFFERED=1 compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $S/$tool.txt 2>&1)
  echo "$tool rc=$? $((SECONDS-t0))s | $(grep -E 'mismatches' $S/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $S/$tool.txt | tail -1)" | tee -a $S/steps.txt; tar czf $OUT/san.tgz -C /tmp san; done
cat $R/steps.txt; cat $OUT/suites-steps.txt 2>/dev/null; echo "total $((SECONDS-T0))s"
