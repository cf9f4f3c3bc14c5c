"""session 22: plain sample() of probability rows and sample_from_logits() of logits (the two
callers of the plain scan's mass), f32 and bf16, B in {1, 128, 512}, V in {128256, 262144},
L2 warm; median GPU us of 15 calls, the median of 3 rounds; tokens hashed (the trees must
draw the same). One JSON line a cell, keyed like topk_sweep.py (k = 0 plain, -1 logits)."""
import hashlib
import json
import statistics
import sys

import torch

import rocsample
from rocsample.bench import median_us

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)
for v in (128256, 262144):
    for b in (1, 128, 512):
        lg = torch.randn((b, v), device="cuda", generator=g) * 3
        pr = torch.softmax(lg, -1)
        for k, xs in ((0, {"f32": pr, "bf16": pr.bfloat16()}),
                      (-1, {"f32": lg, "bf16": lg.bfloat16()})):
            for dt, x in xs.items():
                def f(x=x, k=k):
                    if k == 0:
                        return rocsample.sample(x, seed=7, stream=s)
                    return rocsample.sample_from_logits(x, temperature=0.8, seed=7, stream=s)
                tok = f()
                torch.cuda.synchronize()
                h = hashlib.sha256(torch.as_tensor(tok).cpu().numpy().tobytes()).hexdigest()[:12]
                us = [median_us(torch, f, 15) for _ in range(3)]
                print(json.dumps(dict(V=v, B=b, k=k, dtype=dt, us=round(statistics.median(us), 2),
                                      spread=[round(min(us), 2), round(max(us), 2)], tokens=h)))
                sys.stdout.flush()
