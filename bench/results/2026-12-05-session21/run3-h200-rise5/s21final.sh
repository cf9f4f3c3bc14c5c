#!/usr/bin/env bash
# session 21, one device call: (1) topk-rise v5 A/B: v0 = HEAD's kernels, v1 = v0 + rise5.patch
# (the working tree's kernels), topk_sweep.py twice a tree, interleaved
# (v0 v1 v0 v1); (2) the GPU suites of the working
# tree (PART=suites: make test-gpu and make test-gpu-hip side by side, 4 xdist workers each,
# then memcheck).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=$OUT/ab; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
cp .exp/s21final.sh .exp/rise5.patch .exp/topk_sweep.py $R/
for v in v0 v1; do (cd /tmp && ROCSAMPLE_CACHE_DIR=$([ $v = v1 ] && echo /tmp/rs-cache || echo /tmp/rs-ab-v0) PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 150 python3 -m rocsample warmup > $R/warmup_$v.txt 2>&1; echo "warmup_$v rc=$?" >> $R/steps.txt) & done; wait
for v in v0 v1 v0 v1; do
  t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=$([ $v = v1 ] && echo /tmp/rs-cache || echo /tmp/rs-ab-v0) PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 40 python3 $ROOT/.exp/topk_sweep.py >> $R/sweep_$v.jsonl 2>> $R/sweep_$v.err); echo "sweep_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
done
cat $R/steps.txt
python3 - <<'PY'
import json, os, collections
R = os.environ["OUT"] + "/ab"
d = {v: [json.loads(l) for l in open(f"{R}/sweep_{v}.jsonl")] for v in ("v0", "v1")}
n = len(d["v0"]) // 2
for i in range(n):
    a1, a2, b1, b2 = d["v0"][i], d["v0"][i + n], d["v1"][i], d["v1"][i + n]
    a, b = (a1["us"] + a2["us"]) / 2, (b1["us"] + b2["us"]) / 2
    print(a1["V"], a1["B"], a1["k"], a1["dtype"], a1["us"], a2["us"], b1["us"], b2["us"], "%.3f" % (b / a), "same" if a1["tokens"] == b1["tokens"] == a2["tokens"] == b2["tokens"] else "DIFF")
PY
OUT=$OUT/suites PART=suites WORKERS=4 GPU_S=250 HIP_S=250 SAN_S=90 bash tools/gpu_session.sh
