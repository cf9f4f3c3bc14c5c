"""Session 8 (issue 22): the library's compact MLP entries (rms_norm_row2/row4_DT,
fused_add_rms_norm_row2/row4_DT, swiglu_flat_DT in kernels/) against the general entries,
each with rocsample's own grid rule (a row entry measured wherever it applies, whether or not
rocsample.ops.mlp picks it: the picked entry is printed in brackets), the experiment's
rmsrow/fusedrow ("exp", up to 1024 threads), and the flat entry with its row grid capped as
swiglu_launch caps it ("flatcap"); raw launches, L2 flushed, same process. Each output is
compared byte for byte with the general entry's: "!" after a time marks one that differs.
Usage on the GPU: python bench/experiments/mlp-small/entries_bench.py OUT_DIR (about 60 s on
an H200; entries_bench_h200.txt is session 8's output). Not a library tool."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(ROOT))

from rocsample.ops import mlp  # noqa: E402
from rocsample.toolchains import get_toolchain  # noqa: E402

HEADERS = ("rs_common.h", "rs_elementwise.h", "rs_mlp.h")
SIG = {e.name: [t for _, t in e.signature] for e in mlp.ENTRIES.values()}
EXP_SIG = ["ptr", "ptr", "ptr", "i64", "i64", "i64", "i64", "f32", "f32"]


def compile_module(folder: Path, name: str) -> bytes:
    tc = get_toolchain("nvrtc")
    src = (folder / f"{name}.hip").read_bytes()
    hdr = {h: (ROOT / "kernels" / h).read_bytes() for h in HEADERS}
    img, log = tc.compile(src, f"{name}.hip", hdr, tc.options("sm_90", 32))
    if img is None:
        raise SystemExit(f"{name}: compile failed\n{log}")
    return img


def pow2(u: int) -> int:
    c = 1
    while c < u:
        c <<= 1
    return c


def main(out_dir: Path) -> None:
    import torch

    from rocsample.backends.cuda import CudaRuntime
    from rocsample.backends.runtime import pack_args
    from rocsample.bench import gpu_times

    rt = CudaRuntime(0)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    mods = {"rms_norm": rt.load_module(compile_module(ROOT / "kernels", "rms_norm")),
            "swiglu": rt.load_module(compile_module(ROOT / "kernels", "swiglu")),
            "exp": rt.load_module(compile_module(HERE, "mlp_small"))}
    fn = {name: rt.get_function(mods[e.module], name) for name, e in mlp.ENTRIES.items()
          if e.dtype is not None}
    for dt in ("f32", "bf16"):
        for e in ("rmsrow", "fusedrow"):
            fn[f"{e}_{dt}"] = rt.get_function(mods["exp"], f"{e}_{dt}")
    flush = torch.empty(1 << 26, dtype=torch.float32, device="cuda")
    stream = torch.cuda.current_stream().cuda_stream
    eps, reps = 1e-6, 30
    res = []
    tdts = {"bf16": torch.bfloat16, "f32": torch.float32, "f16": torch.float16}
    shapes = [(dt, rows, hidden) for dt in ("bf16", "f32") for rows in (1, 16, 128, 1024, 8192)
              for hidden in (2048, 4096, 8192, 14336, 16384)]
    shapes += [("f16", rows, hidden) for rows in (1, 128) for hidden in (4096, 16384)]
    for dt, rows, hidden in shapes:
        tdt = tdts[dt]
        n_vec = 16 // torch.empty((), dtype=tdt).element_size()
        groups = hidden // n_vec
        g = torch.Generator(device="cuda").manual_seed(rows * 7 + hidden)
        x = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt)
        r0 = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt)
        w = torch.randn(hidden, device="cuda", generator=g).to(tdt)
        xx = torch.randn(rows, 2 * hidden, device="cuda", generator=g).to(tdt)
        out = torch.empty(rows, hidden, device="cuda", dtype=tdt)
        xa, ra = x.clone(), r0.clone()
        item = x.element_size()
        rv = [x.data_ptr(), w.data_ptr(), out.data_ptr(), rows, hidden, hidden, hidden, eps,
              1.0]
        fv = [xa.data_ptr(), ra.data_ptr(), w.data_ptr(), rows, hidden, hidden, hidden, eps,
              1.0]
        sv = [xx.data_ptr(), xx.data_ptr() + hidden * item, out.data_ptr(), rows, hidden,
              2 * hidden, 2 * hidden, hidden]
        cases = []  # (op, variant, function, grid, block, packed args)
        for op, vals, fused in (("rms_norm", rv, False), ("fused_add_rms_norm", fv, True)):
            gen = mlp.entry(op, dtype=dt)
            grid, block = mlp.rms_norm_launch(rows, hidden, dt, sms, fused)
            cases.append((op, "cur", fn[gen], grid, block, pack_args(SIG[gen], vals)))
            if groups <= mlp.ROW_GROUPS:
                row = f"{op}_row{2 if groups <= 2 * mlp.BLOCK else 4}_{dt}"
                grid, block = mlp.rms_norm_row_launch(rows, hidden, dt)
                cases.append((op, "row", fn[row], grid, block, pack_args(SIG[row], vals)))
                exp = f"{'fusedrow' if fused else 'rmsrow'}_{dt}"
                if exp in fn:
                    cases.append((op, "exp", fn[exp], (rows, 1), max(32, pow2(-(-groups // 2))),
                                  pack_args(EXP_SIG, vals)))
        gen = mlp.entry("swiglu", dt)
        grid, block = mlp.swiglu_launch(rows, hidden, dt, sms)
        cases.append(("silu_and_mul", "cur", fn[gen], grid, block, pack_args(SIG[gen], sv)))
        flat = f"swiglu_flat_{dt}"
        (fx, fy), fb = mlp.swiglu_flat_launch(rows, hidden, dt)
        cases.append(("silu_and_mul", "flat", fn[flat], (fx, fy), fb, pack_args(SIG[flat], sv)))
        capped = min(fy, max(1, mlp.SWIGLU_BLOCKS_PER_SM * sms // fx))
        if capped < fy:
            cases.append(("silu_and_mul", "flatcap", fn[flat], (fx, capped), fb,
                          pack_args(SIG[flat], sv)))
        by: dict[str, dict] = {}
        for op, var, f, grid, block, args in cases:
            def call(f=f, grid=grid, block=block, args=args):
                rt.launch(f, grid, block, args, stream)
            out.zero_()
            xa.copy_(x)
            ra.copy_(r0)
            call()
            got = torch.cat([out.flatten(), xa.flatten(), ra.flatten()])
            row = by.setdefault(op, {"op": op, "dtype": dt, "rows": rows, "hidden": hidden,
                                     "groups": groups})
            if var == "cur":
                row["_ref"] = got
            else:
                row[f"{var}_same"] = bool(torch.equal(got.view(torch.uint8),
                                                      row["_ref"].view(torch.uint8)))
            row[var] = statistics.median(gpu_times(torch, call, reps, flush))
            row[f"{var}_launch"] = [list(grid), block]
        for row in by.values():
            row.pop("_ref", None)
            args_ = (rows, hidden, dt, True)
            row["picked"] = (mlp.swiglu_entry(hidden, dt, True) if row["op"] == "silu_and_mul"
                             else mlp.rms_norm_entry(*args_, fused=row["op"] != "rms_norm"))
            res.append(row)
            line = " ".join(f"{k} {row[k]:.2f}{'' if row.get(f'{k}_same', True) else '!'}"
                            for k in ("cur", "row", "exp", "flat", "flatcap") if k in row)
            print(f"{row['op']:19s} {dt:5s} {rows:5d} x {hidden:6d}  {line}  [{row['picked']}]",
                  flush=True)
    meta = {"device": torch.cuda.get_device_name(0),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "note": "'!' after a time: that entry's bytes differ from the general entry's"}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "entries_bench.json").write_text(json.dumps({"meta": meta, "rows": res},
                                                           indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
