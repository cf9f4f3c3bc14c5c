"""Session 13 experiment (issue 22): row1_variants.hip's rms_norm variants against the
library's rms_norm_row1_bf16 / rms_norm_row2_bf16 and FlashInfer's rmsnorm, bf16, few rows,
in one process (medians of three alternating rounds of raw launches, L2 flushed before each
call). "!" after a time: its bytes differ from rms_norm_row1_bf16's.
Usage on the GPU: python bench/experiments/mlp-row1/variants_bench.py OUT_DIR FI_LIB.
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
VARIANTS = (0, 1, 2, 4, 8, 7, 15, 16, 32, 48, 50)
SIG = ["ptr", "ptr", "ptr", "i64", "i64", "i64", "i64", "f32", "f32"]


def compile_file(path: Path) -> bytes:
    tc = get_toolchain("nvrtc")
    hdr = {h: (ROOT / "kernels" / h).read_bytes() for h in HEADERS}
    img, log = tc.compile(path.read_bytes(), path.name, hdr, tc.options("sm_90", 32))
    if img is None:
        raise SystemExit(f"{path.name}: compile failed\n{log}")
    return img


def main(out_dir: Path, fi_lib: str) -> None:
    import torch

    from rocsample.backends.cuda import CudaRuntime
    from rocsample.backends.runtime import pack_args
    from rocsample.bench import gpu_times
    from rocsample.flashinfer_ref import FlashInferRef

    rt = CudaRuntime(0)
    lib = rt.load_module(compile_file(ROOT / "kernels" / "rms_norm.hip"))
    exp = rt.load_module(compile_file(HERE / "row1_variants.hip"))
    fns = {"row1": rt.get_function(lib, "rms_norm_row1_bf16"),
           "row2": rt.get_function(lib, "rms_norm_row2_bf16")}
    fns.update({f"v{v}": rt.get_function(exp, f"exp_row1_v{v}") for v in VARIANTS})
    fi = FlashInferRef.load(fi_lib)
    flush = torch.empty(1 << 26, dtype=torch.float32, device="cuda")
    stream = torch.cuda.current_stream().cuda_stream
    eps, reps, rounds = 1e-6, 15, 3
    res = []
    for hidden in (2048, 4096, 8192):
        for rows in (1, 16, 128):
            g = torch.Generator(device="cuda").manual_seed(rows + hidden)
            x = torch.randn(rows, hidden, device="cuda", generator=g).to(torch.bfloat16)
            w = torch.randn(hidden, device="cuda", generator=g).to(torch.bfloat16)
            out = torch.empty_like(x)
            args = pack_args(SIG, [x.data_ptr(), w.data_ptr(), out.data_ptr(), rows, hidden,
                                   hidden, hidden, eps, 0.0])
            calls = {}
            for name, f in fns.items():
                grid, block = mlp.rms_norm_row_launch(rows, hidden, "bf16",
                                                      one=name != "row2")
                calls[name] = (lambda f=f, grid=grid, block=block, args=args:
                               rt.launch(f, grid, block, args, stream))
            calls["fi"] = lambda x=x, w=w, out=out: fi.rmsnorm(x, w, out, eps=eps)
            row = {"rows": rows, "hidden": hidden}
            ref = None
            for name, call in calls.items():
                out.zero_()
                call()
                torch.cuda.synchronize()
                got = out.view(torch.int16).clone()
                if ref is None:
                    ref = got
                row[f"{name}_same"] = bool(torch.equal(got, ref))
            times: dict[str, list[float]] = {n: [] for n in calls}
            for _ in range(rounds):
                for name, call in calls.items():
                    times[name] += gpu_times(torch, call, reps, flush)
            for name in calls:
                row[name] = statistics.median(times[name])
            res.append(row)
            line = " ".join(f"{n} {row[n]:.2f}{'' if row[f'{n}_same'] or n == 'fi' else '!'}"
                            for n in calls)
            print(f"bf16 {rows:4d} x {hidden:5d}  {line}", flush=True)
    # NaN rows: a NaN in x makes its row's outputs NaN; V & 32 must keep the library's bits
    x = torch.randn(4, 2048, device="cuda").to(torch.bfloat16)
    x[0, 5] = float("nan")
    x[2, 7] = -float("nan")
    w = torch.randn(2048, device="cuda").to(torch.bfloat16)
    out = torch.empty_like(x)
    args = pack_args(SIG, [x.data_ptr(), w.data_ptr(), out.data_ptr(), 4, 2048, 2048, 2048,
                           eps, 0.0])
    nan_same = {}
    ref = None
    for name, f in fns.items():
        grid, block = mlp.rms_norm_row_launch(4, 2048, "bf16", one=name != "row2")
        out.zero_()
        rt.launch(f, grid, block, args, stream)
        torch.cuda.synchronize()
        got = out.view(torch.int16).clone()
        ref = got if ref is None else ref
        nan_same[name] = bool(torch.equal(got, ref))
    print("NaN rows, bytes equal to row1's:", nan_same, flush=True)
    meta = {"device": torch.cuda.get_device_name(0), "nan_rows_same": nan_same,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "variants_bench.json").write_text(json.dumps({"meta": meta, "rows": res},
                                                            indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
