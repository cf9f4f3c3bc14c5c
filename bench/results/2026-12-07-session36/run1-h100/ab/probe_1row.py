"""session 35 (issue 21, next.md item 3): which kernel makes one-row sample_from_logits top-k 50
slower for bf16 than for f32 (H100, session 34: 37.2 against 33.4 us, 1 x 128256). For each
dtype: median GPU us of the whole call (30 calls, 3 rounds), then the torch profiler's per-kernel
device time over 50 calls. Also sample() of the softmaxed rows with top-k 50, for comparison.
One JSON line a (call, dtype)."""
import collections
import json
import statistics
import sys

import torch
from torch.profiler import ProfilerActivity, profile

import rocsample
from rocsample.bench import median_us

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)
for v in (128256, 262144):
    lg = torch.randn((1, v), device="cuda", generator=g) * 3
    for name, base in (("logits", lg), ("probs", torch.softmax(lg, -1))):
        for dt in (torch.float32, torch.bfloat16, torch.float16):
            x = base.to(dt)

            def f(x=x, name=name):
                if name == "logits":
                    return rocsample.sample_from_logits(x, top_k=50, seed=7, stream=s)
                return rocsample.sample(x, top_k=50, seed=7, stream=s)
            f()
            torch.cuda.synchronize()
            us = statistics.median(median_us(torch, f, 30) for _ in range(3))
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(50):
                    f()
                torch.cuda.synchronize()
            k = collections.defaultdict(list)
            for e in prof.events():
                if str(e.device_type).endswith("CUDA"):
                    t = getattr(e, "device_time", None)
                    k[e.name].append(e.cuda_time if t is None else t)
            print(json.dumps(dict(V=v, call=name, dtype=str(dt).split(".")[1], us=round(us, 2),
                                  kernels={n: [len(t), round(statistics.median(t), 2)]
                                           for n, t in k.items()})))
            sys.stdout.flush()
