"""``python -m rocsample bench-elementwise``: Candle's elementwise kernels against torch and
the memory floor.

Needs torch with a GPU and a GPU backend. For unary (gelu, tanh form), affine and where, on
f32 and bf16, contiguous and strided, from 1M to 256M elements, it measures in the same run:

* the GPU time of one rocsample call through the public API (``rocsample.unary`` /
  ``affine`` / ``where`` on torch tensors, ``out=`` a contiguous tensor), from CUDA events
  around the call with a GPU sleep queued first, so Python's time is hidden and the events
  time the GPU work alone (info upload included for a strided call);
* torch's same operation into the same contiguous output (``aten.gelu.out(x, approximate="tanh",
  out=out)``, ``addcmul(add, x, mul, out=out)``, ``where(cond, t, f, out=out)``: one kernel
  each);
* the floor: the bytes the operation must move (each input's elements read once, the output
  written once) at the device-to-device copy bandwidth measured in the same run
  (``out.copy_(x)`` of 1 GiB), and at the datasheet's 4.8 TB/s for an H200.

Layouts: ``contiguous``; ``transposed`` (the input is ``x.t()`` of a (n/4096, 4096) tensor:
every read strided); ``slice`` (``x[:, 1:]`` of a (rows, 4097) tensor: contiguous rows, a
start offset); for where, ``broadcast`` (the condition a (4096,) row broadcast over rows, the
true values transposed, the false values contiguous: three layouts).

Writes ``bench_elementwise.json``, ``.md`` and ``.png`` into ``--out``. Runs as a script too
(``python rocsample/bench_elementwise.py``) against any rocsample on ``sys.path`` that has
the public elementwise API, which is how one tree is compared with another in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .bench import median_us

#: Element counts of the sweep (1M to 256M).
SIZES = (1 << 20, 1 << 22, 1 << 24, 1 << 26, 1 << 28)
DTYPES = ("float32", "bfloat16")
CASES = (("unary", "contiguous"), ("unary", "transposed"), ("unary", "slice"),
         ("affine", "contiguous"), ("affine", "transposed"),
         ("where", "contiguous"), ("where", "broadcast"))
#: The H200's datasheet memory bandwidth, bytes/s.
H200_PEAK = 4.8e12
_COLS = 4096


def copy_bandwidth(torch: Any, reps: int = 10) -> float:
    """Bytes/s of a 1 GiB device-to-device copy (read + write counted)."""
    x = torch.empty(1 << 28, dtype=torch.float32, device="cuda")
    y = torch.empty_like(x)
    y.copy_(x)
    us = median_us(torch, lambda: y.copy_(x), reps)
    return 2 * x.numel() * 4 / (us * 1e-6)


def _operands(torch: Any, op: str, layout: str, n: int, dtype: Any) -> dict[str, Any]:
    """Inputs of one case (device tensors of ``n`` logical elements) and its floor bytes."""
    g = torch.Generator(device="cuda").manual_seed(n)
    rows = n // _COLS
    item = torch.empty((), dtype=dtype).element_size()

    def randn(*shape: int) -> Any:
        return torch.randn(*shape, device="cuda", generator=g).to(dtype)

    if layout == "contiguous":
        x = randn(rows, _COLS)
    elif layout == "transposed":
        x = randn(_COLS, rows).t()  # (rows, 4096) view, strides (1, rows)
    elif layout == "slice":
        x = randn(rows, _COLS + 1)[:, 1:]
    else:
        x = None
    out = torch.empty(rows, _COLS, dtype=dtype, device="cuda")
    if op != "where":
        return {"x": x, "out": out, "bytes": 2 * n * item}
    if layout == "broadcast":
        cond = torch.rand(_COLS, device="cuda", generator=g) < 0.5
        t = randn(_COLS, rows).t()
        f = randn(rows, _COLS)
        nbytes = _COLS + 3 * n * item
    else:
        cond = torch.rand(rows, _COLS, device="cuda", generator=g) < 0.5
        t = x
        f = randn(rows, _COLS)
        nbytes = n + 3 * n * item
    return {"cond": cond, "t": t, "f": f, "out": out, "bytes": nbytes}


def _calls(torch: Any, rs: Any, op: str, a: dict[str, Any]) -> tuple[Callable[[], Any],
                                                                      Callable[[], Any]]:
    """(rocsample's call, torch's call) of one case, both writing ``a["out"]``."""
    out = a["out"]
    if op == "unary":
        x = a["x"]
        return (lambda: rs.unary("gelu", x, out=out),
                lambda: torch.ops.aten.gelu.out(x, approximate="tanh", out=out))
    if op == "affine":
        x = a["x"]
        mul = torch.tensor(1.5, dtype=x.dtype, device="cuda")
        add = torch.tensor(-0.25, dtype=x.dtype, device="cuda")
        # one torch kernel: add + x * mul (0-d operands broadcast)
        return (lambda: rs.affine(x, 1.5, -0.25, out=out),
                lambda: torch.addcmul(add, x, mul, out=out))
    cond, t, f = a["cond"], a["t"], a["f"]
    ids = cond.view(torch.uint8)  # the same bytes: Candle's u8 condition
    return (lambda: rs.where(ids, t, f, out=out),
            lambda: torch.where(cond, t, f, out=out))


def _check(torch: Any, rs: Any, op: str, a: dict[str, Any]) -> None:
    """rocsample's result against torch's (a benchmark of a wrong result is no result)."""
    ours, theirs = _calls(torch, rs, op, a)
    ours()
    got = a["out"].clone()
    theirs()
    want = a["out"]
    if got.dtype == torch.bfloat16:  # gelu's tanh in float then one rounding, as torch
        ok = torch.allclose(got.float(), want.float(), rtol=1.6e-2, atol=1.6e-2)
    else:
        ok = torch.allclose(got, want, rtol=1e-5, atol=1e-6)
    if not ok:
        raise AssertionError(f"{op}: rocsample and torch disagree "
                             f"(max |diff| {(got.float() - want.float()).abs().max().item()})")


def run(sizes: Sequence[int] = SIZES, dtypes: Sequence[str] = DTYPES,
        cases: Sequence[tuple[str, str]] = CASES, reps: int = 20, label: str = "",
        out: Path | None = None, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """The sweep; returns (and with ``out`` writes) the result."""
    import torch

    import rocsample as rs

    b = rs.backend()
    if b.name == "cpu":
        raise RuntimeError("bench-elementwise needs a GPU backend (rocsample.backend() is cpu)")
    bw = copy_bandwidth(torch)
    progress(f"{torch.cuda.get_device_name(0)}: device-to-device copy {bw / 1e12:.2f} TB/s")
    rows = []
    for dname in dtypes:
        dtype = getattr(torch, dname)
        for op, layout in cases:
            for n in sizes:
                a = _operands(torch, op, layout, n, dtype)
                _check(torch, rs, op, a)
                ours, theirs = _calls(torch, rs, op, a)
                us = median_us(torch, ours, reps)
                tus = median_us(torch, theirs, reps)
                floor_us = a["bytes"] / bw * 1e6
                row = dict(op=op, layout=layout, dtype=dname, numel=n, us=us, torch_us=tus,
                           bytes=a["bytes"], gbps=a["bytes"] / us / 1e3,
                           torch_gbps=a["bytes"] / tus / 1e3, floor_us=floor_us,
                           of_copy_bw=floor_us / us, of_peak=a["bytes"] / (us * 1e-6) / H200_PEAK,
                           vs_torch=tus / us)
                rows.append(row)
                progress(f"{op:6s} {layout:10s} {dname:8s} n={n:>10d} {us:9.1f} us "
                         f"{row['gbps']:7.0f} GB/s ({row['of_copy_bw']:.0%} of copy) torch "
                         f"{tus:9.1f} us -> x{row['vs_torch']:.2f}")
                del a
    result = {"device": torch.cuda.get_device_name(0), "backend": b.name, "label": label,
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "torch": torch.__version__, "python": platform.python_version(),
              "copy_bandwidth": bw, "peak_bandwidth": H200_PEAK,
              "rocsample": str(Path(rs.__file__).parent), "rows": rows}
    if out is not None:
        write(result, Path(out))
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['device']}, backend {result['backend']} {result.get('label', '')}, "
             f"{result['date']}; device-to-device copy {result['copy_bandwidth'] / 1e12:.2f} "
             "TB/s", "",
             "| op | layout | dtype | elements | rocsample us | GB/s | of copy BW | of 4.8 TB/s "
             "| torch us | vs torch |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['op']} | {r['layout']} | {r['dtype']} | {r['numel'] >> 20}M "
                     f"| {r['us']:.1f} | {r['gbps']:.0f} | {r['of_copy_bw']:.0%} "
                     f"| {r['of_peak']:.0%} | {r['torch_us']:.1f} | {r['vs_torch']:.2f}x |")
    return "\n".join(lines)


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = "bench_elementwise" + (f"_{result['label']}" if result.get("label") else "")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (out / f"{stem}.md").write_text(table(result) + "\n")
    with contextlib.suppress(ImportError):
        plot(result, out / f"{stem}.png")


def plot(result: dict[str, Any], path: Path) -> None:
    """GB/s against elements, one panel per (op, layout), rocsample solid, torch dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys((r["op"], r["layout"]) for r in result["rows"]))
    fig, axes = plt.subplots(1, len(cases), figsize=(3.6 * len(cases), 3.8), squeeze=False,
                             sharey=True)
    for ax, (op, layout) in zip(axes[0], cases, strict=True):
        for dname, color in (("float32", "C0"), ("bfloat16", "C1")):
            rows = sorted((r for r in result["rows"] if (r["op"], r["layout"], r["dtype"])
                           == (op, layout, dname)), key=lambda r: r["numel"])
            if not rows:
                continue
            xs = [r["numel"] for r in rows]
            ax.plot(xs, [r["gbps"] for r in rows], "-o", color=color, label=f"ours {dname}")
            ax.plot(xs, [r["torch_gbps"] for r in rows], "--x", color=color,
                    label=f"torch {dname}")
        ax.axhline(result["copy_bandwidth"] / 1e9, color="k", linewidth=1,
                   label="copy bandwidth")
        ax.set_xscale("log", base=2)
        ax.set_title(f"{op}, {layout}", fontsize=9)
        ax.set_xlabel("elements")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("GB/s (bytes the op must move / GPU time)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Candle's elementwise kernels, rocsample ({result['backend']}) vs torch, "
                 f"{result['device']}, {result['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench/results/latest")
    p.add_argument("--label", default="", help="names the files (e.g. old, new)")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--size", type=int, action="append", help="elements (repeatable)")
    args = p.parse_args(argv)
    result = run(sizes=args.size or SIZES, reps=args.reps, label=args.label,
                 out=Path(args.out))
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
