"""ncu target: one plain rocsample.sample each on bf16 then f16 probabilities (B=128,
V=128256, bench --dtypes's inputs)."""
import torch

import rocsample

g = torch.Generator(device="cuda").manual_seed(0)
base = (torch.randn((128, 128256), device="cuda", generator=g) * 3).bfloat16()
p = torch.softmax(base.float(), -1)
s = torch.cuda.current_stream().cuda_stream
for x in (p.bfloat16(), p.half()):
    rocsample.sample(x, seed=1, stream=s)
    torch.cuda.synchronize()
