#!/usr/bin/env bash
# rise6 (template dispatch) against HEAD: sweep_small.py v0 v1 v0 v1 (about 2 min; written in
# session 21, not yet run: the session's device time ran out). Before the call, on the CPU:
#   rm -rf .exp/v0 .exp/v1 && mkdir -p .exp/v0 .exp/v1
#   git archive HEAD rocsample kernels pyproject.toml | tar -x -C .exp/v0
#   git archive HEAD rocsample kernels pyproject.toml | tar -x -C .exp/v1
#   (cd .exp/v1 && patch -p1 < ../../bench/experiments/topk-rise/rise6.patch)
#   cp bench/experiments/topk-rise/{s21last.sh,sweep_small.py} .exp/
# Device call: bash .exp/s21last.sh, carry [".whl", ".exp"].
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=$OUT/ab; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
for v in v0 v1; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 70 python3 -c "import torch, rocsample; rocsample.sample(torch.rand(2, 1000, device='cuda'), top_k=5)" > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
for v in v0 v1 v0 v1; do
  t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 40 python3 $ROOT/.exp/sweep_small.py >> $R/sweep_$v.jsonl 2>> $R/sweep_$v.err); echo "sweep_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
done
cat $R/steps.txt
python3 - <<'PY'
import json, os
R = os.environ["OUT"] + "/ab"
d = {v: [json.loads(l) for l in open(f"{R}/sweep_{v}.jsonl")] for v in ("v0", "v1")}
n = len(d["v0"]) // 2
for i in range(n):
    a1, a2, b1, b2 = d["v0"][i], d["v0"][i + n], d["v1"][i], d["v1"][i + n]
    a, b = (a1["us"] + a2["us"]) / 2, (b1["us"] + b2["us"]) / 2
    print(a1["V"], a1["B"], a1["k"], a1["dtype"], a1["us"], a2["us"], b1["us"], b2["us"], "%.3f" % (b / a), "same" if a1["tokens"] == b1["tokens"] == a2["tokens"] == b2["tokens"] else "DIFF")
PY
