"""session 24 (from session 23's call D; adds f16, more shapes and a bit-for-bit check of the
run-time-type entry against the typed one) (issue 22, noticed): the run-time-type rms entries
(rms_norm_kernel, fused_add_rms_norm_kernel; they spill on sm_90) against the typed general
entries and the entry rocsample's recipe picks, same grid, block 512, L2 warm; median GPU us of
3 x 30 calls."""
import statistics

import torch

import rocsample
from rocsample.backends.recipe import Launch, Recipe
from rocsample.bench import median_us
from rocsample.ops import mlp

b = rocsample.backend()
print("device:", b.describe()["device"])
for op in ("rms_norm", "fused_add_rms_norm"):
    for dt, tdt in (("f32", torch.float32), ("bf16", torch.bfloat16), ("f16", torch.float16)):
        for rows, hidden in ((16, 4096), (128, 8192), (1024, 4096), (1024, 14336), (8192, 2048),
                             (8192, 4096), (8192, 14336), (64, 5125)):
            x = torch.randn(rows, hidden, device="cuda", dtype=tdt)
            r = torch.randn(rows, hidden, device="cuda", dtype=tdt)
            w = torch.randn(hidden, device="cuda", dtype=tdt)
            # the fused add leaves out alone: NaN garbage made s24a flag it
            out = torch.zeros_like(x)
            if op == "rms_norm":
                rec = mlp.rms_norm_recipe(dt, rows, hidden, {"x": x.data_ptr(), "weight":
                                          w.data_ptr(), "out": out.data_ptr()},
                                          {"x": hidden, "out": hidden}, 1e-6)
            else:
                rec = mlp.fused_add_rms_norm_recipe(dt, rows, hidden, {"x": x.data_ptr(),
                                                    "residual": r.data_ptr(),
                                                    "weight": w.data_ptr()},
                                                    {"x": hidden, "residual": hidden}, 1e-6)
            la = rec.launches[0]
            outs = {}
            for name, entry, extra in (("typed", mlp.entry(op, dt), {}),
                                       ("runtime-type", f"{op}_kernel",
                                        {"dtype": mlp.DTYPE_CODES[dt]})):
                x0, r0, o0 = x.clone(), r.clone(), out.clone()
                b.launch_recipe(Recipe(rec.op, (), {}, None,
                                       [Launch(entry, la.grid, {**la.args, **extra}, block=512)]))
                torch.cuda.synchronize()
                outs[name] = (x.clone(), r.clone(), out.clone())
                x.copy_(x0), r.copy_(r0), out.copy_(o0)
            same = all(torch.equal(a, c) for a, c in zip(outs["typed"], outs["runtime-type"],
                                                              strict=True))
            res = {}
            for name, entry, extra, block in (
                    ("recipe", la.kernel, {}, la.block),
                    ("typed", mlp.entry(op, dt), {}, 512),
                    ("runtime-type", f"{op}_kernel", {"dtype": mlp.DTYPE_CODES[dt]}, 512)):
                args = {**la.args, **extra}
                rcp = Recipe(rec.op, (), {}, None, [Launch(entry, la.grid, args, block=block)])

                def f(rcp=rcp):
                    b.launch_recipe(rcp)
                f()
                torch.cuda.synchronize()
                res[name] = statistics.median(median_us(torch, f, 30) for _ in range(3))
            print(f"{op} {dt} {rows}x{hidden} grid {la.grid} recipe {la.kernel} "
                  + " ".join(f"{k}={v:.2f}" for k, v in res.items())
                  + f" runtime/typed={res['runtime-type'] / res['typed']:.3f}"
                  + f" bits_equal={same}", flush=True)
