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

# Re-exported for code that reads exported capsules (tests/test_buffers.py) from here.
from .dlpack import _capsule_tensor as _capsule_tensor
from .dtypes import BFLOAT16, KIND_NAMES, f32_to_bf16, float_kind, narrow_f32, widen_to_f32
from .memory import DeviceBuffer, HostMemoryDriver, MemoryDriver
from .views import ArrayView, as_array_view

__all__ = ["BFLOAT16", "KIND_NAMES", "ArrayView", "DeviceBuffer", "HostMemoryDriver",
           "MemoryDriver", "as_array_view", "f32_to_bf16", "float_kind", "narrow_f32",
           "widen_to_f32"]
