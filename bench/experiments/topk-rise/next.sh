#!/usr/bin/env bash
# Session 23: v1 is the checkout with the rise modules (kernels/*_rise.hip; V1="..." names it
# in device.txt), made as v0 is but from the working tree (cp -r rocsample kernels
# pyproject.toml .exp/v1). Its warm call samples rising rows (2 x 262144, top-k 128, f32 and
# bf16), so the rise module is compiled before the timed sweeps.
# The call that decides rise6 (written in session 21, not yet run: its device time ran out).
# (1) HEAD (v0) against HEAD + rise6.patch (v1): topk_sweep.py v0 v1 v0 v1 (72 cells a run,
#     about 8 s each), the table printed and packed with the raw lines into $OUT/ab.tgz.
# (2) With SUITES=1: both GPU suites and memcheck of the working tree (tools/gpu_session.sh
#     PART=suites WORKERS=4, about 4 min; apply rise6.patch to the checkout's kernels first).
# (3) With NCU=1: ncu's pipe utilisation and warp stall reasons of HEAD's topk_sampling kernels
#     at 512 x 128256 (top-k 50 and plain; f32, bf16, f16; about 1 min): does a pipe (the
#     conversions, F2I.U64 one an element in the mass) or memory latency bound the bf16 scan?
# (4) With .exp/v2 present (session 22): HEAD (v0) against HEAD + mass-fma/mass_fma.patch (v2),
#     bench/experiments/mass-fma/plain_sweep.py v0 v2 v0 v2 (24 cells), table_mass.txt. (Its
#     first v0 run compiles the plain and logit modules: at 60 s it was stopped in session 22.)
# About 8 min in all. Before the call, on the CPU:
#   rm -rf .exp/v0 .exp/v1 && mkdir -p .exp/v0 .exp/v1
#   git archive HEAD rocsample kernels pyproject.toml | tar -x -C .exp/v0
#   git archive HEAD rocsample kernels pyproject.toml | tar -x -C .exp/v1
#   (cd .exp/v1 && patch -p1 < ../../bench/experiments/topk-rise/rise6.patch)
#   cp bench/experiments/topk-rise/{next.sh,topk_sweep.py} .exp/
#   for (4): .exp/v2 as .exp/v0, then patch -p1 there with the kernels/ sections of
#   bench/experiments/mass-fma/mass_fma.patch (its test files are not in the archive), and
#   cp bench/experiments/mass-fma/plain_sweep.py .exp/
#   cp bench/results/2026-12-05-h200-session18/run3-ncu-topk/s18c_drv.py .exp/
# Device call: SUITES=1 NCU=1 COMMIT=... bash .exp/next.sh, carry [".whl", ".exp"].
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
ROOT=$PWD; R=/tmp/ab; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown} (v0), ${V1:-v0 + rise6.patch} (v1)"; } > $R/device.txt
cp .exp/next.sh .exp/topk_sweep.py $R/
for v in v0 v1; do (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 120 python3 -c "import torch, rocsample; rocsample.sample(torch.rand(2, 1000, device='cuda'), top_k=5); x = torch.rand(2, 262144, device='cuda'); rocsample.sample(x, top_k=128); rocsample.sample(x.bfloat16(), top_k=128)" > $R/warm_$v.txt 2>&1; echo "warm_$v rc=$?" >> $R/steps.txt) & done; wait
for v in v0 v1 v0 v1; do
  t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 90 python3 $ROOT/.exp/topk_sweep.py >> $R/sweep_$v.jsonl 2>> $R/sweep_$v.err); echo "sweep_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
done
cat $R/steps.txt
table() {  # table A B PREFIX: PREFIX_A.jsonl against PREFIX_B.jsonl, cell by cell (V, B, k,
# dtype), so a run stopped early leaves its cells with fewer timings instead of shifting them
R=$R A=$1 B=$2 P=$3 python3 - <<'PY'
import collections, json, os
R, A, B, P = (os.environ[k] for k in ("R", "A", "B", "P"))
d = {}
for v in (A, B):
    d[v] = collections.defaultdict(list)
    for line in open(f"{R}/{P}_{v}.jsonl"):
        j = json.loads(line)
        d[v][(j["V"], j["B"], j["k"], j["dtype"])].append(j)
print(f"V B k dtype {A}_us {B}_us {B}/{A} k*nc tokens  (runs joined by /; ratio of the means)")
for key in d[A]:
    a, b = d[A][key], d[B].get(key, [])
    if not b:
        continue
    ma, mb = (sum(j["us"] for j in x) / len(x) for x in (a, b))
    same = len({j["tokens"] for j in a + b}) == 1
    print(*key, "/".join(str(j["us"]) for j in a), "/".join(str(j["us"]) for j in b),
          "%.3f" % (mb / ma), key[2] * -(-key[0] // 4096), "same" if same else "DIFF")
PY
}
table v0 v1 sweep | tee $R/table.txt
if [ -d .exp/v2 ]; then  # MASS: HEAD (v0) against HEAD + mass_fma.patch (v2), plain_sweep.py
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-v2 PYTHONPATH=/tmp/site:$ROOT/.exp/v2 timeout 90 python3 -c "import torch, rocsample; rocsample.sample(torch.rand(2, 1000, device='cuda'))" > $R/warm_v2.txt 2>&1; echo "warm_v2 rc=$?" >> $R/steps.txt)
  cp .exp/plain_sweep.py $R/
  for v in v0 v2 v0 v2; do
    t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 120 python3 $ROOT/.exp/plain_sweep.py >> $R/plain_$v.jsonl 2>> $R/plain_$v.err); echo "plain_$v rc=$? $((SECONDS-t0))s" >> $R/steps.txt
  done
  table v0 v2 plain | tee $R/table_mass.txt
fi
if [ "${NCU:-0}" = 1 ]; then  # HEAD's pipes at 512 x 128256: top-k 50 and plain, f32 / bf16 / f16
  (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-v0 PYTHONPATH=/tmp/site:$ROOT/.exp/v0 timeout 150 ncu --clock-control none -k regex:topk_sampling --launch-skip 6 -c 6 --section ComputeWorkloadAnalysis --section WarpStateStats -o $R/pipes python3 $ROOT/.exp/s18c_drv.py > $R/ncu_run.txt 2>&1); echo "ncu rc=$?" >> $R/steps.txt
  ncu --import $R/pipes.ncu-rep --page details --csv > $R/pipes.csv 2>&1; rm -f $R/pipes.ncu-rep
fi
tar czf $OUT/ab.tgz -C /tmp ab
if [ "${SUITES:-0}" = 1 ]; then
  OUT=$OUT PART=suites WORKERS=4 bash tools/gpu_session.sh
fi
