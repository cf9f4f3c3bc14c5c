"""Experiment (session 7, issue 20): where with a broadcast condition and a transposed true
value, f32 and bf16 views of the bench-elementwise case, 1M-16M elements: torch.where,
rocsample.where (public API), Candle's where_u8_f32 launched raw with its info in device
memory, and where2_u8_f32 (this folder: the same walk, the layout by value) launched raw, at
blocks of 256 and 128. Same process, L2 flushed, medians of 30.
Usage on the GPU: python bench/experiments/where-byvalue/where_bench.py OUT_DIR."""

from __future__ import annotations

import json
import statistics
import sys
import time
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(ROOT))

from rocsample.ops import elementwise as ew  # noqa: E402
from rocsample.toolchains import get_toolchain  # noqa: E402

COLS = 4096


def compile_where2() -> bytes:
    tc = get_toolchain("nvrtc")
    hdr = {h: (ROOT / "kernels" / h).read_bytes() for h in ("rs_common.h", "rs_elementwise.h")}
    img, log = tc.compile((HERE / "where2.hip").read_bytes(), "where2.hip", hdr,
                          tc.options("sm_90", 32, block=256))
    if img is None:
        raise SystemExit(log)
    return img


def main(out_dir: Path) -> None:
    import torch

    import rocsample as rs
    from rocsample.backends.cuda import CudaRuntime
    from rocsample.backends.runtime import pack_args
    from rocsample.bench import gpu_times

    rt = CudaRuntime(0)
    new = rt.get_function(rt.load_module(compile_where2()), "where2_u8_f32")
    tc = get_toolchain("nvrtc")
    hdr = {h: (ROOT / "kernels" / h).read_bytes() for h in ("rs_common.h", "rs_elementwise.h")}
    img, log = tc.compile((ROOT / "kernels" / "ternary.hip").read_bytes(), "ternary.hip", hdr,
                          tc.options("sm_90", 32, block=256))
    cur = rt.get_function(rt.load_module(img), "where_u8_f32")
    stream = torch.cuda.current_stream().cuda_stream
    flush = torch.empty(1 << 26, dtype=torch.float32, device="cuda")
    rows_out = []
    for n in (1 << 20, 1 << 22, 1 << 24):
        rows = n // COLS
        g = torch.Generator(device="cuda").manual_seed(n)
        cond = torch.rand(COLS, device="cuda", generator=g) < 0.5
        ids = cond.view(torch.uint8)
        t = torch.randn(COLS, rows, device="cuda", generator=g).t()  # (rows, COLS), (1, rows)
        f = torch.randn(rows, COLS, device="cuda", generator=g)
        out = torch.empty(rows, COLS, device="cuda")
        want = torch.where(cond, t, f)
        dims = (rows, COLS)
        strides = ((0, 1), t.stride(), f.stride())
        info = torch.tensor(ew.where_info(dims, *strides).astype("int64"), device="cuda")
        res = {"numel": n}
        res["torch"] = statistics.median(gpu_times(
            torch, partial(torch.where, cond, t, f, out=out), 30, flush))
        res["rocsample"] = statistics.median(gpu_times(
            torch, partial(rs.where, ids, t, f, out=out), 30, flush))
        assert torch.equal(out, want)
        geo = ew.launch_geometry(n, per_thread=ew.UNROLL)
        cur_args = pack_args(["u64", "u64", "ptr", "ptr", "ptr", "ptr", "ptr"],
                             [n, 2, info.data_ptr(), ids.data_ptr(), t.data_ptr(),
                              f.data_ptr(), out.data_ptr()])
        for block in (256, 128):
            grid = -(-n // (block * ew.UNROLL))
            out.zero_()
            rt.launch(cur, (grid, 1), block, cur_args, stream)
            assert torch.equal(out, want)
            res[f"cur_raw_{block}"] = statistics.median(gpu_times(
                torch, partial(rt.launch, cur, (grid, 1), block, cur_args, stream), 30, flush))
            new_args = pack_args(["u64"] * 9 + ["ptr"] * 4,
                                 [n, rows, COLS, 0, 1, *t.stride(), *f.stride(), ids.data_ptr(),
                                  t.data_ptr(), f.data_ptr(), out.data_ptr()])
            out.zero_()
            rt.launch(new, (grid, 1), block, new_args, stream)
            assert torch.equal(out, want), "where2 differs from torch"
            res[f"byvalue_{block}"] = statistics.median(gpu_times(
                torch, partial(rt.launch, new, (grid, 1), block, new_args, stream), 30, flush))
        res["grid_rule"] = [geo.grid, geo.block]
        rows_out.append(res)
        print(json.dumps(res), flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "where_bench.json").write_text(json.dumps(
        {"device": torch.cuda.get_device_name(0), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
         "rows": rows_out}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
