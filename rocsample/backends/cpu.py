"""The numpy backend: the same operations and the same draws, on the host.

float16 and bfloat16 matrices (numpy float16, :data:`~rocsample.buffers.BFLOAT16`,
``ml_dtypes.bfloat16``, torch CPU tensors through DLPack) are widened exactly to float32 and
computed as float32, so they give exactly the float32 results of the widened values; the
results of ``softmax`` and ``temperature_scale`` are float32, as on the GPU backends, or
(``out_dtype``) that float32 result rounded once to the logits' own half type.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from ..buffers import BFLOAT16, as_array_view
from ..buffers.dtypes import float_kind, narrow_f32, widen_to_f32
from ..validation import SamplingParams, check_bad_rows, check_matrix_shape, result_kind, rng_views
from . import cpu_engine

__all__ = ["CpuBackend", "rows_op"]


def _host(x: Any, name: str) -> np.ndarray:
    """``x`` as a float32 host matrix: float16 and bfloat16 widened exactly (a copy), so every
    operation computes what it computes for the widened float32 values, as the kernels do."""
    return widen_to_f32(_host_matrix(x, name))


def _host_matrix(x: Any, name: str) -> np.ndarray:
    """``x`` as a checked host matrix of its own element type (float32, float16, bfloat16)."""
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.from_dlpack(x)  # torch CPU tensors and friends, without a copy
        except (BufferError, TypeError, RuntimeError, AttributeError) as exc:
            arr = _host_bf16(x)  # numpy has no bfloat16: torch CPU bf16 tensors come here
            if arr is None:
                raise TypeError(
                    f"{name}: the cpu backend takes host arrays (numpy, or DLPack on the CPU); "
                    f"got {type(x).__name__} ({exc}). Device arrays need a GPU backend."
                ) from exc
    check_matrix_shape(name, arr.shape, arr.dtype)
    return arr


def _host_bf16(x: Any) -> np.ndarray | None:
    """A copy of a host DLPack bfloat16 matrix (kDLBfloat, which numpy cannot import), or
    None for anything else."""
    try:
        view = as_array_view(x)
    except (TypeError, ValueError, BufferError):
        return None
    if view.device[0] != 1 or view.dtype != BFLOAT16 or len(view.shape) != 2:
        return None
    rows, cols = view.shape
    if rows == 0 or cols == 0:
        return np.empty(view.shape, BFLOAT16)
    span = (rows - 1) * view.strides[0] + (cols - 1) * view.strides[1] + 1
    raw = (ctypes.c_uint16 * span).from_address(view.ptr)
    flat = np.frombuffer(raw, dtype=np.uint16)
    bits = np.lib.stride_tricks.as_strided(flat, view.shape,
                                           tuple(2 * s for s in view.strides)).copy()
    return bits.view(BFLOAT16)


def rows_op(fn: Any, logits: Any, temperature: Any, out_kind: str) -> np.ndarray:
    """softmax or temperature_scale (``fn``) of the widened logits, its float32 result
    rounded once to ``out_kind`` (float32, or the logits' own half type), as the kernels
    store it."""
    x = _host_matrix(logits, "logits")
    kind = result_kind(float_kind(x.dtype), out_kind)
    y = narrow_f32(fn(widen_to_f32(x), temperature), kind)
    return y.view(x.dtype) if kind == "bf16" else y  # ml_dtypes' bfloat16 stays itself


class CpuBackend:
    """Sampling with numpy (:mod:`rocsample.backends.cpu_engine`)."""

    name = "cpu"

    def describe(self) -> dict[str, Any]:
        return {"backend": "cpu", "device": "host (numpy)", "index": 0, "target": "numpy",
                "wave_size": 1}

    def plan_key(self, *args: Any) -> None:
        """No launch plans on the host: every call takes the general path."""
        return None

    def sample(self, probs: Any, params: SamplingParams, *, method: str = "auto",
               stream: int | None = None, check_inputs: bool = True,
               plan_key: Any = None) -> np.ndarray:
        x = _host(probs, "probs")
        for name, view in rng_views(params):
            raise TypeError(f"{name}: the cpu backend takes host seed/offset arrays (numpy) or "
                            f"ints; got a device array on {view.device}")
        if check_inputs:
            check_bad_rows("probs", x)
        return cpu_engine.sample_rows(x, top_k=params.top_k, top_p=params.top_p,
                                      min_p=params.min_p, seed=params.seed,
                                      offset=params.offset)

    def softmax(self, logits: Any, temperature: Any, out_kind: str = "f32", *,
                stream: int | None = None, plan_key: Any = None) -> np.ndarray:
        return rows_op(cpu_engine.softmax, logits, temperature, out_kind)

    def temperature_scale(self, logits: Any, temperature: Any, out_kind: str = "f32", *,
                          stream: int | None = None, plan_key: Any = None) -> np.ndarray:
        return rows_op(cpu_engine.temperature_scale, logits, temperature, out_kind)

    def sample_from_logits(self, logits: Any, temperature: Any, params: SamplingParams, *,
                           stream: int | None = None, plan_key: Any = None) -> np.ndarray:
        probs = cpu_engine.softmax(_host(logits, "logits"), temperature)
        return self.sample(probs, params, check_inputs=False)
