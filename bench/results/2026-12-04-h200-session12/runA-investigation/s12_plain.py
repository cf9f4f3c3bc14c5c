"""Session 12: event times of rocsample.sample (plain) on two datasets x three dtypes x B.
bench: softmax(randn*3) as the bench makes it (f16 mostly 0/subnormal, f32 = widened bf16);
dense: uniform [0.5, 1.5) weights (normal in every dtype; f32 = widened bf16).
(The script as run, reformatted for ruff.)"""
import statistics
import sys

import torch

import rocsample
from rocsample.bench import gpu_times

s = torch.cuda.current_stream().cuda_stream
V = 128256
flush = torch.empty(1 << 26, dtype=torch.float32, device="cuda")
mode = sys.argv[1] if len(sys.argv) > 1 else "time"


def data(kind, B):
    g = torch.Generator(device="cuda").manual_seed(B)
    if kind == "bench":
        logits = (torch.randn((B, V), device="cuda", generator=g) * 3).bfloat16().float()
        p = torch.softmax(logits, -1)
    else:
        p = torch.rand((B, V), device="cuda", generator=g) + 0.5
    return {"f32": p.bfloat16().float(), "bf16": p.bfloat16(), "f16": p.half()}


if mode == "ncu":
    for kind in ("bench", "dense"):
        d = data(kind, 512)
        for _rep in range(2):
            for x in d.values():
                rocsample.sample(x, seed=1, stream=s)
            torch.cuda.synchronize()
    sys.exit(0)
for B in (1, 128, 512):
    for kind in ("bench", "dense"):
        d = data(kind, B)
        row = []
        for k, x in d.items():
            def f(x=x):
                return rocsample.sample(x, seed=1, stream=s)
            f()
            torch.cuda.synchronize()
            row.append(f"{k} {statistics.median(gpu_times(torch, f, 30, flush)):7.1f}")
        zero = (d["f16"] == 0).float().mean().item()
        print(f"B={B:4d} {kind:6s} " + "  ".join(row) + f"   (f16 zeros {zero:.2f})", flush=True)
