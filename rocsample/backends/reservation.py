"""Memory set aside up front for one stream, so that its calls can be captured in a graph.

A stream that captures a CUDA/HIP graph records its work instead of running it; nothing may
allocate, copy from pageable host memory or synchronise there, and every address a recorded
kernel uses must stay valid for as long as the graph can be replayed. The general path of the
executor does all three per call (stream-ordered output, scratch and parameter uploads; the
stream workspace grown and re-zeroed on demand), so a call on a capturing stream takes all of
its memory from a :class:`Reservation` of that stream instead, made beforehand by
:func:`rocsample.reserve`:

* the **sampling workspace**, laid out so that it is never zeroed again: its first
  ``ws_prefix_words(max_batch)`` words are zero once, and a call of ``rows`` rows gets the
  address ``ZERO - ws_prefix_words(rows)`` words in (:meth:`Reservation.workspace`). Its
  prefix (histograms and tickets, which the kernels need zero and leave zero) then lies in
  the zero region, and its per-row words (written before they are read) lie after it,
  whatever the rows of the call before. Any sequence of calls and graph replays of up to
  ``max_batch`` x ``vocab`` is correct without a memset, in any order;
* **token outputs**: ``outputs`` slots of ``max_batch`` int32, one taken by each captured
  call that returns tokens without ``out=`` and kept until :meth:`Reservation.release`;
* **scratch** of ``max_batch x vocab`` float32 for ``sample_from_logits`` (``logits=True``).

Per-row parameters given as numpy arrays need an upload every call, which a replay would not
repeat: a captured call refuses them. Softmax and temperature_scale write a (rows, vocab)
matrix the caller owns: captured, they need ``out=``.

Lifetime rule: a graph holds raw addresses of the reservation's memory (and of the arrays
passed to the captured calls). Release the reservation (:meth:`Reservation.release`, or leave
its ``with`` block) only after every graph that captured calls with it is destroyed; token
buffers taken from it are invalid after that. Calls on the stream outside a capture share
the same workspace, so replays and other calls that use it must be ordered (one stream).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from ..buffers import DeviceBuffer
from ..errors import CaptureError
from ..registry import ws_prefix_words, ws_words

if TYPE_CHECKING:
    from .recipe import Recipe
    from .runtime import Runtime

__all__ = ["Reservation", "bind_captured", "check_reserve_args"]

#: Largest vocabulary a kernel's ``int`` vocab argument can hold.
_MAX_VOCAB = 2**31 - 1


def check_reserve_args(max_batch: Any, vocab: Any, outputs: Any, logits: Any) -> None:
    """The argument checks of :func:`rocsample.reserve` (every backend runs them).

    >>> check_reserve_args(8, 32000, 4, True)
    >>> check_reserve_args(0, 32000, 4, True)
    Traceback (most recent call last):
    ValueError: max_batch must be a positive int; got 0
    """
    for name, value, low in (("max_batch", max_batch, 1), ("vocab", vocab, 1),
                             ("outputs", outputs, 0)):
        if type(value) is not int and not (isinstance(value, np.integer)):
            raise TypeError(f"{name} must be an int; got {type(value).__name__}")
        if value < low:
            kind = "positive" if low else "non-negative"
            raise ValueError(f"{name} must be a {kind} int; got {value}")
    if vocab > _MAX_VOCAB:
        raise ValueError(f"vocab must be < 2**31 (the kernels' int); got {vocab}")
    if type(logits) is not bool:
        raise TypeError(f"logits must be True or False; got {logits!r}")


class Reservation:
    """The capture memory of one stream (see the module docstring); made by
    :func:`rocsample.reserve`, used by every call on ``stream`` until :meth:`release`.

    Attributes: ``max_batch``, ``vocab``, ``stream``, ``outputs`` (token slots) and
    ``outputs_left``. The backend keeps it: dropping this object frees nothing (graphs may
    still use the memory); :meth:`release` or the backend's close does. On the cpu backend
    (``rt`` None) it holds no memory: nothing there is captured.
    """

    def __init__(self, rt: Runtime | None, stream: int, max_batch: int, vocab: int,
                 outputs: int = 64, logits: bool = True) -> None:
        check_reserve_args(max_batch, vocab, outputs, logits)
        self.rt = rt
        self.stream = int(stream)
        self.max_batch, self.vocab = int(max_batch), int(vocab)
        self.outputs = int(outputs)
        self.logits = logits
        self._next = 0
        self._lock = threading.Lock()
        self._on_release: Any = None  # set by the backend that keeps the reservation
        self._bufs: list[DeviceBuffer] = []
        self._slab: DeviceBuffer | None = None
        self._ws_base = self._scratch = 0
        self._slot = -(-self.max_batch * 4 // 256) * 256  # token slots start 256-byte aligned
        if rt is None:
            return
        try:
            self._zero = ws_prefix_words(self.max_batch)
            # Plain memory (not stream-ordered): a graph may replay on any stream, and
            # freeing it never needs the stream, which the caller may have destroyed.
            ws = self._own((self._zero + self.max_batch * ws_words(self.vocab),), np.uint64)
            # Zeroed whole, as a stream's own workspace is when made: with only the prefix
            # zeroed, a first top-p call on never-written per-row words drew wrong tokens on
            # the H200 (commit 53c5b17), so those words too must start as a made workspace's.
            zeros = np.zeros(ws.shape[0], np.uint64)
            rt.copy_from_host(ws.ptr, zeros.ctypes.data, zeros.nbytes)  # waits: ready now
            self._ws_base = ws.ptr
            if self.outputs:
                self._slab = self._own((self.outputs * self._slot // 4,), np.int32)
            if logits:
                self._scratch = self._own((self.max_batch * self.vocab,), np.float32).ptr
        except BaseException:
            self._free()
            raise

    def _own(self, shape: tuple[int, ...], dtype: Any) -> DeviceBuffer:
        buf = DeviceBuffer(self.rt, shape, dtype)  # type: ignore[arg-type]
        self._bufs.append(buf)
        return buf

    @property
    def nbytes(self) -> int:
        """Device memory the reservation holds."""
        return sum(b.nbytes for b in self._bufs)

    @property
    def outputs_left(self) -> int:
        """Token slots not yet taken by a captured call."""
        return self.outputs - self._next

    @property
    def released(self) -> bool:
        return self._ws_base == 0 and self.rt is not None

    def covers(self, rows: int, vocab: int) -> bool:
        """Whether a (rows, vocab) call fits the reservation."""
        return rows <= self.max_batch and vocab <= self.vocab and not self.released

    def workspace(self, rows: int) -> int:
        """The workspace address of a call of ``rows`` rows (see the module docstring).

        ``ws_total_words(rows, vocab)`` words from there lie inside the reservation for any
        ``rows <= max_batch`` and ``vocab <= self.vocab``.
        """
        return self._ws_base + 8 * (self._zero - ws_prefix_words(rows))

    def _take_tokens(self, rows: int) -> DeviceBuffer | None:
        """The next token slot as a (rows,) int32 buffer, or None when all are taken."""
        with self._lock:
            if self._next >= self.outputs or self._slab is None:
                return None
            slot, self._next = self._next, self._next + 1
        return DeviceBuffer.view_of(self._slab, slot * self._slot, (rows,))

    def _too_small(self, rows: int, vocab: int) -> str:
        return (f"it needs {rows} rows x vocab {vocab}, and the stream's reservation holds "
                f"{self.max_batch} x {self.vocab}: reserve(max_batch>={rows}, "
                f"vocab>={vocab}) before capturing")

    def release(self) -> None:
        """Free the reserved memory (idempotent). Only once every graph that captured a call
        with it is destroyed: a replay after this reads and writes freed memory. Not while
        the stream is capturing (:class:`CaptureError`)."""
        rt = self.rt
        if rt is None or self.released:
            return
        if rt.stream_is_capturing(self.stream):
            raise CaptureError("release", self.stream, "the stream is capturing a graph that "
                               "may use this reservation: end the capture first")
        if self._on_release is not None:
            self._on_release(self)
        self._free()

    def _free(self) -> None:
        self._ws_base = self._scratch = 0
        bufs, self._bufs = self._bufs, []
        for b in bufs:
            b.free()  # cuMemFree/hipFree wait for the kernels still using it

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self.released else f"{self.nbytes} bytes"
        return (f"Reservation(max_batch={self.max_batch}, vocab={self.vocab}, "
                f"stream={self.stream:#x}, outputs={self.outputs_left}/{self.outputs} left, "
                f"{state})")


def bind_captured(res: Reservation | None, recipe: Recipe, stream: int, out: Any,
                  has_constant: Any) -> tuple[dict[str, int], Any]:
    """The addresses of ``recipe``'s per-call buffers for a call on capturing ``stream``, and
    its result (``out``'s view, or a token slot of ``res``, the stream's reservation): a
    :class:`CaptureError` saying what to reserve or pass instead when the call needs anything
    a capture cannot record. Everything is checked before a slot is taken (and the caller
    queues nothing before this returns). ``has_constant(array)``: whether a layout constant
    is on the device already."""
    op = recipe.op

    def fail(reason: str) -> CaptureError:
        return CaptureError(op, stream, reason)

    for role in recipe.uploads:
        raise fail(f"{role} given per row as a host (numpy) array would be uploaded at every "
                   f"call, and a replay repeats no upload: pass a scalar, or one value per "
                   f"row as a device array where the argument accepts one")
    for role, array in (recipe.constants or {}).items():
        if not has_constant(array):
            raise fail(f"its layout {role} is not on the device yet: make the same call once "
                       f"outside the capture first")
    mine = [b for b in recipe.buffers if not (b.role == "out" and out is not None)]
    ptrs: dict[str, int] = {} if out is None else {"out": out.ptr}
    if res is None or res.released:
        if not mine and recipe.workspace is None:
            return ptrs, out  # the caller's memory only
        what = "was released" if res is not None else "is reserved"
        raise fail(f"no memory {what} for this stream: call rocsample.reserve(max_batch, "
                   f"vocab, stream=...) with it before the capture")
    if recipe.workspace is not None and not res.covers(*recipe.workspace):
        raise fail(res._too_small(*recipe.workspace))
    rows = 0
    for role, shape, dtype, kind in mine:
        if kind == "tokens":
            rows = shape[0]
            if rows > res.max_batch:
                raise fail(res._too_small(rows, recipe.workspace[1] if recipe.workspace
                                          else res.vocab))
            if res.outputs_left <= 0:
                raise fail(f"all {res.outputs} token outputs of the reservation are taken by "
                           f"earlier captured calls: pass out= (an int32 device array of "
                           f"shape ({rows},)) or reserve(..., outputs=N) with a larger N")
        elif kind == "temp":
            if not res._scratch:
                raise fail("its scratch matrix was not reserved: reserve(..., logits=True)")
            if int(np.prod(shape)) * np.dtype(dtype).itemsize > 4 * res.max_batch * res.vocab:
                raise fail(res._too_small(*shape[:2]))  # type: ignore[misc]
            ptrs[role] = res._scratch
        else:
            raise fail(f"its result ({role}, shape {tuple(shape)}, {np.dtype(dtype).name}) "
                       f"must outlive every replay: pass out= (a device array of that shape "
                       f"and dtype)")
    result = out
    if rows:
        result = res._take_tokens(rows)
        if result is None:  # another thread took the last slot meanwhile
            raise fail(f"all {res.outputs} token outputs of the reservation are taken")
        ptrs["out"] = result.ptr
    return ptrs, result
