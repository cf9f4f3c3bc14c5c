#!/usr/bin/env bash
# session 31, call E (issue 21): the sampled row's 16- and 8-byte loads as global loads, not
# generic LD (a row pointer reaching a __noinline__ phase is generic to NVRTC; a generic load
# may alias shared memory). p = HEAD's kernels ($COMMIT: .exp/ph's two headers), w = the
# checkout (__builtin_assume(__isGlobal(p)): LDG.E.128 with folded offsets);
# p w p w of sweep.py MODE other/topp/topk, odd.py, flat_more.py; then on w (the checkout):
# both GPU suites + memcheck (tools/gpu_session.sh PART=suites), racecheck, synccheck,
# initcheck while time is left.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-420}
left() { echo $((LIMIT - (SECONDS - T0))); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "card: $CARD"
R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "p: $COMMIT's kernels; w: + ldg.patch"; } > $R/device.txt
P=/tmp/p; rm -rf $P; mkdir -p $P; cp -r rocsample kernels pyproject.toml $P/; cp .exp/ph/*.h $P/kernels/

cp .exp/s31e.sh .exp/ldg.patch $R/
tree() { case $1 in p) echo $P;; *) echo $ROOT;; esac; }
warm() { for v in p w; do
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 timeout 240 python3 -m rocsample warmup > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done
  wait; echo "warm $((SECONDS-T0))s" | tee -a $R/steps.txt; }
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS
  [ $(left) -lt $((t + 10)) ] && { echo "$p${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$(tree $v) PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $ROOT/.exp/$p.py >> $R/${p}${MODE_TAG:-}_$v.jsonl 2>> $R/${p}_$v.err); echo "$p${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
warm
for v in p w p w; do for m in other topp topk; do MODE_TAG=_$m run $v sweep 60 MODE=$m; done; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in p w p w; do run $v odd 45; run $v flat_more 45; tar czf $OUT/ab.tgz -C /tmp ab; done
echo "ab $((SECONDS-T0))s" | tee -a $R/steps.txt; tar czf $OUT/ab.tgz -C /tmp ab
S=/tmp/san; rm -rf $S; mkdir -p $S; cp $R/device.txt $S/
l=$(( $(left) - 75 )); if [ $l -gt 180 ]; then OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT+ldg" timeout $l bash tools/gpu_session.sh > $OUT/suites.log 2>&1; echo "suites rc=$? $((SECONDS-T0))s"; else echo "suites skipped ${l}s"; fi
export PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
for tool in racecheck synccheck initcheck; do l=$(left); [ $l -lt 15 ] && { echo "$tool: skipped, ${l}s left" | tee -a $S/steps.txt; continue; }
  t0=$SECONDS; timeout $l compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $S/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS-t0))s | $(grep -E 'mismatches' $S/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $S/$tool.txt | tail -1)" | tee -a $S/steps.txt; tar czf $OUT/san.tgz -C /tmp san; done
cat $R/steps.txt; cat $OUT/suites-steps.txt 2>/dev/null; echo "total $((SECONDS-T0))s"
