"""Launch plans: the per-call fast path of the operations on device arrays.

A call on a device array with scalar parameters (``sample``, ``sample_from_logits``,
``softmax``, ``temperature_scale``) does the same work every time the input pointer, shape,
parameters and stream repeat (the decode loop of an inference engine): the same kernels,
grids and packed arguments. A :class:`LaunchPlan` keeps all of that, built once by the
general path (which validates the array and the parameters); a call then only updates the
values that change (seed, offset, the output and scratch pointers) in place and launches. No
validation, no argument packing, no array-interface parsing per call.

The key of a plan is :func:`plan_key` of the call's raw arguments, looked up before any
validation: :func:`quick_key` of the input (for a torch tensor its data pointer, shape,
strides, dtype and device; for a :class:`~rocsample.buffers.DeviceBuffer` its pointer and
shape; anything else, cupy or other DLPack producers, takes the general path) with the
parameters, method and stream as given, each with its exact type. A plan exists only for
arguments the general path accepted, so a hit needs no other check than the seed and offset
(:func:`seed_ok`); arguments that were refused never made a plan and are refused again.

Example
-------
>>> from rocsample.backends.plan import quick_key
>>> quick_key([[0.5, 0.5]]) is None   # not a device array
True
>>> seed_ok(7, 0), seed_ok(-1, 0), seed_ok(True, 0)
(True, False, False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..buffers import DeviceBuffer
from ..validation import SCALAR_TYPES
from ..validation import seed_offset_ok as seed_ok
from .runtime import PackedArgs

__all__ = ["LaunchPlan", "plan_key", "quick_key", "seed_ok"]

_SCALAR_SET = frozenset(SCALAR_TYPES)


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


def plan_key(op: str, x: Any, scalars: tuple[Any, ...], stream: Any,
             method: Any = "auto") -> tuple[Any, ...] | None:
    """The launch-plan key of a call's raw arguments, or None (no plan applies).

    ``op`` names the operation ("sample", "softmax", ...), ``x`` is its input and ``scalars``
    its parameters as given (top_k, top_p, min_p; temperature). They count with their exact
    types (None, int or float: 1, 1.0 and True never share a plan, since validation may judge
    them differently); per-row arrays, other scalar types, non-string methods and non-int
    streams take the general path every time.
    """
    if type(method) is not str or not (stream is None or type(stream) is int):
        return None
    types = tuple(map(type, scalars))
    if not _SCALAR_SET.issuperset(types):
        return None
    key = quick_key(x)
    if key is None:
        return None
    return (op, method, stream or 0, key, types, scalars)


class LaunchPlan:
    """The launches of one call, with the per-call values patched in before each replay.

    The per-call values are the arguments named ``seed`` and ``offset`` and the pointer
    arguments whose recorded value is one of the call's own buffers (``roles``: pointer ->
    role, e.g. the output); :meth:`patch` sets them all by role.
    """

    __slots__ = ("launches", "op", "rows", "slots", "vocab", "ws")

    def __init__(self, op: str, rows: int, vocab: int) -> None:
        # The packed values are shared by every caller of the plan (threads on its stream):
        # the caller holds the stream's lock from patch to the last launch, which copies them.
        self.op = op
        self.rows = rows
        self.vocab = vocab
        self.ws: int | None = None  # the stream workspace the launches use, if any
        self.launches: list[tuple[Any, tuple[int, int], PackedArgs, bool]] = []
        self.slots: list[tuple[str, Any]] = []  # (role, ctypes value)

    def add(self, function: Any, grid: tuple[int, int], args: PackedArgs,
            names: Sequence[str], types: Sequence[str], roles: Mapping[int, str],
            overlap: bool = False) -> None:
        """Record a launch; ``names`` and ``types`` are the kernel's argument names and types,
        ``overlap`` how it was launched (``Runtime.launch``)."""
        self.launches.append((function, grid, args, overlap))
        for name, kind, value in zip(names, types, args.values, strict=True):
            if name in ("seed", "offset"):
                self.slots.append((name, value))
            elif kind == "ptr" and value.value in roles:
                self.slots.append((roles[value.value], value))

    def patch(self, values: Mapping[str, int]) -> None:
        """Set every per-call slot from ``values`` (role -> value)."""
        for role, slot in self.slots:
            slot.value = values[role]
