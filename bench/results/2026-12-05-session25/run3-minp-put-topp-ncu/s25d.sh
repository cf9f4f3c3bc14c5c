#!/usr/bin/env bash
# session 25, call D: HEAD f59dd56/209f9b7's kernels (h) against the working tree (w: the
# candidate writes in one helper, rs_put_cand, which the min-p scan now uses too):
# sweep.py MODE=topk and MODE=minp, h w h w; then ncu source counters of the top-p kernels
# (topk_topp_sampling_kernel, f32 and bf16) at 512 x 128256, h.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (h); w: + rs_put_cand for the min-p scan"; } > $R/device.txt
cat $R/device.txt
cp .exp/s25d.sh .exp/sweep.py .exp/ncu_topp.py $R/
for v in h w; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 200 python3 -c "import torch, rocsample; x = torch.rand(2, 262144, device='cuda'); [rocsample.sample(y, top_k=50, seed=1) for y in (x, x.bfloat16(), x.half())]; [rocsample.sample(y, top_k=128, seed=1) for y in (x, x.bfloat16(), x.half())]; [rocsample.sample(y, min_p=0.1, seed=1) for y in (x, x.bfloat16(), x.half())]; [rocsample.sample(y, top_p=0.9, seed=1) for y in (x, x.bfloat16())]" > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
for m in minp topk; do
  for v in h w h w; do
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
table h w minp | tee $R/table_minp.txt | tail -3
table h w topk | tee $R/table_topk.txt | tail -3
(cd /tmp && export ROCSAMPLE_CACHE_DIR=/tmp/rs-h PYTHONPATH=/tmp/site:$ROOT/.exp/h
 for kn in topk_topp_sampling_kernel topk_topp_sampling_kernel_bf16; do
   t0=$SECONDS
   timeout 100 ncu --clock-control none -k regex:"^$kn\$" -c 3 --section WarpStateStats --section SourceCounters --section SpeedOfLight --section LaunchStats -o $R/src_$kn python3 $ROOT/.exp/ncu_topp.py > $R/ncu_$kn.txt 2>&1; echo "ncu_$kn rc=$? $((SECONDS-t0))s" >> $R/steps.txt
   ncu --import $R/src_$kn.ncu-rep --page source --csv --print-source sass > $R/sass_$kn.csv 2> $R/sass_$kn.err
   ncu --import $R/src_$kn.ncu-rep --page details > $R/details_$kn.txt 2>&1
   [ -s $R/sass_$kn.csv ] && rm -f $R/src_$kn.ncu-rep
 done)
tail -2 $R/steps.txt
tar czf $OUT/ab.tgz -C /tmp ab
