"""Session 16 experiment (issue 21): logit rows' blocks an SM where two would leave a block one
sub-chunk.

v0: two an SM for every ``sample_from_logits`` call (the library); v1:
``rocsample.ops.sampling._logit_per_sm`` (``logit_per_sm.patch`` applied). One process, the
rule swapped between calls, six rounds of 15 calls with the order turned, tokens compared.
Usage on the GPU: ``python logits_grid_ab.py OUT.json [warm]`` (warm: the L2 is not flushed
and only the cells whose grid differs, and one control, are timed). Not a library tool.
"""

from __future__ import annotations

import json
import statistics
import sys

import torch

import rocsample
import rocsample.ops.sampling as S  # noqa: N812
from rocsample.bench import gpu_times

OPS = {"plain": {}, "top-k 50": {"top_k": 50}, "top-p 0.9": {"top_p": 0.9}}


def main(out: str, warm: bool) -> None:
    v1 = S._logit_per_sm  # needs logit_per_sm.patch
    variants = {"v0": lambda vocab, rows, sm: 2, "v1": v1}
    stream = torch.cuda.current_stream().cuda_stream
    flush = None if warm else torch.empty(1 << 26, dtype=torch.float32, device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    res = []
    for v in (32000, 128256, 151936, 262144):
        for b in (4, 6, 8, 24, 32):
            same_grid = (S._blocks_per_row(b, v, 132, 2)
                         == S._blocks_per_row(b, v, 132, v1(v, b, 132)))
            if warm and same_grid and (b, v) != (32, 128256):
                continue  # warm: the cells whose grid differs, and one control
            base = (torch.randn((b, v), device="cuda", generator=gen) * 3).bfloat16()
            for dt, x in (("f32", base.float()), ("bf16", base)):
                for op, kw in OPS.items():
                    def call(x=x, kw=kw):
                        return rocsample.sample_from_logits(x, temperature=0.8, seed=1,
                                                            stream=stream, **kw)
                    grids, toks = {}, {}
                    for name, rule in variants.items():
                        S._logit_per_sm = rule
                        grids[name] = S._blocks_per_row(b, v, 132, rule(v, b, 132))
                        toks[name] = torch.from_dlpack(call()).clone()
                    same = bool(torch.equal(toks["v0"], toks["v1"]))
                    t = {n: [] for n in variants}
                    names = list(variants)
                    for r in range(6):
                        for name in names[r % 2:] + names[:r % 2]:
                            S._logit_per_sm = variants[name]
                            t[name].append(statistics.median(gpu_times(torch, call, 15, flush)))
                    rr = [a / c for a, c in zip(t["v1"], t["v0"], strict=True)]
                    row = dict(vocab=v, batch=b, dtype=dt, op=op, g0=grids["v0"],
                               g1=grids["v1"], same_tokens=same, v0=statistics.median(t["v0"]),
                               v1=statistics.median(t["v1"]), v0_rounds=t["v0"],
                               v1_rounds=t["v1"], ratio_lo=min(rr), ratio_hi=max(rr))
                    res.append(row)
                    print(f"{b:3d} x {v:6d} {dt:4s} {op:10s} G {grids['v0']:2d}/{grids['v1']:2d} "
                          f"v0 {row['v0']:7.2f} v1 {row['v1']:7.2f} v1/v0 "
                          f"{row['v1'] / row['v0']:.3f} ({min(rr):.3f}-{max(rr):.3f}) tokens "
                          f"{'same' if same else 'DIFFER'}", flush=True)
    S._logit_per_sm = v1
    with open(out, "w") as f:
        json.dump({"warm": warm, "device": torch.cuda.get_device_name(0), "rows": res}, f,
                  indent=1)


if __name__ == "__main__":
    main(sys.argv[1], len(sys.argv) > 2 and sys.argv[2] == "warm")
