#!/usr/bin/env bash
# session 26, call A: (1) top-p against HEAD 77db284 (c): n1 the histogram per eight
# (rs_hist_add2x8), n2 = n1 + phase 1 summing the span's mass once instead of a wave atomic a
# sub-chunk; sweep.py MODE=topp and topp_extra.py, c n1 n2 twice. (n3, n2 with phase 1's loop
# operands copied out of shared memory, was dropped with the cold A/B.) (s25g's cold A/B of 95d11c0 against 209f9b7 was dropped
# from this call: three starts had failed and the device time was short.)
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
tar xzf .exp/trees.tgz -C .exp || exit 1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "c: 77db284; n1 n2: variants on it (s26a.sh; n2 = 7b77985)"; } > $R/device.txt
cat $R/device.txt; cp .exp/s26a.sh .exp/sweep.py .exp/topp_extra.py .exp/cold.py $R/
for v in c n1 n2; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 200 python3 -c "
import torch, rocsample
x = torch.rand(2, 262144, device='cuda')
for y in (x, x.bfloat16(), x.half()):
    rocsample.sample(y, top_p=0.9, seed=1); rocsample.sample(y[:1], top_p=0.9, seed=1); rocsample.sample(y, top_k=50, top_p=0.9, seed=1)
" > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
for v in c n1 n2 c n1 n2; do
  t0=$SECONDS; (cd /tmp && MODE=topp ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 90 python3 $ROOT/.exp/sweep.py >> $R/topp_$v.jsonl 2>> $R/topp_$v.err); echo "topp_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
  t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 60 python3 $ROOT/.exp/topp_extra.py >> $R/extra_$v.jsonl 2>> $R/extra_$v.err); echo "extra_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
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
for n in n1 n2; do
  table c $n topp > $R/table_topp_$n.txt; tail -3 $R/table_topp_$n.txt
  table c $n extra > $R/table_extra_$n.txt; tail -3 $R/table_extra_$n.txt
done
tar czf $OUT/ab.tgz -C /tmp ab
