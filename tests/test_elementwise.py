"""Candle's elementwise family (issue 20 point 4): the numpy twin against a float64 reference
for every op and dtype, Candle's layouts, launch geometry, and real compiles of the three
modules (hiprtc gfx90a/gfx1030, NVRTC sm_90) with every entry name in each code object.

The references here are written independently of rocsample.ops.elementwise: math/decimal/
fractions on Python floats, and a bf16 rounding of their own.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
import pytest

from rocsample import codeobject, registry
from rocsample.ops import elementwise as ew
from rocsample.toolchains import get_toolchain, wave_size_for

from .conftest import need

# ----------------------------------------------------------------------------- references


def _bf16_round(v: float) -> float:
    """float64 -> nearest bf16 value (ties to even), with its own arithmetic."""
    if math.isnan(v) or math.isinf(v) or v == 0:
        return v
    m, e = math.frexp(abs(v))  # abs(v) = m * 2^e, m in [0.5, 1)
    bits = 8 if e >= -125 else 8 - (-125 - e)  # bf16 subnormals below 2^-126
    q = round(m * 2.0**bits)  # exact scaling; round() ties to even
    r = math.ldexp(q, e - bits)
    if r > float.fromhex("0x1.fep127") + float.fromhex("0x1p119"):
        r = math.inf
    elif r > float.fromhex("0x1.fep127"):
        r = math.inf if r >= float.fromhex("0x1.ffp127") else float.fromhex("0x1.fep127")
    return math.copysign(r, v)


def _store(values: list[float], dt: str) -> np.ndarray:
    """Correctly rounded float64 values to the dtype's storage."""
    if dt == "bf16":
        f = np.array([_bf16_round(v) for v in values], dtype=np.float32)
        return (f.view(np.uint32) >> 16).astype(np.uint16)
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float64).astype(ew.DTYPES[dt].storage)


def _values(a: np.ndarray, dt: str) -> list[float]:
    if dt == "bf16":
        return [float(v) for v in (np.atleast_1d(a).astype(np.uint32) << 16).view(np.float32)]
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def _round_half_away(v: float) -> float:
    if math.isnan(v) or math.isinf(v):
        return v
    return math.copysign(float(Decimal(v).quantize(Decimal(1), rounding=ROUND_HALF_UP)), v)


def _normcdf(v: float) -> float:
    return 0.5 * math.erfc(-v / math.sqrt(2.0))


REF = {
    "copy": lambda v, p: v,
    "neg": lambda v, p: -v,
    "recip": lambda v, p: 1.0 / v,
    "exp": lambda v, p: math.exp(v),
    "log": lambda v, p: math.log(v),
    "sin": lambda v, p: math.sin(v),
    "cos": lambda v, p: math.cos(v),
    "tanh": lambda v, p: math.tanh(v),
    "erf": lambda v, p: math.erf(v),
    "ceil": lambda v, p: math.copysign(float(math.ceil(v)), v),  # zero keeps v's sign
    "floor": lambda v, p: math.copysign(float(math.floor(v)), v),
    "round": lambda v, p: _round_half_away(v),
    "normcdf": lambda v, p: _normcdf(v),
    "abs": lambda v, p: abs(v),
    "sqr": lambda v, p: v * v,
    "sqrt": lambda v, p: math.sqrt(v),
    "gelu": lambda v, p: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi)
                                                  * (v + 0.044715 * v**3))),
    "gelu_erf": lambda v, p: v * _normcdf(v),
    "relu": lambda v, p: v if v > 0 else 0.0,
    "silu": lambda v, p: v / (1 + math.exp(-v)),
    "sigmoid": lambda v, p: 1 / (1 + math.exp(-v)),
    "sign": lambda v, p: float((v > 0) - (v < 0)),
    "elu": lambda v, p: v if v > 0 else p * (math.exp(v) - 1),
    "powf": lambda v, p: v**p,
}
EXACT = {"copy", "neg", "abs", "sqr", "ceil", "floor", "round", "sign", "relu"}
POSITIVE = {"log", "sqrt", "powf", "recip"}
PARAM = {"elu": 0.7, "powf": 1.7}


def _inputs(op: str, dt: str) -> np.ndarray:
    rng = np.random.default_rng(abs(hash((op, dt))) % 2**32)
    x = rng.standard_normal(2000) * 3
    x = np.concatenate([x, [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -0.0, 0.0, 0.49999997, 7.0]])
    if op in POSITIVE:
        x = np.abs(x) + 0.05
    return _store(list(x), dt)


def _ulps(a: np.ndarray, b: np.ndarray, dt: str) -> np.ndarray:
    """Distance in units in the last place between stored values (same sign side)."""
    u = np.dtype(f"i{ew.DTYPES[dt].itemsize}")
    ia, ib = a.view(u).astype(np.int64), b.view(u).astype(np.int64)
    top = np.int64(1) << (8 * a.itemsize - 1)
    ia = np.where(ia < 0, -(ia + top), ia)  # sign-magnitude to a monotone integer line
    ib = np.where(ib < 0, -(ib + top), ib)
    return np.abs(ia - ib)


# ----------------------------------------------------------------------------- unary


@pytest.mark.parametrize("dt", ew.FLOAT_DTYPES)
@pytest.mark.parametrize("op", ew.UNARY_OPS + ew.UNARY_PARAM_OPS)
def test_unary_against_float64_reference(op, dt):
    x = _inputs(op, dt)
    p = PARAM.get(op)
    got = ew.unary(op, x, param=p, dtype=dt)
    assert got.dtype == x.dtype and got.shape == x.shape
    pv = _values(ew.to_scalar(p, dt), dt)[0] if p is not None else None
    ref = [REF[op](v, pv) for v in _values(x, dt)]
    if op in EXACT:
        # Bit for bit what a correct rounding of the exact result stores.
        want = _store(ref, dt)
        assert np.array_equal(got.view(f"u{x.itemsize}"), want.view(f"u{x.itemsize}")), op
        return
    g = np.array(_values(got, dt))
    r = np.array(_values(_store(ref, dt), dt))  # overflow to Inf is part of the dtype
    # The absolute terms cover results near 0 where the formulas themselves cancel (gelu and
    # silu of large negative x: 1 + tanh(...) and the like).
    rtol, atol = {"f64": (1e-12, 1e-15), "f32": (1e-5, 1e-6), "f16": (2.0**-10, 2.0**-24),
                  "bf16": (1.6e-2, 2.0**-126)}[dt]
    if dt in ("f16", "bf16"):
        # Within their rounding: the float result rounded once more.
        atol = max(atol, 1e-6)
    np.testing.assert_allclose(g, r, rtol=rtol, atol=atol, err_msg=f"{op} {dt}")


@pytest.mark.parametrize("dt", ["f32", "f64", "f16", "bf16"])
def test_special_values(dt):
    x = _store([math.nan, -math.nan, math.inf, -math.inf, -0.0, 0.0, -2.5, 2.5, -0.5], dt)
    v = lambda op: _values(ew.unary(op, x, dtype=dt), dt)  # noqa: E731
    s = v("sign")
    assert s[:2] == [0.0, 0.0] and s[2:4] == [1.0, -1.0]
    assert all(math.copysign(1, z) == 1 for z in s[:2] + s[4:6])  # +-0 and NaN give +0
    assert v("round")[6:] == [-3.0, 3.0, -1.0]
    assert math.copysign(1, v("round")[4]) == -1  # -0 stays -0
    r = v("relu")
    assert r[:2] == [0.0, 0.0] and r[2] == math.inf  # relu(NaN) = 0, as x > 0 ? x : 0
    # neg and abs move the sign bit only, NaN payload included
    u = f"u{x.itemsize}"
    top = 1 << (8 * x.itemsize - 1)
    assert np.array_equal(ew.unary("neg", x, dtype=dt).view(u), x.view(u) ^ top)
    assert np.array_equal(ew.unary("abs", x, dtype=dt).view(u), x.view(u) & (top - 1))
    assert np.array_equal(ew.unary("copy", x, dtype=dt).view(u), x.view(u))


@pytest.mark.parametrize("dt", ["f32", "f64", "f16", "bf16"])
def test_gelu_tails(dt):
    # gelu as x / (1 + 2^(-2u / ln 2)): the power overflows to Inf for large negative x and
    # x / Inf must be -0 (the tanh form's 0.5 x (1 - 1)), never NaN; large positive x gives x.
    big = {"f16": 6e4, "bf16": 1e30, "f32": 1e30, "f64": 1e300}[dt]
    neg = [-big, -100.0, -30.0, -12.0, -10.5, -9.0]
    pos = [9.0, 12.0, 30.0, big, math.inf]
    got = _values(ew.unary("gelu", _store(neg + pos + [-math.inf], dt), dtype=dt), dt)
    for v, g in zip(neg, got, strict=False):
        assert -1e-25 * abs(v) <= g <= 0.0, (v, g)  # e^-66 at -9; NaN fails too
    assert got[len(neg):-1] == _values(_store(pos, dt), dt)
    assert math.isnan(got[-1])  # -Inf x 0, as in the tanh form


@pytest.mark.parametrize("dt,np_dt", [("u8", np.uint8), ("u32", np.uint32), ("i64", np.int64)])
def test_copy_of_integers(dt, np_dt):
    x = np.random.default_rng(1).integers(0, 200, size=(5, 7)).astype(np_dt)
    got = ew.unary("copy", x.T)
    assert got.flags.c_contiguous and np.array_equal(got, x.T)
    with pytest.raises(ValueError, match="dtype"):
        ew.unary("neg", x)


def test_bf16_rounding_is_nearest_even():
    rng = np.random.default_rng(7)
    f = np.concatenate([
        rng.standard_normal(3000).astype(np.float32) * np.float32(1e3),
        np.array([1.00390625, 1.01171875, 3.3961776e38, 3.4e38, 1e-40, -1e-45], np.float32),
    ]).astype(np.float32)
    want = np.array([_bf16_round(float(v)) for v in f], dtype=np.float32)
    want_bits = (want.view(np.uint32) >> 16).astype(np.uint16)
    assert np.array_equal(ew.f32_to_bf16(f), want_bits)
    nan = ew.f32_to_bf16(np.array([np.nan, -np.nan], np.float32))
    assert np.isnan(ew.bf16_to_f32(nan)).all()
    # Python float (float64) parameters round once, straight to bf16
    for v in (1.0 + 2.0**-8 + 2.0**-40, 1.0 + 2.0**-8, 1e39, -3.0e-39):
        assert int(ew.to_scalar(v, "bf16")) == int(_store([v], "bf16")[0])


# ----------------------------------------------------------------------------- affine


@pytest.mark.parametrize("dt", ew.FLOAT_DTYPES)
def test_affine_floats_within_one_ulp(dt):
    rng = np.random.default_rng(3)
    x = _store(list(rng.standard_normal(3000) * 10), dt)
    mul, add = 1.3, -2.7
    xs = _values(x, dt)
    m, a = (_values(ew.to_scalar(v, dt), dt)[0] for v in (mul, add))
    # Cancellation included: elements where x * mul is close to -add.
    xs_c = [-a / m * (1 + k * 2.0**-20) for k in range(-5, 6)]
    x = np.concatenate([x, _store(xs_c, dt)])
    xs = _values(x, dt)
    exact = [float(Fraction(v) * Fraction(m) + Fraction(a)) for v in xs]
    want = _store(exact, dt)
    got = ew.affine(x, mul, add, dtype=dt)
    d = _ulps(got, want, dt)
    assert d.max() <= 1, dt
    if dt in ("f32", "f64"):
        assert d.max() == 0  # one fused multiply-add: correctly rounded


def test_affine_f64_extreme_ranges_match_exact_fma():
    x = np.array([1e300, 1e-300, 3e-170, 2.0**1000, 5e-324, 1.5], np.float64)
    for mul, add in ((1e10, -1e308), (3e-160, 1e-320), (2.0**30, -(2.0**1020))):
        exact = []
        for v in x:
            e = Fraction(float(v)) * Fraction(mul) + Fraction(add)
            try:
                exact.append(float(e))
            except OverflowError:
                exact.append(math.inf if e > 0 else -math.inf)
        got = ew.affine(x, mul, add)
        assert np.array_equal(got, np.array(exact)), (mul, add)


@pytest.mark.parametrize("dt", ["u8", "u32", "i16", "i32", "i64"])
def test_affine_integers_wrap(dt):
    st = ew.DTYPES[dt].storage
    info = np.iinfo(st)
    rng = np.random.default_rng(5)
    x = rng.integers(info.min, info.max, size=500, dtype=st, endpoint=True)
    mul, add = info.max // 3 + 1, info.min + 7
    got = ew.affine(x, mul, add)
    bits = 8 * st.itemsize
    for g, v in zip(got.tolist(), x.tolist(), strict=True):
        w = (v * mul + add) % (1 << bits)
        if info.min < 0 and w > info.max:
            w -= 1 << bits
        assert g == w
    with pytest.raises(ValueError, match="mul"):
        ew.affine(x, info.max + 1, 0)
    with pytest.raises(ValueError, match="add"):
        ew.affine(x, 1, 0.5)


def test_affine_in_place_with_strided_info():
    # inp NULL: x = out[i] on the strided path too, so the layout does not permute anything.
    out = np.arange(6, dtype=np.float32)
    before = out.copy()
    info = ew.Layout((2, 3), (1, 2)).info()
    assert info is not None
    ew.run_affine("f32", 6, 2, info, None, out, 2.0, 1.0)
    assert np.array_equal(out, before * 2 + 1)


# ----------------------------------------------------------------------------- where


@pytest.mark.parametrize("it", ew.WHERE_ID_DTYPES)
@pytest.mark.parametrize("dt", ew.WHERE_DTYPES)
def test_where_bit_exact(it, dt):
    rng = np.random.default_rng(11)
    ids = rng.integers(0, 3, size=(6, 5)).astype(ew.DTYPES[it].storage)
    if it == "i64":
        ids[0, 0] = -1  # any non-zero id is true
    st = ew.DTYPES[dt].storage
    t = rng.integers(0, 200, size=(6, 5)).astype(st)
    f = rng.integers(0, 200, size=(6, 5)).astype(st)
    if dt in ("f32", "f64", "f16"):
        t[0, 1] = np.nan
    got = ew.where(ids, t, f, dtype=dt if dt == "bf16" else None)
    u = f"u{st.itemsize}"
    want = np.where(ids != 0, t.view(u), f.view(u))
    assert np.array_equal(got.view(u), want)


def test_where_three_layouts():
    base = np.arange(40, dtype=np.float32).reshape(5, 8)
    ids = np.broadcast_to(np.array([1, 0, 1, 0], np.uint8), (3, 4))  # stride 0 on dim 0
    t = base[:4, :3].T  # transposed
    f = base[1:4, 2:6]  # start offset and row stride 8
    dims = (3, 4)
    info = ew.where_info(dims, (0, 1), (1, 8), (8, 1))
    assert info.tolist() == [3, 4, 0, 1, 1, 8, 8, 1]
    out = np.zeros(12, np.float32)
    flat = base.ravel()
    ew.run_where("u8", "f32", 12, 2, info, np.array([1, 0, 1, 0], np.uint8), flat, flat[10:],
                 out)
    assert np.array_equal(out.reshape(dims), np.where(ids != 0, t, f))
    assert np.array_equal(ew.where(ids, t, f), np.where(ids != 0, t, f))
    with pytest.raises(ValueError, match="info"):
        ew.run_where("u8", "f32", 12, 2, None, ids, flat, flat, out)


# ----------------------------------------------------------------------------- layouts


def test_contiguity_rule_is_candles():
    assert ew.is_contiguous((2, 3), (3, 1))
    assert ew.is_contiguous((2, 1, 3), (3, 12345, 1))  # size-1 dims: any stride
    assert ew.is_contiguous((1, 1), (0, 7))
    assert ew.is_contiguous((), ())  # 0-d scalar
    assert not ew.is_contiguous((3, 2), (0, 1))  # broadcast
    assert not ew.is_contiguous((3, 2), (1, 3))  # transposed
    assert not ew.is_contiguous((3, 2), (4, 1))  # a slice x[:, 1:3] of 4 columns


def test_size_one_dims_with_odd_strides_take_no_info():
    base = np.arange(12, dtype=np.float32)
    x = np.lib.stride_tricks.as_strided(base, shape=(3, 1, 4), strides=(16, 400, 4))
    lay = ew.Layout.of_array(x)
    assert lay.strides == (4, 100, 1) and lay.info() is None
    assert np.array_equal(ew.unary("sqr", x), np.ascontiguousarray(x) ** 2)


def test_broadcast_layout():
    x = np.broadcast_to(np.array([1.0, -2.0, 3.0], np.float32), (4, 3))
    lay = ew.Layout.of_array(x)
    assert lay.info().tolist() == [4, 3, 0, 1]
    assert np.array_equal(ew.unary("neg", x), -np.array(x))


def test_start_offset_goes_into_the_base_pointer():
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    lay = ew.Layout((3, 2), (4, 1), start_offset=1)  # base[:, 1:3]
    assert lay.info().tolist() == [3, 2, 4, 1]
    assert lay.base(0x1000, 4) == 0x1004 and lay.span == 10
    out = np.empty(6, np.float32)
    ew.run_unary("sqr", "f32", 6, 2, lay.info(), base.ravel()[lay.start_offset:], out)
    assert np.array_equal(out.reshape(3, 2), base[:, 1:3] ** 2)
    assert np.array_equal(ew.unary("sqr", base[:, 1:3]), base[:, 1:3] ** 2)


def test_transposed_layout():
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert ew.Layout.of_array(x.T).info().tolist() == [4, 3, 1, 4]
    assert np.array_equal(ew.unary("floor", x.T * 0.5), np.floor(x.T * 0.5))
    assert np.array_equal(ew.affine(x.T, 2.0, 1.0), x.T * 2 + 1)


def test_empty_and_scalar():
    out = ew.unary("exp", np.zeros((0, 3), np.float32))
    assert out.shape == (0, 3)
    sentinel = np.full(4, 7.0, np.float32)
    ew.run_unary("exp", "f32", 0, 2, np.array([0, 3, 3, 1], np.uint64), sentinel, sentinel)
    assert (sentinel == 7.0).all()  # numel 0 writes nothing
    s = ew.unary("exp", np.array(1.0, np.float32))
    assert s.shape == () and abs(float(s) - math.e) < 1e-6
    assert ew.affine(np.array(3, np.int32), 2, 1).item() == 7


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="dims"):
        ew.Layout((2, 3), (1,))
    with pytest.raises(ValueError, match=">= 0"):
        ew.Layout((2,), (-1,))
    with pytest.raises(ValueError, match="product"):
        ew.run_unary("exp", "f32", 5, 1, np.array([4, 1], np.uint64), np.zeros(4, np.float32),
                     np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="param"):
        ew.unary("elu", np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="bf16"):
        ew.unary("exp", np.zeros(2, np.uint16))
    with pytest.raises(ValueError, match="op"):
        ew.unary_entry("tan", "f32")
    # negative numpy strides are copied first (the kernels take size_t strides)
    x = np.arange(5, dtype=np.float32)[::-1]
    assert np.array_equal(ew.unary("neg", x), -x)


# ----------------------------------------------------------------------------- launch


def test_launch_geometry():
    assert ew.launch_geometry(0) is None
    assert ew.launch_geometry(1) == ew.LaunchGeometry(1, ew.BLOCK)
    assert ew.launch_geometry(ew.BLOCK + 1) == ew.LaunchGeometry(2, ew.BLOCK)
    assert ew.launch_geometry(1025, block=ew.CANDLE_BLOCK) == ew.LaunchGeometry(2, 1024)
    big = ew.launch_geometry(2**32 - 1)
    assert big.grid * big.block < 2**32 and big.grid == ew.MAX_GRID
    g = ew.launch_geometry(2**32 - 1, block=ew.CANDLE_BLOCK)
    assert g.grid * g.block < 2**32 and g.grid == (2**32 - 1) // 1024
    for bad in (2**32, 2**40):
        with pytest.raises(ValueError, match="2\\^32"):
            ew.launch_geometry(bad)
    with pytest.raises(ValueError, match="2\\^32"):
        ew.run_unary("copy", "f32", 2**32, 0, None, None, np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="block"):
        ew.launch_geometry(10, block=2048)


# ----------------------------------------------------------------------------- op table


def test_op_table():
    assert len(ew.ENTRIES) == 24 * 4 + 3 + 9 + 21
    assert set(ew.MODULES) == {"unary", "affine", "ternary"}
    assert {m.env_var for m in ew.MODULES.values()} == {
        "UNARY_HSACO", "AFFINE_HSACO", "TERNARY_HSACO"}
    e = ew.ENTRIES["uelu_bf16"]
    assert e.signature == (("numel", "u64"), ("num_dims", "u64"), ("info", "ptr"),
                           ("param", "bf16"), ("inp", "ptr"), ("out", "ptr"))
    a = ew.ENTRIES["affine_i16"].signature
    assert [n for n, _ in a] == ["numel", "num_dims", "info", "inp", "out", "mul", "add"]
    assert a[-1] == ("add", "i16")
    w = ew.ENTRIES["where_i64_u8"]
    assert (w.id_dtype, w.dtype, w.module) == ("i64", "u8", "ternary")
    assert "ucopy_i64" in ew.MODULES["unary"].entries
    assert "uneg_u8" not in ew.ENTRIES


# ----------------------------------------------------------------------------- compiles

TARGETS = [
    pytest.param("hiprtc", "gfx90a", 224, marks=pytest.mark.hiprtc),
    pytest.param("hiprtc", "gfx1030", 224, marks=pytest.mark.hiprtc),
    pytest.param("nvrtc", "sm_90", 190, marks=pytest.mark.nvrtc),
]


@pytest.mark.parametrize("module", sorted(ew.MODULES))
@pytest.mark.parametrize("toolchain,target,machine", TARGETS)
def test_module_compiles_with_every_entry(toolchain, target, machine, module):
    try:
        tc = get_toolchain(toolchain)
    except Exception as exc:
        need(False, f"{toolchain} unavailable: {exc}")
    spec = ew.MODULES[module]
    root = registry.kernel_source_dir()
    source = (root / spec.source).read_bytes()
    assert source.startswith(f"// {spec.source} -- ".encode())  # opens with its ABI
    headers = {h: (root / h).read_bytes() for h in spec.headers}
    image, log = tc.compile(source, spec.source, headers,
                            tc.options(target, wave_size_for(target)))
    assert image is not None, log
    assert int.from_bytes(image[18:20], "little") == machine
    (entry,) = codeobject.inspect_bytes(image).entries
    missing = set(spec.entries) - set(entry.symbols)
    assert not missing, sorted(missing)
    assert entry.abi == registry.ABI_VERSION  # the loader's marker, from rs_common.h


def test_packed_grid_sizes():
    # Contiguous: 16 bytes of the widest operand an access, four accesses in flight (narrow
    # values stay packed in registers); strided: UNROLL elements.
    assert ew.elements_per_thread("ucopy_u8", True) == 64
    assert ew.elements_per_thread("ugelu_bf16", True) == 32
    assert ew.elements_per_thread("uexp_f32", True) == 16
    assert ew.elements_per_thread("affine_i64", True) == 8
    assert ew.elements_per_thread("where_i64_u8", True) == 4  # the wider operand decides,
    assert ew.elements_per_thread("where_u8_f32", True) == 8  # and where keeps half in flight
    assert ew.elements_per_thread("uexp_f32", False) == ew.UNROLL == 4
    assert ew.launch_geometry(1024, per_thread=4) == ew.LaunchGeometry(1, 256)
    assert ew.launch_geometry(1025, per_thread=4) == ew.LaunchGeometry(2, 256)
    big = ew.launch_geometry(2**32 - 1, per_thread=64)
    assert big.grid * big.block * 64 >= 2**32 - 1
    with pytest.raises(ValueError, match="per_thread"):
        ew.launch_geometry(10, per_thread=3)


# ----------------------------------------------------------------------------- dim merging


def _random_layout(rng, nops: int) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """dims of 0 to 5 axes (size-1 axes common) and per operand strides of every kind:
    contiguous, broadcast (0), permuted, sliced, arbitrary, and any stride on a size-1 dim."""
    nd = int(rng.integers(0, 6))
    dims = tuple(int(d) for d in rng.choice([1, 1, 2, 3, 4, 7], nd))
    rows = []
    for _ in range(nops):
        kind = rng.integers(4)
        acc, st = 1, []
        for d in reversed(dims):
            if kind == 0 or (kind == 1 and rng.random() < 0.7):
                s = acc  # contiguous, or mostly so (a slice of a wider row)
            elif kind == 2 and rng.random() < 0.5:
                s = 0  # broadcast
            else:
                s = int(rng.integers(0, 50))
            st.append(s)
            acc *= d * (2 if kind == 1 and rng.random() < 0.3 else 1)
        rows.append(tuple(reversed(st)))
    return dims, rows


def test_merged_dims_walk_the_same_addresses():
    rng = np.random.default_rng(20)
    fewer = 0
    for _ in range(3000):
        nops = int(rng.integers(1, 4))
        dims, rows = _random_layout(rng, nops)
        numel = math.prod(dims)
        mdims, mrows = ew.merge_dims(dims, *rows)
        assert math.prod(mdims) == numel and len(mrows) == nops
        assert len(mdims) <= max(len(dims), 1)
        assert 1 not in mdims or mdims == (1,)
        fewer += len(mdims) < len(dims)
        for st, mst in zip(rows, mrows, strict=True):
            assert len(mst) == len(mdims)
            np.testing.assert_array_equal(ew.strided_index(numel, mdims, mst),
                                          ew.strided_index(numel, dims, st))
            # Candle's rule (info null or not) says the same of both
            assert ew.is_contiguous(mdims, mst) == ew.is_contiguous(dims, st)
        # no two adjacent merged dims are contiguous for every operand: nothing left to merge
        for d in range(len(mdims) - 1):
            assert not all(m[d] == m[d + 1] * mdims[d + 1] for m in mrows), (dims, rows)
    assert fewer > 1000  # the cases above do exercise merging


def test_merge_dims_edges():
    assert ew.merge_dims((), ()) == ((), ((),))
    assert ew.merge_dims((1, 1), (5, 9), (0, 0)) == ((1,), ((1,), (1,)))
    assert ew.merge_dims((3, 0, 2), (9, 1, 4)) == ((3, 0, 2), ((9, 1, 4),))  # nothing read
    assert ew.merge_dims((4, 5), (1, 4)) == ((4, 5), ((1, 4),))  # transposed: stays 2-d
    with pytest.raises(ValueError, match="do not match"):
        ew.merge_dims((2, 3), (3,))


def test_recipe_merges_dims_into_info():
    from rocsample.ops.elementwise_ops import recipe

    # x[:, None, 1:, :] of a (4, 6, 6) array: two dims once merged, rows of 30 with stride 60
    r = recipe("ugelu_f32", 120, (4, 1, 5, 6), {"inp": (36, 7, 6, 1)}, {"inp": 8, "out": 16})
    launch = r.launches[0]
    assert launch.args["num_dims"] == 2 and r.constants["info"].tolist() == [4, 30, 36, 1]
    # contiguous once size-1 dims are dropped: Candle's null info
    r = recipe("ugelu_f32", 6, (2, 1, 3), {"inp": (3, 77, 1)}, {"inp": 8, "out": 16})
    assert r.launches[0].args["info"] == 0 and not r.constants
    # where: broadcast row of t, the rest contiguous -> still two dims, info never null
    r = recipe("where_u8_f32", 12, (3, 4), {"ids": (4, 1), "t": (0, 1), "f": (4, 1)},
               {"ids": 1, "t": 2, "f": 3, "out": 4})
    assert r.constants["info"].tolist() == [3, 4, 4, 1, 0, 1, 4, 1]
    r = recipe("where_u8_f32", 24, (2, 3, 4), {}, {"ids": 1, "t": 2, "f": 3, "out": 4})
    assert r.launches[0].args["num_dims"] == 1 and r.constants["info"].tolist() == [24, 1, 1, 1]


def _host_kernel_dir(tmp_path):
    """tmp_path with the elementwise kernels and the host stand-in of rs_common.h (plus the
    real one's 2-byte value types and their conversions, from struct rs_f16 to the
    shared-memory struct after them)."""
    import shutil
    from pathlib import Path

    here = Path(__file__).parent / "kernel_host"
    for name in ("rs_elementwise.h", "unary.hip", "affine.hip", "ternary.hip"):
        shutil.copy(registry.kernel_source_dir() / name, tmp_path / name)
    real = (registry.kernel_source_dir() / "rs_common.h").read_text()
    half = real[real.index("struct rs_f16"):real.index("struct rs_smem")]
    (tmp_path / "rs_common.h").write_text((here / "rs_common.h").read_text() + "\n" + half)
    return here


def test_tile_walk_runs_as_host_code(tmp_path):
    """The tile walk of unary and affine (two dims, the input transposed, staged through
    shared memory) as host code, a block's threads as OS threads and the barrier a
    std::barrier, built with AddressSanitizer over operands of exactly their span
    (tests/kernel_host/tiles.cpp): random shapes cut by both tile edges and shapes under half
    a tile, inputs at element offsets with padded columns, blocks that are and are not whole
    tile rows. Every output of 1-, 2-, 4- and 8-byte unary entries and of affine against an
    independent walk; every index written exactly once with the value at its offset; the
    walk taken exactly where its rule says."""
    import shutil
    import subprocess

    gxx = shutil.which("g++")
    need(gxx is not None, "g++ not found")
    here = _host_kernel_dir(tmp_path)
    exe = tmp_path / "tiles"
    subprocess.run([gxx, "-std=c++20", "-O1", "-pthread", "-fsanitize=address", "-x", "c++",
                    str(here / "tiles.cpp"), "-I", str(tmp_path), "-o", str(exe)], check=True,
                   capture_output=True, timeout=300)
    run = subprocess.run([str(exe), "5", "80"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("bad 0"), run.stdout + run.stderr
    tiled = int(run.stdout.split()[3])
    assert tiled >= 20, run.stdout  # the walk itself ran, not only its fallbacks


def test_kernel_walks_run_as_host_code(tmp_path):
    """The kernels' own index arithmetic (the row walk with its in-kernel merge of the
    trailing contiguous dims, the 2-dim walk, the N-dim walk, packed groups and tails), built
    by g++ as host code and run thread by thread over random layouts and grids against an
    independent row-major walk (tests/kernel_host/walks.cpp): 1-, 2-, 4- and 8-byte values,
    unaligned bases, odd and short rows, each output written exactly once, no read outside
    an operand's span."""
    import shutil
    import subprocess

    gxx = shutil.which("g++")
    need(gxx is not None, "g++ not found")
    here = _host_kernel_dir(tmp_path)
    exe = tmp_path / "walks"
    subprocess.run([gxx, "-std=c++17", "-O1", "-x", "c++", str(here / "walks.cpp"), "-I",
                    str(tmp_path), "-o", str(exe)], check=True, capture_output=True, timeout=300)
    run = subprocess.run([str(exe), "7"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("bad 0"), run.stdout

    # The row walk's rules that rocsample's grid follows (ew.row_unroll, ew.row_run), on the
    # same random layouts: x[:, 1:]-like views, broadcast rows, size-1 dims of any stride,
    # transposes, leading dims that merge or not, one operand and three.
    rng = np.random.default_rng(11)
    lines, want = [], []
    for _ in range(400):
        nops, nd = int(rng.choice([1, 3])), int(rng.integers(1, 5))
        dims = tuple(int(d) for d in rng.integers(1, 6, nd))
        strides = []
        for _ in range(nops):
            st, acc = [], int(rng.integers(1, 3))
            for d in reversed(dims):
                kind = rng.integers(0, 6)
                st.append(0 if kind == 0 else int(rng.integers(0, 50)) if kind == 1 else acc)
                acc = st[-1] * d + int(rng.integers(0, 2)) if kind > 1 else acc * d
            strides.append(tuple(reversed(st)))
        lines.append(" ".join(map(str, (nops, nd, *dims, *(s for st in strides for s in st)))))
        want.append(ew.row_run(dims, *strides))
    rows = subprocess.run([str(exe), "rows"], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=60)
    out = [int(v) for v in rows.stdout.split()]
    assert out[:4] == [ew.row_unroll(n) for n in (1, 2, 4, 8)]
    assert out[4:] == want
    assert sum(1 for w in want if w) > 50 and sum(1 for w in want if not w) > 50  # both kinds
