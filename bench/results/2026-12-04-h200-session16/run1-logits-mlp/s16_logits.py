"""Session 16, issue 21: logit rows' blocks an SM where two would leave a block one sub-chunk.
v0: two an SM for every logit call (HEAD before); v1: rocsample.ops.sampling._logit_per_sm.
One process, variants alternating in rounds (order turned), L2 flushed, tokens compared.
(As it ran in run 1, with its lines wrapped and its imports sorted for ruff; the experiment's
kept form, with a warm-L2 mode, is bench/experiments/logits-grid/logits_grid_ab.py.)"""
import json
import statistics
import sys

import torch

import rocsample
import rocsample.ops.sampling as S  # noqa: N812
from rocsample.bench import gpu_times

out = sys.argv[1]
v1 = S._logit_per_sm
VAR = {"v0": lambda vocab, rows, sm: 2, "v1": v1}
OPS = {"plain": {}, "top-k 50": {"top_k": 50}, "top-p 0.9": {"top_p": 0.9}}
stream = torch.cuda.current_stream().cuda_stream
flush = torch.empty(1 << 26, dtype=torch.float32, device="cuda")
gen = torch.Generator(device="cuda").manual_seed(0)
res = []
for v in (32000, 128256, 151936, 262144):
    for b in (4, 6, 8, 24, 32):
        base = (torch.randn((b, v), device="cuda", generator=gen) * 3).bfloat16()
        for dt, x in (("f32", base.float()), ("bf16", base)):
            for op, kw in OPS.items():
                grids = {}

                def call(x=x, kw=kw):
                    return rocsample.sample_from_logits(x, temperature=0.8, seed=1,
                                                        stream=stream, **kw)
                toks = {}
                for name, f in VAR.items():
                    S._logit_per_sm = f
                    grids[name] = S._blocks_per_row(b, v, 132, f(v, b, 132))
                    toks[name] = torch.from_dlpack(call()).clone()
                same = bool(torch.equal(toks["v0"], toks["v1"]))
                t = {n: [] for n in VAR}
                names = list(VAR)
                for r in range(6):
                    for name in names[r % 2:] + names[:r % 2]:
                        S._logit_per_sm = VAR[name]
                        t[name].append(statistics.median(gpu_times(torch, call, 15, flush)))
                row = dict(vocab=v, batch=b, dtype=dt, op=op, g0=grids["v0"], g1=grids["v1"],
                           same_tokens=same, v0=statistics.median(t["v0"]),
                           v1=statistics.median(t["v1"]), v0_rounds=t["v0"], v1_rounds=t["v1"])
                rr = [a / c for a, c in zip(t["v1"], t["v0"], strict=True)]
                row["ratio_lo"], row["ratio_hi"] = min(rr), max(rr)
                res.append(row)
                print(f"{b:3d} x {v:6d} {dt:4s} {op:10s} G {grids['v0']:2d}/{grids['v1']:2d} "
                      f"v0 {row['v0']:7.2f} v1 {row['v1']:7.2f} v1/v0 {row['v1']/row['v0']:.3f} "
                      f"({min(rr):.3f}-{max(rr):.3f}) tokens {'same' if same else 'DIFFER'}",
                      flush=True)
S._logit_per_sm = v1
with open(out, "w") as fh:
    json.dump({"device": torch.cuda.get_device_name(0), "rows": res}, fh, indent=1)
