"""ncu target: gelu on a transposed 1M f32 view and a 1M bf16 slice, rocsample then torch,
and where with a broadcast condition at 1M f32 (bench_elementwise's operands)."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path.cwd()))
import rocsample  # noqa: E402
import rocsample.bench_elementwise as b  # noqa: E402

for op, layout, dt in (("unary", "transposed", torch.float32), ("unary", "slice", torch.bfloat16),
                       ("where", "broadcast", torch.float32)):
    a = b._operands(torch, op, layout, 1 << 20, dt)
    ours, theirs = b._calls(torch, rocsample, op, a)
    for _ in range(2):
        ours()
        theirs()
    torch.cuda.synchronize()
