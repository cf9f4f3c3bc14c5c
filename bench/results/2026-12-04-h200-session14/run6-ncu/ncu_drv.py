"""ncu driver (session 14, issue 21): sample_from_logits and plain sampling at 512 x 128256,
float32 and bf16, each call twice (ncu profiles the second: --launch-skip)."""
import torch

import rocsample

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)
base = (torch.randn((512, 128256), device="cuda", generator=g) * 3).bfloat16()
lg = {"f32": base.float(), "bf16": base}
pr = torch.softmax(base.float(), -1)
pb = {"f32": pr.bfloat16().float(), "bf16": pr.bfloat16()}
for _rep in range(2):
    for x in lg.values():
        rocsample.sample_from_logits(x, temperature=0.8, seed=1, stream=s)
    for x in pb.values():
        rocsample.sample(x, seed=1, stream=s)
    torch.cuda.synchronize()
