"""``python -m rocsample bench``: latency of every operation against the memory floor and torch.

Needs torch with a GPU (inputs, baselines and events come from it) and a GPU backend. For
each batch x vocab x input shape it measures, in the same run:

* ``read_us``: one read of the B x V float32 probabilities (``torch.sum``), the floor;
* for each operation: the median GPU time of rocsample (events around each call on the
  caller's stream), the same with a cold L2 (a buffer larger than L2 written before every
  call), the host time of one call (the Python call itself, no synchronisation), and the
  torch baseline of the same operation (exponential-race sampling; a vLLM-style sort for
  top-k/top-p; masking for min-p; ``torch.softmax``).

Writes ``bench.json``, ``bench.md`` (the table) and ``bench.png`` (latency vs batch per V,
the floor drawn) into ``--out``.

``--dtypes`` (:func:`run_dtypes`) instead times the operations on float32, bfloat16 and
float16 inputs of the same values (logits for the logit operations, probabilities for
``sample``; half-precision inputs are read in place: half the bytes) and writes
``bench_dtypes.json``, ``bench_dtypes.md`` and ``bench_dtypes.png`` (the bf16/f32 ratios).
A cell's three dtypes are timed in ``--rounds`` rounds with the order turned each round
(:func:`timed_rounds`, shared with ``bench-mlp``), each ratio given with its per-round range,
and at 128 rows and more the bfloat16 ratio is held to the 0.6 target only when every round
agrees (:func:`target_verdict`). ``--flush-l2`` starts every call with a cold L2.
"""

from __future__ import annotations

import contextlib
import json
import logging
import platform
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OPS = ("plain", "top-k 50", "top-p 0.9", "top-k 50 + top-p 0.9", "min-p 0.1", "softmax")
_KW = {"plain": {}, "top-k 50": {"top_k": 50}, "top-p 0.9": {"top_p": 0.9},
       "top-k 50 + top-p 0.9": {"top_k": 50, "top_p": 0.9}, "min-p 0.1": {"min_p": 0.1}}


#: GPU cycles of the sleep queued ahead of each timed call (about 0.5 ms): the host queues the
#: whole call while the GPU sleeps, so the events time the GPU work alone, never Python.
_SLEEP_CYCLES = 1_000_000

#: GPU microseconds of that sleep by device index, measured once (:func:`_sleep_us`).
_SLEEP_US: dict[int, float] = {}


def _sleep_us(torch: Any) -> float:
    """GPU microseconds of ``torch.cuda._sleep(_SLEEP_CYCLES)`` on the current device, timed
    once a process (the second of two sleeps, so that the first pays any start-up)."""
    dev = torch.cuda.current_device()
    if dev not in _SLEEP_US:
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(_SLEEP_CYCLES)
        a.record()
        torch.cuda._sleep(_SLEEP_CYCLES)
        b.record()
        torch.cuda.synchronize()
        _SLEEP_US[dev] = a.elapsed_time(b) * 1e3
    return _SLEEP_US[dev]


def gpu_times(torch: Any, fn: Callable[[], Any], reps: int, flush: Any = None) -> list[float]:
    """Microseconds of GPU time of each call of ``fn`` between two events on the stream, with
    a GPU sleep queued ahead of each so that the events time the GPU work alone (``flush``:
    a tensor zeroed before each call, to start with a cold L2). bench_elementwise uses it too.

    That holds only while the host has queued the call and its closing event before the sleep
    ends; a host that falls behind (another process on its CPUs, a collection) leaves the GPU
    waiting between the events, and that wait would be timed as the call's. So a call whose
    queueing took 90 % of the sleep or more is timed again, up to ``reps`` times in all; one
    still kept is logged as a warning. (An H100 run of session 38, before this check, timed
    calls of 57-91 us at 460-1139 us for three measurements running, their neighbours
    normal; the run after it, with the check, timed 22 measurements' calls again and showed
    no such cell: bench/results/2026-12-07-session38.)
    """
    sleep = _sleep_us(torch)
    out, again = [], 0
    while len(out) < reps:
        if flush is not None:
            flush.zero_()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0 = time.perf_counter()
        torch.cuda._sleep(_SLEEP_CYCLES)
        a.record()
        fn()
        b.record()
        host_us = (time.perf_counter() - t0) * 1e6
        if host_us >= 0.9 * sleep:
            if again < reps:
                again += 1
                continue
            log.warning("a timed call took the host %.0f us to queue, the GPU sleep ahead of it "
                        "%.0f: its time may include a wait for the host", host_us, sleep)
        out.append((a, b))
    if again:
        log.info("timed %d call(s) again: the host fell behind the GPU sleep", again)
    torch.cuda.synchronize()
    return [a.elapsed_time(b) * 1e3 for a, b in out]


def median_us(torch: Any, fn: Callable[[], Any], reps: int, flush: Any = None) -> float:
    """Median microseconds of GPU time of ``reps`` calls of ``fn`` (:func:`gpu_times`)."""
    return statistics.median(gpu_times(torch, fn, reps, flush))


def timed_rounds(torch: Any, calls: dict[str, Callable[[], Any]], reps: int, rounds: int,
                 flush: Any = None) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Each call's median GPU time (:func:`median_us`) in each of ``rounds`` rounds of
    ``reps`` calls, the order of the calls turned by one every round (a drift of the machine,
    its clocks or another tenant, falls on all of them alike), and the errors of the calls
    that raised when first called (left out of the rounds).

    With R rounds, R per-round ratios of two calls all fall on one side of their median with
    probability 2 / 2^R (0.8 % at 8): a comparison decided only when every round agrees
    (:func:`rocsample.bench_mlp.verdict`, :func:`target_verdict`) is wrong that rarely.
    """
    times: dict[str, list[float]] = {}
    errors: dict[str, str] = {}
    for name, call in calls.items():
        try:
            call()  # once untimed: a JIT compile (FlashInfer's) or a load
            torch.cuda.synchronize()
            times[name] = []
        except Exception as exc:  # FlashInfer refusing a dtype, say
            errors[name] = f"{type(exc).__name__}: {exc}"[:200]
    names = list(times)
    for r in range(rounds if names else 0):
        turn = r % len(names)
        for name in names[turn:] + names[:turn]:
            times[name].append(median_us(torch, calls[name], reps, flush))
    return times, errors


def ratio_range(num: list[float], den: list[float]) -> tuple[float, float]:
    """The smallest and largest per-round ratio ``num[r] / den[r]`` of two calls timed in
    the same rounds (:func:`timed_rounds`).

    >>> ratio_range([5.0, 6.0], [10.0, 10.0])
    (0.5, 0.6)
    """
    ratios = [n / d for n, d in zip(num, den, strict=True)]
    return min(ratios), max(ratios)


def target_verdict(lo: float, hi: float, target: float) -> str:
    """``meets`` when the largest per-round time ratio is at most ``target``, ``misses`` when
    the smallest is above it, else ``unclear`` (the rounds disagree).

    >>> target_verdict(0.55, 0.58, 0.6), target_verdict(0.61, 0.7, 0.6)
    ('meets', 'misses')
    >>> target_verdict(0.58, 0.62, 0.6)
    'unclear'
    """
    return "meets" if hi <= target else "misses" if lo > target else "unclear"


def _host_times(torch: Any, fn: Callable[[], Any], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e6)
        torch.cuda.synchronize()  # keep the queue short so a call never waits on the GPU
    return out


def _torch_baseline(torch: Any, op: str, probs: Any, logits: Any) -> Callable[[], Any]:
    if op == "softmax":
        return lambda: torch.softmax(logits, -1)
    if op == "plain":
        return lambda: (probs / torch.empty_like(probs).exponential_()).argmax(-1)
    if op == "min-p 0.1":
        def minp():
            keep = probs >= 0.1 * probs.amax(-1, keepdim=True)
            return (probs * keep / torch.empty_like(probs).exponential_()).argmax(-1)
        return minp
    k = _KW[op].get("top_k")
    p = _KW[op].get("top_p")

    def sort_based():  # what vLLM's PyTorch sampler does: sort, mask, renormalise, draw
        sp, idx = probs.sort(dim=-1, descending=True)
        if k is not None:
            sp[:, k:] = 0
        if p is not None:
            cum = sp.cumsum(-1)
            mask = (cum - sp) > p * cum[:, -1:]
            sp = sp.masked_fill(mask, 0)
        choice = torch.multinomial(sp, 1)
        return idx.gather(-1, choice)
    return sort_based


def run(batches=(1, 32, 128, 512), vocabs=(32000, 128256, 151936),
        inputs=("normal", "peaked"), reps: int = 30, backend: str | None = None,
        out: Path | None = None, progress: Callable[[str], None] = print) -> dict[str, Any]:
    import torch

    import rocsample

    b = rocsample.backend(backend)
    if b.name == "cpu":
        raise RuntimeError("bench needs a GPU backend (rocsample.backend() is cpu here)")
    dev = torch.cuda.get_device_properties(0)
    flush = torch.empty(int(dev.L2_cache_size * 4 // 4) + (1 << 20), dtype=torch.float32,
                        device="cuda")
    stream = torch.cuda.current_stream().cuda_stream
    rows: list[dict[str, Any]] = []
    gen = torch.Generator(device="cuda").manual_seed(0)
    for v in vocabs:
        for bsz in batches:
            for shape in inputs:
                logits = torch.randn((bsz, v), device="cuda", generator=gen) * 3
                if shape == "peaked":
                    logits[torch.arange(bsz), torch.randint(0, v, (bsz,), device="cuda",
                                                              generator=gen)] += 25
                probs = torch.softmax(logits, -1).contiguous()
                read = statistics.median(gpu_times(torch, lambda p=probs: p.sum(), reps))
                nbytes = bsz * v * 4
                for op in OPS:
                    if op == "softmax":
                        def ours(x=logits):
                            return rocsample.softmax(x, 1.0, stream=stream, backend=b.name)
                    else:
                        def ours(x=probs, kw=_KW[op]):
                            return rocsample.sample(x, seed=1, stream=stream, backend=b.name,
                                                    **kw)
                    ours()  # warm: compile/load outside the timing
                    gpu_us = statistics.median(gpu_times(torch, ours, reps))
                    cold_us = statistics.median(gpu_times(torch, ours, max(reps // 3, 5),
                                                           flush))
                    host_us = statistics.median(_host_times(torch, ours, reps))
                    base = _torch_baseline(torch, op, probs, logits)
                    base()
                    torch_us = statistics.median(gpu_times(torch, base, max(reps // 3, 5)))
                    row = dict(backend=b.name, batch=bsz, vocab=v, input=shape, op=op, us=gpu_us,
                               cold_us=cold_us, host_us=host_us, read_us=read,
                               floor_ratio=gpu_us / read, gbps=nbytes / gpu_us / 1e3,
                               torch_us=torch_us, speedup_vs_torch=torch_us / gpu_us)
                    rows.append(row)
                    progress(f"B={bsz:4d} V={v:6d} {shape:6s} {op:22s} {gpu_us:9.1f} us "
                             f"(x{gpu_us / read:5.1f} floor, cold {cold_us:8.1f}, host "
                             f"{host_us:6.1f}, torch {torch_us:9.1f})")
    result = {
        "device": torch.cuda.get_device_name(0), "backend": b.name,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__, "python": platform.python_version(),
        "l2_bytes": dev.L2_cache_size, "rows": rows,
    }
    if out is not None:
        write(result, Path(out))
    return result


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from runs of several backends (rows keep their ``backend``)."""
    out = dict(results[0])
    out["backend"] = "+".join(r["backend"] for r in results)
    out["rows"] = [row for r in results for row in r["rows"]]
    return out


def table(result: dict[str, Any]) -> str:
    head = ("| backend | B | V | input | op | rocsample us | cold-L2 us | x floor | GB/s "
            "| host us | torch us | vs torch |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [f"{result['device']}, backend {result['backend']}, {result['date']}", "", head]
    for r in result["rows"]:
        lines.append(f"| {r.get('backend', result['backend'])} | {r['batch']} | {r['vocab']} "
                     f"| {r['input']} | {r['op']} | {r['us']:.1f} "
                     f"| {r['cold_us']:.1f} | {r['floor_ratio']:.1f} | {r['gbps']:.0f} "
                     f"| {r['host_us']:.1f} | {r['torch_us']:.1f} | {r['speedup_vs_torch']:.1f}x |")
    return "\n".join(lines)


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=1))
    (out / "bench.md").write_text(table(result) + "\n")
    with contextlib.suppress(ImportError):
        plot(result, out / "bench.png")


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vocabs = sorted({r["vocab"] for r in result["rows"]})
    fig, axes = plt.subplots(1, len(vocabs), figsize=(6 * len(vocabs), 4.5), squeeze=False)
    for ax, v in zip(axes[0], vocabs, strict=True):
        first = result["rows"][0].get("backend")
        rows = [r for r in result["rows"] if r["vocab"] == v and r["input"] == "normal"
                and r.get("backend") == first]
        batches = sorted({r["batch"] for r in rows})
        for op in OPS:
            ys = [next(r["us"] for r in rows if r["batch"] == b and r["op"] == op)
                  for b in batches]
            ax.plot(batches, ys, marker="o", label=op)
        floor = [next(r["read_us"] for r in rows if r["batch"] == b) for b in batches]
        ax.plot(batches, floor, "k--", linewidth=2, label="one read (floor)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch")
        ax.set_ylabel("GPU time (us)")
        ax.set_title(f"V = {v}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"rocsample ({result['backend']}) on {result['device']}, {result['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


#: The logit operations of :func:`run_dtypes` and their arguments.
DTYPE_OPS = {
    "softmax": lambda rs, x, **kw: rs.softmax(x, 0.8, **kw),
    "temperature_scale": lambda rs, x, **kw: rs.temperature_scale(x, 0.8, **kw),
    # the result in the input's type (out_dtype; float32 for float32): half the bytes written
    "softmax, result in the input's type": lambda rs, x, **kw: rs.softmax(
        x, 0.8, out_dtype=x.dtype, **kw),
    "temperature_scale, result in the input's type": lambda rs, x, **kw: rs.temperature_scale(
        x, 0.8, out_dtype=x.dtype, **kw),
    "sample_from_logits": lambda rs, x, **kw: rs.sample_from_logits(x, temperature=0.8, **kw),
    "sample_from_logits top-k 50": lambda rs, x, **kw: rs.sample_from_logits(
        x, temperature=0.8, top_k=50, **kw),
    "sample_from_logits top-p 0.9": lambda rs, x, **kw: rs.sample_from_logits(
        x, temperature=0.8, top_p=0.9, **kw),
    # what sample_from_logits did before logits_sampling.hip: the softmax written, then sampled
    "softmax, then sample it": lambda rs, x, **kw: rs.sample(rs.softmax(x, 0.8, **kw), seed=1,
                                                             **kw),
    "softmax, then sample it top-k 50": lambda rs, x, **kw: rs.sample(
        rs.softmax(x, 0.8, **kw), top_k=50, seed=1, **kw),
    "softmax, then sample it top-p 0.9": lambda rs, x, **kw: rs.sample(
        rs.softmax(x, 0.8, **kw), top_p=0.9, seed=1, **kw),
    "softmax in the input's type, then sample it": lambda rs, x, **kw: rs.sample(
        rs.softmax(x, 0.8, out_dtype=x.dtype, **kw), seed=1, **kw),
    # on probabilities (softmax of the same logits, then rounded to the half type)
    "sample": lambda rs, x, **kw: rs.sample(x, **kw),
    "sample top-k 50": lambda rs, x, **kw: rs.sample(x, top_k=50, **kw),
    "sample top-p 0.9": lambda rs, x, **kw: rs.sample(x, top_p=0.9, **kw),
    "sample top-k 50 + top-p 0.9": lambda rs, x, **kw: rs.sample(x, top_k=50, top_p=0.9, **kw),
}


#: The issue's target for half-precision inputs: at most this fraction of the float32 time
#: at :data:`TARGET_FROM_BATCH` rows and more (half the bytes are read).
HALF_TARGET = 0.6
TARGET_FROM_BATCH = 128
_DTYPES = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}


def run_dtypes(batches=(1, 128, 512), vocabs=(128256, 262144), reps: int = 30,
               backend: str | None = None, out: Path | None = None,
               progress: Callable[[str], None] = print, rounds: int = 4,
               flush_l2: bool = False) -> dict[str, Any]:
    """Median GPU time of each operation on float32, bfloat16 and float16 inputs (the same
    values: the float32 ones are the widened bfloat16 ones) and the half/float32 ratios; the
    issue's target is <= :data:`HALF_TARGET` at B >= :data:`TARGET_FROM_BATCH` (half the
    bytes read).

    The three dtypes of a cell are timed in ``rounds`` rounds of ``reps`` calls, the order
    turned each round (:func:`timed_rounds`); a ratio is the one of the medians over the
    rounds, with the smallest and largest per-round ratio beside it (``bf16_ratio_lo``,
    ``bf16_ratio_hi``) and, at B >= 128, whether every round meets the target
    (:func:`target_verdict`). ``flush_l2`` writes a buffer larger than the L2 before each
    call (else the input stays in L2 between calls where it fits: a bfloat16 128 x 128256
    matrix does on an H200, its float32 twin does not).
    """
    if rounds < 1 or reps < 1:
        raise ValueError(f"rounds and reps must be >= 1, got rounds={rounds}, reps={reps}")
    import torch

    import rocsample

    b = rocsample.backend(backend)
    if b.name == "cpu":
        raise RuntimeError("bench needs a GPU backend (rocsample.backend() is cpu here)")
    stream = torch.cuda.current_stream().cuda_stream
    flush = None
    if flush_l2:
        l2 = torch.cuda.get_device_properties(0).L2_cache_size
        flush = torch.empty(l2 // 4 + (1 << 20), dtype=torch.float32, device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    rows: list[dict[str, Any]] = []
    for v in vocabs:
        for bsz in batches:
            base = (torch.randn((bsz, v), device="cuda", generator=gen) * 3).bfloat16()
            logits = {"float32": base.float(), "bfloat16": base, "float16": base.half()}
            p = torch.softmax(base.float(), -1)
            probs = {"float32": p.bfloat16().float(), "bfloat16": p.bfloat16(),
                     "float16": p.half()}
            for op, fn in DTYPE_OPS.items():
                inputs = probs if op.startswith("sample") and "logits" not in op else logits
                extra = {"seed": 1} if op.startswith("sample") else {}
                calls = {name: (lambda x=x, fn=fn, extra=extra: fn(
                    rocsample, x, stream=stream, backend=b.name, **extra))
                    for name, x in inputs.items()}
                times, errors = timed_rounds(torch, calls, reps, rounds, flush)
                row = dtype_row(b.name, bsz, v, op, times, errors)
                rows.append(row)
                progress(_dtype_line(row))
            del base, logits, p, probs
    result = {"device": torch.cuda.get_device_name(0), "backend": b.name,
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "torch": torch.__version__, "rounds": rounds, "reps": reps,
              "l2": "flushed before each call" if flush_l2 else "warm", "rows": rows}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench_dtypes.json").write_text(json.dumps(result, indent=1))
        (out / "bench_dtypes.md").write_text(dtype_table(result) + "\n")
        if any(r["bf16_ratio"] is not None for r in rows):
            with contextlib.suppress(ImportError):
                plot_dtypes(result, out / "bench_dtypes.png")
    return result


def dtype_row(backend: str, batch: int, vocab: int, op: str, times: dict[str, list[float]],
              errors: dict[str, str]) -> dict[str, Any]:
    """One cell of :func:`run_dtypes` from the per-round times of :func:`timed_rounds`: each
    dtype's median over the rounds, each half type's ratio to float32 with its per-round
    range and, from :data:`TARGET_FROM_BATCH` rows on, its :func:`target_verdict`.

    >>> r = dtype_row("cuda", 128, 32000, "sample", {"float32": [10.0, 10.0, 12.0],
    ...               "bfloat16": [5.5, 6.5, 6.0]}, {"float16": "TypeError: no"})
    >>> r["bf16_ratio"], r["bf16_ratio_lo"], r["bf16_ratio_hi"], r["bf16_vs_target"]
    (0.6, 0.5, 0.65, 'unclear')
    >>> r["f16_us"], r["f16_error"]
    (None, 'TypeError: no')
    """
    row: dict[str, Any] = dict(backend=backend, batch=batch, vocab=vocab, op=op)
    for name, short in _DTYPES.items():
        per_round = times.get(name)
        row[f"{short}_us"] = statistics.median(per_round) if per_round else None
        if per_round:
            row[f"{short}_round_us"] = per_round
        if name in errors:
            row[f"{short}_error"] = errors[name]
    f32 = times.get("float32")
    for name, short in list(_DTYPES.items())[1:]:
        half = times.get(name)
        if not (f32 and half):
            row[f"{short}_ratio"] = None
            continue
        lo, hi = ratio_range(half, f32)
        row[f"{short}_ratio"] = row[f"{short}_us"] / row["f32_us"]
        row[f"{short}_ratio_lo"], row[f"{short}_ratio_hi"] = lo, hi
        if batch >= TARGET_FROM_BATCH:
            row[f"{short}_vs_target"] = target_verdict(lo, hi, HALF_TARGET)
    return row


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ratio(row: dict[str, Any], short: str) -> str:
    """``0.77 (0.75-0.79)``: the ratio of the medians and its per-round range, where known."""
    r = row.get(f"{short}_ratio")
    if r is None:
        return "-"
    if f"{short}_ratio_lo" not in row:  # a result from before the rounds
        return f"{r:.2f}"
    return f"{r:.2f} ({row[f'{short}_ratio_lo']:.2f}-{row[f'{short}_ratio_hi']:.2f})"


def _dtype_line(row: dict[str, Any]) -> str:
    return (f"B={row['batch']:4d} V={row['vocab']:6d} {row['op']:34s} f32 "
            f"{_us(row['f32_us'])} us, bf16 {_us(row['bf16_us'])} (x{_ratio(row, 'bf16')}), "
            f"f16 {_us(row['f16_us'])} (x{_ratio(row, 'f16')})")


def plot_dtypes(result: dict[str, Any], path: Path) -> None:
    """The bfloat16/float32 time ratio of every logit operation of :func:`run_dtypes` against
    the batch (with its per-round range as a bar), one panel per vocabulary, with the issue's
    0.6 target and the 0.5 of the bytes read: where an operation sits above them, it is bound
    by its instructions, not its reads.
    Needs matplotlib (the ``plot`` extra); :func:`run_dtypes` skips the figure without it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vocabs = sorted({r["vocab"] for r in result["rows"] if r["bf16_ratio"] is not None})
    if not vocabs:
        raise ValueError("no cell of the result has a bfloat16/float32 ratio to draw")
    fig, axes = plt.subplots(1, len(vocabs), figsize=(5.5 * len(vocabs) + 3, 4.8),
                             squeeze=False, sharey=True)
    for ax, v in zip(axes[0], vocabs, strict=True):
        rows = [r for r in result["rows"] if r["vocab"] == v]
        for i, op in enumerate(dict.fromkeys(r["op"] for r in rows)):
            pts = sorted((r for r in rows if r["op"] == op and r["bf16_ratio"] is not None),
                         key=lambda r: r["batch"])
            ys = [r["bf16_ratio"] for r in pts]
            # the per-round range as a bar, where the result has rounds
            err = [[y - r.get("bf16_ratio_lo", y) for y, r in zip(ys, pts, strict=True)],
                   [r.get("bf16_ratio_hi", y) - y for y, r in zip(ys, pts, strict=True)]]
            style = "--" if op.startswith("sample") and "logits" not in op else "-"
            ax.errorbar([r["batch"] * 1.03 ** (i % 7 - 3) for r in pts], ys, yerr=err,
                        fmt=style, marker="o", ms=3, capsize=2, label=op,
                        color=plt.cm.tab20(i % 20))
        ax.axhline(HALF_TARGET, color="k", linewidth=2, label=f"target {HALF_TARGET}")
        ax.axhline(0.5, color="k", linestyle=":", label="bytes read 0.5")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch")
        ax.set_ylabel("bfloat16 time / float32 time")
        ax.set_title(f"V = {v}")
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="center right")
    rounds = f", {result['rounds']} rounds" if result.get("rounds") else ""
    fig.suptitle(f"rocsample ({result['backend']}) on {result['device']}, {result['date']}"
                 f"{rounds}, L2 {result.get('l2', 'warm')}")
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def dtype_table(result: dict[str, Any]) -> str:
    """The table of :func:`run_dtypes`: the three times, the two ratios (with their
    per-round ranges), the bfloat16 verdict against the target at B >= 128, and a closing
    line counting those verdicts."""
    rounds = result.get("rounds")
    head = f"{result['device']}, backend {result['backend']}, {result['date']}"
    if rounds:
        head += f", {rounds} rounds of {result.get('reps', '?')} calls, L2 {result.get('l2')}"
    lines = [head, "",
             f"| B | V | op | f32 us | bf16 us | bf16/f32 | bf16 <= {HALF_TARGET} "
             "| f16 us | f16/f32 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['batch']} | {r['vocab']} | {r['op']} | {_us(r['f32_us'])} "
                     f"| {_us(r['bf16_us'])} | {_ratio(r, 'bf16')} "
                     f"| {r.get('bf16_vs_target', '-')} | {_us(r['f16_us'])} "
                     f"| {_ratio(r, 'f16')} |")
    verdicts = [r["bf16_vs_target"] for r in result["rows"] if "bf16_vs_target" in r]
    if verdicts:
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ("meets", "misses", "unclear"))
        lines += ["", f"bfloat16 at B >= {TARGET_FROM_BATCH} against the {HALF_TARGET} target "
                      f"over {rounds} rounds (decided when every round agrees): {counts}"]
    return "\n".join(lines)


# ---- graph capture: a captured decode step against the eager call ------------------------


def capture(batches: tuple[int, ...] = (1, 128, 512), vocab: int = 128256, steps: int = 200,
            backend: str | None = None) -> list[dict[str, Any]]:
    """A decode step's sampling (``sample_from_logits``, T 0.7, top-k 50, top-p 0.9, into the
    engine's int32 tensor) eager against its ``torch.cuda.graph`` replay, in the same run.

    Per batch: ``eager_us`` / ``replay_us``, microseconds a step of ``steps`` back-to-back
    steps synchronised at the end (what a decode loop sees: host and GPU time), and
    ``eager_gpu_us`` / ``replay_gpu_us``, the median GPU time of one step (:func:`gpu_times`).
    ``eager_plan_us``: the same eager step without ``out=`` (a result from the stream's
    slab); both eager steps replay their launch plans.

    Example
    -------
    >>> from rocsample import bench                     # doctest: +SKIP
    >>> for row in bench.capture(batches=(1, 128)):     # doctest: +SKIP
    ...     print(row)
    """
    import torch

    import rocsample

    rows_out = []
    side = torch.cuda.Stream()
    for b in batches:
        logits = torch.randn(b, vocab, device="cuda") * 3
        tokens = torch.empty(b, dtype=torch.int32, device="cuda")
        res = rocsample.reserve(b, vocab, stream=side.cuda_stream, backend=backend)

        def step(logits: Any = logits, tokens: Any = tokens) -> None:
            rocsample.sample_from_logits(logits, temperature=0.7, top_k=50, top_p=0.9,
                                         seed=1, offset=0, out=tokens,
                                         stream=side.cuda_stream, backend=backend)

        def step_plan(logits: Any = logits) -> None:
            rocsample.sample_from_logits(logits, temperature=0.7, top_k=50, top_p=0.9,
                                         seed=1, offset=0, stream=side.cuda_stream,
                                         backend=backend)

        with torch.cuda.stream(side):
            for _ in range(3):  # kernels loaded, torch's allocator warm, the plans recorded
                step()
                step_plan()
        side.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=side):
            step()

        def loop(fn: Callable[[], Any]) -> float:
            with torch.cuda.stream(side):
                fn()
                side.synchronize()
                t0 = time.perf_counter()
                for _ in range(steps):
                    fn()
                side.synchronize()
            return (time.perf_counter() - t0) / steps * 1e6

        with torch.cuda.stream(side):
            eager_gpu = statistics.median(gpu_times(torch, step, 30))
            replay_gpu = statistics.median(gpu_times(torch, graph.replay, 30))
        rows_out.append({"batch": b, "vocab": vocab, "eager_us": round(loop(step), 1),
                         "eager_plan_us": round(loop(step_plan), 1),
                         "replay_us": round(loop(graph.replay), 1),
                         "eager_gpu_us": round(eager_gpu, 1),
                         "replay_gpu_us": round(replay_gpu, 1)})
        del graph  # graphs before their reservation (the lifetime rule)
        res.release()
    return rows_out


if __name__ == "__main__":  # python -m rocsample.bench: the capture comparison
    import sys

    for row in capture(backend=sys.argv[1] if len(sys.argv) > 1 else None):
        print(json.dumps(row))
