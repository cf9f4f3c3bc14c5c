"""The generic executor (GpuBackend.launch_recipe) and the elementwise API on device arrays,
on a stand-in device whose kernels are the numpy twin (tests/host_device.py): the layouts
of the issue, checked against the numpy reference, and what reaches the kernel (info null
when contiguous, start offsets in the base pointer, block 1024, arguments by name)."""

from __future__ import annotations

import numpy as np
import pytest

import rocsample
from rocsample import api_elementwise
from rocsample.backends.gpu import GpuBackend
from rocsample.buffers import BFLOAT16, DeviceBuffer
from rocsample.ops import elementwise as ew

from .host_device import HostDevice, TwinKernels


@pytest.fixture
def gpu(monkeypatch):
    b = GpuBackend(HostDevice())
    b.kernels = TwinKernels()
    monkeypatch.setattr(api_elementwise, "get_backend", lambda *a, **k: b)
    return b


class Strided:
    """A device array over a DeviceBuffer's memory with any strides and start offset."""

    def __init__(self, buf: DeviceBuffer, shape, strides, offset: int = 0) -> None:
        item = buf.dtype.itemsize
        self.__cuda_array_interface__ = {
            "version": 3, "shape": tuple(shape), "typestr": buf.dtype.str,
            "strides": tuple(s * item for s in strides), "data": (buf.ptr + offset * item, False)}
        self.buf = buf


def upload(b: GpuBackend, a: np.ndarray) -> DeviceBuffer:
    return DeviceBuffer.from_numpy(b.rt, a)


def as_device(b: GpuBackend, base: np.ndarray, view: np.ndarray) -> Strided:
    """``view`` (a numpy view of ``base``) as the same view of ``base`` on the device."""
    item = base.itemsize
    offset = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // item
    return Strided(upload(b, base), view.shape, [s // item for s in view.strides], offset)


BASE = np.linspace(-3, 3, 60, dtype=np.float32).reshape(6, 10)
LAYOUTS = {
    "contiguous": lambda a: a,
    "slice": lambda a: a[:, 1:3],
    "transposed": lambda a: a.T,
    "broadcast": lambda a: np.broadcast_to(a[:1, :4], (5, 4)),
    "size-1 dims": lambda a: a[2:3, :][:, None, :],
    "0-d": lambda a: a[1, 1, ...],  # a 0-d view
    "empty": lambda a: a[:, :0],
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_unary_on_device_layouts_matches_the_reference(gpu, layout):
    view = np.asarray(LAYOUTS[layout](BASE))
    x = as_device(gpu, BASE, view)
    got = rocsample.unary("gelu", x)
    assert isinstance(got, DeviceBuffer) and got.shape == view.shape
    np.testing.assert_array_equal(got.numpy(), ew.unary("gelu", view))
    launches = gpu.rt.launches
    if view.size == 0:
        assert not launches  # numel 0 launches nothing
        return
    (kernel, grid, block, args), = launches
    assert (kernel, block, args["numel"]) == ("ugelu_f32", ew.BLOCK, view.size)
    assert block <= ew.LAUNCH_BOUND  # a larger block than __launch_bounds__ fails to launch
    # Candle's rule: null info exactly for a contiguous layout (size-1 dims ignored).
    contiguous = ew.is_contiguous(view.shape, tuple(s // 4 for s in view.strides))
    assert (args["info"] == 0) == contiguous
    assert layout in ("contiguous", "size-1 dims", "0-d") or not contiguous
    # the input and the result, and the layout's info kept on the device for the next call
    assert len(gpu.memory._consts) == (0 if contiguous else 1)
    assert gpu.rt.live_allocations == 2 + len(gpu.memory._consts)


def test_affine_in_place_and_bf16(gpu):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    buf = upload(gpu, x)
    assert rocsample.affine(buf, 2.0, 0.5, out=buf) is buf
    assert gpu.rt.launches[-1][3]["inp"] == 0  # in place: Candle's null inp
    np.testing.assert_array_equal(buf.numpy(), ew.affine(x, 2.0, 0.5))
    bits = ew.f32_to_bf16(x)
    b16 = DeviceBuffer(gpu.rt, (3, 4), BFLOAT16)
    b16.copy_from(bits.view(BFLOAT16))
    got = rocsample.unary("silu", b16)
    assert got.dtype == BFLOAT16 and gpu.rt.launches[-1][0] == "usilu_bf16"
    np.testing.assert_array_equal(got.numpy().view(np.uint16),
                                  ew.unary("silu", bits, dtype="bf16"))


def test_where_with_three_layouts(gpu):
    cond_base = (np.arange(24) % 3 == 0).astype(np.uint8).reshape(4, 6)
    cond = cond_base[:, ::2]                              # strided
    f = BASE[1:5, 2:5]                                      # a window with an offset
    t_b = np.broadcast_to(BASE[:1, :3], (4, 3))             # broadcast: stride 0
    got = rocsample.where(as_device(gpu, cond_base, cond), as_device(gpu, BASE, t_b),
                          as_device(gpu, BASE, f))
    np.testing.assert_array_equal(got.numpy(), ew.where(cond, t_b, f))
    # two dims after merging: rocsample's by-value companion, the layout in its arguments
    (kernel, _, _, args), = gpu.rt.launches
    assert kernel == "where2_u8_f32" and "info" not in args
    assert (args["d0"], args["d1"], args["si0"], args["si1"], args["st0"], args["st1"],
            args["sf0"], args["sf1"]) == (4, 3, 6, 2, 0, 1, 10, 1)


@pytest.mark.parametrize("companions", [True, False])
def test_where_takes_candle_entry_without_the_companion_or_past_two_dims(gpu, companions):
    """A code object without where2 (a TERNARY_HSACO built from Candle's source), or a layout
    of three dims after merging, launches Candle's where with its info (never null)."""
    gpu.kernels = TwinKernels(companions=companions)
    base = np.arange(2 * 3 * 8, dtype=np.float32).reshape(2, 3, 8)
    cond_base = (np.arange(48) % 3 == 0).astype(np.uint8).reshape(2, 3, 8)
    views = [(cond_base, cond_base.transpose(1, 0, 2)[:, :, ::2]),
             (base, base.transpose(1, 0, 2)[:, :, 1:5]),
             (base, base.transpose(1, 0, 2)[:, :, ::2])]  # (3, 2, 4): no dims merge
    got = rocsample.where(*(as_device(gpu, b, v) for b, v in views))
    np.testing.assert_array_equal(got.numpy(), ew.where(*(v for _, v in views)))
    two = [(b, v[0]) for b, v in views]  # the same views at one leading index: two dims
    got2 = rocsample.where(*(as_device(gpu, b, v) for b, v in two))
    np.testing.assert_array_equal(got2.numpy(), ew.where(*(v for _, v in two)))
    (k3, _, _, a3), (k2, _, _, a2) = gpu.rt.launches
    assert k3 == "where_u8_f32" and a3["num_dims"] == 3 and a3["info"] != 0
    assert k2 == ("where2_u8_f32" if companions else "where_u8_f32")


def test_where_broadcasts_shapes_with_stride_zero(gpu):
    cond = (np.arange(6) % 2).astype(np.int64).reshape(2, 3)
    t = np.array([10.0, 20.0, 30.0], np.float32)
    f = np.array(-1.0, np.float32)
    got = rocsample.where(upload(gpu, cond), upload(gpu, t), upload(gpu, f))
    np.testing.assert_array_equal(got.numpy(), ew.where(cond, t, f))


def test_low_level_launcher_builds_info_as_candle_does(gpu):
    x = np.arange(6, dtype=np.float32)
    inp, out = upload(gpu, x), DeviceBuffer(gpu.rt, (4,), np.float32)
    # dims (2, 2) over strides (1, 3) from element 1: x[1], x[4], x[2], x[5].
    rocsample.launch_elementwise("uneg_f32", 4, (2, 2), {"inp": (1, 3)},
                                 {"inp": inp.ptr + 4, "out": out.ptr})
    assert out.numpy().tolist() == [-1.0, -4.0, -2.0, -5.0]
    # In-place affine with a strided info: the kernel reads out[i] (inp is null).
    rocsample.launch_elementwise("affine_f32", 4, (2, 2), {"inp": (1, 3)},
                                 {"inp": 0, "out": out.ptr}, {"mul": -1.0, "add": 1.0})
    assert gpu.rt.launches[-1][3]["info"] != 0
    assert out.numpy().tolist() == [2.0, 5.0, 3.0, 6.0]


@pytest.mark.parametrize("bad,match", [
    (dict(numel=1 << 32, dims=(1 << 32,)), "2\\^32"),
    (dict(numel=5, dims=(2, 2)), "not the product"),
    (dict(kernel="ugelu_i32"), "not one of Candle's"),
    (dict(kernel="where2_u8_f32"), "rocsample's own entry"),
    (dict(strides={"x": (1,)}), "strides given for"),
    (dict(pointers={"inp": 1}), "pointer 'out' is missing"),
])
def test_low_level_launcher_refuses_bad_calls(gpu, bad, match):
    call = dict(kernel="uexp_f32", numel=4, dims=(4,), strides={},
                pointers={"inp": 1, "out": 2})
    call.update(bad)
    with pytest.raises(ValueError, match=match):
        rocsample.launch_elementwise(**call)
    assert not gpu.rt.launches


def test_arguments_are_packed_by_name(gpu):
    call = gpu._begin(0)
    args = {"numel": 1, "num_dims": 1, "info": 0, "inp": 1, "out": 2}
    with pytest.raises(ValueError, match="missing argument out"):
        call.launch("uexp_f32", (1, 1), {k: v for k, v in args.items() if k != "out"})
    with pytest.raises(ValueError, match="unknown argument scale"):
        call.launch("uexp_f32", (1, 1), {**args, "scale": 2})
    assert not gpu.rt.launches


def test_device_input_on_the_cpu_backend_is_a_clear_error():
    class Dev:
        __cuda_array_interface__ = {"version": 3, "shape": (2,), "typestr": "<f4",
                                    "data": (4096, False), "strides": None}
    with pytest.raises(TypeError, match="cpu backend runs numpy only"):
        rocsample.unary("exp", Dev(), backend="cpu")


def test_a_layout_info_is_put_on_the_device_once(gpu, monkeypatch):
    from rocsample.backends import workspace

    base = upload(gpu, np.arange(24, dtype=np.float32).reshape(4, 6))
    t = Strided(base, (6, 4), (1, 6))  # transposed: info is not null
    first = rocsample.unary("neg", t)
    second = rocsample.unary("neg", t)
    (_, _, _, a1), (_, _, _, a2) = gpu.rt.launches
    assert a1["info"] == a2["info"] != 0  # one device copy serves both calls
    np.testing.assert_array_equal(second.numpy(), first.numpy())
    other = Strided(base, (3, 4), (1, 6))  # another layout: its own copy
    rocsample.unary("neg", other)
    assert gpu.rt.launches[-1][3]["info"] not in (0, a1["info"])
    assert len(gpu.memory._consts) == 2
    # Past the cap, a layout is uploaded for its call and freed behind it.
    monkeypatch.setattr(workspace, "_MAX_CONSTANTS", 2)
    live = gpu.rt.live_allocations
    got = rocsample.unary("neg", Strided(base, (2, 4), (1, 6)))
    flat = np.arange(24, dtype=np.float32)
    np.testing.assert_array_equal(got.numpy(), -flat[np.arange(2)[:, None] + 6 * np.arange(4)])
    assert len(gpu.memory._consts) == 2 and gpu.rt.live_allocations == live + 1  # the result only
    gpu.close()
    assert not gpu.memory._consts
