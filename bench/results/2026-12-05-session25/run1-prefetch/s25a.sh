#!/usr/bin/env bash
# session 25, call A (issue 21): HEAD's kernels (v0) against v1 (rs_scan_cand: packed 2-byte
# rows load the next round during this one) and v2 (v1 + rs_scan_sig the same):
#   1. warm the trees; 2. sweep.py MODE=topk v0 v1 v0 v1, MODE=topp v0 v2 v0 v2, tables;
#   3. ncu source counters (SASS, warp stall samples) of topk_sampling_kernel{,_bf16} at
#      512 x 128256, v0 and v1.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (v0); v1: + rs_scan_cand prefetch (packed rows); v2: v1 + rs_scan_sig prefetch"; } > $R/device.txt
cat $R/device.txt
cp .exp/s25a.sh .exp/sweep.py .exp/ncu_drv.py $R/
for v in v0 v1 v2; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 170 python3 -c "import torch, rocsample; x = torch.rand(2, 262144, device='cuda'); [rocsample.sample(y, top_k=50, seed=1) for y in (x, x.bfloat16(), x.half())]; [rocsample.sample(y, top_p=0.9, seed=1) for y in (x, x.bfloat16(), x.half())]; rocsample.sample(x, top_k=128, seed=1); rocsample.sample(x.bfloat16(), top_k=128, seed=1); rocsample.sample(x.bfloat16(), top_k=50, top_p=0.9, seed=1)" > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
for pair in "topk v1" "topp v2"; do
  set -- $pair; m=$1; w=$2
  for v in v0 $w v0 $w; do
    t0=$SECONDS; (cd /tmp && MODE=$m ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 120 python3 $ROOT/.exp/sweep.py >> $R/${m}_$v.jsonl 2>> $R/${m}_$v.err); echo "${m}_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
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
table v0 v1 topk | tee $R/table_topk.txt | tail -3
table v0 v2 topp | tee $R/table_topp.txt | tail -3
for v in v0 v1; do
  for kn in topk_sampling_kernel topk_sampling_kernel_bf16; do
    t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 120 ncu --clock-control none -k regex:"^$kn\$" --launch-skip 1 -c 1 --section WarpStateStats --section SourceCounters --section SpeedOfLight -o $R/src_${v}_$kn python3 $ROOT/.exp/ncu_drv.py > $R/ncu_${v}_$kn.txt 2>&1; echo "ncu_${v}_$kn rc=$? $((SECONDS-t0))s" >> $R/steps.txt
    ncu --import $R/src_${v}_$kn.ncu-rep --page source --csv --print-source sass > $R/sass_${v}_$kn.csv 2> $R/sass_${v}_$kn.err
    ncu --import $R/src_${v}_$kn.ncu-rep --page details > $R/details_${v}_$kn.txt 2>&1
    [ -s $R/sass_${v}_$kn.csv ] && rm -f $R/src_${v}_$kn.ncu-rep)
  done
done
tail -4 $R/steps.txt
tar czf $OUT/ab.tgz -C /tmp ab
