"""Zero-copy views of arrays that users hold: :class:`ArrayView` and :func:`as_array_view`.

Reads a foreign array's memory description through ``__cuda_array_interface__`` or by
consuming its DLPack capsule (with :mod:`rocsample.buffers.dlpack`'s ABI); a
:class:`~rocsample.buffers.memory.DeviceBuffer` is described directly.

Examples
--------
>>> import numpy as np
>>> as_array_view(np.zeros((3, 4), np.float64).T).strides
(1, 4)
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dlpack import (
    _READ_ONLY_FLAG,
    _USED,
    _VERSIONED,
    _capsule_set_name,
    _capsule_tensor,
    _dl_dtype,
    _DLPackOwner,
)
from .dtypes import _check_dtype
from .memory import DeviceBuffer, _c_strides

__all__ = ["ArrayView", "as_array_view"]


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
        typestr = cai.get("typestr") if isinstance(cai, dict) else None
        # The array interface has no bfloat16: torch describes one as raw 2-byte records
        # ("V2"), which DLPack names exactly.
        if not (isinstance(typestr, str) and typestr[1:2] == "V" and hasattr(obj, "__dlpack__")
                and hasattr(obj, "__dlpack_device__")):
            return _from_cai(obj, cai, stream)
    if hasattr(obj, "__dlpack__") and hasattr(obj, "__dlpack_device__"):
        return _from_dlpack(obj, stream)
    raise TypeError(
        f"cannot view a {type(obj).__name__}: expected a DeviceBuffer, an object "
        "with __cuda_array_interface__, or one with __dlpack__ and "
        "__dlpack_device__ (torch, cupy, jax or numpy arrays)"
    )
