"""The element types buffers and views accept: native numeric dtypes and :data:`BFLOAT16`.

Examples
--------
>>> import numpy as np
>>> _check_dtype("<f2"), _check_dtype(BFLOAT16) is BFLOAT16
(dtype('float16'), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BFLOAT16", "KIND_NAMES", "f32_to_bf16", "float_kind", "narrow_f32", "widen_to_f32"]

# The bit widths accepted for each numpy kind.
_WIDTHS = {"i": (8, 16, 32, 64), "u": (8, 16, 32, 64), "f": (16, 32, 64), "c": (64, 128), "b": (8,)}
#: bfloat16, which numpy lacks: a two-byte record holding the bit pattern. DLPack's kDLBfloat
#: tensors (torch.bfloat16) are viewed with it, and buffers of it export as kDLBfloat;
#: ``a.view(np.uint16)`` gives the bits.
BFLOAT16 = np.dtype([("bf16", "<u2")])


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"unsupported dtype {dtype!r}: {exc}") from None
    if dt == BFLOAT16:
        return BFLOAT16
    if dt.kind not in _WIDTHS or dt.itemsize * 8 not in _WIDTHS[dt.kind] or dt.byteorder == ">":
        if float_kind(dt) == "bf16":  # ml_dtypes.bfloat16: held as its bits
            return BFLOAT16
        raise TypeError(f"unsupported dtype {dt.str!r}: need native bool/int/uint/float/complex "
                        "or bfloat16")
    return dt


#: The dtype name of each kind :func:`float_kind` gives.
KIND_NAMES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


def float_kind(dtype: Any) -> str | None:
    """``"f32"``, ``"f16"`` or ``"bf16"`` for the float types the sampling family reads (bfloat16
    as :data:`BFLOAT16` or ``ml_dtypes.bfloat16``), else None.

    Examples
    --------
    >>> float_kind(np.float16), float_kind(BFLOAT16), float_kind(np.float64)
    ('f16', 'bf16', None)
    """
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        return None
    if dt == np.float32:
        return "f32"
    if dt == np.float16:
        return "f16"
    if dt == BFLOAT16 or (dt.name == "bfloat16" and dt.itemsize == 2):
        return "bf16"
    return None


def widen_to_f32(array: np.ndarray) -> np.ndarray:
    """A float32/float16/bfloat16 array as float32, exactly (every half value is a float32).

    Examples
    --------
    >>> bits = np.array([0x3F80, 0xC040], np.uint16).view(BFLOAT16)
    >>> widen_to_f32(bits).tolist(), widen_to_f32(np.float16([0.5])).tolist()
    ([1.0, -3.0], [0.5])
    """
    kind = float_kind(array.dtype)
    if kind == "f32":
        return array
    if kind == "f16":
        return array.astype(np.float32)
    if kind == "bf16":
        bits = np.ascontiguousarray(array).view(np.uint16)
        return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
    raise TypeError(f"cannot widen dtype {array.dtype} to float32")


def f32_to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 to bf16 bit patterns (uint16), rounded to nearest even; NaN stays a quiet NaN
    (its sign and top payload kept: truncation could turn it into an Inf). The kernels'
    rounding (``rs_num<rs_bf16>::down`` in ``kernels/rs_common.h``), bit for bit.

    Example
    -------
    >>> [hex(v) for v in f32_to_bf16(np.array([1.00390625, 1.01171875], np.float32))]
    ['0x3f80', '0x3f82']
    """
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    rounded = (u + (np.uint32(0x7FFF) + ((u >> 16) & 1))) >> 16
    return np.where(nan, (u >> 16) | 0x40, rounded).astype(np.uint16)


def narrow_f32(array: np.ndarray, kind: str) -> np.ndarray:
    """A float32 array rounded once, to nearest even, to ``kind`` (``"f32"``: itself;
    ``"f16"``: numpy float16; ``"bf16"``: :data:`BFLOAT16`), as the kernels store a result of
    that type; a value beyond the type's range becomes +-Inf, a NaN stays NaN.

    Examples
    --------
    >>> x = np.array([0.1, 70000.0], np.float32)
    >>> narrow_f32(x, "f16").tolist()
    [0.0999755859375, inf]
    >>> widen_to_f32(narrow_f32(x, "bf16")).tolist()
    [0.10009765625, 70144.0]
    """
    if kind == "f32":
        return array
    if kind == "f16":
        with np.errstate(over="ignore"):  # beyond 65504: Inf, as the hardware rounds
            return array.astype(np.float16)
    if kind == "bf16":
        return f32_to_bf16(array).reshape(np.shape(array)).view(BFLOAT16)
    raise ValueError(f"kind must be 'f32', 'f16' or 'bf16'; got {kind!r}")
