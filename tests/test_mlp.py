"""The MLP family's numpy twin (rocsample.ops.mlp, the cpu backend and the oracle of the GPU
tests) against float64, its rounding order, and the public functions on numpy arrays.

fp32 results must be within rtol 1e-5 of float64; fp16/bf16 results within one unit in the
last place of the float64 result rounded to the type (compared as ordered bit patterns). The
shapes are the issue's: hidden in {8, 111, 769, 4096, 5125, 16384}, more rows than
ceil(hidden / 256) (the rows the original launcher left unwritten), an all-zero row, fp16
values near 1e4 (their squares overflow fp16), a row stride of 2 x hidden.
"""

from __future__ import annotations

import numpy as np
import pytest

import rocsample
from rocsample import registry
from rocsample.buffers import BFLOAT16
from rocsample.ops import elementwise as ew
from rocsample.ops import mlp

HIDDEN = [8, 111, 769, 4096, 5125, 16384]
DTYPES = ["f32", "f16", "bf16"]


def make(shape, dtype: str, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Random values of ``dtype`` (bf16 as uint16 bits)."""
    v = (rng.standard_normal(shape) * scale).astype(np.float32)
    if dtype == "bf16":
        return ew.f32_to_bf16(v).reshape(shape)
    return v.astype({"f32": np.float32, "f16": np.float16}[dtype])


def wide(a: np.ndarray, dtype: str) -> np.ndarray:
    """Stored values as float64."""
    if dtype == "bf16":
        return ew.bf16_to_f32(a).astype(np.float64)
    return a.astype(np.float64)


def _ordered(bits: np.ndarray, width: int) -> np.ndarray:
    """Sign-magnitude bit patterns as integers in the order of the values (+0 = -0)."""
    b = bits.astype(np.int64)
    sign = 1 << (width - 1)
    return np.where(b & sign, -(b & (sign - 1)), b)


def assert_close(got: np.ndarray, ref64: np.ndarray, dtype: str) -> None:
    """fp32: rtol 1e-5; fp16/bf16: within one ulp of ref64 rounded to the type."""
    assert np.all(np.isfinite(wide(got, dtype))), "non-finite result"
    if dtype == "f32":
        np.testing.assert_allclose(got.astype(np.float64), ref64, rtol=1e-5, atol=0)
        return
    if dtype == "f16":
        want = ref64.astype(np.float16).view(np.uint16)
        have = got.view(np.uint16)
    else:
        want = ew._f64_to_bf16(ref64).reshape(ref64.shape)
        have = got
    diff = np.abs(_ordered(have, 16) - _ordered(want, 16))
    assert diff.max() <= 1, f"{int((diff > 1).sum())} values more than 1 ulp off (max {diff.max()})"


def ref_rms_norm(x64: np.ndarray, w64: np.ndarray, eps: float, offset: float) -> np.ndarray:
    rstd = 1.0 / np.sqrt(np.mean(x64 * x64, axis=-1, keepdims=True) + np.float32(eps))
    return x64 * rstd * (w64 + offset)


def ref_swiglu(g64: np.ndarray, u64: np.ndarray) -> np.ndarray:
    return g64 / (1.0 + np.exp(-g64)) * u64


# ----------------------------------------------------------------------------- vs float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_rms_norm_matches_float64_on_more_rows_than_the_original_covered(dtype, hidden):
    rng = np.random.default_rng(hidden)
    rows = -(-hidden // 256) + 3
    x = make((rows, hidden), dtype, rng)
    x[1] = 0  # an all-zero row: eps keeps it finite, the result is zero
    w = make((hidden,), dtype, rng)
    for offset in (0.0, 1.0):
        got = mlp.rms_norm(x, w, 1e-6, offset, dtype)
        assert got.shape == x.shape and got.dtype == x.dtype
        assert_close(got, ref_rms_norm(wide(x, dtype), wide(w, dtype), 1e-6, offset), dtype)
        assert not wide(got[1], dtype).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_swiglu_matches_float64(dtype, hidden):
    rng = np.random.default_rng(100 + hidden)
    rows = 3
    g, u = make((rows, hidden), dtype, rng, 4.0), make((rows, hidden), dtype, rng)
    got = mlp.swiglu(g, u, dtype)
    assert_close(got, ref_swiglu(wide(g, dtype), wide(u, dtype)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [8, 769, 5125])
def test_fused_add_matches_float64_and_writes_the_rounded_residual(dtype, hidden):
    rng = np.random.default_rng(200 + hidden)
    rows = -(-hidden // 256) + 2
    x, res = make((rows, hidden), dtype, rng), make((rows, hidden), dtype, rng)
    w = make((hidden,), dtype, rng)
    y, new_res = mlp.fused_add_rms_norm(x, res, w, 1e-6, 0.0, dtype)
    summed = wide(x, dtype) + wide(res, dtype)
    assert_close(new_res, summed, dtype)  # one rounding of the exact sum
    # The normalised value is the stored residual: exactly rms_norm of it.
    np.testing.assert_array_equal(y, mlp.rms_norm(new_res, w, 1e-6, 0.0, dtype))
    assert_close(y, ref_rms_norm(wide(new_res, dtype), wide(w, dtype), 1e-6, 0.0), dtype)


def test_fp16_rows_near_1e4_need_float_accumulation():
    rng = np.random.default_rng(7)
    x = (1e4 * (1 + 0.01 * rng.standard_normal((4, 4096)))).astype(np.float16)
    w = make((4096,), "f16", rng)
    with np.errstate(over="ignore"):
        assert np.isinf(np.float16(1e4) * np.float16(1e4))  # a square in fp16 overflows
    got = mlp.rms_norm(x, w, 1e-6, 0.0, "f16")
    assert_close(got, ref_rms_norm(wide(x, "f16"), wide(w, "f16"), 1e-6, 0.0), "f16")
    y, r = mlp.fused_add_rms_norm(x, x.copy(), w, 1e-6, 0.0, "f16")
    assert np.isfinite(y.astype(np.float32)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_stride_twice_hidden_reads_the_rows(dtype):
    rng = np.random.default_rng(3)
    hidden = 769
    big = make((9, 2 * hidden), dtype, rng)
    x = big[:, :hidden]
    w = make((hidden,), dtype, rng)
    np.testing.assert_array_equal(mlp.rms_norm(x, w, 1e-6, 0.0, dtype),
                                  mlp.rms_norm(x.copy(), w, 1e-6, 0.0, dtype))


# ----------------------------------------------------------------------------- rounding order


def test_rms_norm_rounds_once_as_documented():
    """bf16: (x * rstd) * w in float32, rounded once (FlashInfer), not vLLM's rounding of
    x * rstd first; the two orders differ on these values, so the test tells them apart."""
    rng = np.random.default_rng(11)
    x, w = make((16, 1024), "bf16", rng), make((1024,), "bf16", rng, 3.0)
    xf, wf = ew.bf16_to_f32(x), ew.bf16_to_f32(w)
    ss = np.sum(np.square(xf.astype(np.float64)), -1, keepdims=True).astype(np.float32)
    rstd = np.float32(1) / np.sqrt(ss / np.float32(1024) + np.float32(1e-6))
    once = ew.f32_to_bf16((xf * rstd) * wf)
    twice = ew.f32_to_bf16(ew.bf16_to_f32(ew.f32_to_bf16(xf * rstd)) * wf)
    assert (once != twice).any()
    np.testing.assert_array_equal(mlp.rms_norm(x, w, 1e-6, 0.0, "bf16"), once)


def test_swiglu_rounds_once_and_keeps_gate_and_up_apart():
    rng = np.random.default_rng(12)
    g, u = make((8, 512), "bf16", rng, 3.0), make((8, 512), "bf16", rng, 3.0)
    gf, uf = ew.bf16_to_f32(g), ew.bf16_to_f32(u)
    once = ew.f32_to_bf16(gf / (np.float32(1) + np.exp(-gf)) * uf)
    np.testing.assert_array_equal(mlp.swiglu(g, u, "bf16"), once)
    assert (mlp.swiglu(u, g, "bf16") != once).any()  # the order of gate and up matters
    both = np.concatenate([g, u], axis=-1)
    np.testing.assert_array_equal(mlp.silu_and_mul(both, "bf16"), once)


def test_extreme_gates_stay_finite():
    g = np.array([-1e4, -100.0, 0.0, 100.0, 3e38], np.float32)
    got = mlp.swiglu(g, np.ones(5, np.float32))
    assert np.isfinite(got).all() and got[0] == 0 and got[3] == 100.0


# ----------------------------------------------------------------------------- the API on numpy


def test_public_functions_on_numpy_in_place_and_bf16():
    rng = np.random.default_rng(5)
    x = make((5, 64), "bf16", rng).view(BFLOAT16)
    w = make((64,), "bf16", rng).view(BFLOAT16)
    y = rocsample.rms_norm(x, w, gemma=True, backend="cpu")
    assert y.dtype == BFLOAT16
    np.testing.assert_array_equal(y.view(np.uint16),
                                  mlp.rms_norm(x.view(np.uint16), w.view(np.uint16), 1e-6, 1.0,
                                               "bf16"))
    out = np.empty((5, 32), np.float32)
    xs = rng.standard_normal((5, 64)).astype(np.float32)
    assert rocsample.silu_and_mul(xs, out=out) is out
    np.testing.assert_array_equal(out, mlp.swiglu(xs[:, :32], xs[:, 32:]))
    xr, rr = xs.copy(), rng.standard_normal((5, 64)).astype(np.float32)
    r0 = rr.copy()
    wf = np.ones(64, np.float32)
    got = rocsample.fused_add_rms_norm(xr, rr, wf)
    assert got[0] is xr and got[1] is rr
    np.testing.assert_array_equal(rr, r0 + xs)
    np.testing.assert_array_equal(xr, mlp.rms_norm(r0 + xs, wf))


@pytest.mark.parametrize("call,error,match", [
    (lambda: rocsample.rms_norm(np.ones((2, 4)), np.ones(4)), TypeError, "x has dtype float64"),
    (lambda: rocsample.rms_norm(np.ones((2, 4), np.float32), np.ones(3, np.float32)),
     ValueError, "weight must have shape"),
    (lambda: rocsample.rms_norm(np.ones((2, 4), np.float32), np.ones(4, np.float16)),
     ValueError, "weight"),
    (lambda: rocsample.rms_norm(np.ones(4, np.float32), np.ones(4, np.float32), eps=-1.0),
     ValueError, "eps"),
    (lambda: rocsample.rms_norm(np.ones(4, np.float32), np.ones(4, np.float32), eps=np.nan),
     ValueError, "eps"),
    (lambda: rocsample.swiglu(np.ones(4, np.float32), np.ones(5, np.float32)),
     ValueError, "gate and up differ"),
    (lambda: rocsample.swiglu(np.ones(4, np.int32), np.ones(4, np.int32)),
     TypeError, "gate has dtype int32"),
    (lambda: rocsample.silu_and_mul(np.ones((2, 5), np.float32)), ValueError, "even last dim"),
    (lambda: rocsample.fused_add_rms_norm(np.ones(4, np.float32), np.ones(3, np.float32),
                                          np.ones(4, np.float32)), ValueError, "residual"),
])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_fused_add_refuses_shared_or_read_only_memory():
    x, w = np.ones((2, 4), np.float32), np.ones(4, np.float32)
    with pytest.raises(ValueError, match="share memory"):
        rocsample.fused_add_rms_norm(x, x, w)
    ro = np.ones((2, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="residual is read-only"):
        rocsample.fused_add_rms_norm(x, ro, w)


# ----------------------------------------------------------------------------- data


def test_swiglu_runs_as_host_code(tmp_path):
    """swiglu_kernel's index arithmetic (rows a block, threads a row, grid-stride loops in
    both dims, packed groups, tails, the scalar path of misaligned rows), built by g++ with
    AddressSanitizer as host code and run thread by thread over random shapes, strides and
    grids: every output element right, nothing else written, no read past an operand
    (tests/kernel_host/swiglu.cpp)."""
    import shutil
    import subprocess
    from pathlib import Path

    from .conftest import need

    gxx = shutil.which("g++")
    need(gxx is not None, "g++ not found")
    here = Path(__file__).parent / "kernel_host"
    for name in ("rs_elementwise.h", "rs_mlp.h", "swiglu.hip"):
        shutil.copy(registry.kernel_source_dir() / name, tmp_path / name)
    real = (registry.kernel_source_dir() / "rs_common.h").read_text()
    half = real[real.index("struct rs_f16"):real.index("struct rs_smem")]
    (tmp_path / "rs_common.h").write_text((here / "rs_common.h").read_text() + "\n" + half)
    exe = tmp_path / "swiglu"
    subprocess.run([gxx, "-std=c++17", "-O1", "-fsanitize=address", "-x", "c++",
                    str(here / "swiglu.cpp"), "-I", str(tmp_path), "-o", str(exe)],
                   check=True, capture_output=True, timeout=300)
    run = subprocess.run([str(exe), "11"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("bad 0"), run.stdout + run.stderr
    # The host's grid rule uses its own copy of the kernels' threads-a-row rule.
    run = subprocess.run([str(exe), "1", "threads"], capture_output=True, text=True, timeout=60)
    lines = [[int(t) for t in line.split()] for line in run.stdout.splitlines()]
    assert lines == [[mlp.row_threads(u, lo, block) for u in range(1101)]
                     for lo, block in ((1, 512), (8, 512), (8, 128))]


@pytest.mark.parametrize("wave,block", [(32, 128), (64, 256)])
def test_rms_norm_runs_as_host_code(tmp_path, wave, block):
    """The RMSNorm kernels' rows a block, threads a row, row reductions (shuffles within a
    wave, one barrier across waves), both paths, tails and the scalar path, built by g++ with
    AddressSanitizer as host code, a block's threads as OS threads with a real barrier, for
    a wave of 32 and of 64; against a double-sum reference within one ulp, the fused
    residual exact, nothing else written, no read past an operand
    (tests/kernel_host/rms_norm.cpp)."""
    import shutil
    import subprocess
    from pathlib import Path

    from .conftest import need

    gxx = shutil.which("g++")
    need(gxx is not None, "g++ not found")
    here = Path(__file__).parent / "kernel_host"
    for name in ("rs_elementwise.h", "rs_mlp.h", "rms_norm.hip"):
        shutil.copy(registry.kernel_source_dir() / name, tmp_path / name)
    real = (registry.kernel_source_dir() / "rs_common.h").read_text()
    half = real[real.index("struct rs_f16"):real.index("struct rs_smem")]
    (tmp_path / "rs_common.h").write_text((here / "rs_common.h").read_text() + "\n" + half)
    exe = tmp_path / "rms_norm"
    subprocess.run([gxx, "-std=c++20", "-O1", "-pthread", "-fsanitize=address",
                    f"-DRS_WAVE={wave}", f"-DRS_BLOCK={block}", "-x", "c++",
                    str(here / "rms_norm.cpp"), "-I", str(tmp_path), "-o", str(exe)],
                   check=True, capture_output=True, timeout=300)
    run = subprocess.run([str(exe), str(wave)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("bad 0"), run.stdout + run.stderr


def test_family_is_registered():
    assert {m.env_var for m in mlp.MODULES.values()} == {"SWIGLU_HSACO", "RMS_NORM_HSACO"}
    for name, e in mlp.ENTRIES.items():
        spec = registry.KERNELS[name]
        assert spec.family == "mlp" and spec.signature == e.signature
        assert spec.block == mlp.BLOCK == registry.BLOCK_SIZE
    # one entry a type beside each entry taking the type as a code
    for kernel in ("swiglu", "rms_norm", "fused_add_rms_norm"):
        generic = mlp.ENTRIES[f"{kernel}_kernel"]
        for dt in mlp.DTYPE_CODES:
            typed = mlp.ENTRIES[mlp.entry(kernel, dt)]
            assert typed.module == generic.module
            assert typed.signature == generic.signature[:-1] and generic.signature[-1][0] == "dtype"
        assert spec.env_var == mlp.MODULES[e.module].env_var and name in registry.CONTRACT


def test_launches_cover_every_row_and_stay_in_limits():
    for sms in (1, 132, 304):
        for rows in (1, 17, 2 * sms, 2 * sms + 1, 65536, 1 << 23, 1 << 30):
            few = rows <= 2 * sms
            for hidden, dtype in ((16384, "f32"), (2048, "bf16"), (8, "f16"), (111, "f32")):
                c = mlp.norm_threads(hidden, dtype)
                assert mlp.BLOCK % c == 0 and c >= 8
                for fused in (False, True):
                    (gx, gy), block = mlp.rms_norm_launch(rows, hidden, dtype, sms, fused)
                    # A block a row's threads for few rows (at least 32), else BLOCK.
                    assert block == (max(32, c) if few else mlp.BLOCK)
                    assert gy == 1 and 1 <= gx <= mlp.MAX_GRID and gx * block < 1 << 32
                    tiles = -(-rows // (block // c))  # a block takes block // c rows a tile
                    # the fused add a block a tile, rms_norm streaming rows: 2 blocks an SM
                    assert gx == min(tiles, mlp.MAX_GRID if fused else 2 * sms)
            for d, dtype in ((14336, "bf16"), (2048, "bf16"), (100, "f32"), (3, "f16")):
                (sx, sy), block = mlp.swiglu_launch(rows, d, dtype, sms)
                groups = d // (16 // (2 if dtype != "f32" else 4))
                c = mlp.swiglu_threads(d, dtype)
                assert c == mlp.row_threads(-(-groups // mlp.SWIGLU_UNROLL))
                assert block == (max(32, c) if few else mlp.BLOCK) and block % c == 0
                assert 1 <= sx <= mlp.MAX_GRID and 1 <= sy <= mlp.GRID_Y
                assert sx * c * mlp.SWIGLU_UNROLL >= groups  # a row's groups, one pass
                assert sy <= max(1, mlp.SWIGLU_BLOCKS_PER_SM * sms // sx)  # the row loop
                assert sy == min(-(-rows // (block // c)), mlp.GRID_Y,
                                 max(1, mlp.SWIGLU_BLOCKS_PER_SM * sms // sx))
    assert mlp.bytes_moved("swiglu_kernel", {"rows": 3, "d": 5, "dtype": 0}) == 3 * 3 * 5 * 4
    assert mlp.bytes_moved("swiglu_f16", {"rows": 3, "d": 5}) == 3 * 3 * 5 * 2
    assert mlp.bytes_moved("fused_add_rms_norm_kernel",
                           {"rows": 3, "hidden": 5, "dtype": 1}) == (4 * 3 + 1) * 5 * 2
