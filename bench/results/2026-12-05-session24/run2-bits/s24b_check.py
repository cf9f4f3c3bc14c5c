"""session 24, call B: are the fused add's entries deterministic, and do the run-time-type
entry, the typed general entry and the recipe's entry write the same bits? Every launch on
restored inputs with the device drained before and after; each entry run three times."""
import torch

import rocsample
from rocsample.backends.recipe import Launch, Recipe
from rocsample.ops import mlp

b = rocsample.backend()
print("device:", b.describe()["device"])
torch.manual_seed(5)
for op in ("fused_add_rms_norm", "rms_norm"):
    for dt, tdt in (("bf16", torch.bfloat16), ("f16", torch.float16), ("f32", torch.float32)):
        for rows, hidden in ((1024, 4096), (128, 8192), (64, 5125), (256, 14336), (16, 4096),
                             (8192, 4096)):
            x = torch.randn(rows, hidden, device="cuda", dtype=tdt)
            r = torch.randn(rows, hidden, device="cuda", dtype=tdt)
            w = torch.randn(hidden, device="cuda", dtype=tdt)
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
            x0, r0, o0 = x.clone(), r.clone(), out.clone()
            torch.cuda.synchronize()
            res = {}
            runs = [("typed", mlp.entry(op, dt), {}, 512, la.grid),
                    ("generic", f"{op}_kernel", {"dtype": mlp.DTYPE_CODES[dt]}, 512, la.grid),
                    ("recipe", la.kernel, {}, la.block, la.grid)]
            for _rep in range(3):
                for name, entry, extra, block, grid in runs:
                    x.copy_(x0), r.copy_(r0), out.copy_(o0)
                    torch.cuda.synchronize()
                    b.launch_recipe(Recipe(rec.op, (), {}, None,
                                           [Launch(entry, grid, {**la.args, **extra},
                                                   block=block)]))
                    torch.cuda.synchronize()
                    got = (x.clone(), r.clone(), out.clone())
                    res.setdefault(name, []).append(got)

            def diff(a, c):
                if torch.equal(a, c):
                    return "="
                ia = a.view(torch.int16 if a.element_size() == 2 else torch.int32).long()
                ic = c.view(torch.int16 if c.element_size() == 2 else torch.int32).long()
                d = (ia - ic).abs()
                return f"{int((d > 0).sum())}x<={int(d.max())}ulp"
            cells = []
            for name in res:
                cells.append(f"{name}-rerun[" + ",".join(
                    diff(res[name][0][i], res[name][k][i]) for k in (1, 2) for i in range(3)) + "]")
            for name in ("generic", "recipe"):
                cells.append(f"typed~{name}[" + ",".join(
                    diff(res["typed"][0][i], res[name][0][i]) for i in range(3)) + "]")
            print(f"{op} {dt} {rows}x{hidden} recipe {la.kernel} grid {la.grid} block {la.block} "
                  + " ".join(cells), flush=True)
