"""session 24: top-k calls for compute-sanitizer racecheck (the candidate scan's counters):
one block a row and several, f32 and bf16, probability and logit rows, and rows of many
candidates (the rise entries: k x sub-chunks > 3072)."""
import torch

import rocsample

g = torch.Generator(device="cuda").manual_seed(0)
for rows, vocab, k in ((4, 32000, 50), (2, 151936, 20), (2, 262144, 128)):
    z = torch.randn((rows, vocab), device="cuda", generator=g) * 3
    p = torch.softmax(z, -1)
    for x in (p, p.bfloat16()):
        t = rocsample.sample(x, top_k=k, seed=3)
        print(rows, vocab, k, x.dtype, "sample", list(t)[:4])
    for x in (z, z.bfloat16()):
        t = rocsample.sample_from_logits(x, top_k=k, seed=3)
        print(rows, vocab, k, x.dtype, "logits", list(t)[:4])
torch.cuda.synchronize()
print("race driver done")
