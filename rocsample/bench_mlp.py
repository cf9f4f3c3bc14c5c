"""``python -m rocsample bench-mlp``: the MLP kernels (RMSNorm, fused-add RMSNorm,
silu_and_mul) against torch eager, FlashInfer and the memory floor.

Needs torch with a GPU and a GPU backend; FlashInfer's kernels are measured in the same run
when ``import flashinfer`` works (else the note says why and its columns are empty). For
rows in {1, 16, 128, 1024, 8192} x hidden in {2048, 4096, 8192, 14336}, float32 and
bfloat16, it measures the GPU time (CUDA events around one call, a GPU sleep queued first so
that Python's time is hidden, L2 flushed before each call unless ``--warm``) of:

* rocsample through the public API on torch tensors (``rms_norm(x, w, out=out)``,
  ``fused_add_rms_norm(x, residual, w)``, ``silu_and_mul(x, out=out)``);
* torch eager: ``x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w``, the same
  after ``residual.add_(x)``, and ``F.silu(x[..., :d]) * x[..., d:]`` (several kernels each);
* FlashInfer: ``flashinfer.norm.rmsnorm``, ``fused_add_rmsnorm``,
  ``flashinfer.activation.silu_and_mul`` (a dtype it does not take is left empty);

and reports microseconds, achieved GB/s (the bytes the operation must move: each input read
once, each output written once, the weight once, over the time) and the fraction of the
device-to-device copy bandwidth measured in the same run. Since that bandwidth is a 1 GiB
copy's, a call of a few megabytes cannot reach it (launch, the first loads' latency, the
tail): each shape is also measured against torch's copy of the same bytes (half of them
read, half written) timed the same way, whose ratio ``copy us / rocsample us`` says how near
the kernel is to the floor at that size. Before timing a shape, rocsample's
result is checked against torch in float32 (a benchmark of a wrong result is no result).

A cell's implementations are timed in ``--rounds`` rounds of ``--reps`` calls each, the
order of the implementations turned by one every round, so that a drift of the machine
(clocks, another tenant) falls on all of them alike. The times are the medians over every
round; ``vs FI`` is FlashInfer's time over rocsample's with the smallest and largest of the
per-round ratios beside it. With R rounds, all R per-round ratios fall on one side of their
median with probability 2 / 2^R (0.8 % at 8), so a cell whose smallest ratio is above 1 is
faster than FlashInfer, one whose largest is below 1 slower, and any other a tie at that
confidence (:func:`verdict`; the table ends with their counts).

Writes ``bench_mlp.json``, ``.md`` and ``.png`` into ``--out`` (and, with FlashInfer measured,
``bench_mlp_vs_flashinfer.png``: its ratios with their per-round ranges).
"""

from __future__ import annotations

import contextlib
import json
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .bench import median_us, ratio_range, timed_rounds
from .bench_elementwise import copy_bandwidth

ROWS = (1, 16, 128, 1024, 8192)
HIDDEN = (2048, 4096, 8192, 14336)
DTYPES = ("bfloat16", "float32")
OPS = ("rms_norm", "fused_add_rms_norm", "silu_and_mul")
EPS = 1e-6


def _copy_us(torch: Any, nbytes: int, dtype: Any, reps: int, flush: Any) -> float:
    """GPU time of torch's device-to-device copy moving ``nbytes`` (half read, half written)
    in ``dtype``, timed as the operations are: the floor for that many bytes at that size."""
    n = max(1, nbytes // 2 // torch.empty((), dtype=dtype).element_size())
    src = torch.empty(n, dtype=dtype, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    return median_us(torch, lambda: dst.copy_(src), reps, flush)


#: Where ``make flashinfer-ref`` builds FlashInfer's kernels behind a C ABI
#: (:mod:`rocsample.flashinfer_ref`), used when the ``flashinfer`` package does not import:
#: the checkout's ``.fi/``, whatever the working directory (a path relative to it would load
#: whatever library lies there, in a directory others may write).
FI_REF = Path(__file__).resolve().parent.parent / ".fi" / "libfi_ref.so"


def _flashinfer(ref: Path | None = FI_REF) -> tuple[Any, str]:
    """FlashInfer's package, else its kernels from ``ref`` in the package's call shapes."""
    try:
        import flashinfer
        import flashinfer.activation  # noqa: F401
        import flashinfer.norm  # noqa: F401
    except Exception as exc:  # not installed, or built for another torch/CUDA
        why = f"{type(exc).__name__}: {exc}"
        if ref is None:
            return None, f"flashinfer not measured: {why}"
        from types import SimpleNamespace

        from .flashinfer_ref import FlashInferRef

        try:
            lib = FlashInferRef.load(ref)
        except Exception as exc2:
            return None, f"flashinfer not measured: {why}; {type(exc2).__name__}: {exc2}"

        def half_only(x: Any) -> None:
            if not lib.supports(x.dtype):
                raise TypeError(f"FlashInfer serves float16 and bfloat16, not {x.dtype}")

        def silu(x: Any, out: Any) -> None:
            half_only(x)
            lib.silu_and_mul(x, out)

        def rmsnorm(x: Any, w: Any, eps: float, out: Any) -> None:
            half_only(x)
            lib.rmsnorm(x, w, out, eps=eps)

        def fused(x: Any, res: Any, w: Any, eps: float) -> None:
            half_only(x)
            lib.fused_add_rmsnorm(x, res, w, eps=eps)

        fi = SimpleNamespace(activation=SimpleNamespace(silu_and_mul=silu),
                             norm=SimpleNamespace(rmsnorm=rmsnorm, fused_add_rmsnorm=fused))
        return fi, (f"flashinfer kernels from {ref} (tools/flashinfer_ref: FlashInfer's "
                    f"norm.cuh/activation.cuh, its launch rules; the package: {why})")
    return flashinfer, f"flashinfer {getattr(flashinfer, '__version__', '?')}"


def _case(torch: Any, op: str, rows: int, hidden: int, dtype: Any) -> dict[str, Any]:
    g = torch.Generator(device="cuda").manual_seed(rows * 100003 + hidden)
    item = torch.empty((), dtype=dtype).element_size()

    def randn(*shape: int) -> Any:
        return torch.randn(*shape, device="cuda", generator=g).to(dtype)

    if op == "silu_and_mul":
        return {"x": randn(rows, 2 * hidden), "out": torch.empty(rows, hidden, dtype=dtype,
                                                                  device="cuda"),
                "bytes": 3 * rows * hidden * item}
    a = {"x": randn(rows, hidden), "w": randn(hidden), "out": torch.empty(rows, hidden,
                                                                         dtype=dtype,
                                                                         device="cuda")}
    if op == "fused_add_rms_norm":
        a["res"] = randn(rows, hidden)
        a["bytes"] = (4 * rows + 1) * hidden * item
    else:
        a["bytes"] = (2 * rows + 1) * hidden * item
    return a


def _calls(torch: Any, rs: Any, fi: Any, op: str, a: dict[str, Any]) -> dict[str, Any]:
    """name -> a call of one implementation of ``op`` on ``a`` (None: not available)."""
    import torch.nn.functional as F  # noqa: N812

    x = a["x"]
    if op == "silu_and_mul":
        d = x.shape[-1] // 2
        out = a["out"]
        calls = {"rocsample": lambda: rs.silu_and_mul(x, out=out),
                 "torch": lambda: F.silu(x[..., :d]) * x[..., d:]}
        if fi is not None:
            calls["flashinfer"] = lambda: fi.activation.silu_and_mul(x, out=out)
        return calls
    w = a["w"]

    def eager(v: Any) -> Any:
        return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + EPS) * w

    if op == "rms_norm":
        out = a["out"]
        calls = {"rocsample": lambda: rs.rms_norm(x, w, eps=EPS, out=out),
                 "torch": lambda: eager(x)}
        if fi is not None:
            calls["flashinfer"] = lambda: fi.norm.rmsnorm(x, w, EPS, out=out)
        return calls
    res = a["res"]

    def torch_fused() -> None:
        res.add_(x)
        x.copy_(eager(res))

    calls = {"rocsample": lambda: rs.fused_add_rms_norm(x, res, w, eps=EPS),
             "torch": torch_fused}
    if fi is not None:
        calls["flashinfer"] = lambda: fi.norm.fused_add_rmsnorm(x, res, w, EPS)
    return calls


def _check(torch: Any, rs: Any, op: str, a: dict[str, Any]) -> None:
    """rocsample's result against torch in float32 on copies of the inputs."""
    x = a["x"].clone()
    tol = 1e-5 if x.dtype == torch.float32 else 1.6e-2
    if op == "silu_and_mul":
        d = x.shape[-1] // 2
        got = torch.from_dlpack(rs.silu_and_mul(x)).float()
        want = torch.nn.functional.silu(x[..., :d].float()) * x[..., d:].float()
    else:
        w = a["w"]
        if op == "fused_add_rms_norm":
            res = a["res"].clone()
            rs.fused_add_rms_norm(x, res, w, eps=EPS)
            v = (a["x"].float() + a["res"].float()).to(x.dtype).float()
            got = x.float()
        else:
            got = torch.from_dlpack(rs.rms_norm(x, w, eps=EPS)).float()
            v = a["x"].float()
        want = v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + EPS) * w.float()
    torch.cuda.synchronize()
    if not torch.allclose(got, want, rtol=tol, atol=tol):
        raise AssertionError(f"{op} {tuple(a['x'].shape)} {x.dtype}: rocsample and torch "
                             f"disagree (max |diff| {(got - want).abs().max().item()})")


def verdict(lo: float, hi: float) -> str:
    """``faster``, ``slower`` or ``tie`` from the smallest and largest per-round ratio of
    FlashInfer's time over rocsample's (see the module's note).

    >>> verdict(1.01, 1.05), verdict(0.97, 0.99), verdict(0.99, 1.02)
    ('faster', 'slower', 'tie')
    """
    return "faster" if lo > 1 else "slower" if hi < 1 else "tie"


def run(rows: Sequence[int] = ROWS, hidden: Sequence[int] = HIDDEN,
        dtypes: Sequence[str] = DTYPES, ops: Sequence[str] = OPS, reps: int = 30,
        warm: bool = False, label: str = "", out: Path | None = None,
        progress: Callable[[str], None] = print, rounds: int = 4) -> dict[str, Any]:
    """The sweep; returns (and with ``out`` writes) the result. Each cell's implementations
    are timed in ``rounds`` rounds of ``reps`` calls (see the module's note)."""
    if rounds < 1 or reps < 1:
        raise ValueError(f"rounds and reps must be >= 1, got rounds={rounds}, reps={reps}")
    import torch

    import rocsample as rs

    b = rs.backend()
    if b.name == "cpu":
        raise RuntimeError("bench-mlp needs a GPU backend (rocsample.backend() is cpu)")
    fi, fi_note = _flashinfer()
    bw = copy_bandwidth(torch)  # the elementwise bench's: one copy rule for both
    flush = None if warm else torch.empty(1 << 26, dtype=torch.float32, device="cuda")
    progress(f"{torch.cuda.get_device_name(0)}: device-to-device copy {bw / 1e12:.2f} TB/s; "
             f"{fi_note}; L2 {'warm' if warm else 'flushed before each call'}")
    out_rows = []
    for dname in dtypes:
        dtype = getattr(torch, dname)
        for op in ops:
            for h in hidden:
                for n in rows:
                    a = _case(torch, op, n, h, dtype)
                    _check(torch, rs, op, a)
                    row: dict[str, Any] = dict(op=op, dtype=dname, rows=n, hidden=h,
                                               bytes=a["bytes"])
                    row["copy_us"] = _copy_us(torch, a["bytes"], dtype, reps, flush)
                    times, errors = timed_rounds(torch, _calls(torch, rs, fi, op, a), reps,
                                                 rounds, flush)
                    for name, err in errors.items():
                        row[f"{name}_error"] = err
                    for name, per_round in times.items():
                        us = statistics.median(per_round)
                        row[f"{name}_us"] = us
                        row[f"{name}_round_us"] = per_round
                        row[f"{name}_gbps"] = a["bytes"] / us / 1e3
                        row[f"{name}_of_copy"] = a["bytes"] / (us * 1e-6) / bw
                    if "flashinfer" in times and "rocsample" in times:
                        row["vs_flashinfer_lo"], row["vs_flashinfer_hi"] = ratio_range(
                            times["flashinfer"], times["rocsample"])
                    out_rows.append(row)
                    progress(_line(row))
                    del a
    result = {"device": torch.cuda.get_device_name(0), "backend": b.name, "label": label,
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "torch": torch.__version__, "python": platform.python_version(),
              "flashinfer": fi_note, "copy_bandwidth": bw, "l2": "warm" if warm else "flushed",
              "rounds": rounds, "reps": reps,
              "rocsample": str(Path(rs.__file__).parent), "rows": out_rows}
    if out is not None:
        write(result, Path(out))
    return result


def _cell(row: dict[str, Any], name: str) -> str:
    if f"{name}_us" not in row:
        return "-"
    return f"{row[f'{name}_us']:.1f} us {row[f'{name}_gbps']:.0f} GB/s {row[f'{name}_of_copy']:.0%}"


def _line(row: dict[str, Any]) -> str:
    return (f"{row['op']:19s} {row['dtype']:8s} {row['rows']:5d} x {row['hidden']:5d}  ours "
            f"{_cell(row, 'rocsample')} | torch {_cell(row, 'torch')} | flashinfer "
            f"{_cell(row, 'flashinfer')}")


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['device']}, backend {result['backend']} {result.get('label', '')}, "
             f"{result['date']}; device-to-device copy "
             f"{result['copy_bandwidth'] / 1e12:.2f} TB/s; L2 {result['l2']}; "
             f"{result['flashinfer']}", "",
             "| op | dtype | rows | hidden | rocsample us | GB/s | of copy BW "
             "| same-bytes copy us | copy us / ours | torch us "
             "| flashinfer us | FI GB/s | vs FI |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    counts: dict[str, dict[str, int]] = {}
    for r in result["rows"]:
        us = r["rocsample_us"]
        fi = r.get("flashinfer_us")
        spread = ""
        if fi is not None and "vs_flashinfer_lo" in r:
            lo, hi = r["vs_flashinfer_lo"], r["vs_flashinfer_hi"]
            v = verdict(lo, hi)
            counts.setdefault(r["dtype"], {}).setdefault(v, 0)
            counts[r["dtype"]][v] += 1
            spread = f" ({lo:.2f}-{hi:.2f} {v})"
        fi_cells = ("- | - | -" if fi is None else
                    f"{fi:.1f} | {r['flashinfer_gbps']:.0f} | {fi / us:.2f}x{spread}")
        copy = r.get("copy_us")
        copy_cells = "- | -" if copy is None else f"{copy:.1f} | {copy / us:.2f}"
        lines.append(
            f"| {r['op']} | {r['dtype']} | {r['rows']} | {r['hidden']} "
            f"| {us:.1f} | {r['rocsample_gbps']:.0f} | {r['rocsample_of_copy']:.0%} "
            f"| {copy_cells} | {r.get('torch_us', float('nan')):.1f} | {fi_cells} |")
    if counts:
        lines.append("")
        lines.append(f"Against FlashInfer over {result.get('rounds', '?')} rounds (a cell is "
                     "faster or slower when every round says so): " + "; ".join(
                         f"{d}: " + ", ".join(f"{c[k]} {k}" for k in ("faster", "tie", "slower")
                                              if k in c) for d, c in counts.items()))
    return "\n".join(lines)


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = "bench_mlp" + (f"_{result['label']}" if result.get("label") else "")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (out / f"{stem}.md").write_text(table(result) + "\n")
    with contextlib.suppress(ImportError):
        plot(result, out / f"{stem}.png")
        if any("vs_flashinfer_lo" in r for r in result["rows"]):
            plot_vs_flashinfer(result, out / f"{stem}_vs_flashinfer.png")


def plot(result: dict[str, Any], path: Path) -> None:
    """GB/s against rows: a panel per (op, hidden); rocsample solid, torch dotted,
    FlashInfer dashed; a colour per dtype; the copy bandwidth as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = list(dict.fromkeys(r["op"] for r in result["rows"]))
    hidden = sorted({r["hidden"] for r in result["rows"]})
    fig, axes = plt.subplots(len(ops), len(hidden), figsize=(3.4 * len(hidden),
                                                               3.0 * len(ops)),
                             squeeze=False, sharey=True)
    for i, op in enumerate(ops):
        for j, h in enumerate(hidden):
            ax = axes[i][j]
            for dname, color in (("float32", "C0"), ("bfloat16", "C1")):
                rows = sorted((r for r in result["rows"] if (r["op"], r["hidden"], r["dtype"])
                               == (op, h, dname)), key=lambda r: r["rows"])
                for name, style in (("rocsample", "-o"), ("torch", ":x"),
                                    ("flashinfer", "--^")):
                    pts = [(r["rows"], r[f"{name}_gbps"]) for r in rows if f"{name}_gbps" in r]
                    if pts:
                        ax.plot(*zip(*pts, strict=True), style, color=color,
                                label=f"{name} {dname}")
            ax.axhline(result["copy_bandwidth"] / 1e9, color="k", linewidth=1,
                       label="copy bandwidth")
            ax.set_xscale("log")
            ax.set_title(f"{op}, hidden {h}", fontsize=9)
            ax.grid(True, alpha=0.3)
            if i == len(ops) - 1:
                ax.set_xlabel("rows")
        axes[i][0].set_ylabel("GB/s")
    axes[0][0].legend(fontsize=6)
    fig.suptitle(f"MLP kernels: rocsample ({result['backend']}) vs torch eager and FlashInfer, "
                 f"{result['device']}, {result['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_vs_flashinfer(result: dict[str, Any], path: Path) -> None:
    """FlashInfer's time over rocsample's against rows, a panel per op, a line per hidden
    size, each point with the smallest to largest per-round ratio as its bar; above 1
    rocsample is faster. Only the cells measured against FlashInfer with rounds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if "vs_flashinfer_lo" in r]
    ops = list(dict.fromkeys(r["op"] for r in rows))
    fig, axes = plt.subplots(1, len(ops), figsize=(4.2 * len(ops), 3.4), squeeze=False,
                             sharey=True)
    for ax, op in zip(axes[0], ops, strict=True):
        for k, h in enumerate(sorted({r["hidden"] for r in rows if r["op"] == op})):
            pts = sorted((r for r in rows if (r["op"], r["hidden"]) == (op, h)),
                         key=lambda r: r["rows"])
            xs = [r["rows"] * 1.06 ** (k - 1.5) for r in pts]  # side by side, not on top
            ys = [r["flashinfer_us"] / r["rocsample_us"] for r in pts]
            err = [[y - r["vs_flashinfer_lo"] for y, r in zip(ys, pts, strict=True)],
                   [r["vs_flashinfer_hi"] - y for y, r in zip(ys, pts, strict=True)]]
            ax.errorbar(xs, ys, yerr=err, fmt="-o", ms=3, capsize=2,
                        label=f"{pts[0]['dtype']} hidden {h}")
        ax.axhline(1.0, color="k", linewidth=1)
        ax.set_xscale("log")
        ax.set_title(op, fontsize=9)
        ax.set_xlabel("rows")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("FlashInfer us / rocsample us")
    axes[0][0].legend(fontsize=6)
    fig.suptitle(f"rocsample against FlashInfer, median and per-round range over "
                 f"{result.get('rounds', '?')} rounds, {result['device']}, {result['date']}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rocsample.bench_mlp [flags]``: ``python -m rocsample bench-mlp [flags]``
    (one parser, the CLI's)."""
    from .cli import main as cli_main

    return cli_main(["bench-mlp", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
