"""Device memory owned from Python: :class:`DeviceBuffer` and the memory drivers.

A :class:`MemoryDriver` is the memory half of a backend; :class:`HostMemoryDriver` is the CPU
backend's. A :class:`DeviceBuffer` owns one C-contiguous allocation of a driver, frees it
deterministically, and exports it via DLPack (:mod:`rocsample.buffers.dlpack`) and
``__cuda_array_interface__`` on GPUs.

Examples
--------
>>> import numpy as np
>>> with DeviceBuffer.from_numpy(HostMemoryDriver(), np.arange(4, dtype=np.int32)) as buf:
...     (buf.shape, buf.ptr % 256, buf.numpy().tolist())
((4,), 0, [0, 1, 2, 3])
"""

from __future__ import annotations

import ctypes
import logging
import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from .dlpack import _EXPORT_LOCK, _export, _interface
from .dtypes import BFLOAT16, _check_dtype, float_kind

__all__ = ["DeviceBuffer", "HostMemoryDriver", "MemoryDriver"]

logger = logging.getLogger("rocsample")

_ALIGN = 256  # bytes; what GPU allocators guarantee, so host-backed buffers behave alike


class MemoryDriver(Protocol):
    """The memory half of a backend: raw allocations and host<->device copies.

    ``name`` is ``"hip"``, ``"cuda"`` or ``"cpu"``; ``dlpack_device`` is ``(DLDeviceType,
    index)`` with ``kDLCPU=1``, ``kDLCUDA=2``, ``kDLROCM=10``.  Copies take host addresses.
    """

    name: str
    dlpack_device: tuple[int, int]

    def alloc(self, nbytes: int) -> int: ...
    def free(self, ptr: int) -> None: ...
    def copy_from_host(self, dst: int, src: int, nbytes: int) -> None: ...
    def copy_to_host(self, dst: int, src: int, nbytes: int) -> None: ...


class HostMemoryDriver:
    """The CPU backend's memory: 256-byte aligned numpy-owned blocks, copied with memmove.

    Examples
    --------
    >>> drv = HostMemoryDriver()
    >>> ptr = drv.alloc(16)
    >>> drv.live_allocations, ptr % 256
    (1, 0)
    >>> drv.free(ptr); drv.live_allocations
    0
    """

    name = "cpu"
    dlpack_device = (1, 0)

    def __init__(self) -> None:
        self._blocks: dict[int, np.ndarray] = {}

    @property
    def live_allocations(self) -> int:
        """Number of blocks allocated and not yet freed."""
        return len(self._blocks)

    def alloc(self, nbytes: int) -> int:
        """Return the address of ``nbytes`` fresh bytes (non-zero, even for ``nbytes == 0``)."""
        if nbytes < 0:
            raise ValueError(f"cannot allocate {nbytes} bytes")
        raw = np.empty(int(nbytes) + _ALIGN, dtype=np.uint8)
        ptr = raw.ctypes.data + (-raw.ctypes.data) % _ALIGN
        self._blocks[ptr] = raw
        return ptr

    def free(self, ptr: int) -> None:
        """Release a block from :meth:`alloc`; ``ValueError`` for unknown or freed pointers."""
        if self._blocks.pop(ptr, None) is None:
            raise ValueError(f"pointer {ptr:#x} is not a live allocation of this driver")

    def copy_from_host(self, dst: int, src: int, nbytes: int) -> None:
        """Copy ``nbytes`` from host address ``src`` into driver memory at ``dst``."""
        _memmove(dst, src, nbytes)

    def copy_to_host(self, dst: int, src: int, nbytes: int) -> None:
        """Copy ``nbytes`` from driver memory at ``src`` to host address ``dst``."""
        _memmove(dst, src, nbytes)


def _memmove(dst: int, src: int, nbytes: int) -> None:
    if nbytes < 0:
        raise ValueError(f"cannot copy {nbytes} bytes")
    if nbytes:
        ctypes.memmove(dst, src, nbytes)


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


class DeviceBuffer:
    """C-contiguous memory owned from Python and allocated through a :class:`MemoryDriver`.

    :meth:`free` (or leaving a ``with`` block) releases it at once; while DLPack exports are
    still held by consumers the release is deferred until the last one lets go.  Consumers of
    ``__cuda_array_interface__`` must keep the buffer alive themselves. A buffer allocated on
    a stream (``stream=``, as results of calls on a stream are) is freed on that stream, as
    every stream-ordered allocation is: free or drop it before destroying the stream.

    Examples
    --------
    >>> import numpy as np
    >>> buf = DeviceBuffer(HostMemoryDriver(), (2, 3), np.float32)
    >>> buf.copy_from(np.ones((2, 3))); buf.strides, buf.numpy().sum().item()
    ((12, 4), 6.0)
    >>> buf.free(); buf.free()
    """

    def __init__(self, driver: MemoryDriver, shape: tuple[int, ...], dtype: Any,
                 stream: int | None = None, *, ordered_on: int | None = None) -> None:
        self._ptr: int | None = None
        self._base: DeviceBuffer | None = None  # set for views: the owner of the memory
        # With a stream and a driver that has a stream-ordered allocator, allocation and free
        # are queued on that stream: no device synchronisation, and memory is reused only
        # after the work queued before the free has finished.
        self._stream = stream if hasattr(driver, "alloc_async") else None
        # The stream whose work writes the buffer (what numpy(), DLPack and the CUDA array
        # interface wait for): ``stream``, or ``ordered_on`` for plain memory that a stream
        # writes (an output slab's, which must be freeable after its stream is destroyed).
        self._order = stream if ordered_on is None else ordered_on
        self._pending: int | None = None  # pointer whose free waits for DLPack exports
        self._exports = 0
        self.driver = driver
        self.shape = tuple(int(n) for n in shape)
        if any(n < 0 for n in self.shape):
            raise ValueError(f"negative dimension in shape {self.shape}")
        self.dtype = _check_dtype(dtype)
        self.nbytes = math.prod(self.shape) * self.dtype.itemsize
        self.strides = _c_strides(self.shape, self.dtype.itemsize)
        self.device = (int(driver.dlpack_device[0]), int(driver.dlpack_device[1]))
        if self._stream is not None:
            self._ptr = int(driver.alloc_async(self.nbytes, self._stream))  # type: ignore[attr-defined]
        else:
            self._ptr = int(driver.alloc(self.nbytes))

    @classmethod
    def view_of(cls, base: DeviceBuffer, offset: int, shape: tuple[int, ...]) -> DeviceBuffer:
        """A buffer of ``base``'s dtype over its memory from byte ``offset``; no allocation.

        The view keeps ``base`` alive; freeing the view (or dropping it) releases only that
        reference, and the memory goes when ``base`` and all its views are gone. This is how
        small results come out of one larger allocation without a driver call each.

        >>> import numpy as np
        >>> slab = DeviceBuffer(HostMemoryDriver(), (8,), np.int32)
        >>> v = DeviceBuffer.view_of(slab, 16, (4,))
        >>> v.copy_from(np.arange(4)); slab.numpy().tolist()[4:]
        [0, 1, 2, 3]
        >>> v.free(); v.free()
        """
        return base.view_maker(shape)(offset)

    def view_maker(self, shape: tuple[int, ...]) -> Callable[[int], DeviceBuffer]:
        """``make(offset)``: :meth:`view_of` this buffer with ``shape`` at byte ``offset``.

        For per-call results: everything but the offset is worked out once here, so each view
        costs one object (a ``sample()`` on device arrays takes its result this way).

        >>> import numpy as np
        >>> make = DeviceBuffer(HostMemoryDriver(), (8,), np.int32).view_maker((2,))
        >>> make(8).shape, make(24).nbytes
        ((2,), 8)
        """
        shape = tuple(int(n) for n in shape)
        nbytes = math.prod(shape) * self.dtype.itemsize
        template = {"_pending": None, "_exports": 0, "_stream": self._stream,
                    "_order": self._order,
                    "driver": self.driver, "dtype": self.dtype, "device": self.device,
                    "shape": shape, "nbytes": nbytes,
                    "strides": _c_strides(shape, self.dtype.itemsize), "_base": self}
        new = DeviceBuffer.__new__
        cls = type(self)

        def make(offset: int) -> DeviceBuffer:
            if offset < 0 or offset + nbytes > self.nbytes:
                raise ValueError(f"view of {nbytes} bytes at {offset} is outside {self!r}")
            view = new(cls)
            view.__dict__.update(template)
            view._ptr = self.ptr + offset  # ValueError once the base is freed
            return view

        return make

    def _release(self, ptr: int) -> None:
        if self._base is not None:  # a view: the owner frees the memory
            self._base = None
            return
        if self._stream is not None:
            self.driver.free_async(ptr, self._stream)  # type: ignore[attr-defined]
        else:
            self.driver.free(ptr)

    @property
    def stream(self) -> int | None:
        """The stream whose work writes the buffer (None: none; ready when made)."""
        return self._order

    @classmethod
    def from_numpy(cls, driver: MemoryDriver, array: Any) -> DeviceBuffer:
        """Allocate a buffer shaped like ``array`` and copy it in (made C-contiguous first)."""
        host = np.asarray(array, order="C")
        buf = cls(driver, host.shape, host.dtype)
        try:
            buf.copy_from(host)
        except BaseException:
            buf.free()
            raise
        return buf

    @property
    def ptr(self) -> int:
        """Device address; ``ValueError('buffer was freed')`` after :meth:`free`."""
        if self._ptr is None:
            raise ValueError("buffer was freed")
        return self._ptr

    def numpy(self) -> np.ndarray:
        """Return a host copy, once the work queued on the buffer's stream is done.

        A result made on a stream (``rocsample.sample(x, stream=s)`` on device arrays) is
        written by kernels still queued there; the driver's synchronous copy runs on the
        legacy default stream, which does not wait for a non-blocking stream, so the copy
        waits for :attr:`stream` first (with the deadline of ``ROCSAMPLE_SYNC_TIMEOUT``).
        """
        self._settle("DeviceBuffer.numpy")
        return self._host_copy()

    def _host_copy(self) -> np.ndarray:
        """The copy of :meth:`numpy` without the wait (for a caller that waited already)."""
        out = np.empty(self.shape, self.dtype)
        self.driver.copy_to_host(out.ctypes.data, self.ptr, self.nbytes)
        return out

    def _settle(self, what: str) -> None:
        """Wait for the work queued so far on the buffer's stream (none: nothing to wait
        for, or the legacy default stream, which synchronous copies wait for already)."""
        if self._order:
            drain = getattr(self.driver, "drain", None)
            if drain is not None:
                drain(self._order, what)

    def copy_from(self, array: Any) -> None:
        """Copy a host array of the same shape in (``same_kind`` casts to :attr:`dtype`)."""
        host = np.asarray(array)
        if host.shape != self.shape:
            raise ValueError(f"shape {host.shape} does not match buffer shape {self.shape}")
        if self.dtype == BFLOAT16 and float_kind(host.dtype) == "bf16":
            host = host.view(BFLOAT16)  # ml_dtypes.bfloat16: the same bits
        host = np.ascontiguousarray(host.astype(self.dtype, casting="same_kind", copy=False))
        self._settle("DeviceBuffer.copy_from")  # kernels queued on the stream may still read it
        self.driver.copy_from_host(self.ptr, host.ctypes.data, self.nbytes)

    def free(self) -> None:
        """Release the memory now (deferred while DLPack exports live); idempotent."""
        ptr, self._ptr = self._ptr, None
        if ptr is None:
            return
        with _EXPORT_LOCK:
            if self._exports:
                logger.debug(
                    "free of %#x deferred until %d DLPack exports are released", ptr, self._exports
                )
                self._pending = ptr
                return
        self._release(ptr)

    def _export_released(self) -> None:
        with _EXPORT_LOCK:
            self._exports -= 1
            ptr = self._pending if self._exports == 0 else None
            if ptr is not None:
                self._pending = None
        if ptr is not None:
            self._release(ptr)

    def __enter__(self) -> DeviceBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()

    def __del__(self) -> None:
        # Nothing holds the buffer any more, so no DLPack export is alive (each holds it):
        # release without the export lock (a per-call cost of every result). A finalizer
        # must never raise.
        ptr = self.__dict__.get("_ptr")
        if ptr is None:
            return
        try:
            if self._exports:  # only when collected in a cycle with its exports
                self.free()
            else:
                self._ptr = None
                self._release(ptr)
        except Exception as exc:  # the driver may be gone at interpreter exit
            logger.debug("DeviceBuffer not released in __del__: %s", exc)

    def __repr__(self) -> str:
        where = "freed" if self._ptr is None else f"{self._ptr:#x}"
        return f"DeviceBuffer({self.driver.name}, shape={self.shape}, dtype={self.dtype}, {where})"

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        """CUDA array interface v3; only for ``"cuda"``/``"hip"`` drivers (else AttributeError).

        ``stream`` names the stream the buffer's work is queued on (1 for the legacy default
        stream), which a consumer synchronises with before reading; None for memory with no
        stream (ready once the call that made it returned).
        """
        if self.driver.name not in ("cuda", "hip"):
            raise AttributeError(f"no __cuda_array_interface__ on {self.driver.name!r} memory")
        stream = None if self._order is None else (self._order or 1)
        return {**_interface(self), "stream": stream}

    def __dlpack__(
        self,
        *,
        stream: Any = None,
        max_version: tuple[int, int] | None = None,
        dl_device: tuple[int, int] | None = None,
        copy: bool | None = None,
    ) -> Any:
        """Export a DLPack capsule without copying (versioned when ``max_version >= (1, 0)``).

        ``stream`` is the consumer's stream (DLPack: 1 = legacy default, 2 = per-thread
        default on CUDA): when the buffer's work is queued on another stream, the consumer's
        stream is made to wait for it, so the data is ready there without a host sync.
        """
        if dl_device is not None and tuple(dl_device) != self.device:
            raise BufferError(f"buffer lives on {self.device}, not {tuple(dl_device)}")
        if copy:
            raise BufferError("DeviceBuffer exports its own memory only (copy=True unsupported)")
        if stream is not None and self._order is not None and hasattr(self.driver, "stream_wait"):
            consumer = {1: 0}.get(int(stream), int(stream))
            if consumer != self._order and stream != -1:
                self.driver.stream_wait(consumer, self._order)
        return _export(self, max_version is not None and tuple(max_version) >= (1, 0))

    def __dlpack_device__(self) -> tuple[int, int]:
        return self.device
