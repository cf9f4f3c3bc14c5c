#!/usr/bin/env bash
# session 25, call H: HEAD 209f9b7's kernels (h) against w2 (rs_held8::pick by rs_sel4 on values
# passed one by one: hipcc had put the eights in scratch, selecting by a run-time index):
# sweep.py MODE=topk and logit_sweep.py, h w2 h w2, tables.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (h); w2: pick by rs_sel4"; } > $R/device.txt
cat $R/device.txt; cp .exp/s25h.sh .exp/sweep.py .exp/logit_sweep.py $R/
for v in h w2; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 150 python3 -c "import torch, rocsample; x = torch.rand(2, 262144, device='cuda'); [rocsample.sample(y, top_k=50, seed=1) for y in (x, x.bfloat16(), x.half())]; [rocsample.sample(y, top_k=128, seed=1) for y in (x, x.bfloat16(), x.half())]; [rocsample.sample_from_logits(y, top_k=50, seed=1) for y in (x, x.bfloat16())]; [rocsample.sample_from_logits(y, top_k=128, seed=1) for y in (x, x.bfloat16())]" > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
for v in h w2 h w2; do
  t0=$SECONDS; (cd /tmp && MODE=topk ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 60 python3 $ROOT/.exp/sweep.py >> $R/topk_$v.jsonl 2>> $R/topk_$v.err); echo "topk_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
  t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 60 python3 $ROOT/.exp/logit_sweep.py >> $R/logit_$v.jsonl 2>> $R/logit_$v.err); echo "logit_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
done
cat $R/steps.txt
table() {
R=$R A=$1 B=$2 P=$3 python3 - <<'PY'
import collections, json, os, statistics
R, A, B, P = (os.environ[k] for k in ("R", "A", "B", "P"))
d = {}
for v in (A, B):
    d[v] = collections.defaultdict(list)
    for line in open(f"{R}/{P}_{v}.jsonl"):
        j = json.loads(line)
        d[v][(j["V"], j["B"], j["k"], j["dtype"])].append(j)
print(f"V B filter dtype {A}_us {B}_us {B}/{A} tokens  (runs joined by /; ratio of the means)")
rs = collections.defaultdict(list)
for key in d[A]:
    a, b = d[A][key], d[B].get(key, [])
    if not b:
        continue
    ma, mb = (sum(j["us"] for j in x) / len(x) for x in (a, b))
    same = len({j["tokens"] for j in a + b}) == 1
    rs[key[3]].append(mb / ma)
    print(*key, "/".join(str(j["us"]) for j in a), "/".join(str(j["us"]) for j in b),
          "%.3f" % (mb / ma), "same" if same else "DIFF")
for dt, r in rs.items():
    print(f"{dt}: {len(r)} cells, {B}/{A} median {statistics.median(r):.3f} range {min(r):.3f}-{max(r):.3f}")
PY
}
table h w2 topk | tee $R/table_topk.txt | tail -3
table h w2 logit | tee $R/table_logit.txt | tail -3
tar czf $OUT/ab.tgz -C /tmp ab
