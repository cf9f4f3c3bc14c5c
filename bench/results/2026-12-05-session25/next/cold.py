"""session 25: sample(top_k=50) of probability rows with a cold L2 (a buffer of 4x the L2
zeroed before each call), f32 and bf16, B in {1, 4, 64}, V in {128256, 262144}; median GPU us
of 20 calls, the median of 3 rounds; tokens hashed. One JSON line a cell."""
import hashlib
import json
import statistics
import sys

import torch

import rocsample
from rocsample.bench import median_us

s = torch.cuda.current_stream().cuda_stream
dev = torch.cuda.get_device_properties(0)
flush = torch.empty(int(dev.L2_cache_size * 4 // 4) + (1 << 20), dtype=torch.float32, device="cuda")
g = torch.Generator(device="cuda").manual_seed(0)
for v in (128256, 262144):
    for b in (1, 4, 64):
        pr = torch.softmax(torch.randn((b, v), device="cuda", generator=g) * 3, -1)
        for dt, x in {"f32": pr, "bf16": pr.bfloat16()}.items():
            def f(x=x):
                return rocsample.sample(x, top_k=50, seed=7, stream=s)
            tok = f()
            torch.cuda.synchronize()
            h = hashlib.sha256(torch.as_tensor(tok).cpu().numpy().tobytes()).hexdigest()[:12]
            us = [median_us(torch, f, 20, flush) for _ in range(3)]
            print(json.dumps(dict(V=v, B=b, k="top_k=50", dtype=dt,
                                  us=round(statistics.median(us), 2),
                                  spread=[round(min(us), 2), round(max(us), 2)], tokens=h)))
            sys.stdout.flush()
