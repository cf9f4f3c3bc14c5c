"""The MLP family through the generic executor on the stand-in device (tests/host_device.py,
whose kernels are the numpy twin run from the packed arguments): what reaches the kernel
(pointers, row strides, the two halves of silu_and_mul, dtype codes, block and grid), in-place
writes, the profiler's GB/s, and the errors for bad device arguments."""

from __future__ import annotations

import numpy as np
import pytest

import rocsample
from rocsample import api_mlp
from rocsample.backends.gpu import GpuBackend
from rocsample.buffers import BFLOAT16, DeviceBuffer
from rocsample.ops import mlp

from .host_device import HostDevice, TwinKernels
from .test_executor import Strided
from .test_mlp import make


@pytest.fixture
def gpu(monkeypatch):
    b = GpuBackend(HostDevice())
    b.kernels = TwinKernels()
    monkeypatch.setattr(api_mlp, "get_backend", lambda *a, **k: b)
    return b


def upload(b: GpuBackend, a: np.ndarray) -> DeviceBuffer:
    return DeviceBuffer.from_numpy(b.rt, a)


def host(x) -> np.ndarray:
    return x.numpy()


def last(gpu):
    return gpu.rt.launches[-1]


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("hidden", [8, 111, 769, 5125])
def test_rms_norm_on_device_rows_beyond_the_original_grid(gpu, dtype, hidden):
    rng = np.random.default_rng(hidden)
    rows = -(-hidden // 256) + 5
    x, w = make((rows, hidden), dtype, rng), make((hidden,), dtype, rng)
    as_dev = (lambda a: a.view(BFLOAT16)) if dtype == "bf16" else (lambda a: a)
    got = rocsample.rms_norm(upload(gpu, as_dev(x)), upload(gpu, as_dev(w)))
    want = mlp.rms_norm(x, w, 1e-6, 0.0, dtype)
    np.testing.assert_array_equal(host(got).view(want.dtype), want)
    kernel, grid, block, v = last(gpu)
    assert "dtype" not in v  # the type's own entry: the row entry for whole groups (8)
    if hidden == 8:
        row = "_row1" if dtype == "bf16" else "_row2"  # one group: bf16's one-group entry
        assert kernel == f"rms_norm{row}_{dtype}"
        assert (grid, block) == mlp.rms_norm_row_launch(rows, hidden, dtype,
                                                        one=dtype == "bf16")
    else:
        assert kernel == f"rms_norm_{dtype}"
        assert (grid, block) == mlp.rms_norm_launch(rows, hidden, dtype, gpu.sm_count)
    assert v["rows"] == rows and v["hidden"] == hidden


def test_row_stride_twice_hidden_and_gemma(gpu):
    rng = np.random.default_rng(1)
    hidden, rows = 769, 7
    big = make((rows, 2 * hidden), "f16", rng)
    w = make((hidden,), "f16", rng)
    buf = upload(gpu, big)
    x = Strided(buf, (rows, hidden), (2 * hidden, 1))
    got = rocsample.rms_norm(x, upload(gpu, w), eps=1e-5, gemma=True)
    np.testing.assert_array_equal(host(got), mlp.rms_norm(big[:, :hidden], w, 1e-5, 1.0))
    v = last(gpu)[3]
    assert v["x_stride"] == 2 * hidden and v["out_stride"] == hidden
    assert v["weight_offset"] == 1.0 and abs(v["eps"] - 1e-5) < 1e-12
    # 3-d input whose leading dims collapse to one row stride
    x3 = Strided(buf, (rows, 1, hidden), (2 * hidden, 5, 1))
    got3 = rocsample.rms_norm(x3, upload(gpu, w))
    np.testing.assert_array_equal(host(got3).reshape(rows, hidden),
                                  mlp.rms_norm(big[:, :hidden], w))


def test_rms_norm_in_place_and_into_out(gpu):
    rng = np.random.default_rng(2)
    x, w = make((4, 96), "f32", rng), make((96,), "f32", rng)
    xd, wd = upload(gpu, x), upload(gpu, w)
    assert rocsample.rms_norm(xd, wd, out=xd) is xd
    np.testing.assert_array_equal(host(xd), mlp.rms_norm(x, w))
    out = DeviceBuffer(gpu.rt, (4, 96), np.float32)
    assert rocsample.rms_norm(upload(gpu, x), wd, out=out) is out


def test_fused_add_in_place_on_device(gpu):
    rng = np.random.default_rng(3)
    rows, hidden = 40, 111  # more rows than ceil(111 / 256)
    x, r = make((rows, hidden), "bf16", rng), make((rows, hidden), "bf16", rng)
    w = make((hidden,), "bf16", rng)
    xd, rd = upload(gpu, x.view(BFLOAT16)), upload(gpu, r.view(BFLOAT16))
    got = rocsample.fused_add_rms_norm(xd, rd, upload(gpu, w.view(BFLOAT16)), eps=1e-6)
    assert got[0] is xd and got[1] is rd
    y, new_r = mlp.fused_add_rms_norm(x, r, w, 1e-6, 0.0, "bf16")
    np.testing.assert_array_equal(host(rd).view(np.uint16), new_r)
    np.testing.assert_array_equal(host(xd).view(np.uint16), y)
    kernel, grid, block, v = last(gpu)
    # hidden 111 bf16: 13 groups, 8 threads a row; 40 rows are few (<= 2 an SM): a block of
    # 32 threads, four rows, ten blocks.
    assert kernel == "fused_add_rms_norm_bf16" and (grid, block) == ((10, 1), 32)
    assert v["x"] == xd.ptr and v["residual"] == rd.ptr


def test_swiglu_and_silu_and_mul_on_device(gpu):
    rng = np.random.default_rng(4)
    g, u = make((6, 100), "f32", rng, 3.0), make((6, 100), "f32", rng)
    got = rocsample.swiglu(upload(gpu, g), upload(gpu, u))
    np.testing.assert_array_equal(host(got), mlp.swiglu(g, u))
    both = np.concatenate([g, u], axis=1)
    bd = upload(gpu, both)
    got2 = rocsample.silu_and_mul(bd)
    np.testing.assert_array_equal(host(got2), mlp.swiglu(g, u))
    kernel, grid, block, v = last(gpu)
    assert v["gate"] == bd.ptr and v["up"] == bd.ptr + 100 * 4
    assert v["gate_stride"] == v["up_stride"] == 200 and v["out_stride"] == 100
    # 100 fp32: 25 whole groups, rows of 800 bytes: the flat entry
    assert kernel == "swiglu_flat_f32" and (grid, block) == mlp.swiglu_flat_launch(6, 100, "f32")
    # in place into the gate half (out = x[:, :d]), as serving engines may
    half = Strided(bd, (6, 100), (200, 1))
    assert rocsample.silu_and_mul(bd, out=half) is half
    np.testing.assert_array_equal(host(bd)[:, :100], mlp.swiglu(g, u))


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_compact_entries_on_device_and_the_general_ones_beside_them(gpu, dtype):
    """Aligned rows of whole groups take the row and flat entries (Gemma's offset, the fused
    add's residual written back, silu_and_mul's halves); the same call one element off 16
    bytes takes the general entries (fp32, fp16: bf16 buffers have no strided view here);
    the results are the numpy twin's either way."""
    rng = np.random.default_rng(9)
    n = 4 if dtype == "f32" else 8
    hidden, rows = 130 * n, 7  # 130 groups: the row entries (bf16: one group a thread)
    as_dev = (lambda a: a.view(BFLOAT16)) if dtype == "bf16" else (lambda a: a)
    w, r = make((hidden,), dtype, rng), make((rows, hidden), dtype, rng)
    wd = upload(gpu, as_dev(w))
    # rows at a stride of hidden + n, then (fp32, fp16) the same rows one element further
    big = make((rows, hidden + n), dtype, rng)
    cases = [(0, "_row1" if dtype == "bf16" else "_row2")] + ([(1, "")] if dtype != "bf16"
                                                              else [])
    for offset, suffix in cases:
        xs = big[:, offset:offset + hidden]

        def view(buf, offset=offset):
            if dtype == "bf16":  # contiguous rows
                return buf
            return Strided(buf, (rows, hidden), (hidden + n, 1), offset)

        x0 = big if dtype != "bf16" else np.ascontiguousarray(xs)
        got = rocsample.rms_norm(view(upload(gpu, as_dev(x0))), wd, gemma=True)
        np.testing.assert_array_equal(host(got).view(xs.dtype),
                                      mlp.rms_norm(xs, w, 1e-6, 1.0, dtype))
        assert last(gpu)[0] == f"rms_norm{suffix}_{dtype}"
        rd, xd = upload(gpu, as_dev(r)), upload(gpu, as_dev(x0))
        rocsample.fused_add_rms_norm(view(xd), rd, wd, gemma=True)
        y, new_r = mlp.fused_add_rms_norm(xs, r, w, 1e-6, 1.0, dtype)
        np.testing.assert_array_equal(host(rd).view(new_r.dtype), new_r)
        got = host(xd).view(y.dtype)
        np.testing.assert_array_equal(got if dtype == "bf16" else got[:, offset:offset + hidden],
                                      y)
        assert last(gpu)[0] == f"fused_add_rms_norm{suffix}_{dtype}"
    both = make((rows, 2 * hidden), dtype, rng, 3.0)
    got = rocsample.silu_and_mul(upload(gpu, as_dev(both)))
    np.testing.assert_array_equal(host(got).view(both.dtype),
                                  mlp.silu_and_mul(both, dtype))
    assert last(gpu)[0] == f"swiglu_flat_{dtype}"
    odd = make((rows, 2 * hidden + 2), dtype, rng, 3.0)  # d = hidden + 1: not whole groups
    got = rocsample.silu_and_mul(upload(gpu, as_dev(odd)))
    np.testing.assert_array_equal(host(got).view(odd.dtype), mlp.silu_and_mul(odd, dtype))
    assert last(gpu)[0] == f"swiglu_{dtype}"


def test_a_code_object_without_the_compact_entries_serves_every_call(gpu):
    """The compact entries are optional companions of the general entry of their type: a
    code object built without them (an RMS_NORM_HSACO or SWIGLU_HSACO of older sources)
    serves the same calls through the general entries and their grid rules."""
    gpu.kernels = TwinKernels(companions=False)
    rng = np.random.default_rng(10)
    x, w, r = (make((3, 256), "f32", rng), make((256,), "f32", rng),
               make((3, 256), "f32", rng))
    got = rocsample.rms_norm(upload(gpu, x), upload(gpu, w))
    np.testing.assert_array_equal(host(got), mlp.rms_norm(x, w))
    kernel, grid, block, _ = last(gpu)
    assert kernel == "rms_norm_f32" and (grid, block) == mlp.rms_norm_launch(3, 256, "f32",
                                                                             gpu.sm_count)
    rocsample.fused_add_rms_norm(upload(gpu, x), upload(gpu, r), upload(gpu, w))
    assert last(gpu)[0] == "fused_add_rms_norm_f32"
    rocsample.swiglu(upload(gpu, x), upload(gpu, r))
    assert last(gpu)[0] == "swiglu_f32"
    assert {"rms_norm_row2_f32", "fused_add_rms_norm_row2_f32",
            "swiglu_flat_f32"} <= set(gpu.kernels.asked)


def test_empty_inputs_launch_nothing(gpu):
    n = len(gpu.rt.launches)
    x = DeviceBuffer(gpu.rt, (0, 64), np.float32)
    out = rocsample.rms_norm(x, upload(gpu, np.ones(64, np.float32)))
    assert out.shape == (0, 64) and len(gpu.rt.launches) == n


def test_profile_reports_gb_per_second(gpu):
    x, w = np.ones((8, 256), np.float32), np.ones(256, np.float32)
    with rocsample.profile() as prof:
        rocsample.rms_norm(upload(gpu, x), upload(gpu, w))
        rocsample.swiglu(upload(gpu, x), upload(gpu, x))
    s = prof.summary()
    ms = gpu.rt.elapsed_ms
    # 256 fp32 a row, aligned: the row and flat entries, with the general entries' bytes
    assert s["rms_norm_row2_f32"]["gb_s"] == pytest.approx((2 * 8 + 1) * 256 * 4 / (ms * 1e-3)
                                                           / 1e9)
    assert s["swiglu_flat_f32"]["gb_s"] == pytest.approx(3 * 8 * 256 * 4 / (ms * 1e-3) / 1e9)
    assert "GB/s" in prof.table()


def test_bad_device_arguments_are_named(gpu):
    x = upload(gpu, np.ones((4, 8), np.float32))
    w = upload(gpu, np.ones(8, np.float32))
    with pytest.raises(TypeError, match="x has dtype float64"):
        rocsample.rms_norm(upload(gpu, np.ones((4, 8))), w)
    with pytest.raises(ValueError, match="weight must have shape"):
        rocsample.rms_norm(x, upload(gpu, np.ones(7, np.float32)))
    with pytest.raises(ValueError, match="last dim must be contiguous"):
        rocsample.rms_norm(Strided(x, (4, 4), (8, 2)), upload(gpu, np.ones(4, np.float32)))
    with pytest.raises(ValueError, match="out must have shape"):
        rocsample.rms_norm(x, w, out=upload(gpu, np.ones((4, 9), np.float32)))
    with pytest.raises(ValueError, match="out overlaps x"):
        rocsample.rms_norm(x, w, out=Strided(x, (4, 8), (8, 1), offset=1))
    with pytest.raises(ValueError, match="out overlaps weight"):
        rocsample.rms_norm(Strided(x, (1, 8), (8, 1)), w, out=Strided(w, (1, 8), (8, 1)))
    with pytest.raises(ValueError, match="residual overlaps weight|x overlaps residual"):
        rocsample.fused_add_rms_norm(x, Strided(x, (4, 8), (8, 1)), w)
    with pytest.raises(ValueError, match="rows overlap"):
        rocsample.fused_add_rms_norm(Strided(x, (4, 8), (0, 1)), x, w)
    with pytest.raises(TypeError, match="mix of numpy and device"):
        rocsample.swiglu(x, np.ones((4, 8), np.float32))
    with pytest.raises(ValueError, match="even last dim"):
        rocsample.silu_and_mul(upload(gpu, np.ones((2, 7), np.float32)))
    with pytest.raises(ValueError, match="leading dims"):
        big = upload(gpu, np.ones((4, 6, 8), np.float32))
        rocsample.rms_norm(Strided(big, (4, 3, 8), (48, 8, 1)), w)
    ro = Strided(x, (4, 8), (8, 1))
    ro.__cuda_array_interface__["data"] = (x.ptr, True)  # exported read-only
    with pytest.raises(ValueError, match="out is read-only"):
        rocsample.rms_norm(upload(gpu, np.ones((4, 8), np.float32)), w, out=ro)
    with pytest.raises(ValueError, match="^x is a scalar"):  # as on the cpu backend
        rocsample.rms_norm(Strided(x, (), ()), w)
    assert not any(k[0].startswith("rms_norm") for k in gpu.rt.launches)  # nothing launched


def test_device_input_on_the_cpu_backend_is_a_clear_error():
    class Dev:
        __cuda_array_interface__ = {"version": 3, "shape": (2, 4), "typestr": "<f4",
                                    "strides": None, "data": (4096, False)}

    with pytest.raises(TypeError, match="runs numpy only"):
        rocsample.rms_norm(Dev(), Dev(), backend="cpu")
