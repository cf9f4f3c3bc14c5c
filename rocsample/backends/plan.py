"""Launch plans: the per-call fast path of the operations on device arrays.

A call on a device array with scalar parameters (``sample``, ``sample_from_logits``,
``softmax``, ``temperature_scale``) does the same work every time the input pointer, shape,
parameters and stream repeat (the decode loop of an inference engine): the same kernels,
grids and packed arguments. A :class:`LaunchPlan` keeps all of that, recorded once by the
general path (which validates the array and the parameters) from any recipe the executor
runs; a call then only updates the values that change (seed, offset, the output and scratch
pointers) in place and launches (:func:`replay`). No validation, no argument packing, no
array-interface parsing per call. What a plan knows of its operation is data recorded with
it: the per-call buffers by role (:class:`~rocsample.backends.recipe.Buffer`) and the layout
of the stream workspace its launches use.

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

from .. import profiling
from ..buffers import DeviceBuffer
from ..validation import SCALAR_TYPES
from ..validation import seed_offset_ok as seed_ok
from .recipe import Buffer
from .runtime import PackedArgs

__all__ = ["MAX_PLANS", "LaunchPlan", "plan_key", "quick_key", "replay", "rng_key", "seed_ok"]

#: Launch plans kept per backend (a decode loop needs a handful).
MAX_PLANS = 256

# ... and str: the kind of a result's element type (softmax's "f32", "bf16", ...).
_SCALAR_SET = frozenset((*SCALAR_TYPES, str))


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


def rng_key(seed: Any, offset: Any) -> tuple[tuple[Any, ...], int, int] | None:
    """For a call whose seed or offset is not a plain int: the identity of its device seed
    and offset arrays (the part of a plan key they make), and the ints a replay patches in
    (0 for an array: the kernels then read the array); None: no plan applies (a host array is
    uploaded at every call, and anything else is for validation to judge).

    A plan keeps a device array's address, not its values, so the caller may advance its
    seeds and offsets in place between calls (as between graph replays) and every replay
    reads what was written last, as the general path's launches do.

    >>> import numpy as np
    >>> rng_key(np.array([1, 2]), 0) is None       # a host array: uploaded every call
    True
    >>> rng_key(5, 2**64)                          # for validation to refuse
    """
    parts, values = [], []
    for v in (seed, offset):
        if type(v) is int and 0 <= v < 1 << 64:
            parts.append(int)
            values.append(v)
            continue
        key = quick_key(v)
        if key is None:
            return None
        parts.append(key)
        values.append(0)
    return tuple(parts), values[0], values[1]


def plan_key(op: str, x: Any, scalars: tuple[Any, ...], stream: Any,
             method: Any = "auto", out: Any = None,
             rng: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """The launch-plan key of a call's raw arguments, or None (no plan applies).

    ``op`` names the operation ("sample", "softmax", ...), ``x`` is its input and ``scalars``
    its parameters as given (top_k, top_p, min_p; temperature). They count with their exact
    types (None, int or float: 1, 1.0 and True never share a plan, since validation may judge
    them differently); per-row arrays, other scalar types, non-string methods and non-int
    streams take the general path every time. ``out``, the caller's result array when given,
    counts by :func:`quick_key` (its plan writes there: the address is recorded, not patched);
    so do device seed/offset arrays (``rng``, from :func:`rng_key`).
    """
    if type(method) is not str or not (stream is None or type(stream) is int):
        return None
    types = tuple(map(type, scalars))
    if not _SCALAR_SET.issuperset(types):
        return None
    key = quick_key(x)
    if key is None:
        return None
    if rng:
        key = (key, rng)
    if out is None:
        return (op, method, stream or 0, key, types, scalars)
    dest = quick_key(out)  # the caller's result array: its memory is part of the plan
    return None if dest is None else (op, method, stream or 0, key, types, scalars, dest)


class LaunchPlan:
    """The launches of one call, with the per-call values patched in before each replay.

    The per-call values are the arguments named ``seed`` and ``offset`` and the pointer
    arguments whose recorded value is one of the call's own buffers (``roles``: pointer ->
    role, e.g. the output); :meth:`patch` sets them all by role. ``buffers`` are the
    per-call buffers a replay makes (the one of role ``"out"`` is its result), ``layout`` the
    (rows, vocab) of the stream workspace at ``ws`` the launches use (None: none).
    """

    __slots__ = ("buffers", "fixed_out", "launches", "layout", "op", "others", "rows",
                 "slab_rows", "slots", "vocab", "ws")

    def __init__(self, op: str, buffers: tuple[Buffer, ...],
                 layout: tuple[int, int] | None, fixed_out: bool = False) -> None:
        # The packed values are shared by every caller of the plan (threads on its stream):
        # the caller holds the stream's lock from patch to the last launch, which copies them.
        self.op = op
        self.buffers = buffers
        self.fixed_out = fixed_out  # writes the caller's ``out`` (in the key), no buffer
        self.layout = layout
        self.rows, self.vocab = layout or (0, 0)
        # What a replay makes, worked out once: the rows of a result taken from the stream's
        # output slab (0: none), then every other buffer as (role, shape, dtype, temporary).
        self.slab_rows = 0
        others = []
        for b in buffers:
            if b.kind == "tokens":
                if b.role != "out" or self.slab_rows:
                    raise ValueError(f"{op}: a tokens buffer is the one result (role 'out'); "
                                     f"got role {b.role!r}")
                self.slab_rows = b.shape[0]
            else:
                others.append((b.role, b.shape, b.dtype, b.kind == "temp"))
        self.others = tuple(others)
        self.ws: int | None = None  # the stream workspace the launches use, if any
        self.launches: list[tuple[Any, tuple[int, int], int, PackedArgs, bool]] = []
        self.slots: list[tuple[str, Any]] = []  # (role, ctypes value)

    def add(self, function: Any, grid: tuple[int, int], block: int, args: PackedArgs,
            names: Sequence[str], types: Sequence[str], roles: Mapping[int, str],
            overlap: bool = False) -> None:
        """Record a launch; ``names`` and ``types`` are the kernel's argument names and types,
        ``block`` and ``overlap`` how it was launched (``Runtime.launch``)."""
        self.launches.append((function, grid, block, args, overlap))
        for name, kind, value in zip(names, types, args.values, strict=True):
            if name in ("seed", "offset"):
                self.slots.append((name, value))
            elif kind == "ptr" and value.value in roles:
                self.slots.append((roles[value.value], value))

    def patch(self, values: Mapping[str, int]) -> None:
        """Set every per-call slot from ``values`` (role -> value)."""
        for role, slot in self.slots:
            slot.value = values[role]


def replay(backend: Any, key: tuple[Any, ...], seed: Any = 0, offset: Any = 0,
           out: Any = None) -> Any:
    """The recorded launches of ``key`` with this call's seed, offset and new per-call
    buffers (its result; ``out`` itself for a plan that writes the caller's ``out``, whose
    identity is in the key); None: no usable plan (then the caller takes the general path,
    which validates the arguments and records one). ``GpuBackend.replay`` is this function.

    The plan's buffers are made by kind: a ``"tokens"`` result from the stream's output slab,
    a ``"new"`` one from the allocator, ``"temp"`` scratch freed (stream-ordered) behind the
    launches. On a capturing stream no plan is replayed: a capture may not allocate, and
    its result must outlive every replay of the graph (``rocsample.reserve``).
    """
    plan = backend._plans.get(key)
    if plan is None or not seed_ok(seed, offset) or profiling.active() is not None:
        return None
    stream = key[2]
    rt = backend.rt
    rt.make_current()
    if rt.stream_is_capturing(stream):
        return None  # the general path takes the memory from the stream's reservation
    temps = None
    # The stream lock also keeps the plan's packed values (shared by every caller of the
    # plan: threads on this stream) from changing between patch and launch.
    with backend.stream_lock(stream):
        if plan.ws is not None and backend.workspace(stream, plan.rows, plan.vocab) != plan.ws:
            return None  # the stream's workspace moved: build the plan again
        try:
            if plan.slab_rows:
                result = backend.tokens(stream, plan.slab_rows)
                values = {"seed": seed, "offset": offset, "out": result.ptr}
            else:
                result, values = out, {"seed": seed, "offset": offset}
            for role, shape, dtype, temporary in plan.others:
                buf = DeviceBuffer(rt, shape, dtype, stream=stream)
                values[role] = buf.ptr
                if temporary:
                    temps = [buf] if temps is None else [*temps, buf]
                else:
                    result = buf
            plan.patch(values)
            for function, grid, block, packed, overlap in plan.launches:
                rt.launch(function, grid, block, packed, stream, overlap)
        finally:
            if temps is not None:
                for buf in temps:
                    buf.free()  # stream-ordered: after the kernels that use it
    return result
