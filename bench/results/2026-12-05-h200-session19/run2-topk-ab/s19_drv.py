"""ncu driver (session 18, issue 21): sample(top_k=50) and plain sample of probability rows
at 512 x 128256, float32, bf16 and f16, each call twice (ncu profiles the second)."""
import torch

import rocsample

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)
base = (torch.randn((512, 128256), device="cuda", generator=g) * 3)
pr = torch.softmax(base, -1).bfloat16()
pb = {"f32": pr.float(), "bf16": pr, "f16": pr.half()}
for _rep in range(2):
    for x in pb.values():
        rocsample.sample(x, top_k=50, seed=1, stream=s)
        rocsample.sample(x, seed=1, stream=s)
    torch.cuda.synchronize()
