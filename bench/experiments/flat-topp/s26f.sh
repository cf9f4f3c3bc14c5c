#!/usr/bin/env bash
# Prepared in session 26 (no device time left): held-digit.patch (f) against its base (h),
# h f h f: topp_extra.py (flat, sparse, peaked, two-valued rows: the milliseconds), then
# sweep.py MODE=topp and MODE=topk (smooth rows: rs_select also runs in the top-k selection
# and the top-p selection over the gathered list, so these must not get slower).
# Set-up, from the repository root at the base commit:
#   rm -rf .exp && mkdir -p .exp/h .exp/f
#   git archive HEAD rocsample kernels pyproject.toml | tar -x -C .exp/h
#   git archive HEAD rocsample kernels pyproject.toml | tar -x -C .exp/f
#   (cd .exp/f && patch -p1 < ../../bench/experiments/flat-topp/held-digit.patch)
#   cp bench/experiments/flat-topp/{s26f.sh,sweep.py,topp_extra.py} .exp/
# Device call: COMMIT=... bash .exp/s26f.sh, carry [".whl"] (about 3 min).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "h: ${COMMIT:-unknown}; f: h + held-digit.patch"; } > $R/device.txt
cat $R/device.txt; cp .exp/s26f.sh .exp/sweep.py .exp/topp_extra.py $R/
for v in h f; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 200 python3 -c "
import torch, rocsample
x = torch.rand(2, 262144, device='cuda')
for y in (x, x.bfloat16(), x.half()):
    rocsample.sample(y, top_p=0.9, seed=1); rocsample.sample(y[:1], top_p=0.9, seed=1); rocsample.sample(y, top_k=50, top_p=0.9, seed=1); rocsample.sample(y, top_k=50, seed=1); rocsample.sample(y[:, :128256], top_k=128, seed=1)
" > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
for v in h f h f; do
  t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 120 python3 $ROOT/.exp/topp_extra.py >> $R/extra_$v.jsonl 2>> $R/extra_$v.err); echo "extra_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
  for m in topp topk; do
    t0=$SECONDS; (cd /tmp && MODE=$m ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 90 python3 $ROOT/.exp/sweep.py >> $R/${m}_$v.jsonl 2>> $R/${m}_$v.err); echo "${m}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
  done
done
cat $R/steps.txt
for P in extra topp topk; do
R=$R A=h B=f P=$P python3 - <<'PY' | tee $R/table_$P.txt | tail -3
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
done
tar czf $OUT/ab.tgz -C /tmp ab
