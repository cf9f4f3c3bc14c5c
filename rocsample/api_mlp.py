"""The public functions of the MLP family: ``swiglu``, ``silu_and_mul``, ``rms_norm`` and
``fused_add_rms_norm``.

numpy arrays are computed by the numpy twin (:mod:`rocsample.ops.mlp`, the kernels' rounding
order) and give numpy arrays (``fused_add_rms_norm`` writes its two arguments in place).
Device arrays (torch, cupy, any DLPack or ``__cuda_array_interface__`` producer,
:class:`~rocsample.buffers.DeviceBuffer`) are read in place, with any row stride (the last
dim contiguous, the leading dims collapsible to one row stride), and give a contiguous
``DeviceBuffer`` (or write ``out``) without waiting. Element types: float32, float16 and
bfloat16 (:data:`~rocsample.buffers.BFLOAT16`), all operands of one call alike.

A bad argument is an error naming it (``TypeError`` for a type, ``ValueError`` for a shape,
a stride, a device or an overlap), raised before anything is launched.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from . import profiling
from .backends import get_backend
from .buffers import BFLOAT16, ArrayView, as_array_view
from .ops import mlp
from .validation import (
    check_number,
    device_index,
    device_view,
    on_host,
    store_result,
    stream_handle,
)

__all__ = ["fused_add_rms_norm", "rms_norm", "silu_and_mul", "swiglu"]


class _Rows(NamedTuple):
    """An operand as the kernels take it: rows of ``cols`` contiguous elements."""

    view: ArrayView
    rows: int
    cols: int
    stride: int  # elements from one row to the next

    @property
    def extent(self) -> tuple[int, int]:
        """[first byte, last byte + 1) it touches (empty for no rows)."""
        size = self.view.dtype.itemsize
        if self.rows == 0 or self.cols == 0:
            return self.view.ptr, self.view.ptr
        return self.view.ptr, self.view.ptr + ((self.rows - 1) * self.stride + self.cols) * size


def _dtype_name(dtype: np.dtype, what: str) -> str:
    if dtype == BFLOAT16:
        return "bf16"
    if dtype == np.float32:
        return "f32"
    if dtype == np.float16:
        return "f16"
    raise TypeError(f"{what} has dtype {dtype}: the MLP kernels take float32, float16 and "
                    "bfloat16")


def _not_scalar(shape: tuple[int, ...], name: str) -> None:
    """The kernels take rows: a 0-d operand is refused on every backend alike."""
    if not shape:
        raise ValueError(f"{name} is a scalar: pass an array whose last dim is the hidden size")


def _bits(a: np.ndarray, what: str) -> tuple[np.ndarray, str]:
    a = np.asarray(a)
    dt = _dtype_name(a.dtype, what)
    _not_scalar(a.shape, what)
    return (a.view(np.uint16) if dt == "bf16" else a), dt


def _view(b: Any, x: Any, name: str, stream: int | None) -> ArrayView:
    view = device_view(b, x, name, stream)
    _dtype_name(view.dtype, name)
    return view


def _rows(view: ArrayView, name: str, *, written: bool = False) -> _Rows:
    """``view`` as rows: the last dim contiguous, the leading dims one row stride."""
    shape, strides = view.shape, view.strides
    _not_scalar(shape, name)
    cols = shape[-1]
    if any(s < 0 for s in strides):
        raise ValueError(f"{name} has negative strides {strides}: pass a copy")
    if cols > 1 and strides[-1] != 1:
        raise ValueError(f"{name} has strides {strides} (elements): its last dim must be "
                         "contiguous (stride 1); pass x.contiguous()")
    rows = math.prod(shape[:-1])
    lead = [(n, s) for n, s in zip(shape[:-1], strides[:-1], strict=True) if n > 1]
    stride = lead[-1][1] if lead else cols
    for (_, outer), (n, inner) in zip(lead, lead[1:], strict=False):
        if outer != inner * n:
            raise ValueError(f"{name} has shape {shape} and strides {strides}: its leading dims "
                             "do not collapse to one row stride; pass a copy")
    if written and view.readonly:
        raise ValueError(f"{name} is read-only (its producer exported it so): it would be "
                         "written")
    if written and rows > 1 and stride < cols:
        raise ValueError(f"{name} is written but its rows overlap (row stride {stride} < "
                         f"{cols})")
    return _Rows(view, rows, cols, stride)


def _overlap(a: _Rows, b: _Rows) -> bool:
    """Whether two operands share an element. Rows of one stride are compared modulo the
    stride (x[:, :d] and x[:, d:] interleave without sharing); otherwise by extent."""
    (a0, a1), (b0, b1) = a.extent, b.extent
    if not (a0 < b1 and b0 < a1):
        return False
    size = a.view.dtype.itemsize
    if a.stride == b.stride and a.cols <= a.stride and b.cols <= b.stride and a.rows > 1 \
            and b.rows > 1:
        period = a.stride * size
        d = (b.view.ptr - a.view.ptr) % period
        return d < a.cols * size or d + b.cols * size > period
    return True


def _no_overlap(written: _Rows, wname: str, others: list[tuple[_Rows, str]],
                same_ok: tuple[str, ...] = ()) -> None:
    """``written`` may not share memory with another operand, except exactly (same address
    and row stride) with one named in ``same_ok`` (an in-place elementwise write)."""
    for other, oname in others:
        if not _overlap(written, other):
            continue
        if oname in same_ok and other.view.ptr == written.view.ptr \
                and (other.stride == written.stride or written.rows <= 1):
            continue
        raise ValueError(f"{wname} overlaps {oname} in memory: pass separate arrays"
                         + (f" (or {wname} exactly {oname}, in place)" if oname in same_ok
                            else ""))


def _output(b: Any, shape: tuple[int, ...], dtype: np.dtype, out: Any,
            stream: int | None) -> tuple[Any, _Rows]:
    if out is None:
        buf = b.new_buffer(shape, dtype, stream)
        return buf, _rows(as_array_view(buf), "out", written=True)
    view = _view(b, out, "out", stream)
    if view.shape != shape or view.dtype != dtype:
        raise ValueError(f"out must have shape {shape} and dtype {dtype}; got shape "
                         f"{view.shape}, dtype {view.dtype}")
    return out, _rows(view, "out", written=True)


def _launch(b: Any, recipe: Any, stream: int | None) -> None:
    if recipe is None:
        return
    b.launch_recipe(recipe, stream)
    timer = profiling.active()
    if timer is not None:
        launch = recipe.launches[0]
        timer.add_bytes(launch.kernel, mlp.bytes_moved(launch.kernel, launch.args))


def _check_eps(eps: float) -> float:
    value = check_number("eps", eps)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"eps={eps!r} must be finite and >= 0")
    return value


def swiglu(gate: Any, up: Any, *, out: Any = None, stream: int | None = None,
           backend: str | None = None, device: int = 0) -> Any:
    """SwiGLU: ``silu(gate) * up`` elementwise (``swiglu_<dtype>``).

    ``silu(g) = g / (1 + exp(-g))``; the product is computed in float32 and rounded to the
    element type once (FlashInfer's order).

    Parameters
    ----------
    gate, up : array
        The same shape and dtype (float32, float16, bfloat16); the last dim contiguous, any
        row stride.
    out : array, optional
        Written with the result: the same shape and dtype; may be exactly ``gate`` or ``up``.
    stream : int, optional
        The device stream to launch on (the default stream when None).
    backend : str, optional
        ``"cuda"``, ``"hip"`` or ``"cpu"``; the default backend when None.
    device : int
        The GPU of a GPU backend.

    Returns
    -------
    numpy array for numpy input, else a contiguous DeviceBuffer (or ``out``).

    Example
    -------
    >>> import numpy as np, rocsample
    >>> g, u = np.array([1.0, -2.0], np.float32), np.array([2.0, 1.0], np.float32)
    >>> rocsample.swiglu(g, u).astype(float).round(4).tolist()
    [1.4621, -0.2384]
    """
    stream, device = stream_handle(stream), device_index(device)
    if on_host(gate=gate, up=up):
        g, dt = _bits(gate, "gate")
        u, dt_up = _bits(up, "up")
        if dt_up != dt or g.shape != u.shape:
            raise ValueError(f"gate and up differ: shapes {g.shape}, {u.shape}, dtypes "
                             f"{np.asarray(gate).dtype}, {np.asarray(up).dtype}")
        return store_result(mlp.swiglu(g, u, dt), np.asarray(gate).dtype, out)
    b = get_backend(backend, device)
    vg, vu = _view(b, gate, "gate", stream), _view(b, up, "up", stream)
    if vg.shape != vu.shape or vg.dtype != vu.dtype:
        raise ValueError(f"gate and up differ: shapes {vg.shape}, {vu.shape}, dtypes "
                         f"{vg.dtype}, {vu.dtype}")
    rg, ru = _rows(vg, "gate"), _rows(vu, "up")
    result, ro = _output(b, vg.shape, vg.dtype, out, stream)
    _no_overlap(ro, "out", [(rg, "gate"), (ru, "up")], same_ok=("gate", "up"))
    _launch(b, _swiglu_recipe(b, vg.dtype, rg, ru, ro), stream)
    return result


def _swiglu_recipe(b: Any, dtype: np.dtype, g: _Rows, u: _Rows, o: _Rows) -> Any:
    return mlp.swiglu_recipe(
        _dtype_name(dtype, "gate"), g.rows, g.cols,
        {"gate": g.view.ptr, "up": u.view.ptr, "out": o.view.ptr},
        {"gate": g.stride, "up": u.stride, "out": o.stride}, b.sm_count, b.has_companion)


def silu_and_mul(x: Any, *, out: Any = None, stream: int | None = None,
                 backend: str | None = None, device: int = 0) -> Any:
    """``silu(x[..., :d]) * x[..., d:]`` for ``x`` of shape ``[..., 2d]`` (the serving
    engines' fused gate-up layout; ``swiglu_<dtype>`` reading both halves in place).

    Parameters
    ----------
    x : array
        float32, float16 or bfloat16 of shape ``[..., 2d]``, the last dim contiguous.
    out : array, optional
        ``[..., d]`` of x's dtype to write; may be exactly ``x[..., :d]``.
    stream, backend, device
        As for :func:`swiglu`.

    Returns
    -------
    ``[..., d]``: numpy for numpy input, else a contiguous DeviceBuffer (or ``out``).

    Example
    -------
    >>> import numpy as np, rocsample
    >>> rocsample.silu_and_mul(np.array([[1.0, 2.0]], np.float32)).astype(float).round(4).tolist()
    [[1.4621]]
    """
    stream, device = stream_handle(stream), device_index(device)
    if on_host(x=x):
        a, dt = _bits(x, "x")
        if a.ndim == 0 or a.shape[-1] % 2:
            raise ValueError(f"x has shape {a.shape}: silu_and_mul needs an even last dim "
                             "[..., 2d]")
        return store_result(mlp.silu_and_mul(a, dt), np.asarray(x).dtype, out)
    b = get_backend(backend, device)
    vx = _view(b, x, "x", stream)
    if not vx.shape or vx.shape[-1] % 2:
        raise ValueError(f"x has shape {vx.shape}: silu_and_mul needs an even last dim "
                         "[..., 2d]")
    rx = _rows(vx, "x")
    d = rx.cols // 2
    half = vx.shape[:-1] + (d,)
    result, ro = _output(b, half, vx.dtype, out, stream)
    # The two halves as operands of their own: the same rows, up d elements further.
    gate_rows = _Rows(vx, rx.rows, d, rx.stride)
    up_rows = _Rows(replace(vx, ptr=vx.ptr + d * vx.dtype.itemsize), rx.rows, d, rx.stride)
    _no_overlap(ro, "out", [(gate_rows, "x[..., :d]"), (up_rows, "x[..., d:]")],
                same_ok=("x[..., :d]",))
    _launch(b, _swiglu_recipe(b, vx.dtype, gate_rows, up_rows, ro), stream)
    return result


def _norm_args(b: Any, x: Any, weight: Any, stream: int | None,
               xname: str = "x") -> tuple[ArrayView, _Rows, _Rows]:
    vx, vw = _view(b, x, xname, stream), _view(b, weight, "weight", stream)
    rx = _rows(vx, xname)
    if vw.shape != (rx.cols,) or vw.dtype != vx.dtype:
        raise ValueError(f"weight must have shape ({rx.cols},) and {xname}'s dtype "
                         f"{vx.dtype}; got shape {vw.shape}, dtype {vw.dtype}")
    return vx, rx, _rows(vw, "weight")


def rms_norm(x: Any, weight: Any, *, eps: float = 1e-6, gemma: bool = False, out: Any = None,
             stream: int | None = None, backend: str | None = None, device: int = 0) -> Any:
    """RMSNorm over the last dim (``rms_norm_<dtype>``).

    ``out = (x * rstd) * (weight + offset)``, ``rstd = 1 / sqrt(mean(x^2) + eps)``, with
    ``offset`` 0, or 1 for Gemma's ``(1 + weight)``; computed in float32 (the sum of squares
    too) and rounded to the element type once (FlashInfer's order: vLLM rounds ``x * rstd``
    before the weight).

    Parameters
    ----------
    x : array
        float32, float16 or bfloat16 ``[..., hidden]``, the last dim contiguous, any row
        stride, any hidden size and row count.
    weight : array
        ``[hidden]`` of x's dtype, contiguous.
    eps : float
        Added to the mean square (finite, >= 0): keeps an all-zero row finite (zeros out).
    gemma : bool
        Scale by ``1 + weight`` (Gemma's RMSNorm) instead of ``weight``.
    out : array, optional
        x's shape and dtype; may be exactly ``x`` (in place).
    stream, backend, device
        As for :func:`swiglu`.

    Returns
    -------
    numpy array for numpy input, else a contiguous DeviceBuffer (or ``out``).

    Example
    -------
    >>> import numpy as np, rocsample
    >>> x = np.array([[3.0, 4.0]], np.float32)
    >>> rocsample.rms_norm(x, np.ones(2, np.float32), eps=0.0).astype(float).round(4).tolist()
    [[0.8485, 1.1314]]
    """
    stream, device = stream_handle(stream), device_index(device)
    eps = _check_eps(eps)
    offset = 1.0 if gemma else 0.0
    if on_host(x=x, weight=weight):
        a, dt = _bits(x, "x")
        w, dtw = _bits(weight, "weight")
        if dtw != dt or w.shape != a.shape[-1:]:
            raise ValueError(f"weight must have shape {a.shape[-1:]} and x's dtype; got shape "
                             f"{w.shape}, dtype {np.asarray(weight).dtype}")
        return store_result(mlp.rms_norm(a, w, eps, offset, dt), np.asarray(x).dtype, out)
    b = get_backend(backend, device)
    vx, rx, rw = _norm_args(b, x, weight, stream)
    result, ro = _output(b, vx.shape, vx.dtype, out, stream)
    _no_overlap(ro, "out", [(rx, "x"), (rw, "weight")], same_ok=("x",))
    r = mlp.rms_norm_recipe(_dtype_name(vx.dtype, "x"), rx.rows, rx.cols,
                            {"x": vx.ptr, "weight": rw.view.ptr, "out": ro.view.ptr},
                            {"x": rx.stride, "out": ro.stride}, eps, offset,
                            b.sm_count, b.has_companion)
    _launch(b, r, stream)
    return result


def fused_add_rms_norm(x: Any, residual: Any, weight: Any, *, eps: float = 1e-6,
                       gemma: bool = False, stream: int | None = None,
                       backend: str | None = None, device: int = 0) -> tuple[Any, Any]:
    """In place: ``residual += x``, then ``x = rms_norm(residual, weight)``
    (``fused_add_rms_norm_<dtype>``, one read of each and one write of each).

    The sum is rounded to the element type and stored, and that stored residual is what is
    normalised: the result equals ``residual += x; x[:] = rms_norm(residual, weight)``
    exactly, with :func:`rms_norm`'s rounding.

    Parameters
    ----------
    x : array
        float32, float16 or bfloat16 ``[..., hidden]``, the last dim contiguous, rows that do
        not overlap; overwritten with the normalised rows.
    residual : array
        x's shape and dtype, its own memory; overwritten with ``residual + x``.
    weight : array
        ``[hidden]`` of x's dtype.
    eps, gemma, stream, backend, device
        As for :func:`rms_norm`.

    Returns
    -------
    ``(x, residual)``, both written in place (numpy arrays must be writeable).

    Example
    -------
    >>> import numpy as np, rocsample
    >>> x, res = np.ones((1, 2), np.float32), np.ones((1, 2), np.float32)
    >>> _ = rocsample.fused_add_rms_norm(x, res, np.ones(2, np.float32), eps=0.0)
    >>> x.tolist(), res.tolist()
    ([[1.0, 1.0]], [[2.0, 2.0]])
    """
    stream, device = stream_handle(stream), device_index(device)
    eps = _check_eps(eps)
    offset = 1.0 if gemma else 0.0
    if on_host(x=x, residual=residual, weight=weight):
        a, dt = _bits(x, "x")
        r, dtr = _bits(residual, "residual")
        w, dtw = _bits(weight, "weight")
        if dtr != dt or r.shape != a.shape:
            raise ValueError(f"residual must have x's shape {a.shape} and dtype; got shape "
                             f"{r.shape}, dtype {np.asarray(residual).dtype}")
        if dtw != dt or w.shape != a.shape[-1:]:
            raise ValueError(f"weight must have shape {a.shape[-1:]} and x's dtype; got shape "
                             f"{w.shape}, dtype {np.asarray(weight).dtype}")
        for arr, name in ((x, "x"), (residual, "residual")):
            if not arr.flags.writeable:
                raise ValueError(f"{name} is read-only: fused_add_rms_norm writes it in place")
        if np.shares_memory(x, residual) or np.shares_memory(x, weight) \
                or np.shares_memory(residual, weight):
            raise ValueError("x, residual and weight must not share memory")
        y, new_res = mlp.fused_add_rms_norm(a, r, w, eps, offset, dt)
        a[...] = y
        r[...] = new_res
        return x, residual
    b = get_backend(backend, device)
    vx, rx, rw = _norm_args(b, x, weight, stream)
    vr = _view(b, residual, "residual", stream)
    if vr.shape != vx.shape or vr.dtype != vx.dtype:
        raise ValueError(f"residual must have x's shape {vx.shape} and dtype {vx.dtype}; got "
                         f"shape {vr.shape}, dtype {vr.dtype}")
    rx = _rows(vx, "x", written=True)
    rr = _rows(vr, "residual", written=True)
    _no_overlap(rx, "x", [(rr, "residual"), (rw, "weight")])
    _no_overlap(rr, "residual", [(rw, "weight")])
    r = mlp.fused_add_rms_norm_recipe(
        _dtype_name(vx.dtype, "x"), rx.rows, rx.cols,
        {"x": vx.ptr, "residual": vr.ptr, "weight": rw.view.ptr},
        {"x": rx.stride, "residual": rr.stride}, eps, offset, b.sm_count, b.has_companion)
    _launch(b, r, stream)
    return x, residual
