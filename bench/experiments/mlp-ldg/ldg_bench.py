"""Session 15 experiment (issue 22): what keeps few-row RMSNorm calls behind FlashInfer.

Variants of the library's own ``kernels/rms_norm.hip`` (the working tree), compiled with the
experiment switches it carries while this runs:

* ``v0``: none (the library's entries as they are);
* ``w``: RS_EXP_NCW, the weight's 16-byte groups through the read-only path (``__ldg``);
* ``wx``: also rms_norm's x (not the fused add's, which it writes) through ``__ldg``;
* ``wn``: the weight through ``__ldg`` and no device check (RS_EXP_NOCHK: an upper bound
  on what an ABI flag telling the kernel "the host checked" would give);
* ``wxn``: all three.

Every call is rocsample's own launch (entry, grid and block from ``rocsample.ops.mlp``'s
recipes), timed with the L2 flushed, medians over alternating rounds in one process, against
FlashInfer's ``rmsnorm`` / ``fused_add_rmsnorm``; each variant's output bytes are compared
with ``v0``'s (``!`` after a time: they differ).
Usage on the GPU: python bench/experiments/mlp-ldg/ldg_bench.py OUT_DIR FI_LIB.
Not a library tool."""

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
VARIANTS = {"v0": (), "w": ("NCW",), "wn": ("NCW", "NOCHK")}
SIG = ["ptr", "ptr", "ptr", "i64", "i64", "i64", "i64", "f32", "f32"]
FEW = [(r, h) for h in (2048, 4096, 8192, 14336) for r in (1, 16, 128)]
MANY = [(r, h) for h in (4096, 8192, 14336) for r in (1024, 8192)]


def compile_variant(flags: tuple[str, ...]) -> bytes:
    tc = get_toolchain("nvrtc")
    hdr = {h: (ROOT / "kernels" / h).read_bytes() for h in HEADERS}
    opts = tc.options("sm_90", 32) + [f"-DRS_EXP_{f}=1" for f in flags]
    src = ROOT / "kernels" / "rms_norm.hip"
    img, log = tc.compile(src.read_bytes(), src.name, hdr, opts)
    if img is None:
        raise SystemExit(f"rms_norm.hip {flags}: compile failed\n{log}")
    return img


def main(out_dir: Path, fi_lib: str) -> None:
    import torch

    from rocsample.backends.cuda import CudaRuntime
    from rocsample.backends.runtime import pack_args
    from rocsample.bench import gpu_times
    from rocsample.flashinfer_ref import FlashInferRef

    rt = CudaRuntime(0)
    mods = {v: rt.load_module(compile_variant(f)) for v, f in VARIANTS.items()}
    fi = FlashInferRef.load(fi_lib)
    flush = torch.empty(1 << 26, dtype=torch.float32, device="cuda")
    stream = torch.cuda.current_stream().cuda_stream
    eps, rounds = 1e-6, 4
    tdt = {"bf16": torch.bfloat16, "f32": torch.float32}
    res = []
    ops = sys.argv[3].split(",") if len(sys.argv) > 3 else ["rms_norm", "fused_add"]
    for op in ops:
        for dt in ("bf16", "f32"):
            for rows, hidden in FEW + MANY:
                reps = 15 if rows <= 128 else 6
                g = torch.Generator(device="cuda").manual_seed(rows * 7 + hidden)
                x0 = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt[dt])
                r0 = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt[dt])
                w = torch.randn(hidden, device="cuda", generator=g).to(tdt[dt])
                x, res_t, out = x0.clone(), r0.clone(), torch.empty_like(x0)
                ptrs = {"x": x.data_ptr(), "weight": w.data_ptr(), "out": out.data_ptr(),
                        "residual": res_t.data_ptr()}
                if op == "rms_norm":
                    rec = mlp.rms_norm_recipe(dt, rows, hidden, ptrs,
                                              {"x": hidden, "out": hidden}, eps)
                else:
                    rec = mlp.fused_add_rms_norm_recipe(dt, rows, hidden, ptrs,
                                                        {"x": hidden, "residual": hidden}, eps)
                ln = rec.launches[0]
                args = pack_args(SIG, list(ln.args.values()))
                grid = (ln.grid[0], ln.grid[1], 1) if len(ln.grid) == 2 else ln.grid
                calls = {}
                for v, m in mods.items():
                    f = rt.get_function(m, ln.kernel)
                    calls[v] = (lambda f=f, grid=grid, block=ln.block, args=args:
                                rt.launch(f, grid, block, args, stream))
                if dt != "bf16":
                    pass  # the reference library's FlashInfer kernels: 2-byte types only
                elif op == "rms_norm":
                    calls["fi"] = lambda x=x, w=w, out=out: fi.rmsnorm(x, w, out, eps=eps)
                else:
                    calls["fi"] = (lambda x=x, r=res_t, w=w:
                                   fi.fused_add_rmsnorm(x, r, w, eps=eps))
                row = {"op": op, "dtype": dt, "rows": rows, "hidden": hidden,
                       "entry": ln.kernel, "grid": list(grid), "block": ln.block}
                ref = None
                for name, call in calls.items():
                    x.copy_(x0)
                    res_t.copy_(r0)
                    out.zero_()
                    call()
                    torch.cuda.synchronize()
                    got = torch.cat([t.reshape(-1).view(torch.uint8)
                                     for t in ((out,) if op == "rms_norm" else (x, res_t))])
                    if ref is None:
                        ref = got.clone()
                    row[f"{name}_same"] = bool(torch.equal(got, ref))
                times: dict[str, list[float]] = {n: [] for n in calls}
                for _ in range(rounds):
                    for name, call in calls.items():
                        x.copy_(x0)
                        res_t.copy_(r0)
                        times[name] += gpu_times(torch, call, reps, flush)
                for name in calls:
                    row[name] = statistics.median(times[name])
                res.append(row)
                line = " ".join(f"{n} {row[n]:.2f}{'' if row[f'{n}_same'] or n == 'fi' else '!'}"
                                for n in calls)
                print(f"{op:9s} {dt:4s} {rows:5d} x {hidden:5d} {ln.kernel:28s} {line}",
                      flush=True)
    meta = {"device": torch.cuda.get_device_name(0),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "variants": VARIANTS}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ldg_bench.json").write_text(json.dumps({"meta": meta, "rows": res}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
