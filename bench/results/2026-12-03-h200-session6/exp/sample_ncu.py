"""ncu target: rocsample.sample on the same probabilities as float32, bfloat16, float16
(bench --dtypes's inputs), B=128, V=128256; plain, then top-k 50 + top-p 0.9."""
import torch

import rocsample

g = torch.Generator(device="cuda").manual_seed(0)
base = (torch.randn((128, 128256), device="cuda", generator=g) * 3).bfloat16()
p = torch.softmax(base.float(), -1)
xs = {"f32": p.bfloat16().float(), "bf16": p.bfloat16(), "f16": p.half()}
s = torch.cuda.current_stream().cuda_stream
for kw in ({}, {"top_k": 50, "top_p": 0.9}):
    for name, x in xs.items():
        for _ in range(2):
            rocsample.sample(x, seed=1, stream=s, **kw)
        torch.cuda.synchronize()
        print(name, kw, flush=True)
