"""session 25 (issue 21): sample() of probability rows, f32, bf16 and f16, L2 warm; MODE=topk:
top_k in {20, 50, 128}; MODE=topp: top_p 0.9, and top_k 50 with top_p 0.9; MODE=other
(session 27): no filter, and min_p 0.1. B in {1, 64, 128, 512}, V in {128256, 151936,
262144} (session 40: ROWS / VOCABS, comma-separated, replace them); median GPU us of 15 calls,
the median of 3 rounds; tokens hashed (the trees must draw the same). One JSON line a cell."""
import hashlib
import json
import os
import statistics
import sys

import torch

import rocsample
from rocsample.bench import median_us

mode = os.environ.get("MODE", "topk")
s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)
filters = {"topk": [{"top_k": k} for k in (20, 50, 128)],
           "topp": [{"top_p": 0.9}, {"top_k": 50, "top_p": 0.9}],
           "other": [{}, {"min_p": 0.1}]}[mode]
vocabs = [int(v) for v in os.environ.get("VOCABS", "128256,151936,262144").split(",")]
rows = [int(b) for b in os.environ.get("ROWS", "1,64,128,512").split(",")]
for v in vocabs:
    for b in rows:
        pr = torch.softmax(torch.randn((b, v), device="cuda", generator=g) * 3, -1)
        xs = {"f32": pr, "bf16": pr.bfloat16(), "f16": pr.half()}
        for kw in filters:
            for dt, x in xs.items():
                def f(x=x, kw=kw):
                    return rocsample.sample(x, seed=7, stream=s, **kw)
                tok = f()
                torch.cuda.synchronize()
                h = hashlib.sha256(torch.as_tensor(tok).cpu().numpy().tobytes()).hexdigest()[:12]
                us = [median_us(torch, f, 15) for _ in range(3)]
                key = ",".join(f"{a}={b}" for a, b in kw.items()) or "plain"
                print(json.dumps(dict(V=v, B=b, k=key, dtype=dt, us=round(statistics.median(us), 2),
                                      spread=[round(min(us), 2), round(max(us), 2)], tokens=h)))
                sys.stdout.flush()
