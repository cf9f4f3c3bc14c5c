"""Session 14 (issue 22): RMSNorm rows of more than four 16-byte groups a thread (over 2048
groups: fp32 hidden > 8192, bf16 > 16384), which the general entries take in two passes
(fp32 8192 x 14336 rms_norm at 0.77x the speed of a copy of its bytes, session 13), and the
many-row calls of four groups a thread, against ways of holding the row in registers.

Variants of each (op, dtype, rows, hidden), in one process, raw launches:
  gen     the general entry (rms_norm_DT / fused_add_rms_norm_DT), rocsample's grid for it;
  cur     the entry rocsample's rule picks now, when it is not gen;
  row8    kernels/rms_norm.hip's new K = 8 row entry (a block a row, one block an SM);
  row8d   ... with the weight loaded after the sum, two blocks an SM (row8_variants.hip);
  row8s   rms_norm: eight groups a thread, the weight held and the next row loaded while
          this one is reduced (a grid of one block an SM);
  row4s   the same at four groups a thread, two blocks an SM;
  row4b2  the row4 entry bounded to two blocks an SM;
  copy    torch's copy of the same bytes (x -> out; the fused add: twice that), the floor.
Times are medians of three alternating rounds of 15 calls (L2 flushed before each, GPU time
between events). "!" after a time: bytes differ from gen's (every variant must equal it).

Usage on the GPU: python bench/experiments/mlp-row8/row8_bench.py OUT_DIR. Not a library
tool."""

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
ARGS = ["ptr", "ptr", "ptr", "i64", "i64", "i64", "i64", "f32", "f32"]


def compile_file(path: Path, extra: dict[str, bytes]) -> bytes:
    tc = get_toolchain("nvrtc")
    hdr = {h: (ROOT / "kernels" / h).read_bytes() for h in HEADERS} | extra
    img, log = tc.compile(path.read_bytes(), path.name, hdr, tc.options("sm_90", 32))
    if img is None:
        raise SystemExit(f"{path.name}: compile failed\n{log}")
    return img


def main(out_dir: Path) -> None:
    import torch

    from rocsample.backends.cuda import CudaRuntime
    from rocsample.backends.runtime import pack_args
    from rocsample.bench import gpu_times

    rt = CudaRuntime(0)
    stream = torch.cuda.current_stream().cuda_stream
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    rms_src = (ROOT / "kernels" / "rms_norm.hip").read_bytes()
    mod = rt.load_module(compile_file(HERE / "row8_variants.hip", {"rms_norm.hip": rms_src}))
    fn: dict[str, object] = {}

    def f(name: str):  # noqa: ANN202
        if name not in fn:
            fn[name] = rt.get_function(mod, name)
        return fn[name]

    def launcher(fu, grid, block, args):  # noqa: ANN001, ANN202
        return lambda: rt.launch(fu, grid, block, args, stream)

    def copier(dst, src):  # noqa: ANN001, ANN202
        return lambda: dst.copy_(src)

    flush = torch.empty(1 << 26, dtype=torch.float32, device="cuda")
    eps, reps, rounds = 1e-6, 15, 3
    tdts = {"bf16": torch.bfloat16, "f32": torch.float32}
    shapes = [(dt, rows, hidden)
              for dt, hs in (("f32", (8200, 10240, 14336, 16384)),
                             ("bf16", (14336, 16384, 20480, 32768)))
              for hidden in hs for rows in (1, 16, 128, 1024, 8192)]
    res = []
    for dt, rows, hidden in shapes:
        tdt = tdts[dt]
        n = 16 // torch.tensor([], dtype=tdt).element_size()
        groups = hidden // n
        C = mlp.norm_threads(hidden, dt)
        g = torch.Generator(device="cuda").manual_seed(rows * 7 + hidden)
        x = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt)
        r0 = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt)
        w = torch.randn(hidden, device="cuda", generator=g).to(tdt)
        out = torch.empty(rows, hidden, device="cuda", dtype=tdt)
        xa, ra = x.clone(), r0.clone()
        src2 = torch.empty(2 * rows * hidden, device="cuda", dtype=tdt)
        dst2 = torch.empty_like(src2)
        for op, fused in (("rms_norm", False), ("fused_add_rms_norm", True)):
            vals = ([xa.data_ptr(), ra.data_ptr(), w.data_ptr(), rows, hidden, hidden, hidden,
                     eps, 0.0] if fused else
                    [xa.data_ptr(), w.data_ptr(), out.data_ptr(), rows, hidden, hidden, hidden,
                     eps, 0.0])
            args = pack_args(ARGS, vals)
            row_grid = ((max(1, min(rows, mlp.MAX_GRID)), 1), C)
            gen = mlp.entry(op, dt)
            cur = mlp.rms_norm_entry(rows, hidden, dt, True, fused=fused)
            cases: dict[str, tuple[str, tuple]] = {
                "gen": (gen, mlp.rms_norm_launch(rows, hidden, dt, sms, fused))}
            if cur != gen:
                cases["cur"] = (cur, mlp.rms_norm_row_launch(rows, hidden, dt))
            if groups <= 8 * C:
                cases["row8"] = (f"{op}_row8_{dt}", row_grid)
                cases["row8d"] = (f"exp_{'f' if fused else ''}row8d_{dt}", row_grid)
                if not fused:
                    cases["row8s"] = (f"exp_row8s_{dt}", ((min(rows, sms), 1), C))
            if groups <= 4 * C:
                cases["row4b2"] = (f"exp_{'f' if fused else ''}row4b2_{dt}", row_grid)
                if not fused:
                    cases["row4s"] = (f"exp_row4s_{dt}", ((min(rows, 2 * sms), 1), C))
            calls = {var: launcher(f(name), grid, block, args)
                     for var, (name, (grid, block)) in cases.items()}
            calls["copy"] = copier(dst2, src2) if fused else copier(out, xa)
            row = {"op": op, "dtype": dt, "rows": rows, "hidden": hidden, "groups": groups,
                   "C": C, "cur": cur,
                   "launch": {v: [list(c[1][0]), c[1][1], c[0]] for v, c in cases.items()}}
            ref = None
            for var in cases:  # correctness: bytes against gen's
                out.zero_()
                xa.copy_(x)
                ra.copy_(r0)
                calls[var]()
                got = torch.cat([out.flatten(), xa.flatten(), ra.flatten()]).view(torch.uint8)
                if var == "gen":
                    ref = got
                row[f"{var}_same"] = bool(torch.equal(got, ref))
            times: dict[str, list[float]] = {v: [] for v in calls}
            for _ in range(rounds):
                for var, call in calls.items():
                    xa.copy_(x)
                    ra.copy_(r0)
                    times[var] += gpu_times(torch, call, reps, flush)
            for var in calls:
                row[var] = statistics.median(times[var])
            res.append(row)
            line = " ".join(f"{v} {row[v]:.2f}{'' if row.get(f'{v}_same', True) else '!'}"
                            for v in calls)
            print(f"{op:19s} {dt:5s} {rows:5d} x {hidden:6d}  {line}  [{cur}]", flush=True)
    meta = {"device": torch.cuda.get_device_name(0),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "note": "'!' after a time: bytes differ from gen's"}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "row8_bench.json").write_text(json.dumps({"meta": meta, "rows": res}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
