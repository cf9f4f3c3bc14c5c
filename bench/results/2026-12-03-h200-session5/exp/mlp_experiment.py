"""Experiment: MLP kernel variants (kernel sources from a folder, -D options) timed side by
side with the current kernels and FlashInfer, same run, L2 flushed. Not a library tool.

Usage on the GPU: python .exp/mlp_experiment.py OUT_DIR [--ncu]
Locally: python .exp/mlp_experiment.py --regs (registers and spills of every variant, sm_90)
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rocsample.ops import mlp  # noqa: E402
from rocsample.toolchains import get_toolchain  # noqa: E402

HEADERS = ("rs_common.h", "rs_elementwise.h", "rs_mlp.h")
E = ROOT / ".exp"
# name -> (kernel folder, extra options, block, per-dtype compile, rms grid: blocks an SM or 0)
Q = ("-DRS_RMS_FUSED_K4=0", "-DRS_RMS_RSQRT=1")
VARIANTS = {
    "cur": (ROOT / "kernels", (), 512, False, 0),
    "a": (E / "v4", Q, 0, "entry", {"rms": 2, "fused": 2, "silu": 0}),
    "b": (E / "v4", Q, 0, "entry", {"rms": 2, "fused": 0, "silu": 4}),
    "c": (E / "v4", Q, 0, "entry", {"rms": 2, "fused": 4, "silu": 8}),
    "d": (E / "v4", (*Q, "-DRS_SWIGLU_UNROLL=1"), 0, "entry", {"rms": 4, "fused": 8, "silu": 8}),
    "e": (E / "v4", (*Q, "-DRS_SWIGLU_UNROLL=1"), 0, "entry", {"rms": 2, "fused": 2, "silu": 0}),
}
if os.environ.get("EXP_VARIANTS"):
    VARIANTS = {k: VARIANTS[k] for k in os.environ["EXP_VARIANTS"].split(",")}
SIG = {e.name: [t for _, t in e.signature] for e in mlp.ENTRIES.values()}


def compile_variant(name: str, module: str, arch: str = "sm_90",
                    dt: int | None = None) -> tuple[bytes, str]:
    folder, extra, block, per_dt, _ = VARIANTS[name]
    tc = get_toolchain("nvrtc")
    opts = [*tc.options(arch, 32, block=abs(block) or 512), *extra, "--ptxas-options=-v"]
    if per_dt is True and dt is not None:
        opts.append(f"-DRS_EXP_DT={dt}")
    src = (folder / f"{module}.hip").read_bytes()
    hdr = {h: (folder / h).read_bytes() for h in HEADERS}
    img, log = tc.compile(src, f"{module}.hip", hdr, opts)
    if img is None:
        raise SystemExit(f"{name}/{module}: compile failed\n{log}")
    return img, log


def regs() -> None:
    for name in VARIANTS:
        for module in ("rms_norm", "swiglu"):
            _, log = compile_variant(name, module, dt=2)
            pat = r"Compiling entry function '(\w+)'(.*?)(?=Compiling entry|\Z)"
            for fn, rest in re.findall(pat,
                                       log, re.S):
                r = re.search(r"Used (\d+) registers", rest)
                sp = re.search(r"(\d+) bytes spill stores", rest)
                print(f"{name:8s} {fn:28s} regs {r.group(1) if r else '?':>3s} "
                      f"spill {sp.group(1) if sp else '?'}")


# ----------------------------------------------------------------------------- GPU part
def pow2(u: int, cap: int) -> int:
    c = 1
    while c < cap and c < u:
        c <<= 1
    return c


def grid_rms(rows: int, hidden: int, item: int, name: str, sms: int, op: str = "rms"):
    _, _, block, _, per_sm = VARIANTS[name]
    if isinstance(per_sm, dict):
        per_sm = per_sm[op]
    groups = hidden // (16 // item)
    c = max(8, pow2(-(-groups // 2), abs(block) or 512))
    if block < 0:  # small calls: a block of just the rows there are
        block = max(32, min(-block, pow2(c * rows, -block)))
    elif block == 0:  # few rows: a block a row
        block = max(32, c) if rows <= 2 * sms else 512
    tiles = -(-rows // (block // c))
    return ((max(1, min(tiles, per_sm * sms)) if per_sm else tiles), 1), block


def grid_swiglu(rows: int, d: int, item: int, name: str, sms: int):
    block = VARIANTS[name][2]
    units = d // (16 // item)
    c = pow2(-(-units // 2), abs(block) or 512)
    if block < 0:
        block = max(32, min(-block, pow2(c * rows, -block)))
    elif block == 0:
        block = max(32, c) if rows <= 2 * sms else 512
    tiles = -(-rows // (block // c))
    one = max(1, -(-units // c))
    x = one if tiles * one < 4 * sms else max(1, -(-units // (c * 2)))
    cap = VARIANTS[name][4]
    cap = cap["silu"] if isinstance(cap, dict) else 0
    y = min(tiles, 65535)
    if cap:
        y = min(y, max(1, cap * sms // x))
    return (x, max(1, y)), block


def main(out_dir: Path, ncu: bool) -> None:
    import torch

    from rocsample.backends.cuda import CudaRuntime
    from rocsample.backends.runtime import pack_args
    from rocsample.bench import gpu_times
    from rocsample.bench_mlp import _flashinfer

    rt = CudaRuntime(0)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    funcs = {}
    for name, (_, _, _, per_dt, _) in VARIANTS.items():
        for dt in (0, 2):
            for module, entries in (("rms_norm", ("rms_norm_kernel", "fused_add_rms_norm_kernel")),
                                    ("swiglu", ("swiglu_kernel",))):
                img, _ = compile_variant(name, module, dt=dt)
                m = rt.load_module(img)
                for e in entries:
                    if per_dt == "entry":
                        sfx = {0: "f32", 2: "bf16"}[dt]
                        typed = e.replace("_kernel", "") + "_" + sfx
                        funcs[(name, e, dt)] = rt.get_function(m, typed)
                    else:
                        funcs[(name, e, dt)] = rt.get_function(m, e)
    fi, fi_note = _flashinfer()
    dev = torch.cuda.get_device_name(0)
    flush = torch.empty(1 << 26, dtype=torch.float32, device="cuda")
    stream = torch.cuda.current_stream().cuda_stream
    rows_set = (1, 16, 128, 1024, 8192)
    hid_set = (2048, 4096, 8192, 14336)
    dts = ((torch.bfloat16, "bf16"), (torch.float32, "f32"))
    if ncu:
        rows_set, hid_set, dts = (1, 8192), (2048, 14336), dts[:1]
    reps = 1 if ncu else 25
    res = []
    eps = 1e-6
    for tdt, dt in dts:
        code = mlp.DTYPE_CODES[dt]
        for rows in rows_set:
            for hidden in hid_set:
                g = torch.Generator(device="cuda").manual_seed(rows * 7 + hidden)
                x = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt)
                r0 = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt)
                w = torch.randn(hidden, device="cuda", generator=g).to(tdt)
                xx = torch.randn(rows, 2 * hidden, device="cuda", generator=g).to(tdt)
                out = torch.empty(rows, hidden, device="cuda", dtype=tdt)
                item = x.element_size()
                for op in ("rms_norm", "fused_add_rms_norm", "silu_and_mul"):
                    nbytes = {"silu_and_mul": 3 * rows * hidden,
                              "rms_norm": (2 * rows + 1) * hidden,
                              "fused_add_rms_norm": (4 * rows + 1) * hidden}[op] * item
                    row = {"op": op, "dtype": dt, "rows": rows, "hidden": hidden, "bytes": nbytes}
                    ref = None
                    for name in VARIANTS:
                        kern = {"silu_and_mul": "swiglu_kernel", "rms_norm": "rms_norm_kernel",
                                "fused_add_rms_norm": "fused_add_rms_norm_kernel"}[op]
                        f = funcs[(name, kern, code)]
                        block = VARIANTS[name][2]
                        entry = VARIANTS[name][3] == "entry"
                        xa, ra = x.clone(), r0.clone()
                        if op == "silu_and_mul":
                            gx, block = grid_swiglu(rows, hidden, item, name, sms)
                            vals = [xx.data_ptr(), xx.data_ptr() + hidden * item, out.data_ptr(),
                                    rows, hidden, 2 * hidden, 2 * hidden, hidden, code]
                        elif op == "rms_norm":
                            gx, block = grid_rms(rows, hidden, item, name, sms) if name != "cur" \
                                else (mlp.rms_norm_grid(rows, hidden, dt), 512)
                            vals = [x.data_ptr(), w.data_ptr(), out.data_ptr(), rows, hidden,
                                    hidden, hidden, eps, 0.0, code]
                        else:
                            gx, block = grid_rms(rows, hidden, item, name, sms, "fused") \
                                if name != "cur" else (mlp.rms_norm_grid(rows, hidden, dt), 512)
                            vals = [xa.data_ptr(), ra.data_ptr(), w.data_ptr(), rows, hidden,
                                    hidden, hidden, eps, 0.0, code]
                        if name == "cur" and op == "silu_and_mul":
                            gx = mlp.swiglu_grid(rows, hidden, dt, sms)
                        if entry:
                            args = pack_args(SIG[kern][:-1], vals[:-1])
                        else:
                            args = pack_args(SIG[kern], vals)
                        row[f"{name}_block"] = block

                        def call(f=f, gx=gx, args=args, block=block):
                            rt.launch(f, gx, block, args, stream)
                        if not ncu:
                            out.zero_()
                            xa.copy_(x)
                            ra.copy_(r0)
                            call()
                            got = torch.cat([out, xa, ra]).double()
                            if ref is None:
                                ref = got
                            else:
                                err = ((got - ref).abs() / (ref.abs() + 1e-30)).max().item()
                                row[f"{name}_err"] = err
                        ts = gpu_times(torch, call, reps, flush)
                        row[name] = statistics.median(ts)
                        row[f"{name}_grid"] = list(gx)
                    if fi is not None and dt == "bf16":
                        xa, ra = x.clone(), r0.clone()
                        # called in this iteration only: the loop variables are current
                        fn = {"silu_and_mul": lambda: fi.activation.silu_and_mul(xx, out=out),  # noqa: B023
                              "rms_norm": lambda: fi.norm.rmsnorm(x, w, eps, out=out),  # noqa: B023
                              "fused_add_rms_norm":
                                  lambda: fi.norm.fused_add_rmsnorm(xa, ra, w, eps)}[op]  # noqa: B023
                        row["fi"] = statistics.median(gpu_times(torch, fn, reps, flush))
                    res.append(row)
                    if not ncu:
                        print(json.dumps(row), flush=True)
    if ncu:
        return
    meta = {"device": dev, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "flashinfer": fi_note,
            "variants": {k: [str(v[0].relative_to(ROOT)), list(v[1]), v[2], v[3], v[4]]
                         for k, v in VARIANTS.items()}}
    (out_dir / "mlp_experiment.json").write_text(json.dumps({"meta": meta, "rows": res},
                                                            indent=1))


if __name__ == "__main__":
    if "--regs" in sys.argv:
        regs()
    else:
        main(Path(sys.argv[1]), "--ncu" in sys.argv)
