"""Half-precision inputs (issue 21, point 3) on the CPU: float16 and bfloat16 matrices.

Widening a half value to float32 is exact, so every operation on half inputs must give
exactly what it gives for float32 inputs holding the widened values: the same tokens, and
for softmax/temperature_scale the same float32 values. Checked on the numpy backend for every
operation and method, and through the GPU executor on the host stand-in (tests/host_device.py:
the _f16/_bf16 entries read the 2-byte rows from their packed arguments), for host arrays and
device buffers, every sampling method and both grid shapes; and an unsupported dtype is
refused naming it and the supported ones.
"""

from __future__ import annotations

import numpy as np
import pytest

import rocsample
from rocsample.backends import cpu_engine
from rocsample.buffers import BFLOAT16, DeviceBuffer
from rocsample.buffers.dtypes import float_kind, widen_to_f32

from .host_device import TwinKernels
from .kernel_device import stand_in


def _half(x: np.ndarray, kind: str) -> np.ndarray:
    """float32 ``x`` rounded to ``kind`` (bf16 by truncation: any bit pattern will do)."""
    if kind == "f16":
        return x.astype(np.float16)
    return (x.view(np.uint32) >> np.uint32(16)).astype(np.uint16).view(BFLOAT16)


def _logits(rows: int, vocab: int, seed: int, kind: str) -> np.ndarray:
    x = (np.random.default_rng(seed).standard_normal((rows, vocab)) * 4).astype(np.float32)
    x[0, ::97] = -np.inf  # masked tokens survive the rounding
    return _half(x, kind)


def _probs(rows: int, vocab: int, seed: int, kind: str) -> np.ndarray:
    p = cpu_engine.softmax((np.random.default_rng(seed).standard_normal((rows, vocab)) * 3)
                           .astype(np.float32))
    return _half(p, kind)


KINDS = ["f16", "bf16"]
METHODS = [("auto", {}), ("topk", dict(top_k=20)), ("topp", dict(top_p=0.8)),
           ("fused", dict(top_k=30, top_p=0.9, min_p=0.02)), ("fused", dict(min_p=0.05))]


def test_widening_is_exact():
    bits = np.arange(0, 1 << 16, dtype=np.uint16)
    bf = widen_to_f32(bits.view(BFLOAT16))
    assert np.array_equal(bf.view(np.uint32) >> 16, bits.astype(np.uint32))
    f16 = bits.view(np.float16)
    wide = widen_to_f32(f16)
    ok = ~np.isnan(f16)
    assert np.array_equal(wide[ok].astype(np.float16).view(np.uint16), bits[ok])
    assert float_kind(np.float32) == "f32" and float_kind(np.int16) is None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method,kw", METHODS)
def test_sample_half_probs_equals_the_widened_float32(kind, method, kw):
    probs = _probs(6, 5000, 1, kind)
    wide = widen_to_f32(probs)
    for seed, offset in ((1, 0), (np.arange(6), np.arange(6) * 3)):
        got = rocsample.sample(probs, seed=seed, offset=offset, method=method, backend="cpu",
                               **kw)
        want = rocsample.sample(wide, seed=seed, offset=offset, method=method, backend="cpu",
                                **kw)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("temperature", [1.0, 0.6, 0.0, np.array([0.5, 1.0, 0.0, 2.0])])
def test_logit_operations_on_half_logits_equal_the_widened_float32(kind, temperature):
    x = _logits(4, 3000, 2, kind)
    wide = widen_to_f32(x)
    for op in (rocsample.softmax, rocsample.temperature_scale):
        got = op(x, temperature, backend="cpu")
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, op(wide, temperature, backend="cpu"))
    got = rocsample.sample_from_logits(x, temperature=temperature, top_k=40, seed=3,
                                       backend="cpu")
    want = rocsample.sample_from_logits(wide, temperature=temperature, top_k=40, seed=3,
                                        backend="cpu")
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", ["f16", "bf16"])
def test_half_results_on_the_cpu_backend(kind):
    """``out_dtype`` the logits' type: the float32 result rounded once to nearest even
    (numpy's float16 cast; bfloat16 by the kernels' rule), a NaN row NaN, a scaled value
    beyond float16 Inf; into a numpy ``out`` of that type; other types refused by name."""
    from rocsample.buffers.dtypes import f32_to_bf16

    name = {"f16": "float16", "bf16": "bfloat16"}[kind]
    x = _logits(3, 1000, 5, kind)
    wide = widen_to_f32(x).copy()
    wide[1, 3] = np.nan
    wide[2, :4] = 60000.0
    x = _half(wide, kind)
    for op in (rocsample.softmax, rocsample.temperature_scale):
        f32 = op(widen_to_f32(x), 0.5, backend="cpu")
        got = op(x, 0.5, out_dtype=name, backend="cpu")
        assert got.dtype == x.dtype and got.shape == x.shape
        with np.errstate(over="ignore"):
            bits = f32.astype(np.float16).view(np.uint16) if kind == "f16" \
                else f32_to_bf16(f32)
        nan = np.isnan(f32)
        row = nan[1] if op is rocsample.softmax else nan[1, 3:4]  # softmax: the whole row
        assert row.all() and np.array_equal(np.isnan(widen_to_f32(got)), nan)
        np.testing.assert_array_equal(got.view(np.uint16)[~nan], bits[~nan])
        out = np.zeros_like(x)
        assert op(x, 0.5, out_dtype=name, out=out, backend="cpu") is out
        np.testing.assert_array_equal(out.view(np.uint16), got.view(np.uint16))
        with pytest.raises(ValueError, match=f"out must be a {name} array of shape"):
            op(x, 0.5, out_dtype=name, out=np.zeros(x.shape, np.float32), backend="cpu")
        with pytest.raises(ValueError, match=f"out_dtype {name} needs {name} logits"):
            op(wide, 0.5, out_dtype=name, backend="cpu")
        with pytest.raises(ValueError, match=f"got {name} .*: a {name} result needs "
                                             f"out_dtype='{name}'"):
            op(x, 0.5, out=np.zeros_like(x), backend="cpu")
    scaled = rocsample.temperature_scale(x, 0.5, out_dtype=name, backend="cpu")
    assert np.isinf(widen_to_f32(scaled)[2, :4]).all() == (kind == "f16")


def test_half_rows_with_bad_values_are_refused_like_float32():
    probs = _probs(3, 100, 4, "bf16")
    bits = probs.view(np.uint16).copy()
    bits[1, 5] = 0x7FC0  # NaN
    with pytest.raises(ValueError, match="rows 1"):
        rocsample.sample(bits.view(BFLOAT16), backend="cpu")


@pytest.mark.parametrize("dtype,shown", [(np.float64, "got float64"), (np.int32, "got int32"),
                                         (np.dtype("V2"), "raw 2-byte records")])
def test_unsupported_dtypes_name_themselves_and_the_supported_ones(dtype, shown):
    x = np.zeros((2, 8), dtype)
    for call in (lambda: rocsample.sample(x, backend="cpu"),
                 lambda: rocsample.softmax(x, backend="cpu")):
        with pytest.raises(TypeError, match="must be float32, float16 or bfloat16") as info:
            call()
        assert shown in str(info.value)


# ---- the GPU executor on the host stand-in ------------------------------------------------


@pytest.fixture
def gpu(monkeypatch):
    """The stand-in device running the numpy twin (exact softmax: numpy's; the kernels' own
    code runs in test_kernel_host.py, test_seeds.py and test_capture.py)."""
    b = stand_in("twin", monkeypatch)
    yield b
    b.close()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rows", [2, 300])  # G blocks a row (the two softmax launches); one
@pytest.mark.parametrize("where", ["host", "device"])
def test_executor_reads_half_logits_in_place(gpu, kind, rows, where):
    x = _logits(rows, 9000, rows, kind)
    wide = widen_to_f32(x)
    arg = x if where == "host" else DeviceBuffer.from_numpy(gpu.rt, x)

    def host(v):
        return v if where == "host" else v.numpy()

    for op in (rocsample.softmax, rocsample.temperature_scale):
        got = host(op(arg, 0.7))
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, op(wide, 0.7, backend="cpu"))
    readers = {k for k, _, _, v in gpu.rt.launches if "logits" in v}
    want = {f"softmax_stats_{kind}", f"softmax_write_{kind}"} if rows == 2 \
        else {f"softmax_{kind}"}
    assert readers == want | {f"temperature_scale_{kind}"}
    # sample_from_logits, any filter: the row stats, then the sampler over the logits (no
    # softmax written)
    for kw in (dict(top_p=0.9), dict(top_k=40)):
        gpu.rt.launches.clear()
        got = host(rocsample.sample_from_logits(arg, temperature=0.7, seed=4, **kw))
        np.testing.assert_array_equal(got, rocsample.sample_from_logits(
            wide, temperature=0.7, seed=4, backend="cpu", **kw))
        readers = {k for k, _, _, v in gpu.rt.launches if "logits" in v}
        assert readers == {f"softmax_stats_{kind}", f"logits_sampling_{kind}"}


def test_executor_takes_ml_dtypes_bfloat16_host_arrays(gpu):
    """A numpy ``ml_dtypes.bfloat16`` array given to a GPU backend goes up as its bits: the
    tokens of the cpu backend, and a bfloat16 result in the input's own type, as the cpu
    backend gives (before session 38 the upload refused it: "unsupported dtype '<V2'")."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = _logits(3, 9000, 5, "bf16")
    ml = x.view(np.uint16).view(ml_dtypes.bfloat16)
    probs = rocsample.softmax(ml, 1.0, out_dtype=ml_dtypes.bfloat16)
    assert probs.dtype == ml.dtype
    want = rocsample.softmax(ml, 1.0, out_dtype=ml_dtypes.bfloat16, backend="cpu")
    np.testing.assert_array_equal(probs.view(np.uint16), want.view(np.uint16))
    np.testing.assert_array_equal(rocsample.temperature_scale(ml, 0.7),
                                  rocsample.temperature_scale(ml, 0.7, backend="cpu"))
    for kw in (dict(top_k=40), dict(top_p=0.9), {}):
        np.testing.assert_array_equal(
            rocsample.sample(probs, seed=3, **kw),
            rocsample.sample(widen_to_f32(want.view(np.uint16).view(BFLOAT16)), seed=3,
                             backend="cpu", **kw))
        np.testing.assert_array_equal(
            rocsample.sample_from_logits(ml, temperature=0.7, seed=4, **kw),
            rocsample.sample_from_logits(widen_to_f32(x), temperature=0.7, seed=4,
                                         backend="cpu", **kw))
    ran = {k for k, _, _, v in gpu.rt.launches if "logits" in v or "probs" in v}
    assert {"topk_sampling_bf16", "logits_sampling_bf16"} <= ran  # read in place, as bfloat16
    assert all(k.endswith("_bf16") for k in ran), ran


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rows", [1, 3, 140])  # 140 >= 132 SMs: one block a row
@pytest.mark.parametrize("method,kw", METHODS)
@pytest.mark.parametrize("where", ["host", "device"])
def test_executor_samples_half_probs_in_place(gpu, kind, rows, method, kw, where):
    probs = _probs(rows, 9000, rows, kind)
    wide = widen_to_f32(probs)
    arg = probs if where == "host" else DeviceBuffer.from_numpy(gpu.rt, probs)
    got = rocsample.sample(arg, seed=7, offset=2, method=method, **kw)
    got = got if where == "host" else got.numpy()
    np.testing.assert_array_equal(got, rocsample.sample(wide, seed=7, offset=2, method=method,
                                                        backend="cpu", **kw))
    readers = {k for k, _, _, v in gpu.rt.launches if "probs" in v}
    assert readers and all(k.endswith("_" + kind) for k in readers), readers


def test_a_code_object_without_the_half_entries_refuses_half_logits_only(gpu):
    gpu.kernels = TwinKernels(companions=False)
    x = _logits(2, 100, 6, "f16")
    with pytest.raises(TypeError, match="softmax_kernel_f16, which the loaded "
                                        "SAMPLING_UTILS_HSACO code object lacks"):
        rocsample.softmax(x)
    with pytest.raises(TypeError, match="temperature_scale_kernel_f16, which the loaded "
                                        "TEMPERATURE_SCALE_HSACO"):
        rocsample.temperature_scale(x, 0.5)
    probs = _probs(2, 100, 7, "bf16")
    for method, kw in METHODS:
        with pytest.raises(TypeError, match="probs of dtype bfloat16 need the entry "):
            rocsample.sample(probs, method=method, **kw)
    np.testing.assert_array_equal(rocsample.softmax(widen_to_f32(x)),
                                  rocsample.softmax(widen_to_f32(x), backend="cpu"))
    np.testing.assert_array_equal(rocsample.sample(widen_to_f32(probs), seed=1),
                                  rocsample.sample(widen_to_f32(probs), seed=1, backend="cpu"))


@pytest.mark.parametrize("block", [32, 64, 512])
def test_row_walk_visits_the_same_elements_whatever_the_alignment(tmp_path, block):
    """rs_common.h's rs_for_groups, built by g++ as host code and run thread by thread
    (tests/kernel_host/for_each.cpp): for every vocab up to 600 and a few large ones, float
    rows at each 4-byte alignment and 2-byte rows at each 2-byte alignment, every thread visits
    the documented groups of four and then the tail, in order, each index once with its own
    value. softmax sums in this order, so its result cannot depend on where a row starts (nor,
    for f16/bf16, differ from the widened float32 row's)."""
    import shutil
    import subprocess
    from pathlib import Path

    from rocsample import registry

    from .conftest import need

    gxx = shutil.which("g++")
    need(gxx is not None, "g++ not found")
    here = Path(__file__).parent / "kernel_host"
    real = (registry.kernel_source_dir() / "rs_common.h").read_text()
    # The 2-byte value types, then the walk itself (up to the next function), from the real
    # header after the stand-in's definitions of what a GPU compiler would provide.
    half = real[real.index("struct rs_f16"):real.index("struct rs_smem")]
    start = real.index("// Visit every element of a row exactly once")
    walk = real[start:real.index("__device__ __forceinline__ rs_u64 rs_shfl_u64", start)]
    vectors = ("struct float4 { float x, y, z, w; };\n"
               "struct uint2 { rs_u32 x, y; };\n"
               f"#define RS_BLOCK {block}\n")
    (tmp_path / "rs_walk.h").write_text("\n".join(
        [(here / "rs_common.h").read_text(), vectors, half, walk]))
    exe = tmp_path / "for_each"
    build = subprocess.run([gxx, "-std=c++17", "-O1", "-Wno-unknown-pragmas", "-x", "c++",
                            str(here / "for_each.cpp"), "-I", str(tmp_path), "-o", str(exe)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe), "600" if block < 512 else "100"], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0 and run.stdout.strip().endswith("bad 0"), run.stdout


def test_ml_dtypes_bfloat16_in_and_out():
    """``ml_dtypes.bfloat16`` arrays (the bfloat16 numpy type of JAX and others) on the cpu
    backend: read as bfloat16, a bfloat16 result of that same type, ``out`` of either
    bfloat16 representation, and sampling their widened values' tokens."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = _logits(3, 1000, 6, "bf16")
    ml = x.view(np.uint16).view(ml_dtypes.bfloat16)
    for op in (rocsample.softmax, rocsample.temperature_scale):
        want = op(x, 0.5, out_dtype="bfloat16", backend="cpu")
        got = op(ml, 0.5, out_dtype=ml_dtypes.bfloat16, backend="cpu")
        assert got.dtype == ml.dtype
        np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))
        for out in (np.zeros_like(ml), np.zeros_like(x)):
            assert op(ml, 0.5, out_dtype="bfloat16", out=out, backend="cpu") is out
            np.testing.assert_array_equal(out.view(np.uint16), want.view(np.uint16))
        np.testing.assert_array_equal(op(ml, 0.5, backend="cpu"),
                                      op(widen_to_f32(x), 0.5, backend="cpu"))
    probs = rocsample.softmax(ml, 1.0, out_dtype="bfloat16", backend="cpu")
    np.testing.assert_array_equal(rocsample.sample(probs, seed=3, backend="cpu"),
                                  rocsample.sample(widen_to_f32(probs.view(np.uint16).view(
                                      BFLOAT16)), seed=3, backend="cpu"))
