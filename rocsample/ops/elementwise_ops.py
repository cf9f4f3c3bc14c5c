"""Candle's elementwise family as operations: argument checks, the launch recipe, the numpy
reference, for any backend.

:mod:`rocsample.ops.elementwise` says what the kernels are (entries, layouts, geometry, the
numpy twin); this module turns a call into what the executor launches:
:func:`recipe` gives a :class:`~rocsample.backends.recipe.Recipe` of one launch: the kernel,
grid and arguments by name (the ``info`` array as host data the executor uploads and binds,
or a null pointer: Candle passes one for a contiguous layout; the block is the kernel's
registered one, :data:`~rocsample.ops.elementwise.BLOCK`; dims merged first,
:func:`~rocsample.ops.elementwise.merge_dims`), and :func:`broadcast` the layouts
of operands of different shapes (stride 0 where an operand is broadcast).
``rocsample.unary``, ``affine`` and ``where`` and the low-level
``rocsample.launch_elementwise`` are built on them.

Example
-------
>>> r = recipe("uexp_f32", 6, (2, 3), {"inp": (1, 2)}, {"inp": 4096, "out": 8192})
>>> (launch,) = r.launches
>>> launch.grid, r.constants["info"].tolist(), launch.args["num_dims"], launch.bind
((1, 1), [2, 3, 1, 2], 2, (('info', 'info', 0),))
>>> big = recipe("uexp_f32", 1 << 20, (1 << 20,), {}, {"inp": 4096, "out": 8192})
>>> big.launches[0].grid  # contiguous: 16 elements a thread, 256 threads a block
(256, 1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..backends.recipe import Launch, Recipe
from . import elementwise as ew

__all__ = ["broadcast", "dtype_name", "recipe"]

#: The operands whose strides make ``info``: unary and affine read ``inp``, where its three.
_STRIDED = {"unary": ("inp",), "affine": ("inp",), "ternary": ("ids", "t", "f")}


def dtype_name(dtype: np.dtype, what: str = "x") -> str:
    """The family's name of a numpy dtype (``BFLOAT16`` is bf16).

    >>> dtype_name(np.dtype(np.float16))
    'f16'
    """
    from ..buffers import BFLOAT16

    if dtype == BFLOAT16:
        return "bf16"
    for d in ew.DTYPES.values():
        if d.storage == dtype and d.name != "bf16":
            return d.name
    raise TypeError(f"{what} has dtype {dtype}, which Candle's elementwise kernels do not take "
                    f"(supported: {', '.join(ew.DTYPES)})")


def _scalar(value: Any, dtype: str, name: str) -> Any:
    """A by-value kernel scalar as pack_args takes it (f16/bf16 as their bit pattern)."""
    if value is None:
        raise ValueError(f"{name} is required")
    v = ew.to_scalar(value, dtype, name)
    if dtype in ("f16", "bf16"):
        return int(v.view(np.uint16))
    return v.item()


def recipe(kernel: str, numel: int, dims: Sequence[int],
           strides: Mapping[str, Sequence[int] | None],
           pointers: Mapping[str, int | None],
           scalars: Mapping[str, Any] | None = None,
           sm_count: int | None = None,
           has_companion: Callable[[str], bool] | None = None) -> Recipe | None:
    """The launch of elementwise ``kernel`` over ``dims``, or None when numel is 0.

    Parameters
    ----------
    kernel : str
        An entry of :data:`rocsample.ops.elementwise.ENTRIES` (``"ugelu_bf16"``...).
    numel : int
        Elements of the output, the product of ``dims``, below 2**32.
    dims : sequence of int
        The output's shape (the operands' shape after broadcasting).
    strides : mapping
        Strides in elements per strided operand (``inp``; for where ``ids``, ``t``, ``f``);
        None or absent: contiguous.
    pointers : mapping
        Device addresses by argument name (``inp``, ``out``; ``ids``, ``t``, ``f``, ``out``),
        each at its operand's first element; affine's ``inp`` may be 0 (in place).
    scalars : mapping, optional
        ``param`` (elu, powf), ``mul`` and ``add`` (affine), as Python numbers.
    sm_count : int, optional
        The device's multiprocessors: a launch that takes the row walk then gets at most
        :func:`~rocsample.ops.elementwise.strided_grid_cap` blocks, each walking many tiles
        (any grid gives the same result; this one is faster).
    has_companion : callable, optional
        Whether the loaded code object holds an optional entry (the backend's
        ``has_companion``): where over a strided layout of at most two dims after merging
        then launches ``where2_{it}_{dt}``, its layout by value
        (:data:`~rocsample.ops.elementwise.COMPANIONS`); without it, or without the entry,
        Candle's ``where_{it}_{dt}`` with ``info``.

    Raises
    ------
    ValueError
        An unknown kernel, numel that is not the product of dims or is >= 2**32, strides of
        the wrong length or negative, a missing pointer or scalar.

    Example
    -------
    >>> recipe("affine_f32", 0, (0,), {}, {"inp": 0, "out": 0}, {"mul": 2, "add": 1}) is None
    True
    """
    entry = ew.ENTRIES.get(kernel)
    if entry is None:
        own = " (rocsample's own entry: name its Candle entry, where_...)" * (kernel in
                                                                            ew.COMPANIONS)
        raise ValueError(f"kernel={kernel!r} is not one of Candle's elementwise entries "
                         f"(e.g. ugelu_f32, affine_bf16, where_u8_f32){own}")
    dims = tuple(int(d) for d in dims)
    if math.prod(dims) != int(numel):
        raise ValueError(f"{kernel}: numel={numel} is not the product of dims {dims}")
    ew.launch_geometry(numel)  # numel >= 2^32 is an error here
    names = _STRIDED[entry.module]
    unknown = set(strides) - set(names)
    if unknown:
        raise ValueError(f"{kernel}: strides given for {sorted(unknown)}; it takes strides "
                         f"for {', '.join(names)}")
    lay = [tuple(strides.get(n) or _contiguous(dims)) for n in names]
    for st in lay:
        ew.Layout(dims, st)  # lengths and signs, with the message naming dims and strides
    # The same addresses over fewer dims (size-1 dims dropped, dims contiguous for every
    # operand merged): the kernels take their two-dim walk for most views, and the info
    # follows Candle's ABI all the same.
    dims, merged = ew.merge_dims(dims, *lay)
    lay = list(merged)
    # where over a strided layout of at most two dims: rocsample's where2, its layout by
    # value (no info to build, upload or load), when the loaded code object has it
    by_value = _BY_VALUE.get(kernel)
    if entry.module == "ternary":
        flat = all(ew.is_contiguous(dims, st) for st in lay)
        if not (by_value and not flat and len(dims) <= 2 and has_companion is not None
                and has_companion(by_value)):
            by_value = None
        # never null for Candle's where
        info: np.ndarray | None = None if by_value else ew.where_info(dims, *lay)
    else:
        info = ew.Layout(dims, lay[0]).info()
        # unary and affine read out[i] in place (a null inp) whatever info says
        flat = info is None or (entry.module == "affine" and not pointers.get("inp"))
    rows = not flat and ew.takes_row_walk(kernel, dims, *lay)
    cap = ew.strided_grid_cap(sm_count) if rows and sm_count is not None else None
    geo = ew.launch_geometry(numel, per_thread=ew.elements_per_thread(kernel, flat, rows),
                             max_grid=cap)
    if geo is None:
        return None
    args: dict[str, Any] = {"numel": int(numel), "num_dims": len(dims), "info": 0}
    for name, kind in entry.signature[3:]:
        if kind == "ptr":
            ptr = pointers.get(name)
            if ptr is None and not (name == "inp" and entry.module == "affine"):
                raise ValueError(f"{kernel}: pointer {name!r} is missing")
            args[name] = int(ptr or 0)
        else:
            args[name] = _scalar((scalars or {}).get(name), kind, f"{kernel}: {name}")
    extra = set(pointers) - set(args)
    if extra:
        raise ValueError(f"{kernel}: unknown pointer(s) {sorted(extra)}")
    if by_value:
        args = {"numel": int(numel), **ew.where2_args(dims, *lay),
                **{n: args[n] for n in ("ids", "t", "f", "out")}}
        return Recipe(kernel, (), {}, None, [Launch(by_value, (geo.grid, 1), args)])
    if info is None:
        return Recipe(kernel, (), {}, None, [Launch(kernel, (geo.grid, 1), args)])
    # info depends only on the layout: a constant the executor keeps on the device
    return Recipe(kernel, (), {}, None,
                  [Launch(kernel, (geo.grid, 1), args, (("info", "info", 0),))], {"info": info})


#: Candle's where entry -> rocsample's by-value companion (where2).
_BY_VALUE = {e.companion_of: name for name, e in ew.COMPANIONS.items()}


def _contiguous(dims: tuple[int, ...]) -> tuple[int, ...]:
    out, acc = [], 1
    for d in reversed(dims):
        out.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(out))


def broadcast(shapes: Sequence[tuple[int, ...]],
              strides: Sequence[tuple[int, ...]]) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """The common shape of operands and each one's strides over it (0 where broadcast).

    >>> broadcast([(2, 3), (3,), ()], [(3, 1), (1,), ()])
    ((2, 3), [(3, 1), (0, 1), (0, 0)])
    """
    try:
        dims = tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError as exc:
        raise ValueError(f"operands of shapes {list(shapes)} do not broadcast: {exc}") from None
    out = []
    for shape, st in zip(shapes, strides, strict=True):
        pad = len(dims) - len(shape)
        full = (0,) * pad + tuple(0 if n == 1 and d != 1 else s
                                  for n, d, s in zip(shape, dims[pad:], st, strict=True))
        out.append(full)
    return dims, out
