"""Session 13 (issue 22): the one-group RMSNorm row entries (rms_norm_row1_DT,
fused_add_rms_norm_row1_DT: a block of 2 x C threads a row, one 16-byte group a thread)
against the entries rocsample picked before them, and FlashInfer's kernels, in one process.

Variants of each (op, dtype, rows, hidden), each launched with rocsample's grid rule for it:
  v0      the module before this change (V0_SOURCE, the per-element sums), the entry the old
          rule picks (row2/row4 or the general one);
  v0gen   that module's general entry;
  gen     this module's general entry (per-group sums: rs_group_sq);
  rowK    this module's row2/row4 entry where the old rule would pick it;
  row1    this module's one-group entry (rows of at most 2 x BLOCK groups);
  fi      FlashInfer's rmsnorm / fused_add_rmsnorm (bf16 and fp16; tools/flashinfer_ref).
Times are medians of three alternating rounds of raw launches (L2 flushed before each call,
GPU time between events). "!" after a time: its bytes differ from `gen`'s on the same
operands (the compact entries must equal the general one bit for bit; v0 may differ in the
last place, its sums associated otherwise).

Usage on the GPU: python bench/experiments/mlp-row1/row1_bench.py OUT_DIR V0_SOURCE
[FI_LIB]. Not a library tool."""

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


def compile_source(src: bytes, name: str) -> bytes:
    tc = get_toolchain("nvrtc")
    hdr = {h: (ROOT / "kernels" / h).read_bytes() for h in HEADERS}
    img, log = tc.compile(src, name, hdr, tc.options("sm_90", 32))
    if img is None:
        raise SystemExit(f"{name}: compile failed\n{log}")
    return img


def old_pick(rows: int, hidden: int, dt: str, fused: bool) -> str:
    """The entry rms_norm_entry picked before the one-group entries existed."""
    keep = mlp.ROW1_ROWS
    mlp.ROW1_ROWS = -1
    try:
        return mlp.rms_norm_entry(rows, hidden, dt, True, fused=fused)
    finally:
        mlp.ROW1_ROWS = keep


def launch_of(name: str, rows: int, hidden: int, dt: str, sms: int,
              fused: bool) -> tuple[tuple[int, int], int]:
    """rocsample's grid rule for entry ``name``."""
    if "_row" in name:
        return mlp.rms_norm_row_launch(rows, hidden, dt, one="_row1" in name)
    return mlp.rms_norm_launch(rows, hidden, dt, sms, fused)


def fi_call(fi, fused: bool, xa, ra, w, out, eps: float):  # noqa: ANN001
    """A call of FlashInfer's kernel on these tensors."""
    if fused:
        return lambda: fi.fused_add_rmsnorm(xa, ra, w, eps=eps)
    return lambda: fi.rmsnorm(xa, w, out, eps=eps)


def main(out_dir: Path, v0_source: Path, fi_lib: str | None) -> None:
    import torch

    from rocsample.backends.cuda import CudaRuntime
    from rocsample.backends.runtime import pack_args
    from rocsample.bench import gpu_times

    rt = CudaRuntime(0)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    new_mod = rt.load_module(compile_source((ROOT / "kernels" / "rms_norm.hip").read_bytes(),
                                            "rms_norm.hip"))
    old_mod = rt.load_module(compile_source(v0_source.read_bytes(), "rms_norm.hip"))
    fn_new = {n: rt.get_function(new_mod, n) for n, e in mlp.ENTRIES.items()
              if e.module == "rms_norm" and e.dtype is not None}
    fn_old = {n: rt.get_function(old_mod, n) for n in fn_new if "_row1" not in n}
    fi = None
    if fi_lib:
        from rocsample.flashinfer_ref import FlashInferRef

        fi = FlashInferRef.load(fi_lib)
    flush = torch.empty(1 << 26, dtype=torch.float32, device="cuda")
    stream = torch.cuda.current_stream().cuda_stream
    eps, reps, rounds = 1e-6, 15, 3
    tdts = {"bf16": torch.bfloat16, "f32": torch.float32, "f16": torch.float16}
    shapes = [(dt, rows, hidden) for dt in ("bf16", "f32")
              for hidden in ((2048, 4096, 8192) if dt == "bf16" else (2048, 4096))
              for rows in (1, 4, 16, 64, 128, 256, 1024)]
    shapes += [("f16", rows, 4096) for rows in (1, 16, 128)]
    # run 2: the rule's edges (256 groups: bf16 2048, fp32 1024, fp16 2048; 128 groups)
    shapes += [(dt, rows, hidden) for dt, hidden in (("f32", 1024), ("f16", 2048),
                                                     ("bf16", 1024))
               for rows in (1, 16, 128, 256, 512)]
    res = []
    for dt, rows, hidden in shapes:
        tdt = tdts[dt]
        g = torch.Generator(device="cuda").manual_seed(rows * 7 + hidden)
        x = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt)
        r0 = torch.randn(rows, hidden, device="cuda", generator=g).to(tdt)
        w = torch.randn(hidden, device="cuda", generator=g).to(tdt)
        out = torch.empty(rows, hidden, device="cuda", dtype=tdt)
        xa, ra = x.clone(), r0.clone()
        for op, fused in (("rms_norm", False), ("fused_add_rms_norm", True)):
            vals = ([xa.data_ptr(), ra.data_ptr(), w.data_ptr(), rows, hidden, hidden, hidden,
                     eps, 0.0] if fused else
                    [xa.data_ptr(), w.data_ptr(), out.data_ptr(), rows, hidden, hidden, hidden,
                     eps, 0.0])
            gen = mlp.entry(op, dt)
            picked = old_pick(rows, hidden, dt, fused)

            cases = {"v0": (fn_old[picked], picked), "v0gen": (fn_old[gen], gen),
                     "gen": (fn_new[gen], gen)}
            if picked != gen:
                cases["rowK"] = (fn_new[picked], picked)
            groups = hidden // (16 // x.element_size())
            if groups <= 2 * mlp.BLOCK:
                row1 = f"{op}_row1_{dt}"
                cases["row1"] = (fn_new[row1], row1)
            calls = {}
            for var, (f, name) in cases.items():
                grid, block = launch_of(name, rows, hidden, dt, sms, fused)
                args = pack_args(SIG[name], vals)
                calls[var] = (lambda f=f, grid=grid, block=block, args=args:
                              rt.launch(f, grid, block, args, stream), [list(grid), block])
            if fi is not None and fi.supports(tdt):
                calls["fi"] = (fi_call(fi, fused, xa, ra, w, out, eps), None)
            row = {"op": op, "dtype": dt, "rows": rows, "hidden": hidden, "groups": groups,
                   "picked_before": picked, "picked_now": mlp.rms_norm_entry(
                       rows, hidden, dt, True, fused=fused)}
            ref = None
            for var, (call, launch) in calls.items():  # correctness: bytes against gen's
                out.zero_()
                xa.copy_(x)
                ra.copy_(r0)
                call()
                got = torch.cat([out.flatten(), xa.flatten(), ra.flatten()]).view(torch.uint8)
                if var == "gen":
                    ref = got
                row[f"{var}_bytes"] = got
                row[f"{var}_launch"] = launch
            for var in calls:
                got = row.pop(f"{var}_bytes")
                row[f"{var}_same"] = bool(torch.equal(got, ref))
            times: dict[str, list[float]] = {v: [] for v in calls}
            for _ in range(rounds):
                for var, (call, _launch) in calls.items():
                    xa.copy_(x)
                    ra.copy_(r0)
                    times[var] += gpu_times(torch, call, reps, flush)
            for var in calls:
                row[var] = statistics.median(times[var])
            res.append(row)
            exempt = ("v0", "v0gen", "fi")
            line = " ".join(f"{v} {row[v]:.2f}{'' if row[f'{v}_same'] or v in exempt else '!'}"
                            for v in calls)
            print(f"{op:19s} {dt:5s} {rows:5d} x {hidden:6d}  {line}  "
                  f"[{picked} -> {row['picked_now']}]", flush=True)
    meta = {"device": torch.cuda.get_device_name(0),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "note": "'!' after a time: a compact entry whose bytes differ from gen's"}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "row1_bench.json").write_text(json.dumps({"meta": meta, "rows": res}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
