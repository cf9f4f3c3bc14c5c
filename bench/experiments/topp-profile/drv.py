"""ncu driver (session 41, issue 21): sample(top_p=0.9) of probability rows at 128 x 229376,
float32 and bfloat16 (bench --dtypes' data: softmax of randn x 3 rounded to bf16, so both
dtypes hold the same values), each call twice; ncu profiles the second round's launches."""
import torch

import rocsample

s = torch.cuda.current_stream().cuda_stream
g = torch.Generator(device="cuda").manual_seed(0)
base = (torch.randn((128, 229376), device="cuda", generator=g) * 3).bfloat16()
p = torch.softmax(base.float(), -1).bfloat16()
probs = {"f32": p.float(), "bf16": p}
for _rep in range(2):
    for x in probs.values():
        rocsample.sample(x, top_p=0.9, seed=1, stream=s)
    torch.cuda.synchronize()
print("done")
