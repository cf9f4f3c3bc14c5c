#!/usr/bin/env bash
# session 28, call B. If the card is an H200: both GPU suites + memcheck at HEAD (the checkout)
# and bench-mlp / bench --dtypes there first. Then two launch-only experiments in .exp/w (HEAD +
# knobs read only in that tree; unset, it is HEAD): (1) silu_and_mul at 1 and 16 rows with the
# flat entry's block capped at 64 / 128 threads (RS_EXP_CAP), so that a short row spreads over
# more SMs: bench-mlp --rows 1 --rows 16, 8 rounds of 20, caps none 64 128 twice over;
# (2) plain sample() of probability rows with the blocks a row forced (RS_EXP_G), f32 and bf16,
# B 64-512, V 128256 and 262144, L2 warm, then flushed.
set -u -o pipefail
T0=$SECONDS; ROOT=$PWD
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  OUT=$OUT PART=suites WORKERS=4 COMMIT="$COMMIT" timeout 330 bash tools/gpu_session.sh > $OUT/suites.log 2>&1
  echo "suites rc=$? $((SECONDS-T0))s"
  H=/tmp/h200; rm -rf $H; mkdir -p $H
  (export PYTHONPATH=/tmp/site:$ROOT ROCSAMPLE_CACHE_DIR=/tmp/rs-cache PYTHONUNBUFFERED=1
   timeout 120 python3 -m rocsample bench-mlp --out $H/mlp --rounds 8 --reps 20 > $H/mlp.txt 2>&1; echo "mlp rc=$?" >> $H/steps.txt
   timeout 60 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --out $H/dtypes > $H/dtypes.txt 2>&1; echo "dtypes rc=$?" >> $H/steps.txt
   timeout 60 python3 -m rocsample bench --dtypes --reps 10 --rounds 4 --flush-l2 --out $H/dtypes-cold > $H/dtypes_cold.txt 2>&1; echo "dtypes_cold rc=$?" >> $H/steps.txt
   timeout 30 python3 -m rocsample.bench > $H/capture.txt 2>&1; echo "capture rc=$?" >> $H/steps.txt)
  tar czf $OUT/h200.tgz -C /tmp h200; echo "h200 benches $((SECONDS-T0))s"
fi
R=/tmp/x28; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "exp tree: $COMMIT + .exp/w knobs"; } > $R/device.txt
cp .exp/s28b.sh .exp/gsweep.py $R/
export PYTHONPATH=/tmp/site:$ROOT/.exp/w ROCSAMPLE_CACHE_DIR=/tmp/rs-w PYTHONUNBUFFERED=1
cd /tmp
t0=$SECONDS; timeout 200 python3 -m rocsample warmup > $R/warmup.txt 2>&1; echo "warmup rc=$? $((SECONDS-t0))s" >> $R/steps.txt
for c in 0 64 128 0 64 128; do t0=$SECONDS
  if [ $c = 0 ]; then unset RS_EXP_CAP; else export RS_EXP_CAP=$c; fi
  timeout 60 python3 -m rocsample bench-mlp --rows 1 --rows 16 --rounds 8 --reps 20 --label cap$c-$t0 --out $R/mlp >> $R/mlp_cap$c.txt 2>&1
  echo "mlp cap$c rc=$? $((SECONDS-t0))s" >> $R/steps.txt; tar czf $OUT/x28.tgz -C /tmp x28
done
unset RS_EXP_CAP
for cold in "" 1; do for g in auto 1 2 3 4 6 8 auto; do t0=$SECONDS
  if [ $g = auto ]; then unset RS_EXP_G; else export RS_EXP_G=$g; fi
  COLD=$cold timeout 60 python3 $ROOT/.exp/gsweep.py >> $R/gsweep${cold:+_cold}.jsonl 2>> $R/gsweep.err
  echo "gsweep G=$g cold=$cold rc=$? $((SECONDS-t0))s" >> $R/steps.txt; tar czf $OUT/x28.tgz -C /tmp x28
  [ $((SECONDS-T0)) -gt 560 ] && break 2
done; done
cat $R/steps.txt; echo "total $((SECONDS-T0))s"
