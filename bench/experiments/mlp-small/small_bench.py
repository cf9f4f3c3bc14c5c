"""Experiment (session 7, issue 22): the compact small-call entries of .exp/small/mlp_small.hip
against the current per-type entries (compiled here with the loader's options, launched with
rocsample's grid rules) and FlashInfer, same process, L2 flushed, raw launches for all.
Usage on the GPU: python bench/experiments/mlp-small/small_bench.py OUT_DIR.  Not a library tool."""

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
SMALL_RMS = ["ptr", "ptr", "ptr", "i64", "i64", "i64", "i64", "f32", "f32"]
SMALL_SILU = ["ptr", "ptr", "i64", "i64", "i64", "i64"]


def compile_module(folder: Path, name: str) -> bytes:
    tc = get_toolchain("nvrtc")
    src = (folder / f"{name}.hip").read_bytes()
    hdr = {h: (ROOT / "kernels" / h).read_bytes() for h in HEADERS}
    img, log = tc.compile(src, f"{name}.hip", hdr, tc.options("sm_90", 32, block=512))
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
    from rocsample.bench_mlp import _flashinfer

    rt = CudaRuntime(0)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    mods = {"rms_norm": rt.load_module(compile_module(ROOT / "kernels", "rms_norm")),
            "swiglu": rt.load_module(compile_module(ROOT / "kernels", "swiglu")),
            "small": rt.load_module(compile_module(HERE, "mlp_small"))}
    fn = {}
    for dt in ("f32", "bf16"):
        for e in (f"rms_norm_{dt}", f"fused_add_rms_norm_{dt}"):
            fn[e] = rt.get_function(mods["rms_norm"], e)
        fn[f"swiglu_{dt}"] = rt.get_function(mods["swiglu"], f"swiglu_{dt}")
        for e in ("rmsrow", "fusedrow", "rmsloop", "fusedloop", "siluflat"):
            fn[f"{e}_{dt}"] = rt.get_function(mods["small"], f"{e}_{dt}")
    fi, fi_note = _flashinfer()
    flush = torch.empty(1 << 26, dtype=torch.float32, device="cuda")
    stream = torch.cuda.current_stream().cuda_stream
    eps, reps = 1e-6, 30
    res = []
    for tdt, dt in ((torch.bfloat16, "bf16"), (torch.float32, "f32")):
        n_vec = 16 // torch.empty((), dtype=tdt).element_size()
        for rows in (1, 16, 128, 1024):
            for hidden in (2048, 4096, 8192, 14336):
                g = torch.Generator(device="cuda").manual_seed(rows * 7 + hidden)
                x = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt)
                r0 = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt)
                w = torch.randn(hidden, device="cuda", generator=g).to(tdt)
                xx = torch.randn(rows, 2 * hidden, device="cuda", generator=g).to(tdt)
                out = torch.empty(rows, hidden, device="cuda", dtype=tdt)
                xa, ra = x.clone(), r0.clone()
                groups = hidden // n_vec
                row_block = max(32, pow2(-(-groups // 2)))
                loop_block = max(32, min(1024, pow2(groups)))
                flat_block = max(32, min(512, pow2(groups)))
                cases = []
                # (op, variant, function, grid, block, packed args, reset)
                gx, blk = mlp.rms_norm_launch(rows, hidden, dt, sms)
                rv = [x.data_ptr(), w.data_ptr(), out.data_ptr(), rows, hidden, hidden, hidden,
                      eps, 0.0]
                fv = [xa.data_ptr(), ra.data_ptr(), w.data_ptr(), rows, hidden, hidden, hidden,
                      eps, 0.0]
                cases.append(("rms_norm", "cur", fn[f"rms_norm_{dt}"], gx, blk,
                              pack_args(SIG[f"rms_norm_{dt}"], rv)))
                if row_block <= 1024:
                    cases.append(("rms_norm", "row", fn[f"rmsrow_{dt}"], (rows, 1), row_block,
                                  pack_args(SMALL_RMS, rv)))
                cases.append(("rms_norm", "loop", fn[f"rmsloop_{dt}"], (rows, 1), loop_block,
                              pack_args(SMALL_RMS, rv)))
                gx, blk = mlp.rms_norm_launch(rows, hidden, dt, sms, fused=True)
                cases.append(("fused_add_rms_norm", "cur", fn[f"fused_add_rms_norm_{dt}"], gx,
                              blk, pack_args(SIG[f"fused_add_rms_norm_{dt}"], fv)))
                if row_block <= 1024:
                    cases.append(("fused_add_rms_norm", "row", fn[f"fusedrow_{dt}"], (rows, 1),
                                  row_block, pack_args(SMALL_RMS, fv)))
                cases.append(("fused_add_rms_norm", "loop", fn[f"fusedloop_{dt}"], (rows, 1),
                              loop_block, pack_args(SMALL_RMS, fv)))
                item = x.element_size()
                sv = [xx.data_ptr(), xx.data_ptr() + hidden * item, out.data_ptr(), rows, hidden,
                      2 * hidden, 2 * hidden, hidden]
                gx, blk = mlp.swiglu_launch(rows, hidden, dt, sms)
                cases.append(("silu_and_mul", "cur", fn[f"swiglu_{dt}"], gx, blk,
                              pack_args(SIG[f"swiglu_{dt}"], sv)))
                cases.append(("silu_and_mul", "flat", fn[f"siluflat_{dt}"],
                              (-(-groups // flat_block), min(rows, 65535)), flat_block,
                              pack_args(SMALL_SILU, [xx.data_ptr(), out.data_ptr(), rows, hidden,
                                                     2 * hidden, hidden])))
                by = {}
                for op, var, f, grid, block, args in cases:
                    def call(f=f, grid=grid, block=block, args=args):
                        rt.launch(f, grid, block, args, stream)
                    out.zero_()
                    xa.copy_(x)
                    ra.copy_(r0)
                    call()
                    got = torch.cat([out.flatten(), xa.flatten(), ra.flatten()]).double()
                    row = by.setdefault(op, {"op": op, "dtype": dt, "rows": rows,
                                             "hidden": hidden})
                    if var == "cur":
                        row["_ref"] = got
                    else:
                        ref = row["_ref"]
                        row[f"{var}_maxdiff"] = ((got - ref).abs() /
                                                 (ref.abs() + 1e-3)).max().item()
                    row[var] = statistics.median(gpu_times(torch, call, reps, flush))
                    row[f"{var}_launch"] = [list(grid), block]
                if fi is not None and dt == "bf16":
                    fi_calls = (
                        ("silu_and_mul", lambda xx=xx, out=out:
                            fi.activation.silu_and_mul(xx, out=out)),
                        ("rms_norm", lambda x=x, w=w, out=out: fi.norm.rmsnorm(x, w, eps, out=out)),
                        ("fused_add_rms_norm", lambda xa=xa, ra=ra, w=w:
                            fi.norm.fused_add_rmsnorm(xa, ra, w, eps)))
                    for op, f in fi_calls:
                        by[op]["fi"] = statistics.median(gpu_times(torch, f, reps, flush))
                for row in by.values():
                    row.pop("_ref", None)
                    res.append(row)
                    line = " ".join(f"{k} {row[k]:.2f}" for k in ("cur", "row", "loop", "flat",
                                                                   "fi") if k in row)
                    print(f"{row['op']:20s} {dt:5s} {rows:5d} x {hidden:6d}  {line}", flush=True)
    meta = {"device": torch.cuda.get_device_name(0), "flashinfer": fi_note,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "small_bench.json").write_text(json.dumps({"meta": meta, "rows": res}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
