"""Launch plans: the per-call fast path of ``sample()`` on device arrays.

A sampling call on a device array with scalar parameters does the same work every time the
input pointer, shape, parameters and stream repeat (the decode loop of an inference engine):
the same kernels, grids and packed arguments. A :class:`LaunchPlan` keeps all of that, built
once by the general path (which validates the array and the parameters); a call then only
updates the three values that change (seed, offset, the output pointer) in place and
launches. No validation, no argument packing, no array-interface parsing per call.

The key of a plan is :func:`quick_key` of the input: for a torch tensor its data pointer,
shape, strides, dtype and device; for a :class:`~rocsample.buffers.DeviceBuffer` its pointer
and shape. Anything else (cupy, other DLPack producers) takes the general path.

Example
-------
>>> from rocsample.backends.plan import quick_key
>>> quick_key([[0.5, 0.5]]) is None   # not a device array
True
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from typing import Any

from ..buffers import DeviceBuffer
from .runtime import PackedArgs

__all__ = ["LaunchPlan", "quick_key"]


def quick_key(x: Any) -> tuple[Any, ...] | None:
    """A cheap identity of a device array's memory and layout, or None if unknown."""
    if type(x) is DeviceBuffer:
        return ("buf", x.ptr, x.shape, x.dtype.str, x.device)
    data_ptr = getattr(x, "data_ptr", None)
    stride = getattr(x, "stride", None)
    if data_ptr is None or stride is None or not callable(stride):  # torch tensors only
        return None
    try:
        return ("torch", data_ptr(), tuple(x.shape), stride(), x.dtype, x.device)
    except (TypeError, AttributeError, RuntimeError):
        return None


class LaunchPlan:
    """The launches of one call, with seed, offset and output pointer patched per call."""

    __slots__ = ("launches", "lock", "rows", "slots", "vocab")

    def __init__(self, rows: int, vocab: int) -> None:
        # Held from patch to the last launch: the packed values are shared by every caller of
        # the plan (threads on one stream), and a launch copies them when it is queued.
        self.lock = threading.Lock()
        self.rows = rows
        self.vocab = vocab
        self.launches: list[tuple[Any, tuple[int, int], PackedArgs]] = []
        self.slots: list[tuple[ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64]] = []

    def add(self, function: Any, grid: tuple[int, int], args: PackedArgs,
            names: Sequence[str]) -> None:
        """Record a launch; ``names`` are the kernel's argument names (for the patch slots)."""
        self.launches.append((function, grid, args))
        where = {n: i for i, n in enumerate(names)}
        if "seed" in where:
            v = args.values
            self.slots.append((v[where["seed"]], v[where["offset"]], v[where["out"]]))

    def patch(self, seed: int, offset: int, out: int) -> None:
        for s, o, p in self.slots:
            s.value = seed
            o.value = offset
            p.value = out
