"""Candle's elementwise kernel family as data, and its numpy twin.

``kernels/unary.hip``, ``kernels/affine.hip`` and ``kernels/ternary.hip`` implement Candle's
``u{op}_{dt}``, ``affine_{dt}`` and ``where_{it}_{dt}`` with Candle's names and arguments (see
their opening comments). This module holds, as data, what a loader needs to call them: the
op table with every entry name and argument signature, Candle's contiguity rule and the
``info`` array builder, and the launch geometry. It also computes every op with numpy exactly
as the kernels do (f16/bf16 in float32 then rounded to nearest even, round half away from
zero, ``sign(NaN) = 0``, one fused multiply-add for float affine): that is the CPU backend of
the family and the test oracle.

bf16 has no numpy dtype: its values travel as ``uint16`` bit patterns (the kernels' storage),
converted by :func:`bf16_to_f32` and :func:`f32_to_bf16`.

Example
-------
>>> import numpy as np
>>> from rocsample.ops import elementwise as ew
>>> ew.unary_entry("gelu", "bf16")
'ugelu_bf16'
>>> ew.unary("round", np.array([-2.5, 0.5, 1.5], dtype=np.float32)).tolist()
[-3.0, 1.0, 2.0]
>>> ew.Layout((2, 3), (1, 2)).info().tolist()
[2, 3, 1, 2]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..buffers.dtypes import f32_to_bf16

__all__ = [
    "AFFINE_DTYPES",
    "BLOCK",
    "COMPANIONS",
    "CANDLE_BLOCK",
    "LAUNCH_BOUND",
    "DTYPES",
    "ENTRIES",
    "FLOAT_DTYPES",
    "GROUPS",
    "MAX_GRID",
    "MODULES",
    "NUMEL_LIMIT",
    "UNROLL",
    "UNARY_OPS",
    "UNARY_PARAM_OPS",
    "WHERE_DTYPES",
    "WHERE_ID_DTYPES",
    "DType",
    "ElementwiseEntry",
    "ElementwiseModule",
    "LaunchGeometry",
    "Layout",
    "affine",
    "affine_entry",
    "bf16_to_f32",
    "f32_to_bf16",
    "is_contiguous",
    "elements_per_thread",
    "launch_geometry",
    "merge_dims",
    "row_run",
    "row_unroll",
    "run_affine",
    "run_unary",
    "run_where",
    "strided_grid_cap",
    "strided_index",
    "takes_row_walk",
    "to_scalar",
    "unary",
    "unary_entry",
    "where",
    "where2_args",
    "where2_entry",
    "where_entry",
    "where_info",
]

#: Threads per block Candle's host launches these kernels with (cudarc's
#: ``LaunchConfig::for_num_elems``): the kernels' ``__launch_bounds__``, so that they run on
#: Candle's grid too.
CANDLE_BLOCK = 1024
#: The kernels' ``__launch_bounds__`` (tests/test_contract.py reads both from the sources).
LAUNCH_BOUND = CANDLE_BLOCK
#: Threads per block rocsample launches them with: at the 40-60 registers a thread these
#: kernels take on sm_90, an SM holds one block of 1024 but four to six of 256 (more warps
#: to hide memory latency); any block up to :data:`CANDLE_BLOCK` is correct.
BLOCK = 256
#: Single elements a thread keeps in flight on a strided walk (``RS_EW_UNROLL``).
UNROLL = 4
#: Bytes of its operand a thread keeps in flight on the row walk (``RS_EW_ROW_BYTES``; the
#: count of values is :func:`row_unroll`).
ROW_BYTES = 16
#: Tiles of blockDim x :func:`row_unroll` elements a block of a row walk is given at least
#: (below the grid cap): its set-up, reading the layout, is then paid once per two tiles.
ROW_TILES = 2
#: Side of the square tiles a transposed input is walked by (``RS_EW_TILE``, unary and affine:
#: strides (1, s), staged through shared memory). A strided grid gives a block
#: :data:`BLOCK` x :data:`UNROLL` elements: one tile.
TILE = 32
#: 16-byte groups a thread keeps in flight on a contiguous walk (``RS_EW_GROUPS``; where,
#: with three operands, half as many).
GROUPS = 4
#: Blocks a multiprocessor a row walk gets at most (:func:`strided_grid_cap`).
STRIDED_BLOCKS_PER_SM = 16
#: A launch covers at most this many elements: numel must be below 2^32 (Candle's launcher
#: sizes its grid from a 32-bit count, and the contract is written for it).
NUMEL_LIMIT = 1 << 32
#: Largest grid for :data:`BLOCK`: gridDim.x * blockDim.x stays below 2^32, the width of an
#: HSA dispatch's grid size in work-items; the grid-stride loop covers the rest.
MAX_GRID = (NUMEL_LIMIT - 1) // BLOCK


@dataclass(frozen=True)
class DType:
    """One element type of the family: Candle's name, its C type and its numpy storage."""

    name: str
    c_type: str
    storage: np.dtype
    is_float: bool

    @property
    def itemsize(self) -> int:
        return self.storage.itemsize


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("f32", "float", np.dtype(np.float32), True),
        DType("f64", "double", np.dtype(np.float64), True),
        DType("f16", "__half", np.dtype(np.float16), True),
        DType("bf16", "__nv_bfloat16", np.dtype(np.uint16), True),
        DType("u8", "uint8_t", np.dtype(np.uint8), False),
        DType("u32", "uint32_t", np.dtype(np.uint32), False),
        DType("i16", "int16_t", np.dtype(np.int16), False),
        DType("i32", "int32_t", np.dtype(np.int32), False),
        DType("i64", "int64_t", np.dtype(np.int64), False),
    )
}

UNARY_OPS: tuple[str, ...] = (
    "copy", "neg", "recip", "exp", "log", "sin", "cos", "tanh", "erf", "ceil", "floor",
    "round", "normcdf", "abs", "sqr", "sqrt", "gelu", "gelu_erf", "relu", "silu", "sigmoid",
    "sign",
)
#: Unary ops with a scalar parameter, passed before the input.
UNARY_PARAM_OPS: tuple[str, ...] = ("elu", "powf")
FLOAT_DTYPES: tuple[str, ...] = ("f32", "f64", "f16", "bf16")
COPY_DTYPES: tuple[str, ...] = FLOAT_DTYPES + ("u8", "u32", "i64")
AFFINE_DTYPES: tuple[str, ...] = FLOAT_DTYPES + ("u8", "u32", "i16", "i32", "i64")
WHERE_ID_DTYPES: tuple[str, ...] = ("u8", "u32", "i64")
WHERE_DTYPES: tuple[str, ...] = FLOAT_DTYPES + ("u8", "u32", "i64")


@dataclass(frozen=True)
class ElementwiseEntry:
    """One entry point: its module, what it computes, and its arguments.

    ``signature`` uses the registry's type codes ("ptr", "u64") plus a dtype name
    (``"f32"``, ``"bf16"``, ``"u8"``, ...) for a scalar passed by value as that type.
    """

    name: str
    module: str
    op: str  # a unary op, "affine" or "where"
    dtype: str
    id_dtype: str | None
    signature: tuple[tuple[str, str], ...]
    companion_of: str | None = None  # rocsample's own optional entry (COMPANIONS)


@dataclass(frozen=True)
class ElementwiseModule:
    """One kernel source of the family: its file, headers, override variable and entries."""

    name: str
    source: str
    headers: tuple[str, ...]
    env_var: str
    entries: tuple[str, ...]


_LAYOUT = (("numel", "u64"), ("num_dims", "u64"), ("info", "ptr"))


def _entries() -> list[ElementwiseEntry]:
    out = []
    for dt in COPY_DTYPES:
        ops = UNARY_OPS + UNARY_PARAM_OPS if dt in FLOAT_DTYPES else ("copy",)
        for op in ops:
            param = ((("param", dt),) if op in UNARY_PARAM_OPS else ())
            sig = _LAYOUT + param + (("inp", "ptr"), ("out", "ptr"))
            out.append(ElementwiseEntry(f"u{op}_{dt}", "unary", op, dt, None, sig))
    for dt in AFFINE_DTYPES:
        sig = _LAYOUT + (("inp", "ptr"), ("out", "ptr"), ("mul", dt), ("add", dt))
        out.append(ElementwiseEntry(f"affine_{dt}", "affine", "affine", dt, None, sig))
    for it in WHERE_ID_DTYPES:
        for dt in WHERE_DTYPES:
            sig = _LAYOUT + (("ids", "ptr"), ("t", "ptr"), ("f", "ptr"), ("out", "ptr"))
            out.append(ElementwiseEntry(f"where_{it}_{dt}", "ternary", "where", dt, it, sig))
    return out


#: Every entry point of Candle's ABI, by name.
ENTRIES: dict[str, ElementwiseEntry] = {e.name: e for e in _entries()}

#: The by-value layout of ``where2_{it}_{dt}``: dims, then ids, t and f strides, two each.
_WHERE2_LAYOUT = (("numel", "u64"), ("d0", "u64"), ("d1", "u64"), ("si0", "u64"),
                  ("si1", "u64"), ("st0", "u64"), ("st1", "u64"), ("sf0", "u64"),
                  ("sf1", "u64"))

#: rocsample's own entries, not Candle's: ``where2_{it}_{dt}`` is ``where_{it}_{dt}`` with a
#: layout of at most two dims passed by value (no load of ``info`` before the first element:
#: 10.5 against 12.9 us on an H200 at 1M elements, a broadcast condition and a transposed
#: value; bench/experiments/where-byvalue). Optional companions of the Candle entry in the
#: same code object: a ``TERNARY_HSACO`` without them still serves every call.
COMPANIONS: dict[str, ElementwiseEntry] = {
    f"where2_{e.id_dtype}_{e.dtype}": ElementwiseEntry(
        f"where2_{e.id_dtype}_{e.dtype}", e.module, e.op, e.dtype, e.id_dtype,
        _WHERE2_LAYOUT + e.signature[3:], companion_of=e.name)
    for e in ENTRIES.values() if e.module == "ternary"
}

_HEADERS = ("rs_common.h", "rs_elementwise.h")
MODULES: dict[str, ElementwiseModule] = {
    m: ElementwiseModule(
        m, f"{m}.hip", _HEADERS, f"{m.upper()}_HSACO",
        tuple(e.name for e in (*ENTRIES.values(), *COMPANIONS.values()) if e.module == m),
    )
    for m in ("unary", "affine", "ternary")
}


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"unsupported {name}={value!r} (supported: {', '.join(allowed)})")


def unary_entry(op: str, dtype: str) -> str:
    """The entry name of unary ``op`` for ``dtype``.

    Example
    -------
    >>> unary_entry("copy", "u8")
    'ucopy_u8'
    """
    _check("op", op, UNARY_OPS + UNARY_PARAM_OPS)
    _check("dtype", dtype, COPY_DTYPES if op == "copy" else FLOAT_DTYPES)
    return f"u{op}_{dtype}"


def affine_entry(dtype: str) -> str:
    """The entry name of affine for ``dtype``.

    Example
    -------
    >>> affine_entry("i16")
    'affine_i16'
    """
    _check("dtype", dtype, AFFINE_DTYPES)
    return f"affine_{dtype}"


def where_entry(id_dtype: str, dtype: str) -> str:
    """The entry name of where with condition type ``id_dtype`` and value type ``dtype``.

    Example
    -------
    >>> where_entry("u8", "bf16")
    'where_u8_bf16'
    """
    _check("id_dtype", id_dtype, WHERE_ID_DTYPES)
    _check("dtype", dtype, WHERE_DTYPES)
    return f"where_{id_dtype}_{dtype}"


def where2_entry(id_dtype: str, dtype: str) -> str:
    """The by-value companion of :func:`where_entry` (see :data:`COMPANIONS`).

    Example
    -------
    >>> where2_entry("u8", "f32")
    'where2_u8_f32'
    """
    return "where2" + where_entry(id_dtype, dtype)[5:]


def where2_args(dims: tuple[int, ...], ids_strides: tuple[int, ...],
                t_strides: tuple[int, ...], f_strides: tuple[int, ...]) -> dict[str, int]:
    """The layout arguments of ``where2_{it}_{dt}`` for at most two dims (one dim, or none,
    is padded in front with a dim of 1 and strides 0).

    Example
    -------
    >>> where2_args((5,), (1,), (0,), (2,))
    {'d0': 1, 'd1': 5, 'si0': 0, 'si1': 1, 'st0': 0, 'st1': 0, 'sf0': 0, 'sf1': 2}
    """
    for name, s in (("ids", ids_strides), ("t", t_strides), ("f", f_strides)):
        if len(s) != len(dims):
            raise ValueError(f"where2_args: {name} strides {s} do not match dims {dims}")
        Layout(dims, s)  # signs
    if len(dims) > 2:
        raise ValueError(f"where2 takes at most two dims, not {len(dims)} ({dims})")
    pad = 2 - len(dims)
    out = dict(zip(("d0", "d1"), (1,) * pad + tuple(int(d) for d in dims), strict=True))
    for k, st in zip(("si", "st", "sf"), (ids_strides, t_strides, f_strides), strict=True):
        out.update(zip((k + "0", k + "1"), (0,) * pad + tuple(int(v) for v in st),
                       strict=True))
    return out


# ----------------------------------------------------------------------------- layouts


def is_contiguous(dims: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """Candle's rule: walking the dims from the last, every dim of size > 1 has the product of
    the later dims as its stride; size-1 dims may have any stride.

    Example
    -------
    >>> is_contiguous((2, 1, 3), (3, 99, 1)), is_contiguous((2, 3), (1, 2))
    (True, False)
    """
    if len(dims) != len(strides):
        raise ValueError(f"dims {dims} and strides {strides} differ in length")
    acc = 1
    for n, s in zip(reversed(dims), reversed(strides), strict=True):
        if n > 1 and s != acc:
            return False
        acc *= n
    return True


def byte_extent(ptr: int, dims: tuple[int, ...], strides: tuple[int, ...],
                itemsize: int) -> tuple[int, int]:
    """The bytes ``[start, end)`` a view of non-negative element strides spans; ``(ptr, ptr)``
    when it has no element.

    >>> byte_extent(1000, (2, 3), (3, 1), 4), byte_extent(1000, (3, 2), (1, 3), 4)
    ((1000, 1024), (1000, 1024))
    >>> byte_extent(1000, (0, 3), (3, 1), 4)
    (1000, 1000)
    """
    if any(n == 0 for n in dims):
        return ptr, ptr
    last = sum((n - 1) * s for n, s in zip(dims, strides, strict=True))
    return ptr, ptr + (last + 1) * itemsize


def unsafe_alias(out_ptr: int, dims: tuple[int, ...], out_itemsize: int, ptr: int,
                 strides: tuple[int, ...], itemsize: int) -> bool:
    """Whether reading an operand (``strides`` broadcast to the output's ``dims``) while the
    kernels write a contiguous output of ``dims`` at ``out_ptr`` could read an element after
    another thread has overwritten it: the two span common bytes and the operand is not
    exactly the output (the same address and item size, and a contiguous layout). Exactly
    the output is safe: each element is read and then written by the same thread.

    >>> unsafe_alias(1000, (4, 4), 4, 1000, (4, 1), 4)    # out=x: in place
    False
    >>> unsafe_alias(1000, (4, 4), 4, 1000, (1, 4), 4)    # out is x.T's storage
    True
    >>> unsafe_alias(1000, (4, 4), 4, 1064, (4, 1), 4)    # past the output's 64 bytes
    False
    """
    out_end = out_ptr + math.prod(dims) * out_itemsize  # out is contiguous
    a0, a1 = byte_extent(ptr, dims, strides, itemsize)
    if not (out_ptr < a1 and a0 < out_end):
        return False
    return not (ptr == out_ptr and itemsize == out_itemsize and is_contiguous(dims, strides))


def row_unroll(itemsize: int) -> int:
    """Values a thread keeps in flight on the row walk (``rs_row_unroll<T>::U``):
    :data:`ROW_BYTES` of them, at least 2 and at most 8, and 4 of 1 byte.

    >>> [row_unroll(n) for n in (1, 2, 4, 8)]
    [4, 8, 4, 2]
    """
    if itemsize == 1:
        return 4
    return max(2, min(8, ROW_BYTES // int(itemsize)))


def row_run(dims: tuple[int, ...], *strides: tuple[int, ...]) -> int:
    """The elements of a row when the kernels take their row walk over this layout, else 0
    (``rs_row_layout`` of rs_elementwise.h, the same rule; tests/test_elementwise.py runs
    both on the same layouts).

    The trailing dims contiguous for every operand make the run of a row; the dims before
    it must merge into one row dim (size-1 dims skipped). 0 when there are no such leading
    dims (a contiguous layout) or they do not merge.

    >>> row_run((4, 4096), (4097, 1))   # x[:, 1:]
    4096
    >>> row_run((4096, 4), (1, 4096))   # a transpose: no contiguous run
    0
    """
    n, d = 1, len(dims)
    while d > 0:
        m = dims[d - 1]
        if m != 1 and not all(st[d - 1] == n for st in strides):
            break
        n *= m
        d -= 1
    rows, rs = 0, [0] * len(strides)
    while d > 0:
        m = dims[d - 1]
        d -= 1
        if m == 1:
            continue
        if rows == 0:
            rs = [st[d] for st in strides]
            rows = m
            continue
        if not all(st[d] == r * rows for st, r in zip(strides, rs, strict=True)):
            return 0
        rows *= m
    return 0 if rows == 0 else n


def merge_dims(dims: tuple[int, ...], *strides: tuple[int, ...]
               ) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """The same walk over fewer dims: size-1 dims dropped, and each pair of adjacent dims
    merged when it is contiguous for every operand (``stride[d] == stride[d + 1] * dims[d +
    1]``, stride 0 with stride 0 included, so broadcast dims merge too).

    Element ``i`` in row-major order sits at the same offset of every operand before and
    after, so a kernel given the merged info reads the same addresses; Candle's contiguity
    rule gives the same answer for both. Views with no elements are returned as they are
    (nothing is read), and a view of one element as one dim of 1.

    Example
    -------
    >>> merge_dims((4, 1, 5, 6), (60, 7, 6, 1))      # x[:, None, 1:, :] of a (4, 6, 6) array
    ((4, 30), ((60, 1),))
    >>> merge_dims((3, 4), (4, 1), (0, 1))           # an operand broadcast along dim 0
    ((3, 4), ((4, 1), (0, 1)))
    >>> merge_dims((2, 3, 4), (0, 0, 0), (12, 4, 1))  # a scalar against a contiguous block
    ((24,), ((0,), (1,)))
    """
    dims = tuple(int(d) for d in dims)
    rows = [tuple(int(s) for s in st) for st in strides]
    for st in rows:
        if len(st) != len(dims):
            raise ValueError(f"merge_dims: strides {st} do not match dims {dims}")
    if 0 in dims:
        return dims, tuple(rows)
    keep = [d for d, n in enumerate(dims) if n != 1]
    if not keep:
        return ((1,) if dims else ()), tuple(((1,) if dims else ()) for _ in rows)
    out_dims = [dims[keep[0]]]
    out_rows = [[st[keep[0]]] for st in rows]
    for d in keep[1:]:
        n = dims[d]
        if all(r[-1] == st[d] * n for r, st in zip(out_rows, rows, strict=True)):
            out_dims[-1] *= n
            for r, st in zip(out_rows, rows, strict=True):
                r[-1] = st[d]
        else:
            out_dims.append(n)
            for r, st in zip(out_rows, rows, strict=True):
                r.append(st[d])
    return tuple(out_dims), tuple(tuple(r) for r in out_rows)


@dataclass(frozen=True)
class Layout:
    """A strided view in elements: ``dims``, ``strides`` and the start offset.

    The kernels take the start offset in the base pointer (:meth:`base`) and the dims and
    strides in ``info`` (:meth:`info`), or no ``info`` at all when the view is contiguous.
    """

    dims: tuple[int, ...]
    strides: tuple[int, ...]
    start_offset: int = 0

    def __post_init__(self) -> None:
        dims, strides = tuple(int(d) for d in self.dims), tuple(int(s) for s in self.strides)
        if len(dims) != len(strides):
            raise ValueError(f"Layout: dims {dims} and strides {strides} differ in length")
        if any(d < 0 for d in dims) or any(s < 0 for s in strides) or self.start_offset < 0:
            raise ValueError(
                f"Layout: dims {dims}, strides {strides} and start_offset {self.start_offset} "
                "must be >= 0 (the kernels take size_t; copy a view with negative strides)"
            )
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "strides", strides)

    @property
    def numel(self) -> int:
        return math.prod(self.dims)

    @property
    def is_contiguous(self) -> bool:
        return is_contiguous(self.dims, self.strides)

    def info(self) -> np.ndarray | None:
        """``[dims..., strides...]`` as uint64 (``size_t``), or None when contiguous.

        Example
        -------
        >>> Layout((4, 1), (1, 7)).info() is None
        True
        """
        if self.is_contiguous:
            return None
        return np.array(self.dims + self.strides, dtype=np.uint64)

    def base(self, pointer: int, itemsize: int) -> int:
        """The base pointer the kernels take: ``pointer`` moved by the start offset.

        Example
        -------
        >>> Layout((2,), (1,), start_offset=3).base(0x1000, 4)
        4108
        """
        return pointer + self.start_offset * itemsize

    @property
    def span(self) -> int:
        """Elements from the base pointer to the last element read, plus one."""
        if self.numel == 0:
            return 0
        return 1 + sum((d - 1) * s for d, s in zip(self.dims, self.strides, strict=True))

    @classmethod
    def of_array(cls, a: np.ndarray) -> Layout:
        """The layout of a numpy view, relative to its own first element.

        Example
        -------
        >>> Layout.of_array(np.zeros((3, 4), np.float32)[:, 1:3])
        Layout(dims=(3, 2), strides=(4, 1), start_offset=0)
        """
        item = a.itemsize
        if any(s % item for s in a.strides):
            raise ValueError(f"strides {a.strides} of the array are not multiples of {item}")
        return cls(tuple(a.shape), tuple(s // item for s in a.strides))


def where_info(dims: tuple[int, ...], ids_strides: tuple[int, ...],
               t_strides: tuple[int, ...], f_strides: tuple[int, ...]) -> np.ndarray:
    """``info`` of the where kernels: ``[dims, ids, t, f strides]``, never None.

    Example
    -------
    >>> where_info((2,), (1,), (0,), (1,)).tolist()
    [2, 1, 0, 1]
    """
    for name, s in (("ids", ids_strides), ("t", t_strides), ("f", f_strides)):
        Layout(dims, s)  # checks lengths and signs
        if len(s) != len(dims):
            raise ValueError(f"where_info: {name} strides {s} do not match dims {dims}")
    return np.array(tuple(dims) + tuple(ids_strides) + tuple(t_strides) + tuple(f_strides),
                    dtype=np.uint64)


@dataclass(frozen=True)
class LaunchGeometry:
    grid: int
    block: int


def launch_geometry(numel: int, block: int = BLOCK, per_thread: int = 1,
                    max_grid: int | None = None) -> LaunchGeometry | None:
    """Grid and block of one elementwise launch; None when there is nothing to do.

    Parameters
    ----------
    numel : int
        Elements of the output, ``0 <= numel < 2**32``.
    block : int
        Threads per block, 1 to :data:`CANDLE_BLOCK` (the kernels' launch bound).
    per_thread : int
        Elements each thread takes (:func:`elements_per_thread`); 1 is Candle's grid, a
        thread per element.
    max_grid : int, optional
        At most this many blocks (:func:`strided_grid_cap`); the kernels' grid-stride loops
        give the rest of the elements to the blocks there are.

    Raises
    ------
    ValueError
        numel negative or >= 2^32, block, per_thread or max_grid out of range.

    Example
    -------
    >>> launch_geometry(3000)
    LaunchGeometry(grid=12, block=256)
    >>> launch_geometry(1 << 20, per_thread=4)
    LaunchGeometry(grid=1024, block=256)
    >>> launch_geometry(3000, block=CANDLE_BLOCK)  # Candle's grid: a thread per element
    LaunchGeometry(grid=3, block=1024)
    >>> launch_geometry(1 << 28, per_thread=4, max_grid=strided_grid_cap(132))
    LaunchGeometry(grid=2112, block=256)
    >>> launch_geometry(0) is None
    True
    """
    numel, block, per_thread = int(numel), int(block), int(per_thread)
    if max_grid is not None and int(max_grid) < 1:
        raise ValueError(f"max_grid={max_grid}: at least one block")
    if not 1 <= block <= CANDLE_BLOCK:
        raise ValueError(f"block={block}: the kernels take 1 to {CANDLE_BLOCK} threads a block")
    if per_thread not in (1, 2, 4, 8, 16, 32, 64):
        raise ValueError(f"per_thread={per_thread}: a power of two from 1 to 64 elements a "
                         "thread")
    if numel < 0:
        raise ValueError(f"numel={numel} is negative")
    if numel >= NUMEL_LIMIT:
        raise ValueError(
            f"numel={numel} is >= 2^32: an elementwise launch covers fewer than 2^32 elements "
            "(Candle's launch sizes are 32-bit); split the tensor into smaller launches"
        )
    if numel == 0:
        return None
    grid = min(-(-numel // (block * per_thread)), (NUMEL_LIMIT - 1) // block)
    return LaunchGeometry(grid if max_grid is None else min(grid, int(max_grid)), block)


def takes_row_walk(kernel: str, dims: tuple[int, ...], *strides: tuple[int, ...],
                   block: int = BLOCK) -> bool:
    """Whether ``kernel`` over this strided layout takes the row walk (``rs_row_walk``):
    unary and affine (where has none) when :func:`row_run` gives a run of at least two
    elements and half a tile (block x :func:`row_unroll`).

    >>> takes_row_walk("ugelu_bf16", (8, 4096), (4097, 1))
    True
    >>> takes_row_walk("ugelu_bf16", (8, 1000), (1001, 1))   # rows under half a tile
    False
    """
    entry = ENTRIES[kernel]
    if entry.module not in ("unary", "affine"):
        return False
    n = row_run(dims, *strides)
    return n >= 2 and 2 * n >= block * row_unroll(DTYPES[entry.dtype].storage.itemsize)


def strided_grid_cap(sm_count: int) -> int:
    """Most blocks rocsample launches for a row walk (:func:`takes_row_walk`):
    :data:`STRIDED_BLOCKS_PER_SM` a multiprocessor (compute unit on AMD).

    A strided block first reads the layout (``info``, from device memory) and works out its
    walk; one that then moves a single tile spends most of its life on that. With fewer
    blocks each walks many tiles (grid-stride) and the set-up is paid once. The other
    strided walks are not capped: a transposed read over a capped grid ran at half torch's
    speed on an H200 (its reads spread over more of memory at once), against par uncapped
    (bench/results/2026-12-03-h200-session6).

    >>> strided_grid_cap(132)
    2112
    """
    sm_count = int(sm_count)
    if sm_count < 1:
        raise ValueError(f"sm_count={sm_count}: at least one multiprocessor")
    return STRIDED_BLOCKS_PER_SM * sm_count


def elements_per_thread(kernel: str, contiguous: bool, row_walk: bool = False) -> int:
    """Elements a thread of ``kernel`` takes on the grid rocsample launches.

    A strided thread keeps :data:`UNROLL` elements in flight (a block's share, on a
    transposed input, is one :data:`TILE` x :data:`TILE` tile); on the row walk
    (:func:`takes_row_walk`) :func:`row_unroll` of them, for :data:`ROW_TILES` tiles. A
    contiguous one moves 16 bytes of its widest operand per access (``rs_pack``,
    rs_elementwise.h), when the pointers are aligned (else single elements, on any grid),
    and keeps :data:`GROUPS` such accesses in flight (where, with three operands, half as
    many).

    >>> elements_per_thread("ugelu_bf16", True), elements_per_thread("where_i64_u8", True)
    (32, 4)
    >>> elements_per_thread("affine_f64", False), elements_per_thread("ugelu_bf16", False, True)
    (4, 16)
    """
    entry = ENTRIES[kernel]
    if row_walk:
        return ROW_TILES * row_unroll(DTYPES[entry.dtype].storage.itemsize)
    if not contiguous:
        return UNROLL
    widest = max(DTYPES[d].storage.itemsize for d in (entry.dtype, entry.id_dtype) if d)
    per_access = 16 // widest
    groups = GROUPS // 2 if entry.module == "ternary" else GROUPS
    return per_access * groups


def strided_index(numel: int, dims: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
    """Offsets, in elements, of the row-major elements of a strided view (the kernels' walk).

    Example
    -------
    >>> strided_index(4, (2, 2), (1, 2)).tolist()
    [0, 2, 1, 3]
    """
    i = np.arange(numel, dtype=np.uint64)
    off = np.zeros(numel, dtype=np.uint64)
    if numel == 0:
        return off
    for n, s in zip(reversed(dims), reversed(strides), strict=True):
        off += (i % np.uint64(n)) * np.uint64(s)
        i //= np.uint64(n)
    return off


# ----------------------------------------------------------------------------- numbers


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """bf16 bit patterns (uint16) to float32, exactly.

    Example
    -------
    >>> bf16_to_f32(np.array([0x3F80, 0xC000], np.uint16)).tolist()
    [1.0, -2.0]
    """
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def _f64_to_bf16(x: np.ndarray) -> np.ndarray:
    # Round to odd into float32 first: 24 bits >= 8 + 2, so the second rounding is exact
    # (no double rounding).
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        f = x.astype(np.float32)
    big = np.isinf(f) & np.isfinite(x)
    f = np.where(big, np.copysign(np.finfo(np.float32).max, x), f).astype(np.float32)
    inexact = (f.astype(np.float64) != x) & np.isfinite(x)
    even = (f.view(np.uint32) & 1) == 0
    toward = np.where(x > f, np.float32(np.inf), np.float32(-np.inf))
    with np.errstate(over="ignore"):  # unselected elements may step past the largest float
        f = np.where(inexact & even, np.nextafter(f, toward), f).astype(np.float32)
    return f32_to_bf16(f)


def _up(x: np.ndarray, dtype: str) -> np.ndarray:
    """Stored values to the kernels' compute type (float32, or float64 for f64)."""
    if dtype == "bf16":
        return bf16_to_f32(x)
    if dtype in ("f16", "f32"):
        return np.asarray(x).astype(np.float32)
    return np.asarray(x, dtype=np.float64)


def _down(y: np.ndarray, dtype: str) -> np.ndarray:
    """Compute-type results to stored values, rounded to nearest even."""
    if dtype == "bf16":
        return f32_to_bf16(y)
    with np.errstate(over="ignore"):
        return np.asarray(y).astype(DTYPES[dtype].storage)


def to_scalar(value: float | int, dtype: str, name: str = "value") -> np.ndarray:
    """A kernel scalar argument (``param``, ``mul``, ``add``) as a 0-d array of the storage.

    Floats round to nearest even (bf16 directly from float64); integers must be exact and in
    range.

    Example
    -------
    >>> int(to_scalar(1.0, "bf16"))
    16256
    """
    _check("dtype", dtype, tuple(DTYPES))
    dt = DTYPES[dtype]
    if dt.is_float:
        v = np.asarray(float(value), dtype=np.float64)
        if dtype == "bf16":
            return _f64_to_bf16(v).reshape(())
        with np.errstate(over="ignore"):
            return v.astype(dt.storage)
    info = np.iinfo(dt.storage)
    if isinstance(value, (bool, np.bool_)) or not float(value).is_integer() \
            or not info.min <= int(value) <= info.max:
        raise ValueError(f"{name}={value!r} is not an integer in [{info.min}, {info.max}] "
                         f"({dtype}); pass a value the element type holds")
    return np.asarray(int(value), dtype=dt.storage)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _to_odd(s: np.ndarray, err: np.ndarray) -> np.ndarray:
    """s rounded to odd: when inexact (err != 0), the neighbour of the exact s + err whose
    last significand bit is 1 (round-to-odd then round-to-nearest is a correct rounding)."""
    bits = s.view(np.uint64) if s.dtype == np.float64 else s.view(np.uint32)
    fix = (err != 0) & ((bits & 1) == 0) & np.isfinite(err)
    toward = np.where(err > 0, s.dtype.type(np.inf), s.dtype.type(-np.inf))
    return np.where(fix, np.nextafter(s, toward), s)


def _fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """fmaf, bit for bit: the product of two floats is exact in float64, and the sum rounded
    to odd in float64 then to nearest in float32 is rounded once."""
    p = a.astype(np.float64) * b.astype(np.float64)
    with np.errstate(invalid="ignore"):
        s, err = _two_sum(p, c.astype(np.float64))
        s = _to_odd(s, err)
    with np.errstate(over="ignore"):
        return s.astype(np.float32)


def _fma64(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """fma on float64, bit for bit (Boldo and Melquiond's emulation through round to odd);
    the few elements outside its exact range (huge, or a product near underflow) are computed
    exactly with fractions."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    with np.errstate(all="ignore"):
        p = a * b
        k = 134217729.0  # 2^27 + 1: splits a double into two 26-bit halves
        ta, tb = k * a, k * b
        ah, bh = ta - (ta - a), tb - (tb - b)
        al, bl = a - ah, b - bh
        pl = ((ah * bh - p) + ah * bl + al * bh) + al * bl
        th, tl = _two_sum(c, p)
        v, verr = _two_sum(tl, pl)
        z = th + _to_odd(v, verr)
        plain = a * b + c
        finite = np.isfinite(a) & np.isfinite(b) & np.isfinite(c)
        zero = (a == 0) | (b == 0)
        lim = 2.0 ** 995
        safe = (np.abs(a) < lim) & (np.abs(b) < lim) & (np.abs(c) < lim) \
            & (np.abs(p) >= 2.0 ** -960)
    out = np.where(~finite | zero, plain, z)
    for i in zip(*np.nonzero(finite & ~zero & ~safe), strict=True):
        exact = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        try:
            out[i] = float(exact)
        except OverflowError:
            out[i] = math.inf if exact > 0 else -math.inf
    return out


# ----------------------------------------------------------------------------- maths


def _elementwise_math(fn, x: np.ndarray) -> np.ndarray:
    return np.frompyfunc(fn, 1, 1)(x.astype(np.float64)).astype(np.float64)


def _erf(x: np.ndarray) -> np.ndarray:
    return _elementwise_math(math.erf, x).astype(x.dtype)


def _normcdf(x: np.ndarray) -> np.ndarray:
    # erfc keeps the lower tail's relative accuracy (1 - erf would cancel it away).
    r = np.sqrt(0.5)
    return _elementwise_math(lambda v: 0.5 * math.erfc(-v * r), x).astype(x.dtype)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    t = np.trunc(x)
    with np.errstate(invalid="ignore"):
        up = np.abs(x - t) >= 0.5  # x - trunc(x) is exact
    return np.where(up, t + np.sign(x), t).astype(x.dtype)


def _gelu(x: np.ndarray) -> np.ndarray:
    # The kernels' form of 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3): x / (1 +
    # 2^(-2u / ln 2)), in the same order (tanhf cost the bf16 kernel its bandwidth).
    c = x.dtype.type
    return x / (c(1) + np.exp2(c(-2.302208198144325) * (x + c(0.044715) * (x * x * x))))


def _math_op(op: str, x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """op on the compute type (float32 or float64 arrays), as the kernels write it."""
    one, zero = x.dtype.type(1), x.dtype.type(0)
    table = {
        "recip": lambda: one / x,
        "exp": lambda: np.exp(x),
        "log": lambda: np.log(x),
        "sin": lambda: np.sin(x),
        "cos": lambda: np.cos(x),
        "tanh": lambda: np.tanh(x),
        "erf": lambda: _erf(x),
        "ceil": lambda: np.ceil(x),
        "floor": lambda: np.floor(x),
        "round": lambda: _round_half_away(x),
        "normcdf": lambda: _normcdf(x),
        "sqr": lambda: x * x,
        "sqrt": lambda: np.sqrt(x),
        "gelu": lambda: _gelu(x),
        "gelu_erf": lambda: x * _normcdf(x),
        "relu": lambda: np.where(x > zero, x, zero),
        "silu": lambda: x / (one + np.exp(-x)),
        "sigmoid": lambda: one / (one + np.exp(-x)),
        "sign": lambda: (x > zero).astype(x.dtype) - (x < zero).astype(x.dtype),
        "elu": lambda: np.where(x > zero, x, p * (np.exp(x) - one)),
        "powf": lambda: np.power(x, p),
    }
    with np.errstate(all="ignore"):
        return np.asarray(table[op](), dtype=x.dtype)


def _unary_values(op: str, dtype: str, x: np.ndarray, param: np.ndarray | None) -> np.ndarray:
    """op on stored values x (1-d), returning stored values."""
    if op == "copy":
        return x.copy()
    if op in ("neg", "abs"):
        # Bits only, as the kernels: the sign bit flips or clears, NaN payloads stay.
        u = x.view(np.dtype(f"u{x.itemsize}"))
        sign = u.dtype.type(1 << (8 * x.itemsize - 1))
        return (u ^ sign if op == "neg" else u & ~sign).view(x.dtype)
    p = _up(param, dtype) if param is not None else None
    return _down(_math_op(op, _up(x, dtype), p), dtype)


def _affine_values(dtype: str, x: np.ndarray, mul: np.ndarray, add: np.ndarray) -> np.ndarray:
    if not DTYPES[dtype].is_float:
        u = np.dtype(f"u{x.itemsize}")
        # Wrapping arithmetic, as the kernels' unsigned computation.
        r = x.view(u) * mul.reshape(1).view(u) + add.reshape(1).view(u)
        return r.astype(u).view(x.dtype)
    xc, m, a = _up(x, dtype), _up(mul, dtype), _up(add, dtype)
    if dtype == "f64":
        return _fma64(xc, m, a)
    return _down(_fma32(xc, np.broadcast_to(m, xc.shape), np.broadcast_to(a, xc.shape)), dtype)


# ----------------------------------------------------------------------------- ABI twins


def _gather(buf: np.ndarray, numel: int, num_dims: int, info: np.ndarray | None,
            strides_at: int = 1) -> np.ndarray:
    """The elements a kernel reads from ``buf`` (its base pointer), in row-major order."""
    if numel == 0:
        return buf[:0]
    if info is None:
        return buf[:numel]
    info = np.asarray(info, dtype=np.uint64)
    dims = tuple(int(d) for d in info[:num_dims])
    strides = tuple(int(s) for s in info[strides_at * num_dims:(strides_at + 1) * num_dims])
    if is_contiguous(dims, strides):
        return buf[:numel]
    return buf[strided_index(numel, dims, strides).astype(np.intp)]


def _check_abi(numel: int, num_dims: int, info: np.ndarray | None, groups: int) -> None:
    if info is not None:
        info = np.asarray(info)
        if info.shape != ((1 + groups) * num_dims,):
            raise ValueError(f"info has shape {info.shape}, expected ({(1 + groups) * num_dims},)"
                             f" for num_dims={num_dims}")
        if math.prod(int(d) for d in info[:num_dims]) != numel:
            raise ValueError(f"numel={numel} is not the product of info's dims "
                             f"{info[:num_dims].tolist()}")
    launch_geometry(numel)  # the same limits as a launch


def run_unary(op: str, dtype: str, numel: int, num_dims: int, info: np.ndarray | None,
              inp: np.ndarray | None, out: np.ndarray, param: float | None = None) -> None:
    """What ``u{op}_{dtype}`` does, on numpy buffers: ``inp`` starts at the kernel's base
    pointer (None: in place, ``x = out[i]``); ``out`` is contiguous and is written.

    Example
    -------
    >>> out = np.zeros(2, np.float32)
    >>> run_unary("neg", "f32", 2, 2, np.array([2, 1, 1, 5], np.uint64),
    ...           np.arange(6, dtype=np.float32), out)
    >>> out.tolist()
    [-0.0, -1.0]
    """
    unary_entry(op, dtype)
    _check_abi(numel, num_dims, info, 1)
    p = None
    if op in UNARY_PARAM_OPS:
        if param is None:
            raise ValueError(f"op {op!r} needs param")
        p = to_scalar(param, dtype, "param")
    x = out[:numel].copy() if inp is None else _gather(inp, numel, num_dims, info)
    out[:numel] = _unary_values(op, dtype, x, p)


def run_affine(dtype: str, numel: int, num_dims: int, info: np.ndarray | None,
               inp: np.ndarray | None, out: np.ndarray, mul: float, add: float) -> None:
    """What ``affine_{dtype}`` does, on numpy buffers (see :func:`run_unary`).

    Example
    -------
    >>> out = np.array([1, 2], np.uint8)
    >>> run_affine("u8", 2, 1, None, None, out, 200, 100)
    >>> out.tolist()
    [44, 244]
    """
    affine_entry(dtype)
    _check_abi(numel, num_dims, info, 1)
    m, a = to_scalar(mul, dtype, "mul"), to_scalar(add, dtype, "add")
    x = out[:numel].copy() if inp is None else _gather(inp, numel, num_dims, info)
    out[:numel] = _affine_values(dtype, x, m, a)


def run_where(id_dtype: str, dtype: str, numel: int, num_dims: int, info: np.ndarray,
              ids: np.ndarray, t: np.ndarray, f: np.ndarray, out: np.ndarray) -> None:
    """What ``where_{id_dtype}_{dtype}`` does, on numpy buffers (info is never None).

    Example
    -------
    >>> out = np.zeros(3, np.float32)
    >>> run_where("u8", "f32", 3, 1, where_info((3,), (1,), (0,), (1,)),
    ...           np.array([1, 0, 2], np.uint8), np.array([9], np.float32),
    ...           np.zeros(3, np.float32), out)
    >>> out.tolist()
    [9.0, 0.0, 9.0]
    """
    where_entry(id_dtype, dtype)
    if info is None:
        raise ValueError("info must not be None for where (dims and three sets of strides)")
    _check_abi(numel, num_dims, info, 3)
    c = _gather(ids, numel, num_dims, info, 1) != 0
    out[:numel] = np.where(c, _gather(t, numel, num_dims, info, 2),
                           _gather(f, numel, num_dims, info, 3))


# ----------------------------------------------------------------------------- numpy views


def _dtype_of(a: np.ndarray, dtype: str | None, name: str) -> str:
    if dtype is not None:
        _check("dtype", dtype, tuple(DTYPES))
        if a.dtype != DTYPES[dtype].storage:
            raise ValueError(f"{name} has numpy dtype {a.dtype}, but dtype={dtype!r} is stored "
                             f"as {DTYPES[dtype].storage}")
        return dtype
    for d in DTYPES.values():
        if d.storage == a.dtype and d.name != "bf16":
            return d.name
    hint = " (for bf16 pass dtype='bf16')" if a.dtype == np.uint16 else ""
    raise ValueError(f"{name} has unsupported numpy dtype {a.dtype}{hint}")


def _buffer(a: np.ndarray) -> tuple[np.ndarray, Layout]:
    """A 1-d view of the memory a kernel would read for ``a``, and a's layout."""
    if any(s < 0 for s in a.strides) or any(s % a.itemsize for s in a.strides):
        a = np.ascontiguousarray(a)
    lay = Layout.of_array(a)
    flat = np.lib.stride_tricks.as_strided(a, shape=(lay.span,), strides=(a.itemsize,),
                                           writeable=False)
    return flat, lay


def unary(op: str, x: np.ndarray, param: float | None = None,
          dtype: str | None = None) -> np.ndarray:
    """``op`` over any numpy view, as the kernels compute it; a new contiguous array.

    Parameters
    ----------
    op : str
        One of :data:`UNARY_OPS` or :data:`UNARY_PARAM_OPS`.
    x : numpy.ndarray
        float32/float64/float16, uint16 bit patterns with ``dtype="bf16"``, or for copy also
        uint8/uint32/int64. Any strides.
    param : float, optional
        elu's alpha or powf's exponent.
    dtype : str, optional
        The element type, when the numpy dtype does not say it (bf16).

    Example
    -------
    >>> unary("sign", np.array([-0.0, np.nan, 3.0])).tolist()
    [0.0, 0.0, 1.0]
    """
    x = np.asarray(x)
    dt = _dtype_of(x, dtype, "x")
    flat, lay = _buffer(x)
    out = np.empty(lay.numel, dtype=x.dtype)
    run_unary(op, dt, lay.numel, len(lay.dims), lay.info(), flat, out, param)
    return out.reshape(x.shape)


def affine(x: np.ndarray, mul: float, add: float, dtype: str | None = None) -> np.ndarray:
    """``x * mul + add`` over any numpy view, as the kernels compute it.

    Example
    -------
    >>> affine(np.array([1.0, 2.0], np.float32), 3.0, -1.0).tolist()
    [2.0, 5.0]
    """
    x = np.asarray(x)
    dt = _dtype_of(x, dtype, "x")
    flat, lay = _buffer(x)
    out = np.empty(lay.numel, dtype=x.dtype)
    run_affine(dt, lay.numel, len(lay.dims), lay.info(), flat, out, mul, add)
    return out.reshape(x.shape)


def where(ids: np.ndarray, t: np.ndarray, f: np.ndarray, dtype: str | None = None) -> np.ndarray:
    """``t`` where ``ids != 0`` else ``f``, the three broadcast together (stride 0).

    Example
    -------
    >>> where(np.array([1, 0], np.uint8), np.float32(5), np.array([1, 2], np.float32)).tolist()
    [5.0, 2.0]
    """
    ids, t, f = np.broadcast_arrays(np.asarray(ids), np.asarray(t), np.asarray(f))
    it = _dtype_of(ids, None, "ids")
    if t.dtype != f.dtype:
        raise ValueError(f"t and f differ in dtype ({t.dtype}, {f.dtype})")
    dt = _dtype_of(t, dtype, "t")
    bufs = [_buffer(a) for a in (ids, t, f)]
    dims = bufs[0][1].dims
    info = where_info(dims, *(b[1].strides for b in bufs))
    out = np.empty(math.prod(dims), dtype=t.dtype)
    run_where(it, dt, out.size, len(dims), info, bufs[0][0], bufs[1][0], bufs[2][0], out)
    return out.reshape(t.shape)
