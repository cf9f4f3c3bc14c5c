"""session 30 (issue 21): rows that are not 16-byte aligned (odd V: every other row starts at
2 bytes past a 16-byte boundary) and logit rows. sample() of probability rows and
sample_from_logits() of logits, f32 and bf16, V in {50257, 151937} (odd) and 128256 (logits
only), B in {1, 128, 512}; filters plain, top_k 50, top_p 0.9; median GPU us of 15 calls, the
median of 3 rounds; tokens hashed. One JSON line a cell."""
import hashlib
import json
import statistics
import sys

import torch

import rocsample
from rocsample.bench import median_us

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)
filters = [{}, {"top_k": 50}, {"top_p": 0.9}]
for v, ops in ((50257, ("probs", "logits")), (151937, ("probs", "logits")), (128256, ("logits",))):
    for b in (1, 128, 512):
        lg = torch.randn((b, v), device="cuda", generator=g) * 3
        pr = torch.softmax(lg, -1)
        for op in ops:
            src = pr if op == "probs" else lg
            xs = {"f32": src, "bf16": src.bfloat16()}
            for kw in filters:
                for dt, x in xs.items():
                    if op == "probs":
                        def f(x=x, kw=kw):
                            return rocsample.sample(x, seed=7, stream=s, **kw)
                    else:
                        def f(x=x, kw=kw):
                            return rocsample.sample_from_logits(x, seed=7, stream=s, **kw)
                    tok = f()
                    torch.cuda.synchronize()
                    raw = torch.as_tensor(tok).cpu().numpy().tobytes()
                    h = hashlib.sha256(raw).hexdigest()[:12]
                    us = [median_us(torch, f, 15) for _ in range(3)]
                    key = op + ":" + (",".join(f"{a}={c}" for a, c in kw.items()) or "plain")
                    print(json.dumps(dict(V=v, B=b, k=key, dtype=dt,
                                          us=round(statistics.median(us), 2),
                                          spread=[round(min(us), 2), round(max(us), 2)],
                                          tokens=h)))
                    sys.stdout.flush()
