"""session 27: flat rows (every element 1 / V) under every filter (does any path fall off a
cliff?). f32 and bf16, V in {32000, 128256, 262144}, B in {1, 128}; median GPU us of 5
calls, the median of 3 rounds; tokens hashed. One JSON line a cell."""
import hashlib
import json
import statistics
import sys

import torch

import rocsample
from rocsample.bench import median_us

s = torch.cuda.current_stream().cuda_stream
FILTERS = {"topk50": dict(top_k=50), "topk50_topp": dict(top_k=50, top_p=0.9),
           "topp": dict(top_p=0.9), "minp": dict(min_p=0.1), "topk1000": dict(top_k=1000)}
for V in (32000, 128256, 262144):
    for b in (1, 128):
        flat = torch.full((b, V), 1.0 / V, device="cuda")
        for fname, kw in FILTERS.items():
            for dt, x in {"f32": flat, "bf16": flat.bfloat16()}.items():
                def f(x=x, kw=kw):
                    return rocsample.sample(x, seed=7, stream=s, **kw)
                tok = f()
                torch.cuda.synchronize()
                h = hashlib.sha256(torch.as_tensor(tok).cpu().numpy().tobytes()).hexdigest()[:12]
                us = [median_us(torch, f, 5) for _ in range(3)]
                print(json.dumps(dict(V=V, B=b, k=fname, dtype=dt,
                                      us=round(statistics.median(us), 2), tokens=h)))
                sys.stdout.flush()
