"""ncu driver (session 25): sample(top_k=50) of 512 x 128256 probability
rows, f32 and bf16, each call twice (ncu profiles the second of the one it filters)."""
import torch

import rocsample

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)
pr = torch.softmax(torch.randn((512, 128256), device="cuda", generator=g) * 3, -1).bfloat16()
for _rep in range(2):
    for x in (pr.float(), pr):
        rocsample.sample(x, top_k=50, seed=1, stream=s)
    torch.cuda.synchronize()
