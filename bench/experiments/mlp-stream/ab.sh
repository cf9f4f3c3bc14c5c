#!/usr/bin/env bash
# session 22, call B: (1) issue 22: bench-mlp of HEAD (v0) against HEAD + stream_hints.patch
# (v3: .cs loads/stores of x and the residual on the fused add's one-read path), each with
# FlashInfer and torch in the same run, 1024 / 8192 rows x 4096 / 14336, v0 v3 v0 v3;
# (2) with DTYPES=1: gpu_session.sh PART=dtypes of the checkout (issue 21's bf16/f32 figures);
# (3) with SUITES=1: gpu_session.sh PART=suites of the checkout.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/mlpab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (v0), v0 + stream_hints.patch (v3)"; } > $R/device.txt
cp .exp/s22b.sh .exp/stream_hints.patch $R/
for v in v0 v3; do mkdir -p /tmp/w_$v && ln -sfn $ROOT/.fi /tmp/w_$v/.fi; done
i=0
for v in v0 v3 v0 v3; do
  i=$((i+1)); t0=$SECONDS
  (cd /tmp/w_$v && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 120 python3 -m rocsample bench-mlp --rows 1024 --rows 8192 --hidden 4096 --hidden 14336 --rounds 8 --reps 20 --label ${v}_$i --out $R/mlp > $R/mlp_${v}_$i.txt 2>&1)
  echo "mlp_${v}_$i rc=$? $((SECONDS-t0))s | $(grep -E 'Against' $R/mlp_${v}_$i.txt | tail -1 | cut -c1-150)" >> $R/steps.txt
done
cat $R/steps.txt
tar czf $OUT/mlpab.tgz -C /tmp mlpab
if [ "${DTYPES:-0}" = 1 ]; then OUT=$OUT PART=dtypes bash tools/gpu_session.sh; fi
if [ "${SUITES:-0}" = 1 ]; then OUT=$OUT PART=suites WORKERS=4 bash tools/gpu_session.sh; fi
