"""Session 12: one call each of rocsample and FlashInfer (ref .so) RMSNorm / fused / silu at few
rows (for ncu), after a warm-up pass. (The script as run, reformatted for ruff.)"""
import torch

import rocsample
from rocsample.bench_mlp import _calls, _case, _flashinfer

fi, note = _flashinfer()
print(note)
cases = [(op, r, h) for op in ("rms_norm", "fused_add_rms_norm", "silu_and_mul")
         for r, h in ((1, 4096), (16, 4096), (16, 2048), (128, 2048))]
calls = []
for op, r, h in cases:
    a = _case(torch, op, r, h, torch.bfloat16)
    c = _calls(torch, rocsample, fi, op, a)
    calls.append((c["rocsample"], c["flashinfer"]))
for _rep in range(2):
    for ours, theirs in calls:
        ours()
        theirs()
    torch.cuda.synchronize()
