"""The public functions of Candle's elementwise family: ``unary``, ``affine``, ``where`` and
the low-level ``launch_elementwise``.

numpy arrays are computed by the numpy twin (:mod:`rocsample.ops.elementwise`, bit for bit
what the kernels compute) and give numpy arrays. Device arrays (torch, cupy, any DLPack or
``__cuda_array_interface__`` producer, :class:`~rocsample.buffers.DeviceBuffer`) are read in
place whatever their strides, storage offset or broadcasting, and give a contiguous
``DeviceBuffer`` (or write ``out``). bfloat16 device tensors are viewed as
:data:`~rocsample.buffers.BFLOAT16`; on the host, pass bf16 bits as a ``BFLOAT16`` array.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .backends import get_backend
from .buffers import BFLOAT16, ArrayView, as_array_view
from .ops import elementwise as ew
from .ops.elementwise_ops import broadcast, dtype_name, recipe
from .validation import (
    check_number,
    device_index,
    device_view,
    on_host,
    store_result,
    stream_handle,
)

__all__ = ["affine", "launch_elementwise", "unary", "where"]


def _bits(a: np.ndarray) -> tuple[np.ndarray, str | None]:
    """numpy storage the twin takes: BFLOAT16 records as their uint16 bits."""
    a = np.asarray(a)
    return (a.view(np.uint16), "bf16") if a.dtype == BFLOAT16 else (a, None)


def _device(b: Any, x: Any, name: str, stream: int | None) -> ArrayView:
    view = device_view(b, x, name, stream)
    if any(s < 0 for s in view.strides):
        raise ValueError(f"{name} has negative strides {view.strides}: the kernels take size_t "
                         "strides; pass a copy (x.contiguous())")
    return view


def _output(b: Any, shape: tuple[int, ...], dtype: np.dtype, out: Any,
            stream: int | None) -> tuple[Any, int]:
    """(object returned, its device address): a new buffer, or ``out`` checked."""
    if out is None:
        buf = b.new_buffer(shape, dtype, stream)
        return buf, buf.ptr
    view = as_array_view(out, stream=stream or None)
    if view.shape != shape or view.dtype != dtype or not ew.is_contiguous(shape, view.strides) \
            or not b.accepts(view):
        raise ValueError(f"out must be a contiguous array of shape {shape} and dtype {dtype} on "
                         f"the input's device; got shape {view.shape}, dtype {view.dtype}, "
                         f"strides {view.strides}, device {view.device}")
    if view.readonly:
        raise ValueError("out is read-only (its producer exported it so): it would be written")
    return out, view.ptr


def _no_alias(out_ptr: int, dims: tuple[int, ...], itemsize: int,
              operands: Sequence[tuple[str, ArrayView, tuple[int, ...]]]) -> None:
    """Refuse an ``out`` that shares memory with an operand other than exactly (in place):
    a thread could read an element another thread has already written, a wrong result."""
    for name, view, strides in operands:
        if ew.unsafe_alias(out_ptr, dims, itemsize, view.ptr, strides, view.dtype.itemsize):
            raise ValueError(f"out shares memory with {name} (strides {view.strides}, dtype "
                             f"{view.dtype}) without being exactly it: pass a separate out "
                             f"(or out={name} itself, when {name} is contiguous)")


def unary(op: str, x: Any, *, param: float | None = None, out: Any = None,
          stream: int | None = None, backend: str | None = None, device: int = 0) -> Any:
    """Candle's unary ``op`` of ``x``, elementwise (``u{op}_{dt}``).

    Parameters
    ----------
    op : str
        copy, neg, recip, exp, log, sin, cos, tanh, erf, ceil, floor, round, normcdf, abs,
        sqr, sqrt, gelu, gelu_erf, relu, silu, sigmoid, sign; elu and powf take ``param``.
    x : array
        f32, f64, f16 or bf16 (copy also u8, u32, i64), any strides.
    param : float, optional
        elu's alpha, powf's exponent.
    out : array, optional
        A contiguous array of x's shape and dtype to write: memory of its own, or exactly
        x (in place); one sharing memory with x in another layout is refused (a thread
        could read an element another has already written).

    Returns
    -------
    numpy array for numpy input, else a contiguous DeviceBuffer (or ``out``).

    Example
    -------
    >>> import numpy as np, rocsample
    >>> rocsample.unary("round", np.array([-2.5, 0.5], np.float32), backend="cpu").tolist()
    [-3.0, 1.0]
    """
    stream, device = stream_handle(stream), device_index(device)
    if param is not None and op not in ew.UNARY_PARAM_OPS:
        raise ValueError(f"op {op!r} takes no param (only {', '.join(ew.UNARY_PARAM_OPS)} do)")
    if op in ew.UNARY_PARAM_OPS and param is None:
        raise ValueError(f"op {op!r} needs param")
    if param is not None:
        param = check_number("param", param)
    if on_host(x=x):
        a, dt = _bits(x)
        return store_result(ew.unary(op, a, param, dt), np.asarray(x).dtype, out)
    b = get_backend(backend, device)
    view = _device(b, x, "x", stream)
    kernel = ew.unary_entry(op, dtype_name(view.dtype))
    result, ptr = _output(b, view.shape, view.dtype, out, stream)
    if out is not None:
        _no_alias(ptr, view.shape, view.dtype.itemsize, [("x", view, view.strides)])
    scalars = {"param": param} if param is not None else {}
    r = recipe(kernel, math.prod(view.shape), view.shape, {"inp": view.strides},
               {"inp": view.ptr, "out": ptr}, scalars, b.sm_count)
    b.launch_recipe(r, stream)
    return result


def affine(x: Any, mul: float, add: float, *, out: Any = None, stream: int | None = None,
           backend: str | None = None, device: int = 0) -> Any:
    """``x * mul + add`` elementwise (Candle's ``affine_{dt}``); ``out=x`` works in place.

    Floats take one fused multiply-add (f16/bf16 in float); integers wrap.

    Example
    -------
    >>> import numpy as np, rocsample
    >>> x = np.array([1.0, 2.0], np.float32)
    >>> rocsample.affine(x, 3.0, -1.0, out=x, backend="cpu") is x, x.tolist()
    (True, [2.0, 5.0])
    """
    stream, device = stream_handle(stream), device_index(device)
    mul, add = check_number("mul", mul), check_number("add", add)
    if on_host(x=x):
        a, dt = _bits(x)
        return store_result(ew.affine(a, mul, add, dt), np.asarray(x).dtype, out)
    b = get_backend(backend, device)
    view = _device(b, x, "x", stream)
    kernel = ew.affine_entry(dtype_name(view.dtype))
    result, ptr = _output(b, view.shape, view.dtype, out, stream)
    if out is not None:
        _no_alias(ptr, view.shape, view.dtype.itemsize, [("x", view, view.strides)])
    # In place (out is exactly x): Candle passes a null inp and the kernel reads out[i].
    inp = 0 if ptr == view.ptr and out is not None else view.ptr
    r = recipe(kernel, math.prod(view.shape), view.shape, {"inp": view.strides},
               {"inp": inp, "out": ptr}, {"mul": mul, "add": add}, b.sm_count)
    b.launch_recipe(r, stream)
    return result


def where(cond: Any, on_true: Any, on_false: Any, *, out: Any = None,
          stream: int | None = None, backend: str | None = None, device: int = 0) -> Any:
    """``on_true`` where ``cond != 0`` else ``on_false``, broadcast together
    (``where_{it}_{dt}``; cond u8, u32 or i64).

    Example
    -------
    >>> import numpy as np, rocsample
    >>> c = np.array([1, 0, 7], np.uint8)
    >>> rocsample.where(c, np.float32(1), np.zeros(3, np.float32), backend="cpu").tolist()
    [1.0, 0.0, 1.0]
    """
    stream, device = stream_handle(stream), device_index(device)
    if on_host(cond=cond, on_true=on_true, on_false=on_false):
        t, dt = _bits(on_true)
        f, _ = _bits(on_false)
        return store_result(ew.where(np.asarray(cond), t, f, dt), np.asarray(on_true).dtype, out)
    b = get_backend(backend, device)
    views = [_device(b, a, n, stream) for a, n in ((cond, "cond"), (on_true, "on_true"),
                                                    (on_false, "on_false"))]
    if views[1].dtype != views[2].dtype:
        raise ValueError(f"on_true and on_false differ in dtype ({views[1].dtype}, "
                         f"{views[2].dtype})")
    dims, strides = broadcast([v.shape for v in views], [v.strides for v in views])
    kernel = ew.where_entry(dtype_name(views[0].dtype, "cond"),
                            dtype_name(views[1].dtype, "on_true"))
    result, ptr = _output(b, dims, views[1].dtype, out, stream)
    if out is not None:
        _no_alias(ptr, dims, views[1].dtype.itemsize,
                  list(zip(("cond", "on_true", "on_false"), views, strides, strict=True)))
    r = recipe(kernel, math.prod(dims), dims, dict(zip(("ids", "t", "f"), strides, strict=True)),
               {"ids": views[0].ptr, "t": views[1].ptr, "f": views[2].ptr, "out": ptr},
               sm_count=b.sm_count, has_companion=b.has_companion)
    b.launch_recipe(r, stream)
    return result


def launch_elementwise(kernel: str, numel: int, dims: Sequence[int],
                       strides: Mapping[str, Sequence[int] | None],
                       pointers: Mapping[str, int], scalars: Mapping[str, Any] | None = None,
                       *, stream: int | None = None, backend: str | None = None,
                       device: int = 0) -> None:
    """Launch an elementwise kernel on raw device pointers, for a framework that holds its own
    layouts (a Candle-style backend): rocsample builds ``info`` as Candle does (null for a
    contiguous layout, else ``[dims, strides]``; for where always ``[dims, ids, t, f
    strides]``) and launches on ``stream`` without waiting.

    Parameters
    ----------
    kernel : str
        The entry name (``"usilu_bf16"``, ``"affine_i32"``, ``"where_u8_f16"``...).
    numel, dims : int, sequence of int
        Elements of the output and its dims (numel is their product, below 2**32).
    strides : mapping
        Strides in elements of ``inp`` (unary, affine) or ``ids``, ``t``, ``f`` (where);
        None or absent: contiguous.
    pointers : mapping
        Device addresses (start offsets included) of ``inp``/``ids``/``t``/``f`` and ``out``.
    scalars : mapping, optional
        ``param``, or ``mul`` and ``add``.

    Example
    -------
    >>> import rocsample
    >>> rocsample.launch_elementwise("ucopy_f32", 0, (0,), {}, {"inp": 0, "out": 0},
    ...                              backend="cpu")   # numel 0: nothing is launched
    """
    stream, device = stream_handle(stream), device_index(device)
    b = get_backend(backend, device)
    # the cpu backend has no multiprocessors: numel 0 is still checked and launches nothing
    r = recipe(kernel, numel, dims, strides, pointers, scalars, getattr(b, "sm_count", None),
               getattr(b, "has_companion", None))
    if r is None:
        return
    if not hasattr(b, "launch_recipe"):
        raise TypeError(f"launch_elementwise launches on a device; the {b.name} backend has "
                        "none (use rocsample.unary/affine/where on numpy arrays)")
    b.launch_recipe(r, stream)
