#!/usr/bin/env bash
# session 25, call G: (1) top-k 50 with a cold L2 at 1-64 rows (cold.py), the session's start
# 95d11c0 (p) against HEAD 209f9b7 (h), p h p h: bench --dtypes --flush-l2 found bf16 at one
# row 3-8 % slower than in session 23; is it this session's change? (2) racecheck, synccheck
# and initcheck of tools/sanitize_kernels.py at HEAD (every family, rise entries included),
# after the candidate-write change of the top-k scan (f59dd56).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (h, and the checkout), 95d11c0 (p)"; } > $R/device.txt
cat $R/device.txt; cp .exp/s25g.sh .exp/cold.py $R/
for v in p h; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 150 python3 -c "import torch, rocsample; x = torch.rand(2, 262144, device='cuda'); [rocsample.sample(y, top_k=50, seed=1) for y in (x, x.bfloat16())]; [rocsample.sample(y[:, :128256], top_k=50, seed=1) for y in (x, x.bfloat16())]" > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
for v in p h p h; do
  t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 60 python3 $ROOT/.exp/cold.py >> $R/cold_$v.jsonl 2>> $R/cold_$v.err); echo "cold_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
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
table p h cold | tee $R/table_cold.txt
tar czf $OUT/ab.tgz -C /tmp ab
export PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-h
R=/tmp/san; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; compute-sanitizer --version | tail -1; } > $R/device.txt
cat $R/device.txt; cp .exp/s25g.sh $R/
t0=$SECONDS; timeout 200 python3 -m rocsample warmup > $R/warmup.txt 2>&1; echo "warmup rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
for tool in racecheck synccheck initcheck; do
  t0=$SECONDS
  timeout ${LIMIT:-130} compute-sanitizer --tool $tool --error-exitcode 9 python3 tools/sanitize_kernels.py > $R/$tool.txt 2>&1
  rc=$?
  echo "$tool rc=$rc $((SECONDS-t0))s | $(grep -E 'mismatches' $R/$tool.txt | tail -1) | $(grep -E 'SUMMARY' $R/$tool.txt | tail -1)" | tee -a $R/steps.txt
  tar czf $OUT/san.tgz -C /tmp san
done
