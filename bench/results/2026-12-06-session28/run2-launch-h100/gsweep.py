"""session 28 (issue 21): plain sample() of probability rows, f32 and bf16, L2 warm, with the
blocks a row forced by RS_EXP_G (the exp tree; unset: rocsample's grid). B in {64, 128, 256,
512}, V in {128256, 262144}; median GPU us of 15 calls, the median of 3 rounds; tokens hashed
(every G must draw the same). One JSON line a cell."""
import hashlib
import json
import os
import statistics
import sys

import torch

import rocsample
from rocsample.bench import median_us

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)
G = os.environ.get("RS_EXP_G", "auto")
flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda") if os.environ.get("COLD") else None
for v in (128256, 262144):
    for b in (64, 128, 256, 512):
        pr = torch.softmax(torch.randn((b, v), device="cuda", generator=g) * 3, -1)
        for dt, x in {"f32": pr, "bf16": pr.bfloat16()}.items():
            def f(x=x):
                return rocsample.sample(x, seed=7, stream=s)
            tok = f()
            torch.cuda.synchronize()
            h = hashlib.sha256(torch.as_tensor(tok).cpu().numpy().tobytes()).hexdigest()[:12]
            us = [median_us(torch, f, 15, flush) for _ in range(3)]
            print(json.dumps(dict(V=v, B=b, G=G, cold=flush is not None, dtype=dt,
                                  us=round(statistics.median(us), 2),
                                  spread=[round(min(us), 2), round(max(us), 2)], tokens=h)))
            sys.stdout.flush()
