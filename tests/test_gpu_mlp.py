"""The MLP kernels on a real GPU through the loader (registry rows, kernel cache, generic
executor), against the numpy backend (rocsample.ops.mlp): the CPU suite's cases (hidden in
{8, 111, 769, 4096, 5125, 16384}, more rows than ceil(hidden / 256), an all-zero row, fp16
near 1e4, row stride 2 x hidden, misaligned rows for the scalar path, gate/up order, the
fused add writing the residual back), torch tensors in place, and one call of 2^31 bf16
elements (64-bit offsets). GPU machines only (marked gpu); ``make test-gpu`` (cuda) and
``make test-gpu-hip`` (hip-python on the hipshim) run it.

Agreement: the residual of the fused add is bit for bit (one rounding of an exact sum);
everything else within one unit in the last place of the element type (fp32: rtol 1e-5),
since the kernels sum squares in a float32 tree and the twin in float64.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import rocsample
from rocsample.backends import get_backend
from rocsample.buffers import BFLOAT16, DeviceBuffer
from rocsample.errors import BackendUnavailable
from rocsample.ops import mlp

from .test_executor import Strided
from .test_mlp import _ordered, make, wide

pytestmark = pytest.mark.gpu
REQUIRE = os.environ.get("ROCSAMPLE_REQUIRE_GPU") == "1"
HIDDEN = [8, 111, 769, 4096, 5125, 16384]
DTYPES = ["f32", "f16", "bf16"]


def _skip(reason: str) -> None:
    (pytest.fail if REQUIRE else pytest.skip)(reason)


@pytest.fixture(scope="module")
def gpu():
    try:
        b = get_backend()
    except BackendUnavailable as exc:
        _skip(f"no GPU backend: {exc}")
    if b.name == "cpu":
        _skip("the default backend is cpu")
    return b


def dev(b, a: np.ndarray, dtype: str) -> DeviceBuffer:
    return DeviceBuffer.from_numpy(b.rt, a.view(BFLOAT16) if dtype == "bf16" else a)


def back(buf, dtype: str) -> np.ndarray:
    a = buf.numpy()
    return a.view(np.uint16) if dtype == "bf16" else a


def assert_near(got: np.ndarray, want: np.ndarray, dtype: str) -> None:
    """Within one ulp of the numpy backend (fp32: rtol 1e-5)."""
    assert np.isfinite(wide(got, dtype)).all()
    if dtype == "f32":
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-30)
        return
    bits = (lambda a: a.view(np.uint16)) if dtype == "f16" else (lambda a: a)
    diff = np.abs(_ordered(bits(got), 16) - _ordered(bits(want), 16))
    assert diff.max() <= 1, f"{int((diff > 1).sum())} of {diff.size} values > 1 ulp off"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_rms_norm_every_row(gpu, dtype, hidden):
    rng = np.random.default_rng(hidden)
    rows = -(-hidden // 256) + 5
    x, w = make((rows, hidden), dtype, rng), make((hidden,), dtype, rng)
    x[2] = 0
    for gemma in (False, True):
        got = back(rocsample.rms_norm(dev(gpu, x, dtype), dev(gpu, w, dtype), gemma=gemma),
                   dtype)
        assert_near(got, mlp.rms_norm(x, w, 1e-6, float(gemma), dtype), dtype)
        assert not wide(got[2], dtype).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_swiglu_and_silu_and_mul(gpu, dtype, hidden):
    rng = np.random.default_rng(50 + hidden)
    rows = 7
    g, u = make((rows, hidden), dtype, rng, 4.0), make((rows, hidden), dtype, rng)
    want = mlp.swiglu(g, u, dtype)
    assert_near(back(rocsample.swiglu(dev(gpu, g, dtype), dev(gpu, u, dtype)), dtype), want,
                dtype)
    both = np.concatenate([g, u], axis=1)
    assert_near(back(rocsample.silu_and_mul(dev(gpu, both, dtype)), dtype), want, dtype)
    swapped = back(rocsample.swiglu(dev(gpu, u, dtype), dev(gpu, g, dtype)), dtype)
    assert_near(swapped, mlp.swiglu(u, g, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [8, 769, 4096, 5125])
def test_fused_add_writes_the_residual_back(gpu, dtype, hidden):
    rng = np.random.default_rng(90 + hidden)
    rows = -(-hidden // 256) + 5
    x, r = make((rows, hidden), dtype, rng), make((rows, hidden), dtype, rng)
    w = make((hidden,), dtype, rng)
    xd, rd = dev(gpu, x, dtype), dev(gpu, r, dtype)
    rocsample.fused_add_rms_norm(xd, rd, dev(gpu, w, dtype))
    y, new_r = mlp.fused_add_rms_norm(x, r, w, 1e-6, 0.0, dtype)
    np.testing.assert_array_equal(back(rd, dtype), new_r)
    assert_near(back(xd, dtype), y, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [8, 64, 136, 2048, 4096])
def test_several_rows_a_block(gpu, dtype, hidden):
    """Short rows share a block (mlp.norm_threads, mlp.rms_norm_launch, mlp.swiglu_launch:
    up to 64 rows a block of 512): row counts just below, at and above a block's tile and a
    grid of several tiles, so the last tile has rows past the end (they must take part in
    the reductions and write nothing); calls of few rows (a block of one row's threads) and
    of more than two rows an SM (blocks of 512, rms_norm streaming several tiles a block)."""
    rng = np.random.default_rng(7 + hidden)
    per = mlp.BLOCK // mlp.norm_threads(hidden, dtype)
    many = 2 * gpu.sm_count + 1
    for rows in sorted({1, max(1, per - 1), per, per + 1, 3 * per + 5, many, many + per + 3,
                        2 * gpu.sm_count * per + 3 * per + 1}):
        x, r, w = (make((rows, hidden), dtype, rng), make((rows, hidden), dtype, rng),
                   make((hidden,), dtype, rng))
        got = back(rocsample.rms_norm(dev(gpu, x, dtype), dev(gpu, w, dtype)), dtype)
        assert_near(got, mlp.rms_norm(x, w, 1e-6, 0.0, dtype), dtype)
        xd, rd = dev(gpu, x, dtype), dev(gpu, r, dtype)
        rocsample.fused_add_rms_norm(xd, rd, dev(gpu, w, dtype))
        y, new_r = mlp.fused_add_rms_norm(x, r, w, 1e-6, 0.0, dtype)
        np.testing.assert_array_equal(back(rd, dtype), new_r)
        assert_near(back(xd, dtype), y, dtype)
        got = back(rocsample.swiglu(dev(gpu, x, dtype), dev(gpu, r, dtype)), dtype)
        assert_near(got, mlp.swiglu(x, r, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [2040, 2048, 2056, 4096, 4104, 8192, 8200, 16384, 16392])
def test_both_rms_norm_paths_at_their_boundary(gpu, dtype, hidden):
    """A row of at most 2 x 512 16-byte groups is held in registers two groups a thread,
    rms_norm's rows of up to 4 x 512 four a thread, longer rows (the fused add's past 2 x
    512) take two passes (kernels/rms_norm.hip): both sides of each dtype's limits, with a
    tail of hidden % (16 / size) elements; the smaller sizes straddle the threads-a-row
    steps (mlp.norm_threads). Rows: more than two an SM, so that blocks of 512 take several
    rows (few rows get a block of their own)."""
    rng = np.random.default_rng(hidden + 1)
    rows = 2 * gpu.sm_count + 5
    x, r, w = (make((rows, hidden), dtype, rng), make((rows, hidden), dtype, rng),
               make((hidden,), dtype, rng))
    got = back(rocsample.rms_norm(dev(gpu, x, dtype), dev(gpu, w, dtype)), dtype)
    assert_near(got, mlp.rms_norm(x, w, 1e-6, 0.0, dtype), dtype)
    xd, rd = dev(gpu, x, dtype), dev(gpu, r, dtype)
    rocsample.fused_add_rms_norm(xd, rd, dev(gpu, w, dtype))
    y, new_r = mlp.fused_add_rms_norm(x, r, w, 1e-6, 0.0, dtype)
    np.testing.assert_array_equal(back(rd, dtype), new_r)
    assert_near(back(xd, dtype), y, dtype)


@pytest.mark.parametrize("kernel", ["rms_norm", "fused_add_rms_norm", "swiglu",
                                    "swiglu_kernel", "rms_norm_kernel",
                                    "fused_add_rms_norm_kernel"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_any_grid_and_block_writes_every_row(gpu, kernel, dtype):
    """The kernels' loops cover every row and element whatever the grid and block (their
    ABI): the general entries' launches re-run with grids of one to three blocks and blocks
    of 32 to 512 threads, at shapes on each path (two and four groups a thread, two passes,
    element by element), so one block streams many tiles (rms_norm loads a row ahead while
    it writes one); the compact entry the recipe picks (row, flat), where it does, with the
    same grids and its own block or a wider one. "*_kernel": the entries that take the type
    as a run-time code (rocsample's recipes never launch them; the ABI has them)."""
    from rocsample.backends.recipe import Launch, Recipe

    rng = np.random.default_rng(11)
    # (rows, hidden), grid, block: two groups a thread; the same at 512; four (rms_norm) at
    # C = the block, 256; two passes; element by element (a row of 111 is not 16 bytes).
    cases = [((300, 136), (1, 1), 32), ((97, 2048), (3, 1), 512), ((41, 6000), (2, 2), 256),
             ((9, 16392), (1, 3), 64), ((50, 111), (2, 1), 128)]
    for (rows, hidden), grid, block in cases:
        x, r, w = (make((rows, hidden), dtype, rng), make((rows, hidden), dtype, rng),
                   make((hidden,), dtype, rng))
        xd, rd, wd = dev(gpu, x, dtype), dev(gpu, r, dtype), dev(gpu, w, dtype)
        out = DeviceBuffer(gpu.rt, (rows, hidden), xd.dtype)
        generic = kernel.endswith("_kernel")
        name = kernel.removesuffix("_kernel")
        if name == "swiglu":
            rec = mlp.swiglu_recipe(dtype, rows, hidden, {"gate": xd.ptr, "up": rd.ptr,
                                                          "out": out.ptr},
                                    {"gate": hidden, "up": hidden, "out": hidden})
        else:
            rec = _norm_recipe(name, dtype, rows, hidden, xd, rd, wd, out)
        launch = rec.launches[0]
        general = mlp.entry(name, dtype)
        runs = [(general, block)]
        if generic:
            runs = [(kernel, block)]
        elif launch.kernel != general:  # a compact entry: at least its own block
            runs.append((launch.kernel, max(block, launch.block)))
        for entry, threads in runs:
            args = dict(launch.args)
            if generic:
                args["dtype"] = mlp.DTYPE_CODES[dtype]
            gy = 1 if name != "swiglu" else grid[1]
            xd.copy_from(x.view(BFLOAT16) if dtype == "bf16" else x)
            rd.copy_from(r.view(BFLOAT16) if dtype == "bf16" else r)
            gpu.launch_recipe(Recipe(rec.op, (), {}, None,
                                     [Launch(entry, (grid[0], gy), args, block=threads)]))
            if name == "fused_add_rms_norm":
                y, new_r = mlp.fused_add_rms_norm(x, r, w, 1e-6, 0.0, dtype)
                np.testing.assert_array_equal(back(rd, dtype), new_r)
                assert_near(back(xd, dtype), y, dtype)
            elif name == "rms_norm":
                assert_near(back(out, dtype), mlp.rms_norm(x, w, 1e-6, 0.0, dtype), dtype)
            else:
                assert_near(back(out, dtype), mlp.swiglu(x, r, dtype), dtype)


def _norm_recipe(op: str, dtype: str, rows: int, hidden: int, xd, rd, wd, out,
                 weight_offset: float = 0.0):
    """rocsample's recipe of ``op`` (rms_norm: x -> out; the fused add: x and the residual
    rd in place) over contiguous device rows, eps 1e-6."""
    if op == "rms_norm":
        return mlp.rms_norm_recipe(dtype, rows, hidden,
                                   {"x": xd.ptr, "weight": wd.ptr, "out": out.ptr},
                                   {"x": hidden, "out": hidden}, 1e-6, weight_offset)
    return mlp.fused_add_rms_norm_recipe(dtype, rows, hidden,
                                         {"x": xd.ptr, "residual": rd.ptr, "weight": wd.ptr},
                                         {"x": hidden, "residual": hidden}, 1e-6,
                                         weight_offset)


def _run(gpu, op: str, entry: str, grid, block, args) -> None:
    from rocsample.backends.recipe import Launch, Recipe

    gpu.launch_recipe(Recipe(op, (), {}, None, [Launch(entry, grid, args, block=block)]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_compact_entries_are_the_general_ones_bit_for_bit(gpu, dtype):
    """The row entries (one, two, four and eight groups a thread) and the flat entry write
    the same bytes as the general entries, each launched by its own grid rule, on the same
    operands: rows of 1, 2 x BLOCK, 4 x BLOCK and 8 x BLOCK groups (1024, 2048, 4096) and
    between, odd row counts, Gemma's weight offset, the fused add's residual; silu_and_mul's
    halves. The recipe picks which one runs, so a call's result must not depend on it (its
    rows)."""
    rng = np.random.default_rng(23)
    n = 4 if dtype == "f32" else 8
    for groups, rows in ((1, 5), (33, 7), (700, 3), (1024, 129), (1025, 9), (1500, 1),
                         (2048, 127), (2049, 3), (4096, 130)):
        hidden = groups * n
        x, r, w = (make((rows, hidden), dtype, rng), make((rows, hidden), dtype, rng),
                   make((hidden,), dtype, rng))
        xd, rd, wd = dev(gpu, x, dtype), dev(gpu, r, dtype), dev(gpu, w, dtype)
        out = DeviceBuffer(gpu.rt, (rows, hidden), xd.dtype)
        for fused in (False, True):
            op = "fused_add_rms_norm" if fused else "rms_norm"
            rec = _norm_recipe(op, dtype, rows, hidden, xd, rd, wd, out, 1.0)
            args = rec.launches[0].args
            # every compact entry whose rows these are: one group a thread and two up to
            # 2 x BLOCK groups, four up to 4 x BLOCK, eight up to 8 x BLOCK
            rows_of = {"_row1": 2 * mlp.BLOCK, "_row2": 2 * mlp.BLOCK, "_row4": mlp.ROW_GROUPS,
                       "_row8": mlp.ROW8_GROUPS, "_row8d": mlp.ROW8_GROUPS}
            compact = [f"{op}{s}_{dtype}" for s in mlp.COMPACT[op] if groups <= rows_of[s]]
            assert compact and mlp.rms_norm_entry(1, hidden, dtype, True, fused) in compact
            results = []
            for entry in (mlp.entry(op, dtype), *compact):
                grid, block = (mlp.rms_norm_row_launch(rows, hidden, dtype, "_row1" in entry)
                               if "_row" in entry
                               else mlp.rms_norm_launch(rows, hidden, dtype, gpu.sm_count,
                                                        fused))
                xd.copy_from(x.view(BFLOAT16) if dtype == "bf16" else x)
                rd.copy_from(r.view(BFLOAT16) if dtype == "bf16" else r)
                _run(gpu, op, entry, grid, block, args)
                results.append((back(xd, dtype), back(rd, dtype), back(out, dtype)))
            for entry, other in zip(compact, results[1:], strict=True):
                for a, b in zip(results[0], other, strict=True):
                    np.testing.assert_array_equal(a, b, err_msg=f"{entry}: {rows} x {groups}")
        both = make((rows, 2 * hidden), dtype, rng, 3.0)
        bd = dev(gpu, both, dtype)
        item = 4 if dtype == "f32" else 2
        args = {"gate": bd.ptr, "up": bd.ptr + hidden * item, "out": out.ptr, "rows": rows,
                "d": hidden, "gate_stride": 2 * hidden, "up_stride": 2 * hidden,
                "out_stride": hidden}
        results = []
        for entry in (mlp.entry("swiglu", dtype), f"swiglu_flat_{dtype}"):
            grid, block = (mlp.swiglu_flat_launch(rows, hidden, dtype) if "_flat" in entry
                           else mlp.swiglu_launch(rows, hidden, dtype, gpu.sm_count))
            _run(gpu, "swiglu", entry, grid, block, args)
            results.append(back(out, dtype))
        np.testing.assert_array_equal(*results)
        assert_near(results[1], mlp.silu_and_mul(both, dtype), dtype)


@pytest.mark.parametrize("op", ["rms_norm", "fused_add_rms_norm"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_run_time_type_entries_are_the_typed_ones_bit_for_bit(gpu, op, dtype):
    """``rms_norm_kernel`` and ``fused_add_rms_norm_kernel`` write the bytes of the typed
    general entry of their ``dtype`` (same grid, same block, same operands), although their
    f16 and bf16 bodies take fewer paths than the typed entries (kernels/rms_norm.hip, LEAN:
    rms_norm without the row stream and the four-group path, the fused add on the two-pass
    path): rows of two groups a thread streamed by a block (grid smaller than the tiles),
    four groups a thread, two passes, element by element (rows not 16 bytes), with blocks of
    64 to 512 threads and Gemma's weight offset."""
    from rocsample.backends.recipe import Launch, Recipe

    rng = np.random.default_rng(29)
    n = 4 if dtype == "f32" else 8
    # (rows, hidden), grid, block: two groups a thread over many tiles of a few blocks; the
    # same at one block a tile; four groups a thread at C = 512; two passes (over 4 x 512
    # groups); two passes of the fused add (over 2 x 512 groups); element by element
    cases = [((300, 96 * n), (3, 1), 512), ((64, 300 * n), (64, 1), 512),
             ((40, 1500 * n), (40, 1), 512), ((9, 2100 * n), (2, 1), 256),
             ((33, 1100 * n), (5, 1), 512), ((50, 111), (4, 1), 64)]
    for (rows, hidden), grid, block in cases:
        x, r, w = (make((rows, hidden), dtype, rng), make((rows, hidden), dtype, rng),
                   make((hidden,), dtype, rng))
        xd, rd, wd = dev(gpu, x, dtype), dev(gpu, r, dtype), dev(gpu, w, dtype)
        out = DeviceBuffer(gpu.rt, (rows, hidden), xd.dtype)
        rec = _norm_recipe(op, dtype, rows, hidden, xd, rd, wd, out, 1.0)
        args = rec.launches[0].args
        results = []
        for entry, extra in ((mlp.entry(op, dtype), {}),
                             (f"{op}_kernel", {"dtype": mlp.DTYPE_CODES[dtype]})):
            xd.copy_from(x.view(BFLOAT16) if dtype == "bf16" else x)
            rd.copy_from(r.view(BFLOAT16) if dtype == "bf16" else r)
            out.copy_from(np.zeros((rows, hidden), x.dtype).view(xd.dtype))
            gpu.launch_recipe(Recipe(rec.op, (), {}, None,
                                     [Launch(entry, grid, {**args, **extra}, block=block)]))
            results.append((back(xd, dtype), back(rd, dtype), back(out, dtype)))
        for a, b in zip(*results, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"{op} {dtype} {rows} x {hidden}")
        got = results[1][2] if op == "rms_norm" else results[1][0]
        want = (mlp.rms_norm(x, w, 1e-6, 1.0, dtype) if op == "rms_norm"
                else mlp.fused_add_rms_norm(x, r, w, 1e-6, 1.0, dtype)[0])
        assert_near(got, want, dtype)


@pytest.mark.parametrize("dtype", ["f32", "f16"])  # bf16: no array interface; see torch's
@pytest.mark.parametrize("stride,offset", [(2, 0), (1, 1), (None, 0)])
def test_strided_and_misaligned_rows(gpu, dtype, stride, offset):
    """Row stride 2 x hidden (16-byte path), and rows that start off a 16-byte boundary
    (offset 1, or a stride of hidden + 1: the element path)."""
    rng = np.random.default_rng(7)
    hidden, rows = 769 if stride != 2 else 768, 11
    row = 2 * hidden if stride == 2 else hidden + 1 if stride is None else hidden
    flat = make((rows * row + 8,), dtype, rng)
    w = make((hidden,), dtype, rng)
    buf = dev(gpu, flat, dtype)
    x = Strided(buf, (rows, hidden), (row, 1), offset)
    xs = np.lib.stride_tricks.as_strided(flat[offset:], (rows, hidden),
                                         (row * flat.itemsize, flat.itemsize))
    got = back(rocsample.rms_norm(x, dev(gpu, w, dtype)), dtype)
    assert_near(got, mlp.rms_norm(xs.copy(), w, 1e-6, 0.0, dtype), dtype)
    got = back(rocsample.swiglu(x, x), dtype)
    assert_near(got, mlp.swiglu(xs.copy(), xs.copy(), dtype), dtype)


def test_fp16_near_1e4(gpu):
    rng = np.random.default_rng(3)
    x = (1e4 * (1 + 0.01 * rng.standard_normal((9, 4096)))).astype(np.float16)
    w = make((4096,), "f16", rng)
    got = back(rocsample.rms_norm(dev(gpu, x, "f16"), dev(gpu, w, "f16")), "f16")
    assert_near(got, mlp.rms_norm(x, w), "f16")


def test_profile_times_the_kernels_with_gb_per_second(gpu):
    x = DeviceBuffer.from_numpy(gpu.rt, np.ones((1024, 4096), np.float32))
    w = DeviceBuffer.from_numpy(gpu.rt, np.ones(4096, np.float32))
    with rocsample.profile() as prof:
        for _ in range(3):
            rocsample.rms_norm(x, w)
            rocsample.swiglu(x, x)
            rocsample.fused_add_rms_norm(x, DeviceBuffer.from_numpy(gpu.rt, np.zeros(
                (1024, 4096), np.float32)), w)
    s = prof.summary()
    # the entries the recipes pick (1024 rows of 1024 groups: rms_norm's general entry, the
    # fused add's row entry, the flat SwiGLU), under their own names
    names = (mlp.rms_norm_entry(1024, 4096, "f32", True), mlp.swiglu_entry(4096, "f32", True),
             mlp.rms_norm_entry(1024, 4096, "f32", True, fused=True))
    assert names == ("rms_norm_f32", "swiglu_flat_f32", "fused_add_rms_norm_row2_f32")
    for k in names:
        assert s[k]["calls"] == 3 and s[k]["gb_s"] > 0, s
    print(prof.table())


@pytest.fixture(scope="module")
def torch(gpu):
    try:
        import torch
    except ImportError as exc:
        _skip(f"torch is not installed: {exc}")
    if not torch.cuda.is_available():
        _skip("torch sees no GPU")
    return torch


def test_torch_tensors_in_place(torch):
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(4, 3, 2 * 1000, device="cuda", dtype=torch.bfloat16, generator=g)
    ref = torch.nn.functional.silu(x[..., :1000].float()) * x[..., 1000:].float()
    out = torch.empty(4, 3, 1000, device="cuda", dtype=torch.bfloat16)
    assert rocsample.silu_and_mul(x, out=out) is out
    torch.testing.assert_close(out.float(), ref, rtol=2**-7, atol=1e-6)
    h = torch.randn(33, 4096, device="cuda", dtype=torch.bfloat16, generator=g)
    res = torch.randn(33, 4096, device="cuda", dtype=torch.bfloat16, generator=g)
    w = torch.randn(4096, device="cuda", dtype=torch.bfloat16, generator=g)
    summed = (h.float() + res.float()).to(torch.bfloat16)
    want = summed.float() * torch.rsqrt(summed.float().pow(2).mean(-1, keepdim=True) + 1e-6)
    rocsample.fused_add_rms_norm(h, res, w)
    torch.cuda.synchronize()
    assert torch.equal(res, summed)
    torch.testing.assert_close(h.float(), (want * w.float()), rtol=2**-7, atol=1e-5)
    y = torch.randn(64, 4096, device="cuda", dtype=torch.float16, generator=g)[:, ::1]
    got = torch.from_dlpack(rocsample.rms_norm(y, w.to(torch.float16), gemma=True))
    want = y.float() * torch.rsqrt(y.float().pow(2).mean(-1, keepdim=True) + 1e-6) * (
        1 + w.float())
    torch.testing.assert_close(got.float(), want, rtol=2**-10, atol=1e-4)


def _bits(torch, t):
    return t.contiguous().cpu().view(torch.int16).numpy().view(np.uint16)


@pytest.mark.parametrize("start,row", [(0, 2 * 769), (1, 769 + 7), (0, 770)])
def test_torch_bf16_strided_and_misaligned(torch, start, row):
    """bf16 rows at a stride of 2 x hidden, starting one element off 16 bytes, or at a
    stride that leaves every other row unaligned (the element path)."""
    hidden, rows = 769, 13
    g = torch.Generator(device="cuda").manual_seed(start + row)
    big = torch.randn(rows, row, device="cuda", dtype=torch.bfloat16, generator=g)
    x = big[:, start:start + hidden]
    w = torch.randn(hidden, device="cuda", dtype=torch.bfloat16, generator=g)
    xb, wb = _bits(torch, x), _bits(torch, w)
    got = torch.from_dlpack(rocsample.rms_norm(x, w))
    assert_near(_bits(torch, got), mlp.rms_norm(xb, wb, 1e-6, 0.0, "bf16"), "bf16")
    got = torch.from_dlpack(rocsample.swiglu(x, x))
    assert_near(_bits(torch, got), mlp.swiglu(xb, xb, "bf16"), "bf16")
    res = torch.randn(rows, hidden, device="cuda", dtype=torch.bfloat16, generator=g)
    rb = _bits(torch, res)
    rocsample.fused_add_rms_norm(x, res, w)
    y, new_r = mlp.fused_add_rms_norm(xb, rb, wb, 1e-6, 0.0, "bf16")
    np.testing.assert_array_equal(_bits(torch, res), new_r)
    assert_near(_bits(torch, x), y, "bf16")


def test_two_to_the_31_bf16_elements(torch):
    """rows x hidden = 2^31 (4 GiB a bf16 array): byte offsets past 2^32 and element offsets
    past 2^31; rows spot-checked against the numpy backend, first, last and random ones.
    The general rms_norm entry (rows of 2048 groups), the row entry (the same elements as
    rows of 512 groups) and the flat SwiGLU entry."""
    rows, hidden = 1 << 17, 1 << 14
    g = torch.Generator(device="cuda").manual_seed(1)
    x = torch.randn(rows, hidden, device="cuda", dtype=torch.bfloat16, generator=g)
    w = torch.randn(hidden, device="cuda", dtype=torch.bfloat16, generator=g)
    out = torch.from_dlpack(rocsample.rms_norm(x, w))
    pick = torch.tensor([0, 1, rows // 2, rows - 2, rows - 1]
                        + torch.randint(0, rows, (11,), generator=g, device="cuda").tolist(),
                        device="cuda")

    def bits(t):
        return _bits(torch, t)

    xw, ww = bits(x[pick]), bits(w)
    assert_near(bits(out[pick]), mlp.rms_norm(xw, ww, 1e-6, 0.0, "bf16"), "bf16")
    del out
    # rows of 4096 (512 groups): the row entry, the same 2^31 elements
    x2, w2 = x.view(4 * rows, hidden // 4), w[: hidden // 4].contiguous()
    assert mlp.rms_norm_entry(4 * rows, hidden // 4, "bf16", True) == "rms_norm_row2_bf16"
    out = torch.from_dlpack(rocsample.rms_norm(x2, w2))
    pick2 = torch.cat([pick, 4 * rows - 1 - pick])
    assert_near(bits(out[pick2]), mlp.rms_norm(bits(x2[pick2]), bits(w2), 1e-6, 0.0, "bf16"),
                "bf16")
    del out
    s = torch.from_dlpack(rocsample.swiglu(x, x))
    assert_near(bits(s[pick]), mlp.swiglu(xw, xw, "bf16"), "bf16")
