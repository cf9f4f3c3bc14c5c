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

__all__ = ["BFLOAT16"]

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
        raise TypeError(f"unsupported dtype {dt.str!r}: need native bool/int/uint/float/complex")
    return dt
