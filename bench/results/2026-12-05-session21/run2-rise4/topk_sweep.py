"""session 21: sample(top_k=k) of probability rows, f32 and bf16, k in {20, 50, 100, 128},
B in {64, 128, 512}, V in {128256, 151936, 262144}, L2 warm; median GPU us of 15 calls, the
medians of 3 rounds; tokens hashed (the trees must draw the same). One JSON line a cell."""
import hashlib
import json
import statistics
import sys

import torch

import rocsample
from rocsample.bench import median_us

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)
for v in (128256, 151936, 262144):
    for b in (64, 128, 512):
        pr = torch.softmax(torch.randn((b, v), device="cuda", generator=g) * 3, -1)
        xs = {"f32": pr, "bf16": pr.bfloat16()}
        for k in (20, 50, 100, 128):
            for dt, x in xs.items():
                def f(x=x, k=k):
                    return rocsample.sample(x, top_k=k, seed=7, stream=s)
                tok = f()
                torch.cuda.synchronize()
                h = hashlib.sha256(torch.as_tensor(tok).cpu().numpy().tobytes()).hexdigest()[:12]
                us = [median_us(torch, f, 15) for _ in range(3)]
                print(json.dumps(dict(V=v, B=b, k=k, dtype=dt, us=round(statistics.median(us), 2),
                                      spread=[round(min(us), 2), round(max(us), 2)], tokens=h)))
                sys.stdout.flush()
