"""Candle's elementwise kernels on a real GPU, launched as Candle's host code launches them.

Nothing here goes through rocsample's API: each module is compiled for the device by the
toolchain, loaded, and every entry is launched by name with hand-packed arguments (size_t
numel, size_t num_dims, a device ``info`` array or NULL when contiguous, then the pointers
and scalars in Candle's order), exactly what a Candle ROCm/CUDA backend does with our code
objects. Results are compared with the numpy twin (:mod:`rocsample.ops.elementwise`).
Run by ``make test-gpu`` (and ``make test-gpu-hip`` through hip-python on the hipshim).
"""

from __future__ import annotations

import ctypes
import os
import zlib

import numpy as np
import pytest

from rocsample import registry
from rocsample.backends import get_backend
from rocsample.errors import BackendUnavailable
from rocsample.ops import elementwise as ew
from rocsample.toolchains import get_toolchain

pytestmark = pytest.mark.gpu
REQUIRE = os.environ.get("ROCSAMPLE_REQUIRE_GPU") == "1"

# The exact ops compute with integer or sign-bit moves, or one correctly rounded operation.
EXACT = {"copy", "neg", "abs", "sqr", "ceil", "floor", "round", "sign", "relu", "sqrt"}
# Relative error allowed for the transcendental ops, by dtype: the device's libm against
# numpy's, then (f16/bf16) one rounding step of the stored type.
RTOL = {"f32": 1e-5, "f64": 1e-12, "f16": 2.0**-10, "bf16": 1.6e-2}
_SCALAR = {
    "f32": ctypes.c_float, "f64": ctypes.c_double, "f16": ctypes.c_uint16,
    "bf16": ctypes.c_uint16, "u8": ctypes.c_uint8, "u32": ctypes.c_uint32,
    "i16": ctypes.c_int16, "i32": ctypes.c_int32, "i64": ctypes.c_int64,
}


@pytest.fixture(scope="module")
def rt():
    choice = os.environ.get("ROCSAMPLE_BACKEND", "auto")
    reasons = []
    for kind in [choice] if choice in ("hip", "cuda") else ["hip", "cuda"]:
        try:
            return get_backend(kind).rt
        except BackendUnavailable as exc:
            reasons.append(str(exc))
    (pytest.fail if REQUIRE else pytest.skip)("no GPU backend: " + "; ".join(reasons))


@pytest.fixture(scope="module")
def functions(rt):
    """Every entry of the three modules, compiled for this device and loaded."""
    tc = get_toolchain(rt.toolchain)
    root = registry.kernel_source_dir()
    found = {}
    for spec in ew.MODULES.values():
        headers = {h: (root / h).read_bytes() for h in spec.headers}
        image, log = tc.compile((root / spec.source).read_bytes(), spec.source, headers,
                                tc.options(rt.target, rt.wave_size))
        assert image is not None, log
        module = rt.load_module(image)
        for entry in spec.entries:
            found[entry] = rt.get_function(module, entry)
    return found


class _Args:
    """``void* kernelParams[]`` built by hand, as Candle's launcher builds it."""

    def __init__(self, values: list[ctypes._SimpleCData]) -> None:
        self.values = values
        self.array = (ctypes.c_void_p * len(values))(*(ctypes.addressof(v) for v in values))
        self.address = ctypes.addressof(self.array)


class _Device:
    """Device copies of host arrays, freed at the end of a test."""

    def __init__(self, rt) -> None:
        self.rt, self.ptrs = rt, []

    def put(self, a: np.ndarray | None) -> int:
        if a is None:
            return 0
        a = np.ascontiguousarray(a)
        ptr = self.rt.alloc(max(a.nbytes, 1))
        self.ptrs.append(ptr)
        if a.nbytes:
            self.rt.copy_from_host(ptr, a.ctypes.data, a.nbytes)
        return ptr

    def get(self, ptr: int, like: np.ndarray) -> np.ndarray:
        out = np.empty_like(like)
        if out.nbytes:
            self.rt.copy_to_host(out.ctypes.data, ptr, out.nbytes)
        return out

    def free(self) -> None:
        for p in self.ptrs:
            self.rt.free(p)
        self.ptrs = []


@pytest.fixture
def dev(rt):
    d = _Device(rt)
    yield d
    d.free()


def _launch(rt, fn, numel: int, values: list, per_thread: int = 1) -> None:
    """Candle's grid (a thread per element, blocks of 1024), or with ``per_thread`` the grid
    rocsample launches (blocks of ew.BLOCK; contiguous, the kernels take 16 bytes at a time)."""
    block = ew.CANDLE_BLOCK if per_thread == 1 else ew.BLOCK
    geo = ew.launch_geometry(numel, block=block, per_thread=per_thread)
    if geo is None:
        return  # numel 0: Candle launches nothing
    rt.launch(fn, (geo.grid, 1), geo.block, _Args(values), 0)


def _layout_args(numel: int, ndims: int, info_ptr: int) -> list:
    return [ctypes.c_size_t(numel), ctypes.c_size_t(ndims), ctypes.c_void_p(info_ptr or None)]


def _scalar(value: float, dtype: str):
    stored = ew.to_scalar(value, dtype)
    if dtype == "f16":  # passed as its two bytes, like Candle's __half
        stored = stored.view(np.uint16)
    return _SCALAR[dtype](stored.item())


def _values(rng, dtype: str, n: int, op: str = "copy") -> np.ndarray:
    """Inputs in each op's domain, stored as the dtype (bf16 as its bit patterns)."""
    x = rng.standard_normal(n) * 3
    x[: min(n, 4)] = [0.5, -2.5, 1.5, -0.0][: min(n, 4)]  # round's halves, signed zero
    if op in ("log", "sqrt"):
        x = np.abs(x) + 1e-3
    if op == "recip":
        x = np.where(np.abs(x) < 1e-2, 1.0, x)
    if op == "powf":
        x = np.abs(x)
    dt = ew.DTYPES[dtype]
    if dtype == "bf16":
        return ew.f32_to_bf16(x.astype(np.float32))
    if not dt.is_float:
        info = np.iinfo(dt.storage)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), n).astype(dt.storage)
    return x.astype(dt.storage)


def _assert_close(got: np.ndarray, want: np.ndarray, op: str, dtype: str) -> None:
    g, w = ew._up(got, dtype).astype(np.float64), ew._up(want, dtype).astype(np.float64)
    if ew.DTYPES[dtype].is_float:
        # A NaN's sign and payload are the hardware's (CUDA's canonical 0x7fffffff against
        # x86's 0xffc00000): a NaN must meet a NaN, nothing more.
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{op} {dtype} NaNs")
        keep = ~np.isnan(w)
        got, want, g, w = got[keep], want[keep], g[keep], w[keep]
    if op in EXACT or not ew.DTYPES[dtype].is_float:
        assert got.tobytes() == want.tobytes(), (op, dtype)
        return
    # atol: gelu, silu, sigmoid and elu cancel near their zeros, where a 1-ulp difference of
    # the device's tanh/exp is a large relative one (inputs are of order 1 to 10).
    np.testing.assert_allclose(g, w, rtol=RTOL[dtype], atol=RTOL[dtype],
                               err_msg=f"{op} {dtype}")


UNARY_CASES = [(op, dt) for dt in ew.FLOAT_DTYPES for op in ew.UNARY_OPS + ew.UNARY_PARAM_OPS]
UNARY_CASES += [("copy", dt) for dt in ("u8", "u32", "i64")]


@pytest.mark.parametrize("grid", ["candle", "packed"])
@pytest.mark.parametrize("op,dtype", UNARY_CASES)
def test_every_unary_entry_contiguous(rt, functions, dev, op, dtype, grid):
    rng = np.random.default_rng(zlib.crc32(f"{op}_{dtype}".encode()))  # fixed per case
    n = 5003
    x = _values(rng, dtype, n, op)
    param = {"elu": 0.7, "powf": 1.5}.get(op)
    want = np.empty_like(x)
    ew.run_unary(op, dtype, n, 1, None, x, want, param)
    inp, out = dev.put(x), dev.put(np.zeros_like(x))
    args = _layout_args(n, 1, 0)
    if param is not None:
        args.append(_scalar(param, dtype))
    kernel = ew.unary_entry(op, dtype)
    _launch(rt, functions[kernel], n, args + [ctypes.c_void_p(inp), ctypes.c_void_p(out)],
            ew.elements_per_thread(kernel, True) if grid == "packed" else 1)
    _assert_close(dev.get(out, x), want, op, dtype)


@pytest.mark.parametrize("dtype", ["f32", "bf16", "f64", "u8"])
@pytest.mark.parametrize("shift", [0, 1, 3])
@pytest.mark.parametrize("n", [1, 4095, 4096 * 8 + 5])
def test_packed_grid_with_misaligned_pointers_and_tails(rt, functions, dev, dtype, shift, n):
    # rocsample's contiguous grid (fewer threads than elements): 16-byte groups when every
    # pointer is aligned, element by element when one is not (shift), the tail after the
    # last whole group; the elements around the output are never written.
    rng = np.random.default_rng(n + shift)
    kernel = "ucopy_" + dtype if dtype == "u8" else ew.unary_entry("neg", dtype)
    op = "copy" if dtype == "u8" else "neg"
    x = _values(rng, dtype, n + shift)
    want = np.empty(n, x.dtype)
    ew.run_unary(op, dtype, n, 1, None, x[shift:], want)
    guard = np.full(n + 2 * 16, 77, x.dtype)
    inp, out = dev.put(x), dev.put(guard)
    item = x.dtype.itemsize
    _launch(rt, functions[kernel], n, _layout_args(n, 1, 0)
            + [ctypes.c_void_p(inp + shift * item), ctypes.c_void_p(out + 16 * item)],
            ew.elements_per_thread(kernel, True))
    got = dev.get(out, guard)
    assert got[16:16 + n].tobytes() == want.tobytes()
    assert (got[:16] == guard[:16]).all() and (got[16 + n:] == guard[16 + n:]).all()


def test_many_dims(rt, functions, dev):
    # 18 dims of 2, axes permuted: the coordinate walk through every dim.
    dims = (2,) * 18
    strides = tuple(reversed([2 ** i for i in range(18)]))  # permuted: reversed axes
    strides = strides[1:] + strides[:1]
    lay = ew.Layout(dims, strides)
    assert not lay.is_contiguous
    base = np.arange(lay.numel, dtype=np.float32)
    want = np.empty(lay.numel, np.float32)
    ew.run_unary("neg", "f32", lay.numel, len(dims), lay.info(), base, want)
    out = dev.put(np.zeros(lay.numel, np.float32))
    _launch(rt, functions["uneg_f32"], lay.numel,
            _layout_args(lay.numel, len(dims), dev.put(lay.info()))
            + [ctypes.c_void_p(dev.put(base)), ctypes.c_void_p(out)])
    assert dev.get(out, want).tobytes() == want.tobytes()


def _strided_cases():
    """(name, base buffer, Layout) of the layout cases, over a float32 buffer."""
    base = np.arange(4 * 6 * 5, dtype=np.float32) * 0.37 - 11.0
    yield "broadcast", base, ew.Layout((4, 6), (0, 1))
    yield "size-1 dims with odd strides", base, ew.Layout((1, 12, 1), (99, 1, 7))
    yield "start offset x[:, 1:3]", base, ew.Layout((6, 2), (5, 1), start_offset=1)
    yield "transposed", base, ew.Layout((5, 6), (1, 5))
    yield "3-d permuted", base, ew.Layout((5, 4, 6), (1, 30, 5))
    # the tile walk (unary, affine): 32 x 32 tiles through shared memory, cut by both edges
    big = np.arange(3100, dtype=np.float32) * 0.37 - 11.0
    yield "transposed in tiles", big, ew.Layout((40, 70), (1, 43), start_offset=2)


@pytest.mark.parametrize("grid", ["candle", "rocsample"])
@pytest.mark.parametrize("case", list(_strided_cases()), ids=lambda c: c[0])
@pytest.mark.parametrize("op", ["exp", "neg", "copy", "gelu"])
def test_unary_layouts(rt, functions, dev, case, op, grid):
    _, base, lay = case
    want = np.empty(lay.numel, np.float32)
    src = base[lay.start_offset:]
    ew.run_unary(op, "f32", lay.numel, len(lay.dims), lay.info(), src, want)
    info = lay.info()
    if lay.is_contiguous:
        assert info is None  # Candle passes NULL for these
    buf, out = dev.put(base), dev.put(np.zeros(lay.numel, np.float32))
    _launch(rt, functions[ew.unary_entry(op, "f32")], lay.numel,
            _layout_args(lay.numel, len(lay.dims), dev.put(info))
            + [ctypes.c_void_p(lay.base(buf, 4)), ctypes.c_void_p(out)],
            ew.elements_per_thread(ew.unary_entry(op, "f32"), info is None)
            if grid == "rocsample" else 1)
    _assert_close(dev.get(out, want), want, op, "f32")


def _row_cases():
    """Layouts whose rows are contiguous (the row walk), as (name, Layout, buffer length):
    rows long enough for a tile of either grid (Candle's: 1024 threads x 4), odd lengths,
    start offsets that leave every row misaligned, and Candle's unmerged 3-d form."""
    yield "x[:, 1:] of (37, 4097)", ew.Layout((37, 4096), (4097, 1), start_offset=1), 37 * 4097
    yield "x[:, 3:2502] of (9, 2503)", ew.Layout((9, 2499), (2503, 1), start_offset=3), 9 * 2503
    yield "x[:, :, 1:] of (3, 5, 2049), unmerged", \
        ew.Layout((3, 5, 2048), (5 * 2049, 2049, 1), start_offset=1), 3 * 5 * 2049
    yield "broadcast row (6, 3001)", ew.Layout((6, 3001), (0, 1)), 3001
    yield "size-1 dims in the run, (4, 1, 2100, 1)", \
        ew.Layout((4, 1, 2100, 1), (2111, 5, 1, 9)), 4 * 2111


@pytest.mark.parametrize("grid", ["candle", "rocsample"])
@pytest.mark.parametrize("case", list(_row_cases()), ids=lambda c: c[0])
@pytest.mark.parametrize("op,dtype", [("neg", "f32"), ("gelu", "f32"), ("neg", "bf16"),
                                      ("gelu", "bf16"), ("neg", "f64"), ("copy", "u8")])
def test_unary_row_layouts(rt, functions, dev, case, op, dtype, grid):
    # The row walk (rows contiguous for the operand): every element of the view once, the
    # bytes around the output untouched.
    _, lay, size = case
    rng = np.random.default_rng(zlib.crc32(f"{case[0]}{op}{dtype}".encode()))
    base = _values(rng, dtype, size, op)
    want = np.empty(lay.numel, base.dtype)
    ew.run_unary(op, dtype, lay.numel, len(lay.dims), lay.info(), base[lay.start_offset:], want)
    guard = np.full(lay.numel + 64, 77, base.dtype)
    buf, out = dev.put(base), dev.put(guard)
    item = base.dtype.itemsize
    kernel = ew.unary_entry(op, dtype) if dtype != "u8" else "ucopy_u8"
    _launch(rt, functions[kernel], lay.numel,
            _layout_args(lay.numel, len(lay.dims), dev.put(lay.info()))
            + [ctypes.c_void_p(lay.base(buf, item)), ctypes.c_void_p(out + 32 * item)],
            ew.elements_per_thread(kernel, False) if grid == "rocsample" else 1)
    got = dev.get(out, guard)
    assert (got[:32] == 77).all() and (got[32 + lay.numel:] == 77).all()
    _assert_close(got[32:32 + lay.numel], want, op, dtype)


@pytest.mark.parametrize("grid", ["candle", "packed"])
@pytest.mark.parametrize("dtype", ew.AFFINE_DTYPES)
@pytest.mark.parametrize("in_place", [False, True])
def test_affine_contiguous_and_strided_in_place(rt, functions, dev, dtype, in_place, grid):
    rng = np.random.default_rng(7)
    lay = ew.Layout((7, 9), (1, 7))  # transposed: info is not NULL, in place too
    x = _values(rng, dtype, lay.numel)
    mul, add = (3, 5) if not ew.DTYPES[dtype].is_float else (1.25, -0.5)
    want = x.copy() if in_place else np.empty_like(x)
    ew.run_affine(dtype, lay.numel, 2, lay.info(), None if in_place else x, want, mul, add)
    out = dev.put(x if in_place else np.zeros_like(x))
    inp = 0 if in_place else dev.put(x)
    _launch(rt, functions[ew.affine_entry(dtype)], lay.numel,
            _layout_args(lay.numel, 2, dev.put(lay.info()))
            + [ctypes.c_void_p(inp or None), ctypes.c_void_p(out),
               _scalar(mul, dtype), _scalar(add, dtype)],
            ew.elements_per_thread(ew.affine_entry(dtype), in_place) if grid == "packed" else 1)
    _assert_close(dev.get(out, x), want, "affine", dtype)


@pytest.mark.parametrize("mul,add", [(1.5, 2.0**-9), (-3.0, 0.0078125), (1.0078125, -1e-30)])
def test_bf16_rounding_bit_exact(rt, functions, dev, mul, add):
    # Every bf16 bit pattern through one fma in float and the rounding to bf16 (NVIDIA sm_80+:
    # the hardware instruction with the NaN fix-up; elsewhere the bit arithmetic): the bits
    # must be the numpy twin's, ties to even included. A NaN's payload is the hardware's
    # (its fma returns the canonical NaN), so NaNs need only meet NaNs.
    x = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    want = np.empty_like(x)
    ew.run_affine("bf16", x.size, 1, None, x, want, mul, add)
    out = dev.put(np.zeros_like(x))
    _launch(rt, functions["affine_bf16"], x.size,
            _layout_args(x.size, 1, 0) + [ctypes.c_void_p(dev.put(x)), ctypes.c_void_p(out),
                                          _scalar(mul, "bf16"), _scalar(add, "bf16")],
            ew.elements_per_thread("affine_bf16", True))
    got = dev.get(out, x)
    nan_w = np.isnan(ew.bf16_to_f32(want))
    np.testing.assert_array_equal(np.isnan(ew.bf16_to_f32(got)), nan_w)
    np.testing.assert_array_equal(got[~nan_w], want[~nan_w])


@pytest.mark.parametrize("id_dtype", ew.WHERE_ID_DTYPES)
@pytest.mark.parametrize("dtype", ew.WHERE_DTYPES)
def test_where_three_layouts(rt, functions, dev, id_dtype, dtype):
    rng = np.random.default_rng(11)
    dims = (6, 5)
    ids = rng.integers(0, 3, 30).astype(ew.DTYPES[id_dtype].storage)  # 2 is true too
    t = _values(rng, dtype, 5)  # broadcast over rows
    f = _values(rng, dtype, 30)  # transposed
    info = ew.where_info(dims, (5, 1), (0, 1), (1, 6))
    want = np.empty(30, t.dtype)
    ew.run_where(id_dtype, dtype, 30, 2, info, ids, t, f, want)
    out = dev.put(np.zeros(30, t.dtype))
    _launch(rt, functions[ew.where_entry(id_dtype, dtype)], 30,
            _layout_args(30, 2, dev.put(info))
            + [ctypes.c_void_p(dev.put(ids)), ctypes.c_void_p(dev.put(t)),
               ctypes.c_void_p(dev.put(f)), ctypes.c_void_p(out)])
    assert dev.get(out, want).tobytes() == want.tobytes()


@pytest.mark.parametrize("id_dtype", ew.WHERE_ID_DTYPES)
@pytest.mark.parametrize("dtype", ew.WHERE_DTYPES)
def test_where2_takes_the_layout_by_value(rt, functions, dev, id_dtype, dtype):
    """rocsample's where2 (dims and strides as arguments) gives where's result, on Candle's
    grid and on rocsample's, over two dims (a broadcast row, a transposed operand, an offset)
    and over one dim padded as where2_args pads it."""
    rng = np.random.default_rng(12)
    rows, cols = 37, 45
    n = rows * cols
    ids = rng.integers(0, 3, n + 3).astype(ew.DTYPES[id_dtype].storage)
    t = _values(rng, dtype, cols)  # broadcast over rows
    f = _values(rng, dtype, n)  # transposed
    kernel = ew.where2_entry(id_dtype, dtype)
    for dims, st in (((rows, cols), ((cols, 1), (0, 1), (1, rows))),
                     ((cols,), ((2,), (1,), (rows,)))):
        numel = int(np.prod(dims))
        want = np.empty(numel, t.dtype)
        ew.run_where(id_dtype, dtype, numel, len(dims), ew.where_info(dims, *st), ids[3:], t,
                     f, want)
        by_value = ew.where2_args(dims, *st)
        for per_thread in (1, ew.elements_per_thread(ew.where_entry(id_dtype, dtype), False)):
            out = dev.put(np.zeros(numel, t.dtype))
            base = dev.put(ids) + 3 * ids.itemsize  # a start offset, as the API passes one
            _launch(rt, functions[kernel], numel,
                    [ctypes.c_size_t(numel)] + [ctypes.c_size_t(v) for v in by_value.values()]
                    + [ctypes.c_void_p(base), ctypes.c_void_p(dev.put(t)),
                       ctypes.c_void_p(dev.put(f)), ctypes.c_void_p(out)], per_thread)
            assert dev.get(out, want).tobytes() == want.tobytes(), (dims, per_thread)


@pytest.mark.parametrize("id_dtype", ew.WHERE_ID_DTYPES)
@pytest.mark.parametrize("dtype", ew.WHERE_DTYPES)
def test_where_contiguous_on_both_grids(rt, functions, dev, id_dtype, dtype):
    rng = np.random.default_rng(13)
    n = 4096 * 4 + 7
    ids = rng.integers(0, 3, n).astype(ew.DTYPES[id_dtype].storage)
    t, f = _values(rng, dtype, n), _values(rng, dtype, n)
    info = ew.where_info((n,), (1,), (1,), (1,))  # never NULL for where
    want = np.empty(n, t.dtype)
    ew.run_where(id_dtype, dtype, n, 1, info, ids, t, f, want)
    kernel = ew.where_entry(id_dtype, dtype)
    for per_thread in (1, ew.elements_per_thread(kernel, True)):
        out = dev.put(np.zeros(n, t.dtype))
        _launch(rt, functions[kernel], n, _layout_args(n, 1, dev.put(info))
                + [ctypes.c_void_p(dev.put(ids)), ctypes.c_void_p(dev.put(t)),
                   ctypes.c_void_p(dev.put(f)), ctypes.c_void_p(out)], per_thread)
        assert dev.get(out, want).tobytes() == want.tobytes(), per_thread


def test_more_than_2_31_elements(rt, functions, dev):
    # 64-bit indices: the elements past 2^31 are written, and nothing past numel.
    n = (1 << 31) + 4099
    x = np.arange(n + 64, dtype=np.uint8)  # 64 guard bytes after the output's numel
    inp = dev.put(x)
    out = dev.put(np.full(n + 64, 7, np.uint8))
    _launch(rt, functions["affine_u8"], n, _layout_args(n, 1, 0)
            + [ctypes.c_void_p(inp), ctypes.c_void_p(out), _scalar(1, "u8"), _scalar(3, "u8")])
    got = dev.get(out, x)
    for lo in (0, (1 << 31) - 8, n - 16):
        np.testing.assert_array_equal(got[lo:lo + 16], (x[lo:lo + 16] + 3).astype(np.uint8))
    assert (got[n:] == 7).all()  # the guard is untouched
    # rocsample's packed grid over the same launch: 16 elements a thread
    out2 = dev.put(np.full(n + 64, 7, np.uint8))
    _launch(rt, functions["affine_u8"], n, _layout_args(n, 1, 0)
            + [ctypes.c_void_p(inp), ctypes.c_void_p(out2), _scalar(1, "u8"), _scalar(3, "u8")],
            ew.elements_per_thread("affine_u8", True))
    got = dev.get(out2, x)
    for lo in (0, (1 << 31) - 8, n - 16):
        np.testing.assert_array_equal(got[lo:lo + 16], (x[lo:lo + 16] + 3).astype(np.uint8))
    assert (got[n:] == 7).all()


@pytest.mark.parametrize("grid", ["candle", "rocsample"])
def test_more_than_2_31_elements_strided(rt, functions, dev, grid):
    # The strided walk past 2^31 (32-bit coordinates, 64-bit offsets): a transposed (m, 2).
    m = (1 << 30) + 2051
    n = 2 * m
    lay = ew.Layout((2, m), (1, 2))
    x = np.resize(np.arange(251, dtype=np.uint8), n)  # x[k] = k % 251
    out = dev.put(np.zeros(n, np.uint8))
    _launch(rt, functions["ucopy_u8"], n, _layout_args(n, 2, dev.put(lay.info()))
            + [ctypes.c_void_p(dev.put(x)), ctypes.c_void_p(out)],
            ew.UNROLL if grid == "rocsample" else 1)
    got = dev.get(out, x)
    i = np.concatenate([np.arange(64), np.arange(m - 64, m + 64), np.arange(n - 64, n),
                        np.random.default_rng(5).integers(0, n, 100_000)]).astype(np.uint64)
    np.testing.assert_array_equal(got[i], x[(i % np.uint64(m)) * np.uint64(2) + i // np.uint64(m)])


def test_empty_launches_nothing(rt, functions, dev):
    assert ew.launch_geometry(0) is None
    with pytest.raises(ValueError, match="2\\^32"):
        ew.launch_geometry(1 << 32)
