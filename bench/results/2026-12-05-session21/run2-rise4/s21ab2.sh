#!/usr/bin/env bash
# session 21: topk-rise v4: rise when the row would pass RS_SHCAND candidates (v1: RS_RISE_AT = RS_SHCAND, v2: RS_SHCAND / 2)
# v0 = HEAD, v1 = HEAD + rise4.patch; bench --dtypes at B 64 128 256 512, three runs each, L2 warm;
# then HEAD's bench --dtypes (B 1 128 512) with --flush-l2 for issue 21's H200 figures.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
ROOT=$PWD; R=/tmp/r2; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (v0), v0 + rise4.patch (v1)"; } > $R/device.txt
pack() { cp .exp/s21ab2.sh .exp/rise4.patch .exp/topk_sweep.py $R/ 2>/dev/null; tar czf $OUT/r2.tgz -C /tmp r2; }
for v in v0 v1 v2; do (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 200 python3 -m rocsample warmup > $R/warmup_$v.txt 2>&1; echo "warmup_$v rc=$?" >> $R/steps.txt) & done; wait
for round in 1 2; do for v in v0 v1 v2; do
  t0=$SECONDS; (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 120 python3 -m rocsample bench --dtypes --batch 64 --batch 128 --batch 256 --batch 512 --reps 10 --rounds 4 --out $R/${v}_r$round > $R/${v}_r$round.txt 2>&1); echo "${v}_r$round rc=$? $((SECONDS-t0))s" >> $R/steps.txt
done; pack; done
for v in v0 v1 v2; do
  t0=$SECONDS; (cd /tmp && PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 150 python3 $ROOT/.exp/topk_sweep.py > $R/sweep_$v.jsonl 2> $R/sweep_$v.err); echo "sweep_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt; pack
done
pack; cat $R/steps.txt
for f in $R/v*_r*.txt; do echo "== $f"; grep -E "^B=.*sample top-k 50  " $f | cut -c1-110; done
python3 - <<'PY'
import json
d={v:[json.loads(l) for l in open(f"/tmp/r2/sweep_{v}.jsonl")] for v in ("v0","v1","v2")}
for a,b1,c in zip(d["v0"],d["v1"],d["v2"]):
    print(a["V"],a["B"],a["k"],a["dtype"],a["us"],b1["us"],c["us"],"%.3f %.3f"%(b1["us"]/a["us"],c["us"]/a["us"]),"same" if a["tokens"]==b1["tokens"]==c["tokens"] else "DIFF")
PY
