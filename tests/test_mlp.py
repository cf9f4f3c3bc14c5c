"""The MLP family's numpy twin (rocsample.ops.mlp, the cpu backend and the oracle of the GPU
tests) against float64, its rounding order, and the public functions on numpy arrays.

fp32 results must be within rtol 1e-5 of float64; fp16/bf16 results within one unit in the
last place of the float64 result rounded to the type (compared as ordered bit patterns). The
shapes are the issue's: hidden in {8, 111, 769, 4096, 5125, 16384}, more rows than
ceil(hidden / 256) (the rows the original launcher left unwritten), an all-zero row, fp16
values near 1e4 (their squares overflow fp16), a row stride of 2 x hidden.
"""

from __future__ import annotations

import re

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


def _read_only(shape):
    a = np.zeros(shape, np.float32)
    a.flags.writeable = False
    return a


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
    # what is no array, named (not taken for a device array), and a numpy out read-only
    (lambda: rocsample.rms_norm([[1.0] * 8], np.ones(8, np.float32)), TypeError,
     r"^x must be an array \(numpy, torch, cupy, DeviceBuffer\); got list$"),
    (lambda: rocsample.rms_norm(np.ones((2, 8), np.float32), None), TypeError,
     "^weight must be an array .* got NoneType$"),
    (lambda: rocsample.swiglu(np.ones(8, np.float32), (1.0,) * 8), TypeError,
     "^up must be an array .* got tuple$"),
    (lambda: rocsample.silu_and_mul("x"), TypeError, "^x must be an array .* got str$"),
    (lambda: rocsample.fused_add_rms_norm(np.ones(8, np.float32), 1.0, np.ones(8, np.float32)),
     TypeError, "^residual must be an array .* got float$"),
    (lambda: rocsample.silu_and_mul(np.ones((2, 16), np.float32), out=_read_only((2, 8))),
     ValueError, "^out is read-only"),
    (lambda: rocsample.rms_norm(np.ones((2, 8), np.float32), np.ones(8, np.float32),
                                out=_read_only((2, 8))), ValueError, "^out is read-only"),
    (lambda: rocsample.swiglu(np.ones(8, np.float32), np.ones(8, np.float32),
                              out=np.zeros(8, np.float16)), ValueError,
     r"^out must be a float32 array of shape \(8,\); got float16 \(8,\)$"),
    # 0-d operands: refused here as on a device (the kernels take rows), by name
    (lambda: rocsample.swiglu(np.float32(1), np.float32(2)), ValueError, "^gate is a scalar"),
    (lambda: rocsample.silu_and_mul(np.float32(1)), ValueError, "^x is a scalar"),
    (lambda: rocsample.rms_norm(np.float32(1), np.ones(1, np.float32)), ValueError,
     "^x is a scalar"),
    (lambda: rocsample.rms_norm(np.ones(1, np.float32), np.float32(1)), ValueError,
     "^weight is a scalar"),
    (lambda: rocsample.fused_add_rms_norm(np.array(1, np.float32), np.ones(1, np.float32),
                                          np.ones(1, np.float32)), ValueError, "^x is a scalar"),
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
    """swiglu_kernel's and swiglu_flat_DT's index arithmetic (rows a block, threads a row,
    grid-stride loops in both dims, packed groups, tails, the scalar path of misaligned
    rows), built by g++ with AddressSanitizer as host code and run thread by thread over
    random shapes, strides and grids: every output element right, nothing else written, no
    read past an operand, the flat entry writing nothing outside its conditions
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
    fits, calls = map(int, re.search(r"flat fits (\d+) of (\d+)", run.stdout).groups())
    assert 20 <= fits < calls, run.stdout  # the flat entry both computed and refused
    # The host's grid rule uses its own copy of the kernels' threads-a-row rule.
    run = subprocess.run([str(exe), "1", "threads"], capture_output=True, text=True, timeout=60)
    lines = [[int(t) for t in line.split()] for line in run.stdout.splitlines()]
    assert lines == [[mlp.row_threads(u, lo, block) for u in range(1101)]
                     for lo, block in ((1, 512), (8, 512), (8, 128))]


@pytest.mark.parametrize("wave,block,mode", [(32, 128, ""), (64, 256, ""), (64, 512, "rows")])
def test_rms_norm_runs_as_host_code(tmp_path, wave, block, mode):
    """The RMSNorm kernels' rows a block, threads a row, row reductions (shuffles within a
    wave, one barrier across waves), both paths, tails and the scalar path, built by g++ with
    AddressSanitizer as host code, a block's threads as OS threads with a real barrier, for
    a wave of 32 and of 64; against a double-sum reference within one ulp, the fused
    residual exact, nothing else written, no read past an operand; the row entries
    (rms_norm_row{2,4}_DT, fused_add_rms_norm_row{2,4}_DT) byte for byte the general
    entries' on the same operands (Gemma's offset, the fused residual, odd row counts, rows
    of 2 and 4 x RS_BLOCK groups and one more), and writing nothing outside their
    conditions. "rows": the row entries alone at rocsample's RS_BLOCK of 512, whose limits
    are 1024 and 2048 groups (tests/kernel_host/rms_norm.cpp)."""
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
    run = subprocess.run([str(exe), str(wave), *([mode] if mode else [])],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("bad 0"), run.stdout + run.stderr
    fits, calls = map(int, re.search(r"row fits (\d+) of (\d+)", run.stdout).groups())
    assert 10 <= fits < calls, run.stdout  # the row entries both computed and refused


def test_family_is_registered():
    assert {m.env_var for m in mlp.MODULES.values()} == {"SWIGLU_HSACO", "RMS_NORM_HSACO"}
    for name, e in mlp.ENTRIES.items():
        spec = registry.KERNELS[name]
        assert spec.family == "mlp" and spec.signature == e.signature
        # blocks of BLOCK threads; the one-group row entries' of up to twice as many
        want = mlp.ROW1_BLOCK if "_row1_" in name else mlp.BLOCK
        assert spec.block == e.block == want and mlp.BLOCK == registry.BLOCK_SIZE
        assert spec.env_var == mlp.MODULES[e.module].env_var
        assert (name in registry.CONTRACT) == (spec.companion_of is None)
    # one entry a type beside each entry taking the type as a code
    for kernel in ("swiglu", "rms_norm", "fused_add_rms_norm"):
        generic = mlp.ENTRIES[f"{kernel}_kernel"]
        for dt in mlp.DTYPE_CODES:
            typed = mlp.ENTRIES[mlp.entry(kernel, dt)]
            assert typed.module == generic.module
            assert typed.signature == generic.signature[:-1] and generic.signature[-1][0] == "dtype"
            assert (typed.kernel, typed.dtype) == (kernel, dt)
            # the compact entries take the typed entry's arguments
            for suffix in mlp.COMPACT[kernel]:
                compact = mlp.ENTRIES[f"{kernel}{suffix}_{dt}"]
                assert (compact.module, compact.signature) == (typed.module, typed.signature)
                assert (compact.kernel, compact.dtype) == (kernel, dt)
                # optional: a code object without it serves the call through the general one
                assert registry.KERNELS[compact.name].companion_of == typed.name
                assert compact.name not in registry.CONTRACT and typed.name in registry.CONTRACT
    # nothing else: the run-time-type entry, the typed one and the compact ones a kernel
    assert set(mlp.ENTRIES) == {f"{k}_kernel" for k in mlp.COMPACT} | {
        f"{k}{suffix}_{dt}" for k, compact in mlp.COMPACT.items() for suffix in ("", *compact)
        for dt in mlp.DTYPE_CODES}


ROW_RULE = [
    # (dtype, rows, hidden, rms_norm's entry, the fused add's) for aligned rows; the groups,
    # hidden / N, in the comments
    ("bf16", 1, 8, "rms_norm_row1_bf16", "fused_add_rms_norm_row1_bf16"),  # 1
    ("bf16", 128, 2048, "rms_norm_row1_bf16", "fused_add_rms_norm_row1_bf16"),  # 256
    ("bf16", 129, 2048, "rms_norm_row2_bf16", "fused_add_rms_norm_row2_bf16"),  # 256
    ("bf16", 1, 2056, "rms_norm_row2_bf16", "fused_add_rms_norm_row2_bf16"),  # 257
    ("f32", 3, 1024, "rms_norm_row2_f32", "fused_add_rms_norm_row2_f32"),  # 256: bf16 only
    ("f16", 3, 2048, "rms_norm_row2_f16", "fused_add_rms_norm_row2_f16"),  # 256: bf16 only
    ("bf16", 1, 9, "rms_norm_bf16", "fused_add_rms_norm_bf16"),  # hidden % 8
    ("bf16", 1, 4, "rms_norm_bf16", "fused_add_rms_norm_bf16"),  # no whole group
    ("bf16", 5000, 4096, "rms_norm_row2_bf16", "fused_add_rms_norm_row2_bf16"),  # 512
    ("bf16", 5000, 4104, "rms_norm_bf16", "fused_add_rms_norm_row2_bf16"),  # 513
    ("bf16", 128, 4104, "rms_norm_row2_bf16", "fused_add_rms_norm_row2_bf16"),  # 513
    ("bf16", 128, 8192, "rms_norm_row2_bf16", "fused_add_rms_norm_row2_bf16"),  # 1024
    ("bf16", 129, 8192, "rms_norm_bf16", "fused_add_rms_norm_row2_bf16"),  # 1024
    ("f32", 5000, 4096, "rms_norm_f32", "fused_add_rms_norm_row2_f32"),  # 1024
    ("f32", 5000, 2048, "rms_norm_row2_f32", "fused_add_rms_norm_row2_f32"),  # 512
    ("bf16", 128, 8200, "rms_norm_row4_bf16", "fused_add_rms_norm_row4_bf16"),  # 1025
    ("bf16", 129, 8200, "rms_norm_bf16", "fused_add_rms_norm_bf16"),  # 1025, many rows
    ("f16", 1, 16384, "rms_norm_row4_f16", "fused_add_rms_norm_row4_f16"),  # 2048
    ("f32", 128, 8192, "rms_norm_row4_f32", "fused_add_rms_norm_row4_f32"),  # 2048
    ("f32", 1, 8196, "rms_norm_row8_f32", "fused_add_rms_norm_row8_f32"),  # 2049
    ("f32", 128, 14336, "rms_norm_row8_f32", "fused_add_rms_norm_row8_f32"),  # 3584
    ("f32", 129, 14336, "rms_norm_row8d_f32", "fused_add_rms_norm_row8_f32"),  # many rows
    ("f16", 1, 16392, "rms_norm_row8_f16", "fused_add_rms_norm_row8_f16"),  # 2049
    ("bf16", 8192, 32768, "rms_norm_row8d_bf16", "fused_add_rms_norm_row8_bf16"),  # 4096
    ("bf16", 1, 32776, "rms_norm_bf16", "fused_add_rms_norm_bf16"),  # 4097
    ("f32", 128, 16388, "rms_norm_f32", "fused_add_rms_norm_f32"),  # 4097
    ("f32", 1, 16385, "rms_norm_f32", "fused_add_rms_norm_f32"),  # hidden % 4
]
_PTRS = {"x": 1 << 20, "weight": 1 << 30, "out": 1 << 31, "residual": 1 << 32}


def _norm_launches(dtype, rows, hidden, ptrs=_PTRS, strides=None):
    strides = strides or {"x": hidden, "out": hidden, "residual": hidden}
    r = mlp.rms_norm_recipe(dtype, rows, hidden, ptrs, strides, 1e-6, 1.0).launches[0]
    f = mlp.fused_add_rms_norm_recipe(dtype, rows, hidden, ptrs, strides, 1e-6, 1.0)
    return r, f.launches[0]


@pytest.mark.parametrize("dtype,rows,hidden,plain,fused", ROW_RULE)
def test_rms_norm_recipes_pick_the_entry_of_the_rule(dtype, rows, hidden, plain, fused):
    """Row entries for aligned rows of whole 16-byte groups: bf16 rows of up to
    ROW1_GROUPS = 256 groups in calls of at most ROW1_ROWS = 128 rows one group a thread,
    up to BLOCK = 512 groups at any
    rows (two a thread), up to 2 x BLOCK = 1024 at any rows for the fused add and at most
    ROW_FEW_ROWS = 128 rows for rms_norm, up to ROW_GROUPS = 2048 (four a thread) in calls
    of at most 128 rows, up to ROW8_GROUPS = 4096 eight a thread (rms_norm's calls of over
    128 rows: the weight after the sum, row8d); else the general entry, each with its own
    grid rule; Gemma's weight offset passed on either way."""
    assert mlp.ROW_GROUPS == 4 * mlp.BLOCK == 2048 and mlp.ROW_FEW_ROWS == 128
    assert mlp.ROW8_GROUPS == 8 * mlp.BLOCK == 4096
    assert (mlp.ROW1_GROUPS, mlp.ROW1_ROWS, mlp.ROW1_DTYPES) == (256, 128, ("bf16",))
    assert mlp.rms_norm_entry(rows, hidden, dtype, True) == plain
    assert mlp.rms_norm_entry(rows, hidden, dtype, True, fused=True) == fused
    r, f = _norm_launches(dtype, rows, hidden)
    assert (r.kernel, f.kernel) == (plain, fused)
    assert r.args["weight_offset"] == f.args["weight_offset"] == 1.0
    for launch, is_fused in ((r, False), (f, True)):
        if "_row" in launch.kernel:
            assert (launch.grid, launch.block) == mlp.rms_norm_row_launch(
                rows, hidden, dtype, one="_row1" in launch.kernel)
        else:
            assert (launch.grid, launch.block) == mlp.rms_norm_launch(rows, hidden, dtype, 132,
                                                                      is_fused)


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_operand_off_16_bytes_takes_the_general_entries(dtype):
    """Each operand in turn one element off 16 bytes (its address, or its row stride): the
    general entry for the operations it is an operand of, the row entry for the other."""
    size = 4 if dtype == "f32" else 2
    hidden, rows = 4096, 3
    general = (mlp.entry("rms_norm", dtype), mlp.entry("fused_add_rms_norm", dtype))
    row = (f"rms_norm_row2_{dtype}", f"fused_add_rms_norm_row2_{dtype}")
    r, f = _norm_launches(dtype, rows, hidden)
    assert (r.kernel, f.kernel) == row
    for name, operand_of in (("x", (0, 1)), ("weight", (0, 1)), ("out", (0,)),
                             ("residual", (1,))):
        r, f = _norm_launches(dtype, rows, hidden, {**_PTRS, name: _PTRS[name] + size})
        assert (r.kernel, f.kernel) == tuple(general[i] if i in operand_of else row[i]
                                             for i in (0, 1)), name
        if name != "weight":
            strides = {"x": hidden, "out": hidden, "residual": hidden, name: hidden + 1}
            r, f = _norm_launches(dtype, rows, hidden, strides=strides)
            assert (r.kernel, f.kernel) == tuple(general[i] if i in operand_of else row[i]
                                                 for i in (0, 1)), name


@pytest.mark.parametrize("dtype", DTYPES)
def test_swiglu_recipe_takes_the_flat_entry_for_aligned_whole_groups(dtype):
    """Both layouts: gate and up apart, and silu_and_mul's halves of one [rows, 2d] row
    (up = x + d, both at x's stride); any operand off 16 bytes or d not a multiple of the
    group: the general entry and its grid rule."""
    size = 4 if dtype == "f32" else 2
    n = 16 // size
    for rows, d in ((1, 14336), (1024, 2048), (70000, 8), (3, n)):
        apart = mlp.swiglu_recipe(dtype, rows, d, {"gate": 0, "up": 1 << 30, "out": 1 << 31},
                                  {"gate": d, "up": d, "out": d}).launches[0]
        halves = mlp.swiglu_recipe(dtype, rows, d, {"gate": 0, "up": d * size, "out": 1 << 31},
                                   {"gate": 2 * d, "up": 2 * d, "out": d}).launches[0]
        for launch in (apart, halves):
            assert launch.kernel == f"swiglu_flat_{dtype}"
            assert (launch.grid, launch.block) == mlp.swiglu_flat_launch(rows, d, dtype)
        assert halves.args["up"] - halves.args["gate"] == d * size
    for d, ptrs, strides in ((n + 1, {"gate": 0, "up": 64, "out": 128}, None),
                             (2 * n, {"gate": size, "up": 64, "out": 128}, None),
                             (2 * n, {"gate": 0, "up": 64, "out": 128},
                              {"gate": 2 * n, "up": 2 * n, "out": 2 * n + 1})):
        strides = strides or {"gate": d, "up": d, "out": d}
        launch = mlp.swiglu_recipe(dtype, 5, d, ptrs, strides).launches[0]
        assert launch.kernel == f"swiglu_{dtype}"
        assert (launch.grid, launch.block) == mlp.swiglu_launch(5, d, dtype)
    assert mlp.swiglu_entry(2 * n, dtype, False) == f"swiglu_{dtype}"


def test_row_and_flat_launches_cover_every_row_and_stay_in_limits():
    """The row entries: a block a row, of its C threads (at least 32), up to MAX_GRID
    blocks; the flat entry: the row's groups one a thread along x, a block row a row along
    y up to GRID_Y (the kernels' row loops take the rest)."""
    for rows in (1, 3, 127, 128, 129, 65535, 65536, 1 << 23, 1 << 32):
        for hidden, dtype in ((8, "bf16"), (64, "f32"), (256, "bf16"), (8192, "bf16"),
                              (16384, "bf16"), (8192, "f32")):
            c = mlp.norm_threads(hidden, dtype)
            (gx, gy), block = mlp.rms_norm_row_launch(rows, hidden, dtype)
            assert block == max(32, c) <= mlp.BLOCK and block % c == 0
            groups = hidden // (16 // (4 if dtype == "f32" else 2))
            assert groups <= 4 * c  # the row fits the threads (four groups a thread at most)
            assert gy == 1 and gx == min(rows, mlp.MAX_GRID)
            (fx, fy), fb = mlp.swiglu_flat_launch(rows, hidden, dtype)
            assert 32 <= fb <= mlp.BLOCK and fb & (fb - 1) == 0
            assert fx * fb >= groups and (fx - 1) * fb < groups  # one group a thread
            assert fy == min(rows, mlp.GRID_Y)


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


def test_rows_of_no_element_give_an_empty_result_without_a_warning():
    """hidden 0: nothing to normalise (the numpy twin's 0 / 0 warned before)."""
    import warnings

    x = np.ones((4, 0), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rocsample.rms_norm(x, np.ones(0, np.float32)).shape == (4, 0)
        xs, rs_ = rocsample.fused_add_rms_norm(x.copy(), x.copy(), np.ones(0, np.float32))
        assert xs.shape == rs_.shape == (4, 0)
