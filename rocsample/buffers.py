"""Device memory owned from Python, and zero-copy views of arrays that users hold.

:class:`DeviceBuffer` owns memory from a backend's :class:`MemoryDriver` and exports it via
DLPack (and ``__cuda_array_interface__`` on GPUs); :func:`as_array_view` turns a torch or cupy
tensor, a numpy array or a :class:`DeviceBuffer` into an :class:`ArrayView` (pointer, shape,
strides in elements, dtype, device) without copying.

Examples
--------
>>> import numpy as np
>>> drv = HostMemoryDriver()
>>> with DeviceBuffer.from_numpy(drv, np.arange(6, dtype=np.float32).reshape(2, 3)) as buf:
...     view = as_array_view(np.from_dlpack(buf))
...     (view.ptr == buf.ptr, view.strides, buf.numpy()[1, 2].item())
(True, (3, 1), 5.0)
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = ["BFLOAT16", "ArrayView", "DeviceBuffer", "HostMemoryDriver", "MemoryDriver",
           "as_array_view"]

logger = logging.getLogger("rocsample")

_ALIGN = 256  # bytes; what GPU allocators guarantee, so host-backed buffers behave alike
_LEGACY, _VERSIONED = b"dltensor", b"dltensor_versioned"
_USED = {_LEGACY: b"used_dltensor", _VERSIONED: b"used_dltensor_versioned"}
_READ_ONLY_FLAG = 1  # DLPACK_FLAG_BITMASK_READ_ONLY
# DLDataTypeCode -> numpy kind, and the bit widths accepted for each kind.
_DL_KINDS = {0: "i", 1: "u", 2: "f", 5: "c", 6: "b"}
_WIDTHS = {"i": (8, 16, 32, 64), "u": (8, 16, 32, 64), "f": (16, 32, 64), "c": (64, 128), "b": (8,)}
#: bfloat16, which numpy lacks: a two-byte record holding the bit pattern. DLPack's kDLBfloat
#: tensors (torch.bfloat16) are viewed with it, and buffers of it export as kDLBfloat;
#: ``a.view(np.uint16)`` gives the bits.
BFLOAT16 = np.dtype([("bf16", "<u2")])
_DL_BFLOAT = 4


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


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"unsupported dtype {dtype!r}: {exc}") from None
    if dt == BFLOAT16:
        return BFLOAT16
    if dt.kind not in _WIDTHS or dt.itemsize * 8 not in _WIDTHS[dt.kind] or dt.byteorder == ">":
        raise TypeError(f"unsupported dtype {dt.str!r}: need native bool/int/uint/float/complex")
    return dt


def _interface(buf: DeviceBuffer) -> dict[str, Any]:
    """The fields ``__array_interface__`` and ``__cuda_array_interface__`` v3 share."""
    # bfloat16 has no typestr: its bits are described as uint16 (DLPack says kDLBfloat).
    typestr = "<u2" if buf.dtype == BFLOAT16 else buf.dtype.str
    return {"version": 3, "shape": buf.shape, "typestr": typestr,
            "data": (buf.ptr, False), "strides": None}  # fmt: skip


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
    ``__cuda_array_interface__`` must keep the buffer alive themselves.

    Examples
    --------
    >>> import numpy as np
    >>> buf = DeviceBuffer(HostMemoryDriver(), (2, 3), np.float32)
    >>> buf.copy_from(np.ones((2, 3))); buf.strides, buf.numpy().sum().item()
    ((12, 4), 6.0)
    >>> buf.free(); buf.free()
    """

    def __init__(self, driver: MemoryDriver, shape: tuple[int, ...], dtype: Any,
                 stream: int | None = None) -> None:
        self._ptr: int | None = None
        self._base: DeviceBuffer | None = None  # set for views: the owner of the memory
        # With a stream and a driver that has a stream-ordered allocator, allocation and free
        # are queued on that stream: no device synchronisation, and memory is reused only
        # after the work queued before the free has finished.
        self._stream = stream if hasattr(driver, "alloc_async") else None
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
        """The stream the buffer's memory is ordered on (None: synchronous allocation)."""
        return self._stream

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
        """Return a host copy."""
        out = np.empty(self.shape, self.dtype)
        self.driver.copy_to_host(out.ctypes.data, self.ptr, self.nbytes)
        return out

    def copy_from(self, array: Any) -> None:
        """Copy a host array of the same shape in (``same_kind`` casts to :attr:`dtype`)."""
        host = np.asarray(array)
        if host.shape != self.shape:
            raise ValueError(f"shape {host.shape} does not match buffer shape {self.shape}")
        host = np.ascontiguousarray(host.astype(self.dtype, casting="same_kind", copy=False))
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
        """CUDA array interface v3; only for ``"cuda"``/``"hip"`` drivers (else AttributeError)."""
        if self.driver.name not in ("cuda", "hip"):
            raise AttributeError(f"no __cuda_array_interface__ on {self.driver.name!r} memory")
        return {**_interface(self), "stream": None}

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
        if stream is not None and self._stream is not None and hasattr(self.driver, "stream_wait"):
            consumer = {1: 0}.get(int(stream), int(stream))
            if consumer != self._stream and stream != -1:
                self.driver.stream_wait(consumer, self._stream)
        return _export(self, max_version is not None and tuple(max_version) >= (1, 0))

    def __dlpack_device__(self) -> tuple[int, int]:
        return self.device


# ---- DLPack structures (dlpack.h v1.0) ----
_VOIDP, _I64P = ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64)


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", _VOIDP), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", _I64P), ("strides", _I64P),
                ("byte_offset", ctypes.c_uint64)]  # fmt: skip


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _VOIDP)]


class _DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32),
                ("manager_ctx", _VOIDP), ("deleter", _VOIDP), ("flags", ctypes.c_uint64),
                ("dl_tensor", _DLTensor)]  # fmt: skip


def _capi(name: str, restype: Any, *argtypes: Any) -> Any:
    # Private prototypes, so the shared ctypes.pythonapi function objects are left untouched.
    return ctypes.PYFUNCTYPE(restype, *argtypes)((name, ctypes.pythonapi))


_capsule_is_valid = _capi("PyCapsule_IsValid", ctypes.c_int, ctypes.py_object, ctypes.c_char_p)
_capsule_pointer = _capi("PyCapsule_GetPointer", ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)
_capsule_set_name = _capi("PyCapsule_SetName", ctypes.c_int, ctypes.py_object, ctypes.c_char_p)
_DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_EXPORT_LOCK = threading.RLock()  # guards DeviceBuffer._exports / _pending


def _capsule_tensor(capsule: Any) -> tuple[bytes, Any]:
    """Return the capsule's name and its DLManagedTensor(Versioned) struct (shared memory)."""
    name = next((n for n in (_VERSIONED, _LEGACY) if _capsule_is_valid(capsule, n)), None)
    if name is None:
        raise TypeError(f"expected an unconsumed DLPack capsule, got {capsule!r}")
    struct = _DLManagedTensorVersioned if name == _VERSIONED else _DLManagedTensor
    return name, struct.from_address(_capsule_pointer(capsule, name))


class _Export:
    """A DeviceBuffer as seen by numpy's DLPack exporter; counts as one live export.

    numpy builds the capsule (its C deleter and capsule destructor are exception- and
    thread-safe, unlike ctypes callbacks) and keeps this object alive as the array's base
    until the consumer calls the deleter, or until an unconsumed capsule is collected.
    """

    def __init__(self, buf: DeviceBuffer) -> None:
        self.__array_interface__ = _interface(buf)
        with _EXPORT_LOCK:
            buf._exports += 1
        self.buf = buf

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a finalizer must never raise
            self.buf._export_released()


def _export(buf: DeviceBuffer, versioned: bool) -> Any:
    # numpy never touches the data here, so device pointers are fine in the host array.
    host_alias = np.asarray(_Export(buf))
    capsule = None
    if versioned:
        with contextlib.suppress(TypeError):  # numpy < 2.1 only produces legacy capsules
            capsule = host_alias.__dlpack__(max_version=(1, 0))
    if capsule is None:
        capsule = host_alias.__dlpack__()
    if buf.device != (1, 0) or buf.dtype == BFLOAT16:
        _name, managed = _capsule_tensor(capsule)
        managed.dl_tensor.device = _DLDevice(*buf.device)
        if buf.dtype == BFLOAT16:
            managed.dl_tensor.dtype = _DLDataType(_DL_BFLOAT, 16, 1)
    return capsule


@dataclass(frozen=True)
class ArrayView:
    """A borrowed, zero-copy description of an array: everything a kernel launch needs.

    ``strides`` are in elements.  ``owner`` keeps the memory alive (the producer, a
    :class:`DeviceBuffer`, or the holder of a consumed DLPack capsule).  ``stream`` is a stream
    on which the data is ready (``None``: unknown / legacy default stream).

    Examples
    --------
    >>> import numpy as np
    >>> view = as_array_view(np.zeros((4, 8), np.float32)[:, :5])
    >>> view.shape, view.strides, view.is_row_contiguous()
    ((4, 5), (8, 1), True)
    """

    ptr: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: np.dtype
    device: tuple[int, int]
    owner: object
    stream: int | None = None
    readonly: bool = False

    def is_row_contiguous(self) -> bool:
        """True when elements within a row are adjacent (rows themselves may be padded)."""
        return not self.shape or self.shape[-1] <= 1 or self.strides[-1] == 1


class _DLPackOwner:
    """Holds a consumed DLPack tensor; runs the producer's deleter when collected."""

    def __init__(self, producer: object, managed: int, deleter: int | None) -> None:
        self.producer, self._managed, self._deleter = producer, managed, deleter

    def __del__(self) -> None:
        managed, self._managed = self._managed, 0
        if managed and self._deleter:
            with contextlib.suppress(Exception):  # a finalizer must never raise
                _DELETER(self._deleter)(managed)


def _device_index(obj: object) -> int:
    dev = getattr(obj, "device", None)
    for attr in ("index", "id"):  # torch.device.index, cupy.cuda.Device.id
        value = getattr(dev, attr, None)
        if isinstance(value, int):
            return value
    return 0


def _from_cai(obj: object, cai: dict[str, Any], stream: int | None) -> ArrayView:
    if cai.get("mask") is not None:
        raise ValueError("masked __cuda_array_interface__ arrays are not supported")
    try:
        ptr, readonly = cai["data"]
        shape = tuple(int(n) for n in cai["shape"])
        typestr = cai["typestr"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed __cuda_array_interface__: {exc!r}") from None
    if not isinstance(typestr, str):
        raise TypeError(f"__cuda_array_interface__ typestr must be a str, not {typestr!r}")
    dtype = _check_dtype(typestr)
    if cai.get("strides") is None:
        strides = _c_strides(shape, 1)
    else:
        byte_strides = tuple(int(s) for s in cai["strides"])
        if len(byte_strides) != len(shape) or any(s % dtype.itemsize for s in byte_strides):
            raise ValueError(f"strides {byte_strides} do not fit shape {shape} of {dtype}")
        strides = tuple(s // dtype.itemsize for s in byte_strides)
    own = cai.get("stream")
    stream = stream if own is None else int(own)
    device = (2, _device_index(obj))
    return ArrayView(int(ptr or 0), shape, strides, dtype, device, obj, stream, bool(readonly))


def _dl_dtype(dt: _DLDataType) -> np.dtype:
    if (dt.code, dt.bits, dt.lanes) == (_DL_BFLOAT, 16, 1):
        return BFLOAT16
    kind = _DL_KINDS.get(dt.code)
    if dt.lanes != 1 or kind is None or dt.bits not in _WIDTHS[kind]:
        raise TypeError(
            f"unsupported DLPack dtype (code={dt.code}, bits={dt.bits}, lanes={dt.lanes})"
        )
    return np.dtype(bool) if kind == "b" else np.dtype(f"{kind}{dt.bits // 8}")


def _from_dlpack(obj: Any, stream: int | None) -> ArrayView:
    try:
        capsule = obj.__dlpack__(stream=stream, max_version=(1, 0))
    except TypeError:  # a producer that predates DLPack 1.0
        capsule = obj.__dlpack__(stream=stream)
    name, managed = _capsule_tensor(capsule)
    readonly = False
    if name == _VERSIONED:
        if managed.major != 1:
            raise BufferError(f"DLPack {managed.major}.{managed.minor} is not supported")
        readonly = bool(managed.flags & _READ_ONLY_FLAG)
    t = managed.dl_tensor
    dtype = _dl_dtype(t.dtype)  # raises before renaming: the producer then cleans up
    shape = tuple(t.shape[i] for i in range(t.ndim))
    strides = tuple(t.strides[i] for i in range(t.ndim)) if t.strides else _c_strides(shape, 1)
    ptr = (t.data or 0) + t.byte_offset
    device = (int(t.device.device_type), int(t.device.device_id))
    _capsule_set_name(capsule, _USED[name])  # consumed: the deleter is now ours to call
    owner = _DLPackOwner(obj, ctypes.addressof(managed), managed.deleter)
    return ArrayView(ptr, shape, strides, dtype, device, owner, stream, readonly)


def as_array_view(obj: Any, *, stream: int | None = None) -> ArrayView:
    """Describe ``obj``'s memory without copying it.

    Accepts a :class:`DeviceBuffer`, an object with ``__cuda_array_interface__`` (v2/v3;
    device ``(2, obj.device.index or .id or 0)``) or one with ``__dlpack__`` and
    ``__dlpack_device__`` (torch, cupy, jax, numpy).  ``stream`` is passed to ``__dlpack__``.

    Raises
    ------
    TypeError
        For other objects and unsupported dtypes (bfloat16 is :data:`BFLOAT16`).
    ValueError
        For masked or malformed ``__cuda_array_interface__`` dicts.

    Examples
    --------
    >>> import numpy as np
    >>> v = as_array_view(np.arange(3, dtype=np.int32))
    >>> v.dtype, v.device, v.strides
    (dtype('int32'), (1, 0), (1,))
    """
    if isinstance(obj, DeviceBuffer):
        strides = _c_strides(obj.shape, 1)
        return ArrayView(obj.ptr, obj.shape, strides, obj.dtype, obj.device, obj, stream)
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is not None:
        return _from_cai(obj, cai, stream)
    if hasattr(obj, "__dlpack__") and hasattr(obj, "__dlpack_device__"):
        return _from_dlpack(obj, stream)
    raise TypeError(
        f"cannot view a {type(obj).__name__}: expected a DeviceBuffer, an object "
        "with __cuda_array_interface__, or one with __dlpack__ and "
        "__dlpack_device__ (torch, cupy, jax or numpy arrays)"
    )
