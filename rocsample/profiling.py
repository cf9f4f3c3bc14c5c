"""Per-kernel GPU time, measured with device events around every launch.

Example
-------
>>> import rocsample                                        # doctest: +SKIP
>>> with rocsample.profile() as prof:                       # doctest: +SKIP
...     rocsample.sample(probs_on_gpu, top_k=50, top_p=0.9)
>>> print(prof.table())                                     # doctest: +SKIP
kernel                     calls   total us    mean us     GB/s
topk_topp_sampling             1       61.2       61.2        -

A launch whose operation knows the bytes it must move (the MLP family: its memory floor,
:func:`rocsample.ops.mlp.bytes_moved`) reports achieved GB/s: those bytes over the kernel's
time.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KernelTimer", "active", "profile"]

class _Local(threading.local):
    timer: KernelTimer | None = None  # a class default: reading it never raises


_local = _Local()


@dataclass
class KernelTimer:
    """Collects (kernel, start event, end event) per launch; resolves times on exit."""

    records: list[tuple[str, float]] = field(default_factory=list)
    #: bytes moved by the launch of the same index in ``records``, where its operation said
    moved: dict[int, int] = field(default_factory=dict)
    _pending: list[tuple[str, Any, Any, Any]] = field(default_factory=list)
    _pending_bytes: dict[int, int] = field(default_factory=dict)

    def before(self, runtime: Any, stream: int) -> Any:
        event = runtime.event_create()
        runtime.event_record(event, stream)
        return event

    def after(self, runtime: Any, stream: int, kernel: str, start: Any) -> None:
        end = runtime.event_create()
        runtime.event_record(end, stream)
        self._pending.append((kernel, runtime, start, end))

    def add_bytes(self, kernel: str, nbytes: int) -> None:
        """Say that the last launch of ``kernel`` recorded moves ``nbytes`` (at least)."""
        for i in range(len(self._pending) - 1, -1, -1):
            if self._pending[i][0] == kernel:
                self._pending_bytes[i] = int(nbytes)
                return

    def resolve(self, timeout: float = 30.0) -> None:
        """Wait for the recorded events (with a deadline) and turn them into milliseconds."""
        for i, (kernel, runtime, start, end) in enumerate(self._pending):
            runtime.wait(end, timeout, kernel)
            if i in self._pending_bytes:
                self.moved[len(self.records)] = self._pending_bytes[i]
            self.records.append((kernel, runtime.event_elapsed_ms(start, end)))
            runtime.event_destroy(start)
            runtime.event_destroy(end)
        self._pending.clear()
        self._pending_bytes.clear()

    def summary(self) -> dict[str, dict[str, float]]:
        """kernel -> {"calls", "total_us", "mean_us"}, and "gb_s" (bytes moved over the
        time of the launches that said their bytes) when any did."""
        acc: dict[str, list[float]] = defaultdict(list)
        moved: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, (kernel, ms) in enumerate(self.records):
            acc[kernel].append(ms * 1e3)
            if i in self.moved:
                moved[kernel].append((self.moved[i], ms))
        out: dict[str, dict[str, float]] = {
            k: {"calls": len(v), "total_us": sum(v), "mean_us": sum(v) / len(v)}
            for k, v in acc.items()}
        for k, pairs in moved.items():
            seconds = sum(ms for _, ms in pairs) * 1e-3
            if seconds > 0:
                out[k]["gb_s"] = sum(b for b, _ in pairs) / seconds / 1e9
        return out

    def table(self) -> str:
        lines = [f"{'kernel':26s} {'calls':>6s} {'total us':>10s} {'mean us':>10s} "
                 f"{'GB/s':>8s}"]
        for k, s in sorted(self.summary().items(), key=lambda kv: -kv[1]["total_us"]):
            gbs = f"{s['gb_s']:8.1f}" if "gb_s" in s else f"{'-':>8s}"
            lines.append(f"{k:26s} {s['calls']:6d} {s['total_us']:10.1f} {s['mean_us']:10.1f} "
                         f"{gbs}")
        return "\n".join(lines)


def active() -> KernelTimer | None:
    """The timer of the innermost ``profile()`` block of this thread, if any."""
    return _local.timer


@contextmanager
def profile():
    """Time every kernel launched by this thread inside the block (HIP and CUDA backends).

    The events add a little work per launch, so use it to see where time goes, not for the
    fastest run. Times are available once the block exits.
    """
    outer = active()
    timer = KernelTimer()
    _local.timer = timer
    try:
        yield timer
    finally:
        _local.timer = outer
        timer.resolve()
