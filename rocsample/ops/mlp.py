"""The MLP kernel family as data (SwiGLU, RMSNorm, fused-add RMSNorm), its launch recipes
and its numpy twin.

``kernels/swiglu.hip`` (``swiglu_kernel``) and ``kernels/rms_norm.hip`` (``rms_norm_kernel``,
``fused_add_rms_norm_kernel``) open with their ABI. This module holds what a loader needs to
call them (modules, entries and signatures, the element-type codes, the grid rules), turns a
validated call into a :class:`~rocsample.backends.recipe.Recipe` of one launch, and computes
every operation with numpy exactly in the kernels' rounding order: that is the cpu backend of
the family and the test oracle.

Each operation has a general entry a type (``swiglu_bf16``, ``rms_norm_bf16``,
``fused_add_rms_norm_bf16``: any alignment, any row length) and compact ones for the calls
that fit a single path (``swiglu_flat_bf16``; ``rms_norm_row1_bf16`` to
``rms_norm_row8_bf16``, ``rms_norm_row8d_bf16`` and the fused add's), with the same arguments
and the same results bit for bit; the recipes pick between them (:func:`rms_norm_entry`,
:func:`swiglu_entry`, with the figures that decided the rule).

Rounding order (FlashInfer's, one rounding): values are widened to float32, the result is
computed in float32 and rounded to the element type once, at the store; for RMSNorm
``(v * rstd) * (w + weight_offset)`` with ``rstd = 1 / sqrt(sum(v^2) / hidden + eps)``
(vLLM rounds ``v * rstd`` to the element type before the weight: a different result in the
last place). The fused add rounds ``residual + x`` to the element type, stores it, and
normalises that stored value: ``fused_add_rms_norm`` is exactly ``residual += x`` followed
by ``rms_norm(residual)``. The twin sums the squares in float64 (the kernels in float32, in
a tree): the two can differ in the last place of rstd, so a kernel and the twin agree to
within rounding, not bit for bit.

bf16 has no numpy dtype: its values travel as ``uint16`` bit patterns (the kernels' storage).

Example
-------
>>> import numpy as np
>>> from rocsample.ops import mlp
>>> mlp.rms_norm(np.array([[3.0, 4.0]], np.float32), np.ones(2, np.float32), eps=0.0).round(4)
array([[0.8485, 1.1314]], dtype=float32)
>>> mlp.swiglu(np.array([0.0], np.float32), np.array([5.0], np.float32)).tolist()
[0.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backends.recipe import Launch, Recipe
from .elementwise import bf16_to_f32, f32_to_bf16

__all__ = [
    "BLOCK",
    "COMPACT",
    "DTYPE_CODES",
    "ENTRIES",
    "GRID_Y",
    "MAX_GRID",
    "MODULES",
    "MlpEntry",
    "MlpModule",
    "ROW1_BLOCK",
    "ROW1_DTYPES",
    "ROW1_GROUPS",
    "ROW1_ROWS",
    "ROW_FEW_ROWS",
    "ROW_GROUPS",
    "ROW8_GROUPS",
    "bytes_moved",
    "norm_threads",
    "entry",
    "fused_add_rms_norm",
    "fused_add_rms_norm_recipe",
    "rms_norm",
    "rms_norm_launch",
    "rms_norm_entry",
    "rms_norm_recipe",
    "rms_norm_row_launch",
    "row_threads",
    "rows_aligned",
    "silu_and_mul",
    "swiglu",
    "swiglu_entry",
    "swiglu_flat_launch",
    "swiglu_launch",
    "swiglu_recipe",
    "swiglu_threads",
]

#: Threads a block the MLP kernels are compiled for (``RS_BLOCK``) and launched with: the
#: registry's ``BLOCK_SIZE`` (kept equal by tests/test_contract.py's launch-bounds check).
BLOCK = 512
#: Groups of 16 bytes a SwiGLU thread keeps in flight per operand (``RS_SWIGLU_UNROLL``).
SWIGLU_UNROLL = 2
#: Blocks an SM a launch that streams rows needs (rms_norm keeps its weight in registers
#: across rows, and loads a thread's next row while it reduces this one): two are resident
#: at 64 registers a thread.
NORM_BLOCKS_PER_SM = 2
#: Blocks an SM along the rows for SwiGLU: beyond them a block goes on to further rows
#: instead of ending after one round of loads (8192 x 14336 bf16 on an H200: 176 us against
#: 184 with a block a tile).
SWIGLU_BLOCKS_PER_SM = 8
#: Most blocks of a launch along x: gridDim.x * BLOCK stays below 2^32 (an HSA dispatch's
#: grid size in work-items); the kernels' grid-stride loops cover the rest.
MAX_GRID = (1 << 32) // BLOCK - 1
#: Most blocks along y (CUDA's limit); SwiGLU's row loop covers the rest.
GRID_Y = 65535
#: Most 16-byte groups in a row of the row entries (``RS_RMS_ROW_GROUPS``): four a thread at
#: :data:`BLOCK` threads (16384 bf16, 8192 fp32).
ROW_GROUPS = 4 * BLOCK
#: Most 16-byte groups in a row of the eight-a-thread row entries (``RS_RMS_ROW8_GROUPS``:
#: 32768 bf16, 16384 fp32); longer rows go to the general entries' two passes.
ROW8_GROUPS = 8 * BLOCK
#: Rows up to which the row entries take rows of more than ``2 * BLOCK`` groups (four a
#: thread), and rms_norm's rows of more than ``BLOCK``; beyond, the general entries, and for
#: rms_norm's rows of over :data:`ROW_GROUPS` groups ``rms_norm_row8d`` (see
#: :func:`rms_norm_entry`).
ROW_FEW_ROWS = 128
#: The one-group row entries (``_row1``) take bf16 calls of at most ``ROW1_ROWS`` rows of at
#: most ``ROW1_GROUPS`` groups (blocks of at most 256 threads; see :func:`rms_norm_entry`).
ROW1_ROWS = 128
ROW1_GROUPS = 256
ROW1_DTYPES = ("bf16",)
#: Element-type codes of the ``dtype`` argument (``RS_MLP_*``, rs_mlp.h).
DTYPE_CODES: dict[str, int] = {"f32": 0, "f16": 1, "bf16": 2}
_STORAGE = {"f32": np.dtype(np.float32), "f16": np.dtype(np.float16), "bf16": np.dtype(np.uint16)}


@dataclass(frozen=True)
class MlpEntry:
    """One entry point: its module, its argument signature (registry type codes), the
    operation it computes (``swiglu``, ``rms_norm`` or ``fused_add_rms_norm``), its element
    type (None: the run-time ``dtype`` argument) and, for a compact entry, the general
    entry it is an optional companion of (``KernelSpec.companion_of``)."""

    name: str
    module: str
    signature: tuple[tuple[str, str], ...]
    kernel: str
    dtype: str | None = None
    companion_of: str | None = None
    block: int = BLOCK  # the most threads a block it is compiled for (__launch_bounds__)


@dataclass(frozen=True)
class MlpModule:
    """One kernel source of the family: its file, headers, override variable and entries."""

    name: str
    source: str
    headers: tuple[str, ...]
    env_var: str
    entries: tuple[str, ...]


_NORM_TAIL = (("rows", "i64"), ("hidden", "i64"))
_GENERIC = (
        MlpEntry("swiglu_kernel", "swiglu", (
            ("gate", "ptr"), ("up", "ptr"), ("out", "ptr"), ("rows", "i64"), ("d", "i64"),
            ("gate_stride", "i64"), ("up_stride", "i64"), ("out_stride", "i64"),
            ("dtype", "i32")), "swiglu"),
        MlpEntry("rms_norm_kernel", "rms_norm", (
            ("x", "ptr"), ("weight", "ptr"), ("out", "ptr"), *_NORM_TAIL,
            ("x_stride", "i64"), ("out_stride", "i64"), ("eps", "f32"),
            ("weight_offset", "f32"), ("dtype", "i32")), "rms_norm"),
        MlpEntry("fused_add_rms_norm_kernel", "rms_norm", (
            ("x", "ptr"), ("residual", "ptr"), ("weight", "ptr"), *_NORM_TAIL,
            ("x_stride", "i64"), ("residual_stride", "i64"), ("eps", "f32"),
            ("weight_offset", "f32"), ("dtype", "i32")), "fused_add_rms_norm"),
)
#: The compact entries of each kernel, ``<kernel><suffix>_<dtype>``: SwiGLU's flat entry
#: (one 16-byte group a thread), RMSNorm's row entries (a row held in registers, one, at most
#: two, four or eight 16-byte groups a thread; ``_row8d``: rms_norm's eight with the weight
#: loaded after the row's sum, for calls of many rows).
COMPACT = {"swiglu": ("_flat",), "rms_norm": ("_row1", "_row2", "_row4", "_row8", "_row8d"),
           "fused_add_rms_norm": ("_row1", "_row2", "_row4", "_row8")}
#: Threads a block of the one-group row entries may have (``RS_RMS_ROW1_BLOCK``): a row of
#: up to ``2 * BLOCK`` groups, one a thread.
ROW1_BLOCK = 2 * BLOCK


def _typed(e: MlpEntry, dtype: str, suffix: str = "") -> MlpEntry:
    """The entry of one element type: ``kernel[suffix]_dtype`` (``rms_norm_kernel`` ->
    ``rms_norm_bf16``, ``rms_norm_row2_bf16``), the signature without the run-time ``dtype``
    code; a compact one (``suffix``) a companion of the general entry of its type."""
    general = f"{e.kernel}_{dtype}"
    return MlpEntry(f"{e.kernel}{suffix}_{dtype}", e.module, e.signature[:-1], e.kernel, dtype,
                    general if suffix else None, ROW1_BLOCK if suffix == "_row1" else BLOCK)


#: Every entry point: one a type (``swiglu_f32``, ``rms_norm_bf16``, ...: what rocsample
#: launches, each with registers and code of its own), the three taking the type as a
#: run-time code (``swiglu_kernel``, ``rms_norm_kernel``, ``fused_add_rms_norm_kernel``) and
#: the compact ones a type (``swiglu_flat_f32``, ``rms_norm_row2_bf16``, ...; :data:`COMPACT`),
#: optional companions of the general entry of their type: a code object built without them
#: (an ``RMS_NORM_HSACO`` of older sources) still serves every call through that entry.
ENTRIES: dict[str, MlpEntry] = {
    e.name: e for e in (*_GENERIC, *(_typed(g, dt) for g in _GENERIC for dt in DTYPE_CODES),
                        *(_typed(g, dt, suffix) for g in _GENERIC
                          for suffix in COMPACT[g.kernel] for dt in DTYPE_CODES))
}


def entry(kernel: str, dtype: str) -> str:
    """The entry of ``kernel`` (``swiglu``, ``rms_norm``, ``fused_add_rms_norm``) that
    rocsample launches for ``dtype``.

    >>> entry("rms_norm", "bf16")
    'rms_norm_bf16'
    """
    _code(dtype)
    return f"{kernel}_{dtype}"

_HEADERS = ("rs_common.h", "rs_elementwise.h", "rs_mlp.h")
MODULES: dict[str, MlpModule] = {
    m: MlpModule(m, f"{m}.hip", _HEADERS, f"{m.upper()}_HSACO",
                 tuple(e.name for e in ENTRIES.values() if e.module == m))
    for m in ("swiglu", "rms_norm")
}


def _code(dtype: str) -> int:
    if dtype not in DTYPE_CODES:
        raise ValueError(f"dtype={dtype!r}: the MLP kernels take {', '.join(DTYPE_CODES)}")
    return DTYPE_CODES[dtype]


# ----------------------------------------------------------------------------- grids


def row_threads(units: int, lo: int = 1, block: int = BLOCK) -> int:
    """Threads of a block that share one row (``rs_row_log2``, rs_mlp.h): the smallest power
    of two >= ``units``, clamped to ``[min(lo, block), block]``; a block takes
    ``block // row_threads`` rows at once, so a short row does not leave most of a block idle.

    >>> row_threads(0), row_threads(256), row_threads(257), row_threads(1 << 20)
    (1, 256, 512, 512)
    >>> row_threads(3, lo=8), row_threads(300, block=128)
    (8, 128)
    """
    lo = min(lo, block)
    u = min(max(int(units), lo), block)
    c = 1
    while c < u:
        c <<= 1
    return c if c <= block else c >> 1


def _groups(cols: int, dtype: str) -> int:
    return int(cols) // (16 // _STORAGE[dtype].itemsize)


def norm_threads(hidden: int, dtype: str, block: int = BLOCK) -> int:
    """Threads of a block that share a row in the RMSNorm kernels for 16-byte aligned rows:
    the power of two covering half the row's 16-byte groups, at least 8, at most ``block``.

    Why: FlashInfer launches a block of ``hidden / 8`` threads a row (up to 1024), so several
    blocks share an SM at small hidden; with the block at most :data:`BLOCK` threads the
    kernels take ``block // norm_threads`` rows a block for the same effect, and two groups
    a thread halve the reductions a byte (a row of up to 1024 groups, 8192 bf16, is then
    read once into registers with two groups a thread, rms_norm's rows of up to 2048 with
    four).

    >>> norm_threads(2048, "bf16"), norm_threads(14336, "bf16"), norm_threads(8, "f32")
    (128, 512, 8)
    """
    return row_threads(-(-_groups(hidden, dtype) // 2), 8, block)


def swiglu_threads(d: int, dtype: str, block: int = BLOCK) -> int:
    """Threads of a block that share a row in SwiGLU for 16-byte aligned rows: the power of
    two covering the row's groups at :data:`SWIGLU_UNROLL` a thread, at most ``block``.

    >>> swiglu_threads(2048, "bf16"), swiglu_threads(14336, "bf16"), swiglu_threads(3, "f16")
    (128, 512, 1)
    """
    return row_threads(-(-_groups(d, dtype) // SWIGLU_UNROLL), 1, block)


def _block(c: int, rows: int, sm_count: int) -> int:
    """A launch's block: one row's threads (at least 32) when the call has at most two rows
    an SM, so that each row gets a block and an SM of its own (a latency-bound call: 16 x
    2048 bf16 rms_norm 5.4 us against 5.9 with four rows a block of 512), else
    :data:`BLOCK`."""
    return max(32, c) if rows <= 2 * sm_count else BLOCK


def rms_norm_launch(rows: int, hidden: int, dtype: str, sm_count: int = 132,
                    fused: bool = False) -> tuple[tuple[int, int], int]:
    """The grid and block of the RMSNorm kernels.

    A block takes ``block // norm_threads`` rows at once (a tile) and loops over tiles, so
    every row is written whatever the grid. rms_norm streams rows (its weight kept in
    registers, the next row loaded while this one is reduced): :data:`NORM_BLOCKS_PER_SM`
    blocks an SM take every tile. The fused add, which reloads its weight with each row,
    gets a block a tile. At most :data:`MAX_GRID` blocks. Computed for 16-byte aligned
    operands (the kernels' element-by-element path covers any grid and block too).

    >>> rms_norm_launch(3, 4096, "bf16")
    ((3, 1), 256)
    >>> rms_norm_launch(8192, 2048, "bf16"), rms_norm_launch(8192, 2048, "bf16", fused=True)
    (((264, 1), 512), ((2048, 1), 512))
    >>> rms_norm_launch(1 << 24, 16384, "f32", fused=True)
    ((8388607, 1), 512)
    """
    c = norm_threads(hidden, dtype)
    block = _block(c, int(rows), sm_count)
    tiles = -(-int(rows) // (block // c))
    if not fused:
        tiles = min(tiles, NORM_BLOCKS_PER_SM * sm_count)
    return (max(1, min(tiles, MAX_GRID)), 1), block


def swiglu_launch(rows: int, d: int, dtype: str,
                  sm_count: int = 132) -> tuple[tuple[int, int], int]:
    """The grid ``(blocks along a row, blocks along the rows)`` and block of SwiGLU.

    The kernel spreads a row's 16-byte groups over ``c = swiglu_threads`` threads and takes
    ``block // c`` rows a block (hidden 2048 bf16: 128 threads a row, four rows a block of
    512, two groups a thread in flight). With enough blocks to fill the device
    (``>= 4 * sm_count``) each thread takes :data:`SWIGLU_UNROLL` groups of a row (more bytes
    in flight), else one (more blocks for a short, latency-bound call); along the rows at
    most :data:`SWIGLU_BLOCKS_PER_SM` blocks an SM (and :data:`GRID_Y`), the row loop taking
    the rest. Any grid is correct (grid-stride loops); this one is the fast one, computed for
    16-byte aligned operands.

    >>> swiglu_launch(1, 14336, "bf16"), swiglu_launch(8192, 14336, "bf16")
    (((4, 1), 512), ((2, 528), 512))
    >>> swiglu_launch(8192, 2048, "bf16")
    ((1, 1056), 512)
    """
    units = _groups(d, dtype)
    c = swiglu_threads(d, dtype)
    block = _block(c, int(rows), sm_count)
    tiles = -(-int(rows) // (block // c))
    one = max(1, -(-units // c))
    x = one if tiles * one < 4 * sm_count else max(1, -(-units // (c * SWIGLU_UNROLL)))
    x = min(x, MAX_GRID)
    y = min(tiles, GRID_Y, max(1, SWIGLU_BLOCKS_PER_SM * sm_count // x))
    return (x, max(1, y)), block


def rms_norm_row_launch(rows: int, hidden: int, dtype: str,
                        one: bool = False) -> tuple[tuple[int, int], int]:
    """The grid and block of the row entries: a block a row, of the row's threads
    (:func:`norm_threads`; ``one``: twice as many, the one-group entries'; at least 32, the
    rest idle for a short row), at most :data:`MAX_GRID` blocks (the kernel loops over the
    rows beyond).

    >>> rms_norm_row_launch(3, 4096, "bf16"), rms_norm_row_launch(1, 14336, "bf16")
    (((3, 1), 256), ((1, 1), 512))
    >>> rms_norm_row_launch(5, 64, "bf16"), rms_norm_row_launch(2, 8192, "bf16", one=True)
    (((5, 1), 32), ((2, 1), 1024))
    """
    block = max(32, norm_threads(hidden, dtype) * (2 if one else 1))
    return (max(1, min(int(rows), MAX_GRID)), 1), block


def swiglu_flat_launch(rows: int, d: int, dtype: str) -> tuple[tuple[int, int], int]:
    """The grid ``(blocks along a row, blocks along the rows)`` and block of the flat
    entries: one 16-byte group a thread, the row's groups in blocks of the power of two
    covering them (32 to :data:`BLOCK` threads), a block row a row (at most
    :data:`GRID_Y`; the kernel's row loop takes the rest). Not capped at
    :data:`SWIGLU_BLOCKS_PER_SM` as :func:`swiglu_launch` is: on an H200 the cap made
    8192 x 14336 bf16 177.6 us against 166.5 uncapped (the general entry 175.8).

    >>> swiglu_flat_launch(1, 14336, "bf16"), swiglu_flat_launch(1024, 2048, "f32")
    (((4, 1), 512), ((1, 1024), 512))
    """
    groups = _groups(d, dtype)
    block = row_threads(groups, 32)
    x = max(1, min(-(-groups // block), MAX_GRID))
    return (x, max(1, min(int(rows), GRID_Y))), block


# ----------------------------------------------------------------------------- selection


def rows_aligned(ptrs: dict[str, int], strides: dict[str, int], dtype: str) -> bool:
    """Whether every operand's rows start on a 16-byte boundary, as the kernels test it
    (``rs_rows_aligned``, rs_mlp.h): its address and its row stride in bytes multiples of 16;
    an operand absent from ``strides`` (the weight) by its address.

    >>> rows_aligned({"x": 64, "weight": 16}, {"x": 8}, "bf16")
    True
    >>> rows_aligned({"x": 64, "weight": 16}, {"x": 12}, "bf16")
    False
    """
    size = _STORAGE[dtype].itemsize
    return all((int(p) | int(strides.get(k, 0)) * size) % 16 == 0 for k, p in ptrs.items())


def rms_norm_entry(rows: int, hidden: int, dtype: str, aligned: bool,
                   fused: bool = False) -> str:
    """The entry the RMSNorm recipes launch (``fused``: the fused add's).

    The row entries apply when every operand's rows are 16-byte aligned (``aligned``) and
    ``hidden`` is a multiple of N = 16 / itemsize of at most :data:`ROW_GROUPS` groups
    (``hidden / N``). Then, with G those groups:

    * bf16 (:data:`ROW1_DTYPES`), G <= :data:`ROW1_GROUPS` (256: hidden 2048) in a call of
      at most :data:`ROW1_ROWS` rows: ``<kernel>_row1_bf16`` (one group a thread);
    * G <= :data:`BLOCK` (512: 4096 bf16, 2048 fp32): ``<kernel>_row2_<dtype>``;
    * G <= ``2 * BLOCK`` (1024): the fused add's ``_row2_`` entry; rms_norm's in a call of
      at most :data:`ROW_FEW_ROWS` rows;
    * G <= :data:`ROW_GROUPS` (2048): ``<kernel>_row4_<dtype>`` in a call of at most
      :data:`ROW_FEW_ROWS` rows;
    * G > :data:`ROW_GROUPS`, G <= :data:`ROW8_GROUPS` (4096: 16384 fp32, 32768 bf16): the
      fused add's ``_row8_`` entry; rms_norm's ``_row8_`` in a call of at most
      :data:`ROW_FEW_ROWS` rows, else ``rms_norm_row8d_<dtype>`` (the weight loaded after
      the row's sum: two blocks an SM);

    else the general ``<kernel>_<dtype>``. All give the same results bit for bit.

    Why (an H200, L2 flushed, microseconds general -> row entry; bench/experiments/
    mlp-small, session 8, entries_bench_h200.txt): a call of few rows is bound by latency,
    the general entries' three paths are code to fetch cold, and the general fused add
    takes rows of over 1024 groups in two passes. rms_norm bf16 1 x 4096 5.47 -> 5.31,
    128 x 8192 6.93 -> 6.83, 128 x 14336 8.22 -> 7.87; fused add bf16 1 x 14336 8.51 ->
    6.90, 128 x 14336 10.56 -> 9.57, 8192 x 4096 72.2 -> 71.6; fp32 1 x 8192 rms_norm
    6.00 -> 5.68, fused add 7.90 -> 6.40. The bounds on rows: rms_norm's general entry
    streams many rows of over 512 groups faster (bf16 1024 x 8192 14.54 against 15.23,
    8192 x 8192 74.2 against 76.8), and at 1024 rows the four-a-thread entries lose (bf16
    1024 x 14336 rms_norm 22.7 against 31.6, fused add 38.8 against 40.1).
    The one-group entries (session 13, bench/results/2026-12-04-h200-session13, run1 and
    run2): bf16 rows of 1024 and 2048 at 1 to 128 rows 0.03-0.35 us faster than the
    two-group ones in both runs (rms_norm 4 x 2048 5.12 -> 4.93, fused add 16 x 1024 5.28
    -> 5.02); at 256 rows and beyond mixed or slower (rms_norm 256 x 2048 5.92 against
    6.02, 1024 x 2048 7.58 against 7.78); fp16 2048 and fp32 1024 (the same 256 groups,
    lighter conversions) within -0.1..+0.13 us, no gain; at 4096 bf16 (blocks of 512) even,
    at 8192 bf16 and fp32 2048-4096 (512 to 1024 threads) 0.1-0.3 us slower.
    The eight-a-thread entries (session 14, bench/results/2026-12-04-h200-session14, run 1,
    bench/experiments/mlp-row8): rows of over 2048 groups took two passes in the general
    entries. rms_norm fp32 1 x 14336 10.08 -> 7.23 (row8), 128 x 14336 11.97 -> 9.98,
    8192 x 14336 297.5 -> 234.8 (row8d; a copy of the bytes 224.8), bf16 8192 x 32768
    346.6 -> 266.7; row8 at 1024 rows and more lost (fp32 8192 x 14336 337.9: one block an
    SM), row8d at 128 rows and fewer (the weight's loads after the sum: 1 x 14336 9.18).
    The fused add's row8: fp32 1 x 14336 10.27 -> 7.62, 1024 x 8200 44.96 -> 41.25, at
    8192 rows within 0.7 % of the general entry either way (14336: 468.5 against 465.9);
    its weight-after-sum form spilled at two blocks an SM (680 against 466).

    >>> rms_norm_entry(1, 14336, "bf16", True), rms_norm_entry(129, 14336, "bf16", True)
    ('rms_norm_row4_bf16', 'rms_norm_bf16')
    >>> rms_norm_entry(16, 2048, "bf16", True), rms_norm_entry(129, 2048, "bf16", True)
    ('rms_norm_row1_bf16', 'rms_norm_row2_bf16')
    >>> rms_norm_entry(16, 2048, "f16", True)
    'rms_norm_row2_f16'
    >>> rms_norm_entry(1024, 8192, "bf16", True), rms_norm_entry(1024, 8192, "bf16", True, True)
    ('rms_norm_bf16', 'fused_add_rms_norm_row2_bf16')
    >>> rms_norm_entry(8192, 4096, "bf16", True), rms_norm_entry(1, 8192, "bf16", False)
    ('rms_norm_row2_bf16', 'rms_norm_bf16')
    >>> rms_norm_entry(1, 8196, "f32", True), rms_norm_entry(129, 8196, "f32", True)
    ('rms_norm_row8_f32', 'rms_norm_row8d_f32')
    >>> rms_norm_entry(8192, 14336, "f32", True, True), rms_norm_entry(1, 16388, "f32", True)
    ('fused_add_rms_norm_row8_f32', 'rms_norm_f32')
    """
    kernel = "fused_add_rms_norm" if fused else "rms_norm"
    n = 16 // _STORAGE[dtype].itemsize
    groups = int(hidden) // n
    few = int(rows) <= ROW_FEW_ROWS
    if aligned and int(hidden) % n == 0 and groups >= 1:
        if dtype in ROW1_DTYPES and groups <= ROW1_GROUPS and int(rows) <= ROW1_ROWS:
            return f"{kernel}_row1_{dtype}"
        if groups <= BLOCK or (groups <= 2 * BLOCK and (fused or few)):
            return f"{kernel}_row2_{dtype}"
        if groups <= ROW_GROUPS and few:
            return f"{kernel}_row4_{dtype}"
        if ROW_GROUPS < groups <= ROW8_GROUPS:
            return f"{kernel}_row8{'' if fused or few else 'd'}_{dtype}"
    return entry(kernel, dtype)


def swiglu_entry(d: int, dtype: str, aligned: bool) -> str:
    """The entry the SwiGLU recipe launches: ``swiglu_flat_<dtype>`` (one 16-byte group a
    thread) whenever it applies (every operand's rows 16-byte aligned, ``d`` a multiple of
    N = 16 / itemsize), for both layouts (gate and up apart, and silu_and_mul's halves of
    one ``[..., 2d]`` row, whose up half is then aligned too); else ``swiglu_<dtype>``. Both
    give the same results bit for bit.

    Why (an H200, L2 flushed, microseconds ``swiglu_<dtype>`` -> flat; bench/experiments/
    mlp-small, session 8, entries_bench_h200.txt): faster at every measured shape, 1 to
    8192 rows x d 2048 to 16384, fp32, fp16 and bf16: bf16 1 x 14336 5.20 -> 4.85,
    128 x 14336 9.15 -> 8.00, 1024 x 14336 28.82 -> 26.53, 8192 x 14336 175.8 -> 166.5;
    fp32 8192 x 14336 345.0 -> 325.9.

    >>> swiglu_entry(14336, "bf16", True), swiglu_entry(100, "bf16", True)
    ('swiglu_flat_bf16', 'swiglu_bf16')
    """
    if aligned and int(d) % (16 // _STORAGE[dtype].itemsize) == 0:
        return f"swiglu_flat_{dtype}"
    return entry("swiglu", dtype)


# ----------------------------------------------------------------------------- recipes


def _available(kernel: str, has_companion: Callable[[str], bool] | None) -> str:
    """``kernel``, or the general entry of its type where ``kernel`` is a compact entry the
    loaded code object lacks."""
    general = ENTRIES[kernel].companion_of
    if general is None or has_companion is None or has_companion(kernel):
        return kernel
    return general


def _check_dims(rows: int, cols: int, what: str) -> None:
    if rows < 0 or cols < 0:
        raise ValueError(f"{what}: rows={rows} and {cols} must be >= 0")


def swiglu_recipe(dtype: str, rows: int, d: int, ptrs: dict[str, int],
                  strides: dict[str, int], sm_count: int = 132,
                  has_companion: Callable[[str], bool] | None = None) -> Recipe | None:
    """One launch of ``swiglu_<dtype>``; None when there is nothing to do.

    Parameters
    ----------
    dtype : str
        f32, f16 or bf16.
    rows, d : int
        Rows and elements a row of the output.
    ptrs, strides : dict
        Device address and row stride (elements) of ``gate``, ``up`` and ``out``.
    sm_count : int
        The device's SMs/CUs (the grid rule).
    has_companion : callable, optional
        Whether the loaded code object holds a compact entry (the backend's
        ``has_companion``); without it the general entry. None: rocsample's own build,
        which has every entry.

    The entry :func:`swiglu_entry` names: the flat one, or the general one.

    Example
    -------
    >>> r = swiglu_recipe("f32", 2, 8, {"gate": 0, "up": 32, "out": 64},
    ...                   {"gate": 16, "up": 16, "out": 8})
    >>> l = r.launches[0]
    >>> l.kernel, l.grid, l.block
    ('swiglu_flat_f32', (1, 2), 32)
    >>> r = swiglu_recipe("f32", 2, 8, {"gate": 0, "up": 36, "out": 64},
    ...                   {"gate": 16, "up": 16, "out": 8})
    >>> r.launches[0].kernel, r.launches[0].grid, r.launches[0].block
    ('swiglu_f32', (2, 1), 32)
    >>> swiglu_recipe("f32", 2, 8, {"gate": 0, "up": 32, "out": 64},
    ...               {"gate": 16, "up": 16, "out": 8},
    ...               has_companion=lambda k: False).launches[0].kernel
    'swiglu_f32'
    """
    entry("swiglu", dtype)  # checks dtype
    _check_dims(rows, d, "swiglu")
    if rows == 0 or d == 0:
        return None
    args = {"gate": ptrs["gate"], "up": ptrs["up"], "out": ptrs["out"], "rows": int(rows),
            "d": int(d), "gate_stride": int(strides["gate"]), "up_stride": int(strides["up"]),
            "out_stride": int(strides["out"])}
    keys = ("gate", "up", "out")
    kernel = _available(swiglu_entry(d, dtype, rows_aligned({k: ptrs[k] for k in keys},
                                                            strides, dtype)), has_companion)
    if kernel.startswith("swiglu_flat"):
        grid, block = swiglu_flat_launch(rows, d, dtype)
    else:
        grid, block = swiglu_launch(rows, d, dtype, sm_count)
    return Recipe("swiglu", (), {}, None,
                  [Launch(kernel, grid, args, block=block)])


def rms_norm_recipe(dtype: str, rows: int, hidden: int, ptrs: dict[str, int],
                    strides: dict[str, int], eps: float, weight_offset: float = 0.0,
                    sm_count: int = 132,
                    has_companion: Callable[[str], bool] | None = None) -> Recipe | None:
    """One launch of the entry :func:`rms_norm_entry` names (``rms_norm_row1_<dtype>`` to
    ``_row8d_`` or the general ``rms_norm_<dtype>``; ``ptrs``: x, weight, out; ``strides``:
    x, out); ``has_companion`` as for :func:`swiglu_recipe`.

    Example
    -------
    >>> r = rms_norm_recipe("bf16", 5000, 8, {"x": 0, "weight": 0, "out": 0},
    ...                     {"x": 8, "out": 8}, 1e-6)
    >>> r.launches[0].kernel, r.launches[0].grid, r.launches[0].block
    ('rms_norm_row2_bf16', (5000, 1), 32)
    >>> r = rms_norm_recipe("bf16", 5000, 9, {"x": 0, "weight": 0, "out": 0},
    ...                     {"x": 9, "out": 9}, 1e-6)
    >>> r.launches[0].kernel, r.launches[0].grid
    ('rms_norm_bf16', (79, 1))
    """
    entry("rms_norm", dtype)  # checks dtype
    _check_dims(rows, hidden, "rms_norm")
    if rows == 0 or hidden == 0:
        return None
    args = {"x": ptrs["x"], "weight": ptrs["weight"], "out": ptrs["out"], "rows": int(rows),
            "hidden": int(hidden), "x_stride": int(strides["x"]),
            "out_stride": int(strides["out"]), "eps": float(eps),
            "weight_offset": float(weight_offset)}
    return Recipe("rms_norm", (), {}, None,
                  [_norm_launch(rows, hidden, dtype, ptrs, ("x", "weight", "out"), strides,
                                args, sm_count, has_companion, fused=False)])


def fused_add_rms_norm_recipe(dtype: str, rows: int, hidden: int, ptrs: dict[str, int],
                              strides: dict[str, int], eps: float, weight_offset: float = 0.0,
                              sm_count: int = 132,
                              has_companion: Callable[[str], bool] | None = None
                              ) -> Recipe | None:
    """One launch of the entry :func:`rms_norm_entry` names for the fused add
    (``fused_add_rms_norm_row1_<dtype>`` to ``_row8_`` or the general one; ``ptrs``: x,
    residual, weight; ``strides``: x, residual; ``has_companion`` as for
    :func:`swiglu_recipe`).

    Example
    -------
    >>> fused_add_rms_norm_recipe("f16", 0, 8, {}, {}, 1e-6) is None
    True
    >>> ptrs = {"x": 0, "residual": 1 << 24, "weight": 1 << 25}
    >>> strides = {"x": 14336, "residual": 14336}
    >>> for rows in (128, 129):
    ...     l = fused_add_rms_norm_recipe("bf16", rows, 14336, ptrs, strides, 1e-6).launches[0]
    ...     print(l.kernel, l.grid, l.block)
    fused_add_rms_norm_row4_bf16 (128, 1) 512
    fused_add_rms_norm_bf16 (129, 1) 512
    """
    entry("fused_add_rms_norm", dtype)  # checks dtype
    _check_dims(rows, hidden, "fused_add_rms_norm")
    if rows == 0 or hidden == 0:
        return None
    args = {"x": ptrs["x"], "residual": ptrs["residual"], "weight": ptrs["weight"],
            "rows": int(rows), "hidden": int(hidden), "x_stride": int(strides["x"]),
            "residual_stride": int(strides["residual"]), "eps": float(eps),
            "weight_offset": float(weight_offset)}
    return Recipe("fused_add_rms_norm", (), {}, None,
                  [_norm_launch(rows, hidden, dtype, ptrs, ("x", "residual", "weight"),
                                strides, args, sm_count, has_companion, fused=True)])


def _norm_launch(rows: int, hidden: int, dtype: str, ptrs: dict[str, int],
                 keys: tuple[str, ...], strides: dict[str, int], args: dict[str, Any],
                 sm_count: int, has_companion: Callable[[str], bool] | None,
                 fused: bool) -> Launch:
    """The launch of the RMSNorm entry :func:`rms_norm_entry` names for these operands (a
    row entry with its grid rule, or the general entry with its own)."""
    aligned = rows_aligned({k: ptrs[k] for k in keys}, strides, dtype)
    kernel = _available(rms_norm_entry(rows, hidden, dtype, aligned, fused=fused),
                        has_companion)
    if "_row" in kernel:
        grid, block = rms_norm_row_launch(rows, hidden, dtype, one="_row1" in kernel)
    else:
        grid, block = rms_norm_launch(rows, hidden, dtype, sm_count, fused=fused)
    return Launch(kernel, grid, args, block=block)


def _entry_dtype(kernel: str, args: dict[str, Any]) -> str:
    """The element type of a launch of ``kernel``: its entry's, or its ``dtype`` code."""
    dtype = ENTRIES[kernel].dtype
    return dtype if dtype is not None else {v: k for k, v in DTYPE_CODES.items()}[args["dtype"]]


def bytes_moved(kernel: str, args: dict[str, Any]) -> int:
    """The bytes a launch must read and write at least (its memory floor): weight once.

    >>> bytes_moved("rms_norm_bf16", {"rows": 2, "hidden": 4})
    40
    >>> bytes_moved("rms_norm_kernel", {"rows": 2, "hidden": 4, "dtype": 2})
    40
    >>> bytes_moved("fused_add_rms_norm_row2_f32", {"rows": 2, "hidden": 4})
    144
    """
    size = _STORAGE[_entry_dtype(kernel, args)].itemsize
    rows = int(args["rows"])
    op = ENTRIES[kernel].kernel
    if op == "swiglu":
        return 3 * rows * int(args["d"]) * size
    hidden = int(args["hidden"])
    per_row = 4 if op == "fused_add_rms_norm" else 2
    return (per_row * rows + 1) * hidden * size


# ----------------------------------------------------------------------------- numpy twin


def _dtype_of(a: np.ndarray, dtype: str | None, name: str) -> str:
    if dtype is not None:
        _code(dtype)
        if a.dtype != _STORAGE[dtype]:
            raise TypeError(f"{name} has numpy dtype {a.dtype}, but dtype={dtype!r} is stored "
                            f"as {_STORAGE[dtype]}")
        return dtype
    for k, v in _STORAGE.items():
        if a.dtype == v and k != "bf16":
            return k
    hint = " (for bf16 pass uint16 bits with dtype='bf16')" if a.dtype == np.uint16 else ""
    raise TypeError(f"{name} has dtype {a.dtype}; the MLP kernels take float32, float16 and "
                    f"bfloat16{hint}")


def _up(a: np.ndarray, dtype: str) -> np.ndarray:
    return bf16_to_f32(a) if dtype == "bf16" else np.asarray(a).astype(np.float32)


def _down(a: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bf16":
        return f32_to_bf16(a)
    with np.errstate(over="ignore"):
        return a.astype(_STORAGE[dtype])


def swiglu(gate: np.ndarray, up: np.ndarray, dtype: str | None = None) -> np.ndarray:
    """``silu(gate) * up`` as ``swiglu_kernel`` computes it; a new contiguous array.

    silu(g) = g / (1 + e^-g) and the product in float32, rounded to the element type once.

    Example
    -------
    >>> swiglu(np.array([1.0, -2.0], np.float32), np.array([2.0, 1.0], np.float32)).round(4)
    array([ 1.4621, -0.2384], dtype=float32)
    """
    gate, up = np.asarray(gate), np.asarray(up)
    dt = _dtype_of(gate, dtype, "gate")
    if up.dtype != gate.dtype or up.shape != gate.shape:
        raise ValueError(f"gate and up differ: shapes {gate.shape}, {up.shape}, dtypes "
                         f"{gate.dtype}, {up.dtype}")
    g, u = _up(gate, dt), _up(up, dt)
    with np.errstate(over="ignore"):
        s = g / (np.float32(1) + np.exp(-g))
    return _down(s * u, dt)


def silu_and_mul(x: np.ndarray, dtype: str | None = None) -> np.ndarray:
    """``silu(x[..., :d]) * x[..., d:]`` for ``x`` of shape ``[..., 2d]``.

    Example
    -------
    >>> silu_and_mul(np.array([[0.0, 3.0]], np.float32)).tolist()
    [[0.0]]
    """
    x = np.asarray(x)
    if x.ndim == 0 or x.shape[-1] % 2:
        raise ValueError(f"x has shape {x.shape}: silu_and_mul needs an even last dim [..., 2d]")
    d = x.shape[-1] // 2
    return swiglu(x[..., :d], x[..., d:], dtype)


def _norm_rows(v: np.ndarray, w: np.ndarray, eps: float, weight_offset: float,
               dtype: str) -> np.ndarray:
    """(v * rstd) * (w + offset) in float32 over the last dim of float32 values ``v``."""
    hidden = v.shape[-1]
    ss = np.sum(np.square(v.astype(np.float64)), axis=-1, keepdims=True).astype(np.float32)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # as the kernels: no
        mean = ss / np.float32(hidden)  # warning for hidden 0 (no element) or an Inf value
        rstd = np.float32(1) / np.sqrt(mean + np.float32(eps))
        return _down((v * rstd) * (_up(w, dtype) + np.float32(weight_offset)), dtype)


def _check_norm(x: np.ndarray, weight: np.ndarray, dt: str, eps: float) -> None:
    if x.ndim == 0:
        raise ValueError("x is a scalar: rms_norm normalises the last dim of an array")
    if weight.shape != (x.shape[-1],) or weight.dtype != x.dtype:
        raise ValueError(f"weight must have shape ({x.shape[-1]},) and x's dtype {x.dtype}; "
                         f"got shape {weight.shape}, dtype {weight.dtype}")
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps={eps} must be finite and >= 0")


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float = 1e-6,
             weight_offset: float = 0.0, dtype: str | None = None) -> np.ndarray:
    """RMSNorm over the last dim as ``rms_norm_kernel`` computes it; a new array.

    ``out = (x * rstd) * (weight + weight_offset)`` in float32, rounded once, with
    ``rstd = 1 / sqrt(sum(x^2) / hidden + eps)`` (weight_offset 1: Gemma).

    Example
    -------
    >>> rms_norm(np.zeros((1, 4), np.float32), np.ones(4, np.float32)).tolist()
    [[0.0, 0.0, 0.0, 0.0]]
    """
    x, weight = np.asarray(x), np.asarray(weight)
    dt = _dtype_of(x, dtype, "x")
    _check_norm(x, weight, dt, eps)
    return _norm_rows(_up(x, dt), weight, eps, weight_offset, dt)


def fused_add_rms_norm(x: np.ndarray, residual: np.ndarray, weight: np.ndarray,
                       eps: float = 1e-6, weight_offset: float = 0.0,
                       dtype: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``residual + x`` rounded to the element type, and RMSNorm of it: the pair (new x, new
    residual) ``fused_add_rms_norm_kernel`` writes.

    Example
    -------
    >>> y, r = fused_add_rms_norm(np.ones((1, 2), np.float32), np.ones((1, 2), np.float32),
    ...                           np.ones(2, np.float32), eps=0.0)
    >>> y.tolist(), r.tolist()
    ([[1.0, 1.0]], [[2.0, 2.0]])
    """
    x, residual, weight = np.asarray(x), np.asarray(residual), np.asarray(weight)
    dt = _dtype_of(x, dtype, "x")
    if residual.shape != x.shape or residual.dtype != x.dtype:
        raise ValueError(f"residual must have x's shape {x.shape} and dtype {x.dtype}; got "
                         f"{residual.shape}, {residual.dtype}")
    _check_norm(x, weight, dt, eps)
    new_res = _down(_up(residual, dt) + _up(x, dt), dt)
    return _norm_rows(_up(new_res, dt), weight, eps, weight_offset, dt), new_res
