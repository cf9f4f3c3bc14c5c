#!/usr/bin/env bash
# session 29, call C. The checkout is HEAD ($COMMIT), which landed span-depth.patch (top-k scan:
# three sub-chunks a round for 2-byte rows whose block spans >= 17 sub-chunks); /tmp/p is the
# checkout with the three headers of before (.exp/pk, d2b3d9e's).
# On an H200: HEAD's items first (both GPU suites + memcheck, bench-mlp, bench --dtypes warm and
#   flushed, the captured step, racecheck/synccheck/initcheck), then the A/B while time is left.
# On any other card: warmup, bench --dtypes (warm and flushed) and the captured step at HEAD, no more.
# A/B: p = d2b3d9e's kernels, w = HEAD; p w p w of sweep.py MODE topk/topp/other, then flat_more.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; LIMIT=${LIMIT:-585}
left() { echo $((LIMIT - (SECONDS - T0))); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "card: $CARD"
B=/tmp/b29; R=/tmp/ab; S=/tmp/san; rm -rf $B $R $S; mkdir -p $B $R $S
for d in $B $R $S; do { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; } > $d/device.txt; done
echo "p: d2b3d9e kernels (/tmp/p); w: $COMMIT (checkout)" >> $R/device.txt
P=/tmp/p; rm -rf $P; mkdir -p $P; cp -r rocsample kernels pyproject.toml $P/; cp .exp/pk/*.h $P/kernels/
cp .exp/s29c.sh $B/; cp .exp/sweep.py .exp/flat_more.py $R/
H="env PYTHONPATH=/tmp/site:$ROOT ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONUNBUFFERED=1"
st() { local n=$1 l=$2; shift 2; local t0=$SECONDS; [ $(left) -lt $((l / 3)) ] && { echo "$n: skipped, $(left)s left" | tee -a $B/steps.txt; return; }
  [ $l -gt $(left) ] && l=$(left)
  (cd $ROOT && timeout $l $H "$@" > $B/$n.txt 2>&1); echo "$n: rc=$? $((SECONDS-t0))s | $(tail -2 $B/$n.txt | head -1)" | tee -a $B/steps.txt; tar czf $OUT/bench.tgz -C /tmp b29; }
san() { local tool=$1 l; l=$(left); [ $l -lt 30 ] && { echo "$tool: skipped, ${l}s left" | tee -a $S/steps.txt; return; }
  local t0=$SECONDS; (cd $ROOT && timeout $l $H compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $S/$tool.txt 2>&1)
  echo "$tool rc=$? $((SECONDS-t0))s | $(grep -E 'mismatches' $S/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $S/$tool.txt | tail -1)" | tee -a $S/steps.txt
  tar czf $OUT/san.tgz -C /tmp san; }
suites() { local l; l=$(($(left) - 10)); [ $l -lt 200 ] && { echo "suites: skipped, ${l}s left"; return; }
  OUT=$OUT PART=suites WORKERS=4 COMMIT="$1" timeout $l bash tools/gpu_session.sh > $OUT/suites.log 2>&1; echo "suites rc=$? $((SECONDS-T0))s"; }
warm() {  # both trees' modules compiled side by side
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-p PYTHONPATH=/tmp/site:$P PYTHONUNBUFFERED=1 timeout 200 python3 -m rocsample warmup > $R/warm_p.txt 2>&1; echo "warm_p rc=$?" >> $R/steps.txt) &
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 timeout 200 python3 -m rocsample warmup > $R/warm_w.txt 2>&1; echo "warm_w rc=$?" >> $R/steps.txt)
  wait; echo "warm $((SECONDS-T0))s" | tee -a $R/steps.txt; }
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS pp=$ROOT cd=/tmp/rs-cache; [ $v = p ] && { pp=$P; cd=/tmp/rs-p; }
  [ $(left) -lt $((t + 20)) ] && { echo "$p${MODE_TAG:-}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$cd PYTHONPATH=/tmp/site:$pp PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $ROOT/.exp/$p.py >> $R/${p}${MODE_TAG:-}_$v.jsonl 2>> $R/${p}_$v.err); echo "$p${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
ab() { warm
  for v in p w p w; do for m in topk topp other; do MODE_TAG=_$m run $v sweep 60 MODE=$m; done; tar czf $OUT/ab.tgz -C /tmp ab; done
  for v in p w; do run $v flat_more 60; done
  echo "ab $((SECONDS-T0))s" | tee -a $R/steps.txt; tar czf $OUT/ab.tgz -C /tmp ab; }
case $CARD in
*H200*)
  suites "$COMMIT"
  st mlp 150 python3 -m rocsample bench-mlp --out $B/mlp --rounds 8 --reps 20
  st dtypes 90 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --out $B/dtypes
  st dtypes_cold 90 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --flush-l2 --out $B/dtypes-cold
  st capture 60 python3 -m rocsample.bench
  for t in racecheck synccheck initcheck; do san $t; done
  ab ;;
*)
  st warmup 200 python3 -m rocsample warmup
  st dtypes 90 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --out $B/dtypes
  st dtypes_cold 90 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --flush-l2 --out $B/dtypes-cold
  st capture 60 python3 -m rocsample.bench ;;
esac
cat $OUT/suites-steps.txt 2>/dev/null; cat $R/steps.txt; cat $B/steps.txt; cat $S/steps.txt; echo "total $((SECONDS-T0))s"
