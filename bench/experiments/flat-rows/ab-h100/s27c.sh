#!/usr/bin/env bash
# session 27, call C at bcd4f47 (w, the checkout) against f658f16 (h, .exp/h): both trees'
# warm compiles side by side; the A/B h w h w: flat rows under
# every filter (flat_more.py, topp_extra.py) and smooth rows (sweep.py MODE topk, topp,
# other); then both GPU suites + memcheck at w; then racecheck / synccheck / initcheck of tools/sanitize_kernels.py while the call
# has time (it may run 590 s).
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "w: $COMMIT; h: f658f16"; } > $R/device.txt
cp .exp/s27c.sh .exp/sweep.py .exp/flat_more.py .exp/topp_extra.py $R/
(cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-h PYTHONPATH=/tmp/site:$ROOT/.exp/h PYTHONUNBUFFERED=1 timeout 250 python3 -c "
import torch, rocsample
x = torch.rand(2, 262144, device='cuda')
for y in (x, x.bfloat16(), x.half()):
    rocsample.sample(y, top_p=0.9, seed=1); rocsample.sample(y[:1], top_p=0.9, seed=1); rocsample.sample(y, top_k=50, top_p=0.9, seed=1); rocsample.sample(y, top_k=50, seed=1); rocsample.sample(y[:, :128256], top_k=128, seed=1); rocsample.sample(y, seed=1); rocsample.sample(y, min_p=0.1, seed=1)
" > $R/warm_h.txt 2>&1; echo "warm_h rc=$?" >> $R/steps.txt) &
(ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 timeout 250 python3 -m rocsample warmup > $R/warm_w.txt 2>&1; echo "warm_w rc=$?" >> $R/steps.txt)
wait; echo "warm $((SECONDS-T0))s"
run() { local v=$1 p=$2 t=$3; shift 3; local t0=$SECONDS; local pp=$ROOT/.exp/h cd=/tmp/rs-h; [ $v = w ] && { pp=$ROOT; cd=/tmp/rs-cache; }
  (cd /tmp && env "$@" ROCSAMPLE_CACHE_DIR=$cd PYTHONPATH=/tmp/site:$pp PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 timeout $t python3 $ROOT/.exp/$p.py >> $R/${p}${MODE_TAG:-}_$v.jsonl 2>> $R/${p}_$v.err); echo "$p${MODE_TAG:-}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; }
for v in h w; do run $v flat_more 60; run $v topp_extra 60; done
for v in h w h w; do for m in topk topp other; do MODE_TAG=_$m run $v sweep 60 MODE=$m; done; done
echo "ab $((SECONDS-T0))s"; tar czf $OUT/ab.tgz -C /tmp ab
OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT" timeout 380 bash tools/gpu_session.sh > $OUT/suites.log 2>&1; echo "suites rc=$? $((SECONDS-T0))s"
export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONUNBUFFERED=1
S=/tmp/san; rm -rf $S; mkdir -p $S
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"; compute-sanitizer --version | tail -1; } > $S/device.txt
for tool in racecheck synccheck initcheck; do
  left=$((${LIMIT:-575} - (SECONDS - T0)))
  [ $left -lt 30 ] && { echo "$tool: skipped, ${left}s left" | tee -a $S/steps.txt; continue; }
  t0=$SECONDS
  timeout $left compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $S/$tool.txt 2>&1
  rc=$?
  echo "$tool rc=$rc $((SECONDS-t0))s | $(grep -E 'mismatches' $S/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $S/$tool.txt | tail -1)" | tee -a $S/steps.txt
  tar czf $OUT/san.tgz -C /tmp san
done
cat $OUT/suites-steps.txt; cat $R/steps.txt
