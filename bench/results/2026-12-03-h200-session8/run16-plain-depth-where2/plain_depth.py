"""Session 8 experiment (issue 21): sample() on bf16/f16/f32 probabilities at B 128/512,
V 128256/262144, with the tree on PYTHONPATH (HEAD or a variant of rs_scan_plain's depth for
2-byte rows). Prints one JSON line per setting."""
import json
import statistics
import sys

import torch

import rocsample
from rocsample.bench import gpu_times

label = sys.argv[1]
stream = torch.cuda.current_stream().cuda_stream
gen = torch.Generator(device="cuda").manual_seed(0)
for v in (128256, 262144):
    for bsz in (128, 512):
        base = (torch.randn((bsz, v), device="cuda", generator=gen) * 3)
        p = torch.softmax(base, -1)
        probs = {"f32": p.bfloat16().float(), "bf16": p.bfloat16(), "f16": p.half()}
        row = {"label": label, "B": bsz, "V": v}
        for name, x in probs.items():
            def call(x=x):
                return rocsample.sample(x, seed=1, stream=stream)
            call()
            row[name] = statistics.median(gpu_times(torch, call, 30))
        row["bf16/f32"] = row["bf16"] / row["f32"]
        row["f16/f32"] = row["f16"] / row["f32"]
        print(json.dumps(row), flush=True)
