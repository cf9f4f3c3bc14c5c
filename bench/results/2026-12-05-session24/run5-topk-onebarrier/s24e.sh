#!/usr/bin/env bash
# session 24, call E (issue 21): the top-k candidate scan with one barrier a round (three sets
# of counters, rs_sm.kcnt) as v1, against HEAD's kernels (v0):
#   1. warm both trees (top-k of probability and logit rows, the rise entries);
#   2. topk_sweep.py (72 cells: probability rows) and logit_sweep.py (36 cells: logit rows),
#      v0 v1 v0 v1, tokens hashed, tables;
#   3. compute-sanitizer racecheck of race.py on v1, then on v0;
#   4. SUITES=1: both GPU suites and memcheck of the checkout (= v1).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (v0), the checkout: v0 + the one-barrier candidate scan (v1)"; } > $R/device.txt
cat $R/device.txt
cp .exp/s24e.sh .exp/topk_sweep.py .exp/logit_sweep.py .exp/race.py $R/
for v in v0 v1; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 150 python3 -c "import torch, rocsample; rocsample.sample(torch.rand(2, 1000, device='cuda'), top_k=5); x = torch.rand(2, 262144, device='cuda'); rocsample.sample(x, top_k=128); rocsample.sample(x.bfloat16(), top_k=128); rocsample.sample_from_logits(x, top_k=5); rocsample.sample_from_logits(x.bfloat16(), top_k=128)" > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
for v in v0 v1 v0 v1; do
  for sw in sweep logit; do
    f=topk_sweep.py; [ $sw = logit ] && f=logit_sweep.py
    t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 90 python3 $ROOT/.exp/$f >> $R/${sw}_$v.jsonl 2>> $R/${sw}_$v.err); echo "${sw}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
  done
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
print(f"V B k dtype {A}_us {B}_us {B}/{A} k*nc tokens  (runs joined by /; ratio of the means)")
rs = collections.defaultdict(list)
for key in d[A]:
    a, b = d[A][key], d[B].get(key, [])
    if not b:
        continue
    ma, mb = (sum(j["us"] for j in x) / len(x) for x in (a, b))
    same = len({j["tokens"] for j in a + b}) == 1
    rs[key[3]].append(mb / ma)
    print(*key, "/".join(str(j["us"]) for j in a), "/".join(str(j["us"]) for j in b),
          "%.3f" % (mb / ma), key[2] * -(-key[0] // 4096), "same" if same else "DIFF")
for dt, r in rs.items():
    print(f"{dt}: {len(r)} cells, {B}/{A} median {statistics.median(r):.3f} range {min(r):.3f}-{max(r):.3f}")
PY
}
table v0 v1 sweep | tee $R/table.txt | tail -3
table v0 v1 logit | tee $R/table_logit.txt | tail -3
for v in v1 v0; do
  t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout ${RACE_S:-70} compute-sanitizer --tool racecheck --error-exitcode 9 python3 $ROOT/.exp/race.py > $R/race_$v.txt 2>&1); echo "race_$v rc=$? $((SECONDS-t0))s | $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $R/race_$v.txt | tail -1)" | tee -a $R/steps.txt
done
tar czf $OUT/ab.tgz -C /tmp ab
if [ "${SUITES:-0}" = 1 ]; then
  OUT=$OUT PART=suites WORKERS=4 bash tools/gpu_session.sh
fi
