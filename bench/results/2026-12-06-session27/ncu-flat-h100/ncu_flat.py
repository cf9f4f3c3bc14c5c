"""ncu driver (session 26): sample(top_p=0.9) of flat rows (every element 1 / V), f32, one row
and 128 rows of 128256: 7.2 ms and 9.2 ms on the H200 in session 26, where a smooth row takes
22-24 us (topp-ab-h200/table_extra_n2.txt)."""
import torch

import rocsample

s = torch.cuda.current_stream().cuda_stream
V = 128256
for b in (1, 128):
    rocsample.sample(torch.full((b, V), 1.0 / V, device="cuda"), top_p=0.9, seed=1, stream=s)
torch.cuda.synchronize()
