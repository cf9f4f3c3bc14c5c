"""session 26 (issue 21): sample(top_p=0.9) of rows the histogram's one-bin vote is for, f32,
bf16, f16, L2 warm: flat rows (every element 1 / V), sparse rows (95 % zeros), peaked rows
(one element 0.5, the rest equal), and rows of two values (half the elements in each of two
bins). B in {1, 128}, V 128256; median GPU us of 15 calls, the median of 3 rounds; tokens
hashed. One JSON line a cell."""
import hashlib
import json
import statistics
import sys

import torch

import rocsample
from rocsample.bench import median_us

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(1)
V = 128256
for b in (1, 128):
    flat = torch.full((b, V), 1.0 / V, device="cuda")
    sp = torch.softmax(torch.randn((b, V), device="cuda", generator=g) * 3, -1)
    sp = sp * (torch.rand((b, V), device="cuda", generator=g) < 0.05)
    sp = sp / sp.sum(-1, keepdim=True)
    pk = torch.full((b, V), 0.5 / (V - 1), device="cuda")
    pk[:, 7] = 0.5
    two = torch.where(torch.rand((b, V), device="cuda", generator=g) < 0.5, 1.0, 0.7)
    two = two / two.sum(-1, keepdim=True)
    for name, pr in (("flat", flat), ("sparse", sp), ("peaked", pk), ("two", two)):
        for dt, x in {"f32": pr, "bf16": pr.bfloat16(), "f16": pr.half()}.items():
            def f(x=x):
                return rocsample.sample(x, seed=7, stream=s, top_p=0.9)
            tok = f()
            torch.cuda.synchronize()
            h = hashlib.sha256(torch.as_tensor(tok).cpu().numpy().tobytes()).hexdigest()[:12]
            us = [median_us(torch, f, 15) for _ in range(3)]
            print(json.dumps(dict(V=V, B=b, k=name, dtype=dt, us=round(statistics.median(us), 2),
                                  spread=[round(min(us), 2), round(max(us), 2)], tokens=h)))
            sys.stdout.flush()
