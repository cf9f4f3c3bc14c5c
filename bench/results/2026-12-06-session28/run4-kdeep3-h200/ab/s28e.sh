#!/usr/bin/env bash
# session 28, call E: 7499d1a (p, .exp/p) against the checkout (w: 7499d1a with RS_KDEEP 3: the top-k
# candidate scan takes rounds of three sub-chunks instead of two). Warm compiles side by side;
# then p w p w: sweep.py MODE topk (top-k 20/50/128) and
# other (plain, min-p: the same machine code in both trees, a control for drift); flat_more.py
# (flat rows, the overflowing sub-chunks) p w. Then racecheck (the change is to
# barriers), both GPU suites + memcheck at w, synccheck and initcheck while the call has time.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "w: $COMMIT; p: 7499d1a"; } > $R/device.txt
cp .exp/s28e.sh .exp/sweep.py .exp/flat_more.py $R/
(cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-p PYTHONPATH=/tmp/site:$ROOT/.exp/p PYTHONUNBUFFERED=1 timeout 200 python3 -c "
import torch, rocsample
x = torch.rand(2, 262144, device='cuda')
for y in (x, x.bfloat16(), x.half()):
    rocsample.sample(y, top_p=0.9, seed=1); rocsample.sample(y, top_k=50, top_p=0.9, seed=1); rocsample.sample(y, top_k=50, seed=1); rocsample.sample(y[:, :128256], top_k=128, seed=1); rocsample.sample(y, seed=1); rocsample.sample(y, min_p=0.1, seed=1)
" > $R/warm_p.txt 2>&1; echo "warm_p rc=$?" >> $R/steps.txt) &
(ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 timeout 200 python3 -m rocsample warmup > $R/warm_w.txt 2>&1; echo "warm_w rc=$?" >> $R/steps.txt)
wait; echo "warm $((SECONDS-T0))s"
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS; local pp=$ROOT/.exp/p cd=/tmp/rs-p; [ $v = w ] && { pp=$ROOT; cd=/tmp/rs-cache; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$cd PYTHONPATH=/tmp/site:$pp PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $ROOT/.exp/$p.py >> $R/${p}${MODE_TAG:-}_$v.jsonl 2>> $R/${p}_$v.err); echo "$p${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for v in p w p w; do for m in topk other; do MODE_TAG=_$m run $v sweep 60 MODE=$m; done; tar czf $OUT/ab.tgz -C /tmp ab; done
for v in p w; do run $v flat_more 60; done  # overflowing sub-chunks
echo "ab $((SECONDS-T0))s"; tar czf $OUT/ab.tgz -C /tmp ab
export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONUNBUFFERED=1
S=/tmp/san; rm -rf $S; mkdir -p $S
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; compute-sanitizer --version | tail -1; } > $S/device.txt
for tool in racecheck suites synccheck initcheck; do
  if [ $tool = suites ]; then
    (left=$((${LIMIT:-585} - (SECONDS - T0) - 15)); OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT" timeout $left bash tools/gpu_session.sh > $OUT/suites.log 2>&1; echo "suites rc=$? $((SECONDS-T0))s"); continue
  fi
  left=$((${LIMIT:-585} - (SECONDS - T0)))
  [ $left -lt 30 ] && { echo "$tool: skipped, ${left}s left" | tee -a $S/steps.txt; continue; }
  t0=$SECONDS
  timeout $left compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $S/$tool.txt 2>&1
  rc=$?
  echo "$tool rc=$rc $((SECONDS-t0))s | $(grep -E 'mismatches' $S/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $S/$tool.txt | tail -1)" | tee -a $S/steps.txt
  tar czf $OUT/san.tgz -C /tmp san
done
cat $OUT/suites-steps.txt; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
