"""rocsample.unary / affine / where on numpy arrays (the numpy twin) for every layout case of
issue 20, against the reference of rocsample.ops.elementwise on a contiguous copy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import rocsample
from rocsample.ops import elementwise as ew

BASE = np.linspace(-2, 2, 48, dtype=np.float32).reshape(4, 12)
LAYOUTS = {
    "broadcast": lambda a: np.broadcast_to(a[:1, :5], (3, 5)),
    "size-1 dims": lambda a: a[1:2, :][:, None, ::1],
    "offset and strides": lambda a: a[:, 1:3],
    "transposed": lambda a: a.T,
    "empty": lambda a: a[:0],
    "0-d": lambda a: a[2, 3, ...],
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("op", ["copy", "exp", "round", "gelu_erf", "sign"])
def test_unary_layouts(layout, op):
    view = LAYOUTS[layout](BASE)
    got = rocsample.unary(op, view, backend="cpu")
    assert got.shape == view.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, ew.unary(op, np.ascontiguousarray(view)))


def test_unary_param_and_bf16():
    x = BASE[:, ::3]
    np.testing.assert_array_equal(rocsample.unary("elu", x, param=0.5),
                                  ew.unary("elu", np.ascontiguousarray(x), 0.5))
    with pytest.raises(ValueError, match="needs param"):
        rocsample.unary("powf", x)
    with pytest.raises(ValueError, match="takes no param"):
        rocsample.unary("exp", x, param=2.0)
    bits = ew.f32_to_bf16(BASE)
    got = rocsample.unary("tanh", bits.view(rocsample.BFLOAT16).T)
    assert got.dtype == rocsample.BFLOAT16
    np.testing.assert_array_equal(got.view(np.uint16),
                                  ew.unary("tanh", np.ascontiguousarray(bits.T), dtype="bf16"))


def test_affine_in_place_and_strided():
    x = BASE.copy()
    view = x[:, 1:4]
    want = ew.affine(np.ascontiguousarray(view), 3.0, -1.0)
    out = np.empty(view.shape, np.float32)
    assert rocsample.affine(view, 3.0, -1.0, out=out) is out
    np.testing.assert_array_equal(out, want)
    assert rocsample.affine(x, 2.0, 1.0, out=x) is x  # out=x: in place
    np.testing.assert_array_equal(x, ew.affine(BASE, 2.0, 1.0))
    with pytest.raises(ValueError, match="out must be"):
        rocsample.affine(x, 2.0, 1.0, out=np.empty(3, np.float32))


def test_where_three_layouts():
    cond = (np.arange(24) % 5 == 0).astype(np.uint32).reshape(4, 6)[:, ::2]
    t = np.broadcast_to(BASE[:1, :3], (4, 3))
    f = BASE[:, 2:5]
    got = rocsample.where(cond, t, f)
    np.testing.assert_array_equal(got, np.where(cond != 0, t, f))


def test_numel_of_2_pow_32_is_refused_before_anything_runs():
    with pytest.raises(ValueError, match="2\\^32"):
        rocsample.launch_elementwise("ucopy_u8", 1 << 32, (1 << 16, 1 << 16), {},
                                     {"inp": 1, "out": 2}, backend="cpu")


def test_recipe_grid_is_packed_only_where_the_kernel_reads_contiguously():
    from rocsample.ops.elementwise_ops import recipe

    def grid_info(*args):
        r = recipe(*args)
        (launch,) = r.launches
        return launch.grid, (r.constants or {}).get("info")

    n = 1 << 20
    grid, info = grid_info("uexp_f32", n, (n,), {}, {"inp": 4096, "out": 8192})
    assert info is None and grid == (n // (ew.BLOCK * 16), 1)
    grid, info = grid_info("uexp_f32", n, (1024, 1024), {"inp": (1, 1024)},
                           {"inp": 4096, "out": 8192})
    assert info is not None and grid == (n // (ew.BLOCK * 4), 1)
    # in place: the kernel reads out[i] whatever the layout, so the packed grid
    grid, info = grid_info("affine_f32", n, (1024, 1024), {"inp": (1, 1024)},
                           {"inp": 0, "out": 8192}, {"mul": 2, "add": 1})
    assert info is not None and grid == (n // (ew.BLOCK * 16), 1)
    grid, _ = grid_info("where_u8_bf16", n, (n,), {}, {"ids": 1, "t": 2, "f": 3, "out": 4})
    assert grid == (n // (ew.BLOCK * 16), 1)
    grid, _ = grid_info("where_u8_bf16", n, (1024, 1024), {"t": (0, 1)},
                        {"ids": 1, "t": 2, "f": 3, "out": 4})
    assert grid == (n // (ew.BLOCK * 4), 1)


def test_recipe_caps_only_a_row_walk_grid_by_the_multiprocessors():
    from rocsample.ops.elementwise_ops import recipe

    n, sms = 1 << 28, 132
    cap = ew.strided_grid_cap(sms)
    assert cap == ew.STRIDED_BLOCKS_PER_SM * sms

    def grid(kernel, dims, strides, sm_count=sms):
        ptrs = ({"ids": 1, "t": 2, "f": 3, "out": 4} if kernel.startswith("where")
                else {"inp": 4096, "out": 8192})
        scalars = {"mul": 2, "add": 1} if kernel.startswith("affine") else None
        return recipe(kernel, math.prod(dims), dims, strides, ptrs, scalars,
                      sm_count).launches[0].grid[0]

    # contiguous: never capped
    assert grid("uexp_f32", (n,), {}) == n // (ew.BLOCK * 16)
    # x[:, 1:]: the row walk, two tiles a block below the cap, the cap above it
    for kernel, u in (("uexp_bf16", 8), ("uexp_f32", 4), ("affine_f64", 2), ("ucopy_u8", 4)):
        assert ew.row_unroll(ew.DTYPES[kernel.split("_")[1]].storage.itemsize) == u
        assert grid(kernel, (n // 4096, 4096), {"inp": (4097, 1)}, None) == n // (256 * 2 * u)
        assert grid(kernel, (n // 4096, 4096), {"inp": (4097, 1)}) == cap, kernel
        small = (1 << 16) // 4096
        assert grid(kernel, (small, 4096), {"inp": (4097, 1)}) == (1 << 16) // (256 * 2 * u)
    # a transpose and where (no row walk): a thread per four elements, never capped
    assert grid("uexp_f32", (4096, n // 4096), {"inp": (1, 4096)}) == n // (ew.BLOCK * 4)
    assert grid("where_u8_f32", (n // 4096, 4096), {"t": (0, 1)}) == n // (ew.BLOCK * 4)
    # rows shorter than half a tile take the 2-dim walk
    assert not ew.takes_row_walk("uexp_bf16", (1 << 20, 1000), (1001, 1))
    assert grid("uexp_bf16", (1 << 18, 1000), {"inp": (1001, 1)}) == -(-1000 * (1 << 18) // 1024)
    with pytest.raises(ValueError, match="sm_count"):
        ew.strided_grid_cap(0)
    with pytest.raises(ValueError, match="max_grid"):
        ew.launch_geometry(10, max_grid=0)


# ---- out sharing memory with an operand (device arrays; the launch itself is recorded) ----

class _DeviceArray:
    """A device array as a producer describes it (``__cuda_array_interface__``): no memory
    behind it here, since nothing is launched."""

    def __init__(self, ptr, shape, strides_elems, typestr="<f4", readonly=False):
        item = np.dtype(typestr).itemsize
        self.__cuda_array_interface__ = {
            "version": 3, "shape": shape, "typestr": typestr, "data": (ptr, readonly),
            "strides": tuple(s * item for s in strides_elems)}


class _RecordingBackend:
    """Stands in for a GPU backend at the API's boundary: accepts every device array and
    records the recipes it would launch."""

    name, sm_count = "recording", 132

    def __init__(self):
        self.recipes = []

    def accepts(self, view):
        return True

    def has_companion(self, kernel):  # where2 is present, as in rocsample's code objects
        return True

    def launch_recipe(self, r, stream=None):
        self.recipes.append(r)


@pytest.fixture
def recorder(monkeypatch):
    from rocsample import api_elementwise

    b = _RecordingBackend()
    monkeypatch.setattr(api_elementwise, "get_backend", lambda backend, device: b)
    return b


P = 0x7F0000000000


def test_out_sharing_an_operands_memory_in_another_layout_is_refused(recorder):
    out = _DeviceArray(P, (4, 4), (4, 1))
    xt = _DeviceArray(P, (4, 4), (1, 4))  # out's own storage, transposed
    with pytest.raises(ValueError, match="out shares memory with x"):
        rocsample.unary("neg", xt, out=out)
    # affine took a same-address x for in place (a null inp: out read contiguously) and so
    # would have computed out * mul + add instead of x.T * mul + add
    with pytest.raises(ValueError, match="out shares memory with x"):
        rocsample.affine(xt, 2.0, 1.0, out=out)
    shifted = _DeviceArray(P + 4, (4, 4), (4, 1))  # overlapping, one element along
    with pytest.raises(ValueError, match="out shares memory with x"):
        rocsample.unary("exp", shifted, out=out)
    row = _DeviceArray(P + 8, (4, 4), (0, 1))  # a broadcast row inside out
    cond = _DeviceArray(P + 4096, (4, 4), (4, 1), "|u1")
    with pytest.raises(ValueError, match="out shares memory with on_false"):
        rocsample.where(cond, _DeviceArray(P + 8192, (4, 4), (4, 1)), row, out=out)
    bytes_of_out = _DeviceArray(P, (4, 4), (4, 1), "|u1")  # a condition in out's first bytes
    with pytest.raises(ValueError, match="out shares memory with cond"):
        rocsample.where(bytes_of_out, out, _DeviceArray(P + 8192, (4, 4), (4, 1)), out=out)
    assert recorder.recipes == []


def test_out_exactly_an_operand_or_apart_from_it_is_launched(recorder):
    out = _DeviceArray(P, (4, 4), (4, 1))
    assert rocsample.affine(out, 2.0, 1.0, out=out) is out  # in place: a null inp
    assert recorder.recipes[-1].launches[0].args["inp"] == 0
    assert rocsample.unary("neg", out, out=out) is out  # each element read, then written
    assert recorder.recipes[-1].launches[0].args["inp"] == P
    apart = _DeviceArray(P + 64, (4, 4), (1, 4))  # just past out's 64 bytes
    rocsample.unary("neg", apart, out=out)
    assert recorder.recipes[-1].launches[0].args["inp"] == P + 64
    cond = _DeviceArray(P + 4096, (4, 4), (4, 1), "|u1")
    rocsample.where(cond, out, _DeviceArray(P + 8192, (4,), (1,)), out=out)  # t is out
    assert len(recorder.recipes) == 4


def test_read_only_out_is_refused(recorder):
    x = _DeviceArray(P + 4096, (4, 4), (4, 1))
    with pytest.raises(ValueError, match="read-only"):
        rocsample.unary("neg", x, out=_DeviceArray(P, (4, 4), (4, 1), readonly=True))


def test_what_is_no_array_or_a_read_only_numpy_out_is_named():
    """numpy inputs compute in numpy; anything else must be a device array, so a list or a
    Python number is named as such (it used to be taken for a device array), and a
    read-only numpy out is refused before anything is written."""
    with pytest.raises(TypeError, match=r"^x must be an array \(numpy, torch, cupy, "
                                        r"DeviceBuffer\); got list$"):
        rocsample.unary("exp", [1.0, 2.0])
    with pytest.raises(TypeError, match="^on_true must be an array .* got float$"):
        rocsample.where(np.array([1, 0], np.uint8), 1.0, np.zeros(2, np.float32))
    ro = np.zeros(2, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="^out is read-only"):
        rocsample.affine(np.ones(2, np.float32), 2.0, 1.0, out=ro)

