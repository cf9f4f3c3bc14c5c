"""Session 9 experiment: fused_add_rms_norm outputs (x and residual) for fixed inputs, saved
under OUT/<label>.pt, so that kernel variants can be compared bit for bit afterwards."""
import sys

import torch

import rocsample

out, label = sys.argv[1], sys.argv[2]
res = {}
s = torch.cuda.current_stream().cuda_stream
for dt in (torch.bfloat16, torch.float16, torch.float32):
    for rows, hidden in ((300, 8200), (1024, 14336), (7, 16384 + 8), (200, 9000), (130, 20000)):
        g = torch.Generator(device="cuda").manual_seed(rows * 7 + hidden)
        x = torch.randn((rows, hidden), device="cuda", generator=g).to(dt)
        r = torch.randn((rows, hidden), device="cuda", generator=g).to(dt)
        w = torch.randn((hidden,), device="cuda", generator=g).to(dt)
        rocsample.fused_add_rms_norm(x, r, w, stream=s)
        torch.cuda.synchronize()
        res[f"{dt}-{rows}x{hidden}"] = (x.cpu(), r.cpu())
torch.save(res, f"{out}/{label}.pt")
print(label, "saved", len(res))
