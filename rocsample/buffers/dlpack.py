"""The DLPack ABI (dlpack.h v1.0) in ctypes, and the export of a :class:`DeviceBuffer`.

The structs, the capsule calls of the C API, DLPack's dtype codes (:func:`_dl_dtype`), the owner
that runs a consumed tensor's deleter (:class:`_DLPackOwner`), and :func:`_export`, which turns a
:class:`~rocsample.buffers.memory.DeviceBuffer` into a capsule through numpy's exporter.
Consuming a producer's capsule into an :class:`~rocsample.buffers.views.ArrayView` is
:mod:`rocsample.buffers.views`'s job, with these pieces.

Examples
--------
>>> import numpy as np
>>> capsule = np.arange(3, dtype=np.int16).__dlpack__()  # held while its struct is read
>>> name, managed = _capsule_tensor(capsule)
>>> name, managed.dl_tensor.ndim, _dl_dtype(managed.dl_tensor.dtype)
(b'dltensor', 1, dtype('int16'))
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from .dtypes import _WIDTHS, BFLOAT16

if TYPE_CHECKING:
    from .memory import DeviceBuffer

_LEGACY, _VERSIONED = b"dltensor", b"dltensor_versioned"
_USED = {_LEGACY: b"used_dltensor", _VERSIONED: b"used_dltensor_versioned"}
_READ_ONLY_FLAG = 1  # DLPACK_FLAG_BITMASK_READ_ONLY
# DLDataTypeCode -> numpy kind (the accepted widths are dtypes._WIDTHS).
_DL_KINDS = {0: "i", 1: "u", 2: "f", 5: "c", 6: "b"}
_DL_BFLOAT = 4


# Here rather than in memory.py because the export below hands it to numpy's exporter;
# DeviceBuffer.__cuda_array_interface__ reuses it.
def _interface(buf: DeviceBuffer) -> dict[str, Any]:
    """The fields ``__array_interface__`` and ``__cuda_array_interface__`` v3 share."""
    # bfloat16 has no typestr: its bits are described as uint16 (DLPack says kDLBfloat).
    typestr = "<u2" if buf.dtype == BFLOAT16 else buf.dtype.str
    return {"version": 3, "shape": buf.shape, "typestr": typestr,
            "data": (buf.ptr, False), "strides": None}  # fmt: skip


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


class _DLPackOwner:
    """Holds a consumed DLPack tensor; runs the producer's deleter when collected."""

    def __init__(self, producer: object, managed: int, deleter: int | None) -> None:
        self.producer, self._managed, self._deleter = producer, managed, deleter

    def __del__(self) -> None:
        managed, self._managed = self._managed, 0
        if managed and self._deleter:
            with contextlib.suppress(Exception):  # a finalizer must never raise
                _DELETER(self._deleter)(managed)


def _dl_dtype(dt: _DLDataType) -> np.dtype:
    if (dt.code, dt.bits, dt.lanes) == (_DL_BFLOAT, 16, 1):
        return BFLOAT16
    kind = _DL_KINDS.get(dt.code)
    if dt.lanes != 1 or kind is None or dt.bits not in _WIDTHS[kind]:
        raise TypeError(
            f"unsupported DLPack dtype (code={dt.code}, bits={dt.bits}, lanes={dt.lanes})"
        )
    return np.dtype(bool) if kind == "b" else np.dtype(f"{kind}{dt.bits // 8}")
