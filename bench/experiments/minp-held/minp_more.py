"""session 33 (issue 21): min-p rows beyond sweep.py MODE=other's (min_p 0.1 of V 128256,
151936, 262144): rows not 16-byte aligned (V 50257, 151937), min_p 0.01 and 0.5, flat rows
(every element 1 / V: every element a candidate, more than a sub-chunk's room), and a row
holding -0.0 values; f32, bf16 and f16; B in {128, 512} (one block a row: the min-p candidate
scan, rs_scan_minp), and 1. Median GPU us of 15 calls, the median of 3 rounds; tokens hashed
(the trees must draw the same). One JSON line a cell."""
import hashlib
import json
import statistics
import sys

import torch

import rocsample
from rocsample.bench import median_us

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)


def rows(kind, b, v):
    if kind == "flat":
        return torch.full((b, v), 1.0 / v, device="cuda")
    pr = torch.softmax(torch.randn((b, v), device="cuda", generator=g) * 3, -1)
    if kind == "negzero":  # -0.0 in every 7th element: valid, no mass
        pr[:, ::7] = -0.0
    return pr


CELLS = [(kind, v, b, mp) for v in (50257, 151937) for b in (1, 128, 512)
         for kind, mp in (("smooth", 0.1),)]
CELLS += [("smooth", 128256, b, mp) for b in (128, 512) for mp in (0.01, 0.5)]
CELLS += [("flat", 128256, b, 0.1) for b in (128, 512)]
CELLS += [("negzero", 128256, 128, 0.1)]
for kind, v, b, mp in CELLS:
    pr = rows(kind, b, v)
    for dt, x in {"f32": pr, "bf16": pr.bfloat16(), "f16": pr.half()}.items():
        def f(x=x, mp=mp):
            return rocsample.sample(x, seed=7, stream=s, min_p=mp)
        tok = f()
        torch.cuda.synchronize()
        h = hashlib.sha256(torch.as_tensor(tok).cpu().numpy().tobytes()).hexdigest()[:12]
        us = [median_us(torch, f, 15) for _ in range(3)]
        print(json.dumps(dict(V=v, B=b, k=f"{kind},min_p={mp}", dtype=dt,
                              us=round(statistics.median(us), 2),
                              spread=[round(min(us), 2), round(max(us), 2)], tokens=h)))
        sys.stdout.flush()
