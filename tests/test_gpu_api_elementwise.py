"""rocsample.unary / affine / where on torch tensors through the loader (registry rows, the
kernel cache, the generic executor), against the numpy backend, on the layouts of issue 20.
GPU machines only (marked gpu)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import rocsample
from rocsample.backends import get_backend
from rocsample.errors import BackendUnavailable
from rocsample.ops import elementwise as ew

pytestmark = pytest.mark.gpu
REQUIRE = os.environ.get("ROCSAMPLE_REQUIRE_GPU") == "1"


@pytest.fixture(scope="module")
def torch():
    try:
        import torch
    except ImportError as exc:
        (pytest.fail if REQUIRE else pytest.skip)(f"torch is not installed: {exc}")
    if not torch.cuda.is_available():
        (pytest.fail if REQUIRE else pytest.skip)("torch sees no GPU")
    try:
        get_backend()
    except BackendUnavailable as exc:
        (pytest.fail if REQUIRE else pytest.skip)(f"no GPU backend: {exc}")
    if get_backend().name == "cpu":
        (pytest.fail if REQUIRE else pytest.skip)("the default backend is cpu")
    return torch


def host(torch, t):
    """A torch tensor as numpy (bf16 as BFLOAT16 bits), same layout values, contiguous."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16).view(rocsample.BFLOAT16)
    return t.numpy()


def result(torch, got):
    t = torch.from_dlpack(got)
    torch.cuda.synchronize()
    return host(torch, t)


def layouts(torch, dtype):
    base = torch.linspace(-3, 3, 64 * 40, device="cuda").reshape(64, 40).to(dtype)
    return {
        "contiguous": base,
        "broadcast": base[:1, :7].expand(9, 7),
        "slice": base[:, 1:3],
        "transposed": base.t(),
        "size-1 dims": base[3:4].unsqueeze(1),
    }


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("layout", ["contiguous", "broadcast", "slice", "transposed",
                                    "size-1 dims"])
def test_unary_on_torch_layouts(torch, dtype, layout):
    x = layouts(torch, getattr(torch, dtype))[layout]
    for op in ("neg", "silu", "gelu"):
        got = result(torch, rocsample.unary(op, x))
        want = rocsample.unary(op, host(torch, x))
        if op == "neg":  # a sign-bit flip: exact
            np.testing.assert_array_equal(got, want)
        elif dtype == "bfloat16":
            np.testing.assert_allclose(ew.bf16_to_f32(got.view(np.uint16)),
                                       ew.bf16_to_f32(want.view(np.uint16)), rtol=1.6e-2,
                                       atol=1e-6)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_affine_in_place_on_torch(torch):
    x = torch.linspace(-1, 1, 1000, device="cuda")
    want = rocsample.affine(host(torch, x), 3.0, 0.25)
    assert rocsample.affine(x, 3.0, 0.25, out=x) is x
    torch.cuda.synchronize()
    np.testing.assert_allclose(host(torch, x), want, rtol=0, atol=1e-6)  # fma: <= 1 ulp


def test_where_with_three_layouts_on_torch(torch):
    cond = (torch.arange(12 * 8, device="cuda") % 3 == 0).to(torch.uint8).reshape(12, 8)[:, ::2]
    t = torch.randn(1, 4, device="cuda").expand(12, 4)
    f = torch.randn(14, 6, device="cuda")[1:13, 2:6]
    got = result(torch, rocsample.where(cond, t, f))
    np.testing.assert_array_equal(got, rocsample.where(host(torch, cond), host(torch, t),
                                                       host(torch, f)))


_SHORT = {"uint8": "u8", "bfloat16": "bf16", "float32": "f32", "float64": "f64"}


@pytest.mark.parametrize("dtype", ["uint8", "bfloat16", "float32", "float64"])
def test_row_walk_over_a_capped_grid(torch, dtype):
    """x[:, 1:] and a 3-d slice large enough that rocsample caps the row walk's grid
    (ew.strided_grid_cap: each block walks many tiles), rows not a multiple of a tile (the
    last tile of every row partial): every element exactly once, at its place."""
    from rocsample.ops.elementwise_ops import recipe

    sms = get_backend().sm_count
    dt = getattr(torch, dtype)
    kernel = f"ucopy_{_SHORT[dtype]}"
    tile = ew.BLOCK * ew.row_unroll(torch.empty((), dtype=dt).element_size())
    cols = tile + tile // 2 + 3  # two tiles a row, the second partial
    rows = 2 * (ew.strided_grid_cap(sms) * 3 // 4 + 1)  # about three tiles a block, even
    g = torch.Generator(device="cuda").manual_seed(7)
    src = torch.randint(0, 250, (rows, cols + 1), device="cuda", generator=g).to(dt)
    cases = {"x[:, 1:]": src[:, 1:],
             "3-d slice": src.reshape(rows // 2, 2, cols + 1)[:, :, 1:]}
    for name, x in cases.items():
        r = recipe(kernel, x.numel(), tuple(x.shape), {"inp": tuple(x.stride())},
                   {"inp": x.data_ptr(), "out": 1 << 20}, None, sms)
        assert r.launches[0].grid[0] == ew.strided_grid_cap(sms), name  # the capped grid
        view = x.reshape(rows, cols)  # the same elements in row-major order (a copy)
        got = result(torch, rocsample.unary("copy", x))
        np.testing.assert_array_equal(got.reshape(rows, cols), host(torch, view), err_msg=name)
        if dtype != "uint8":
            got = result(torch, rocsample.unary("neg", x))
            np.testing.assert_array_equal(got.reshape(rows, cols), host(torch, -view),
                                          err_msg=name)
