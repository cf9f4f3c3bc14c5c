"""GPU check of the tile walk (run in .exp/tile): transposed and where layouts of odd sizes,
every dtype family, against torch, exact (neg, copy, where; affine by 1/0).

Reformatted for ruff after the run (one statement a line); the logic is what ran."""
import torch

import rocsample as rs

INTS = (torch.uint8, torch.int64)
bad = n = 0
g = torch.Generator(device="cuda").manual_seed(5)
shapes = [(16, 16), (17, 33), (31, 100), (32, 32), (33, 65), (100, 17), (257, 31),
          (1000, 999), (4096, 40), (15, 4000), (40, 4096)]
dtypes = (torch.float32, torch.bfloat16, torch.float16, torch.float64, torch.uint8, torch.int64)


def empty(a, b, dt):
    return torch.empty(a, b, dtype=dt, device="cuda")


for A, B in shapes:
    for dt in dtypes:
        src = (torch.randn(B, A + 3, device="cuda", generator=g) * 100).to(dt)
        x = src[:, 1:A + 1].t()  # (A, B) strides (1, A + 3), offset 1
        want = x.contiguous()
        got = empty(A, B, dt)
        rs.unary("copy" if dt in INTS else "neg", x, out=got)
        ref = want if dt in INTS else -want
        n += 1
        if not torch.equal(got, ref):
            bad += 1
            print("unary", A, B, dt)
        if dt not in (torch.float16,):
            got = empty(A, B, dt)
            rs.affine(x, 1, 0, out=got)
            n += 1
            if not torch.equal(got, want):
                bad += 1
                print("affine", A, B, dt)
        if dt in (torch.float32, torch.bfloat16, torch.float64, torch.uint8, torch.int64):
            f = (torch.randn(A, B, device="cuda", generator=g) * 50).to(dt)
            c = (torch.rand(A, B, device="cuda", generator=g) < 0.5).to(torch.uint8)
            for ids, tv, fv in ((c, x, f), (c, f, x), (c[:, :1].expand(A, B), x, f),
                                (c[:1].expand(A, B), f, x), (c.t().contiguous().t(), x, x)):
                got = empty(A, B, dt)
                rs.where(ids, tv, fv, out=got)
                ref = torch.where(ids.bool(), tv, fv)
                n += 1
                if not torch.equal(got, ref):
                    bad += 1
                    print("where", A, B, dt, ids.stride(), tv.stride(), fv.stride())
torch.cuda.synchronize()
print(f"tile check: cases {n} bad {bad}")
