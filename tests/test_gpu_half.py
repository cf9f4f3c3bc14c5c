"""GPU tests of half-precision logits (issue 21, point 3), run by `make test-gpu`.

softmax, temperature_scale and sample_from_logits read float16/bfloat16 logits in place (the
_f16/_bf16 entries of sampling_utils.hip) and compute in float32 on the exactly widened
values, so on the same GPU they must give bit for bit the float32 entries' results for the
widened logits: the same float32 values, the same tokens. Checked at the vocabularies engines
use, one block a row and G blocks a row, from numpy and from torch bf16/fp16 CUDA tensors (no
copy: the kernels get the tensor's pointer). The same for half-precision probabilities through
every sampling path (the _f16/_bf16 entries of the engine modules).
Skips with the reason where no GPU backend starts (as tests/test_gpu.py).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import rocsample
from rocsample.backends import get_backend
from rocsample.buffers import BFLOAT16
from rocsample.buffers.dtypes import widen_to_f32
from rocsample.errors import BackendUnavailable

pytestmark = pytest.mark.gpu
REQUIRE = os.environ.get("ROCSAMPLE_REQUIRE_GPU") == "1"


@pytest.fixture(scope="module")
def gpu():
    choice = os.environ.get("ROCSAMPLE_BACKEND", "auto")
    kinds = [choice] if choice in ("hip", "cuda") else ["hip", "cuda"]
    reasons = []
    for kind in kinds:
        try:
            return get_backend(kind)
        except BackendUnavailable as exc:
            reasons.append(str(exc))
    if REQUIRE:
        pytest.fail("no GPU backend: " + "; ".join(reasons))
    pytest.skip("no GPU backend: " + "; ".join(reasons))


def _half(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "f16":
        return x.astype(np.float16)
    return (x.view(np.uint32) >> np.uint32(16)).astype(np.uint16).view(BFLOAT16)


VOCABS = [32000, 128256, 151936, 262144]


@pytest.mark.parametrize("kind", ["f16", "bf16"])
@pytest.mark.parametrize("vocab", VOCABS)
@pytest.mark.parametrize("rows", [3, 200])  # G blocks a row (two softmax launches); one
def test_half_logits_equal_the_widened_float32_exactly(gpu, kind, vocab, rows):
    rng = np.random.default_rng(vocab + rows)
    x = (rng.standard_normal((rows, vocab)) * 4).astype(np.float32)
    x[0, ::101] = -np.inf
    half = _half(x, kind)
    wide = widen_to_f32(half)
    for t in (1.0, 0.7, 0.0):
        for op in (rocsample.softmax, rocsample.temperature_scale):
            got = op(half, t, backend=gpu.name)
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, op(wide, t, backend=gpu.name))
    for kw in ({}, dict(top_k=50), dict(top_p=0.9), dict(top_k=50, top_p=0.9, min_p=0.05)):
        for seed in (1, np.arange(rows)):
            got = rocsample.sample_from_logits(half, temperature=0.8, seed=seed, offset=5,
                                               backend=gpu.name, **kw)
            want = rocsample.sample_from_logits(wide, temperature=0.8, seed=seed, offset=5,
                                                backend=gpu.name, **kw)
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_torch_half_tensors_are_read_in_place(gpu, dtype):
    torch = pytest.importorskip("torch")
    if gpu.name != "cuda" or not torch.cuda.is_available():
        pytest.skip("torch CUDA tensors need the cuda backend")
    rows, vocab = 64, 128256
    g = torch.Generator(device="cuda").manual_seed(0)
    logits = (torch.randn((rows, vocab), device="cuda", generator=g) * 3).to(getattr(torch,
                                                                                 dtype))
    wide = logits.float()
    probs = torch.from_dlpack(rocsample.softmax(logits, 0.9))
    np.testing.assert_array_equal(probs.cpu().numpy(),
                                  torch.from_dlpack(rocsample.softmax(wide, 0.9)).cpu().numpy())
    a = torch.from_dlpack(rocsample.sample_from_logits(logits, temperature=0.9, top_k=40,
                                                       seed=3))
    b = torch.from_dlpack(rocsample.sample_from_logits(wide, temperature=0.9, top_k=40, seed=3))
    assert torch.equal(a, b)
    # A padded row stride (a slice of a wider tensor) is read in place too.
    wider = torch.zeros((rows, vocab + 8), device="cuda", dtype=logits.dtype)
    wider[:, :vocab] = logits
    c = torch.from_dlpack(rocsample.sample_from_logits(wider[:, :vocab], temperature=0.9,
                                                       top_k=40, seed=3))
    assert torch.equal(a, c)


def test_ml_dtypes_bfloat16_host_arrays(gpu):
    """A numpy ``ml_dtypes.bfloat16`` array goes up as its bits: softmax's bf16 result comes
    back in the input's own type, equal to the BFLOAT16 array's bit for bit, and
    sample_from_logits draws the widened float32 tokens (before session 38 the upload
    refused it: "unsupported dtype '<V2'")."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(21)
    half = _half((rng.standard_normal((5, 128256)) * 3).astype(np.float32), "bf16")
    ml = half.view(np.uint16).view(ml_dtypes.bfloat16)
    probs = rocsample.softmax(ml, 0.8, out_dtype=ml_dtypes.bfloat16, backend=gpu.name)
    assert probs.dtype == ml.dtype
    want = rocsample.softmax(half, 0.8, out_dtype=BFLOAT16, backend=gpu.name)
    np.testing.assert_array_equal(probs.view(np.uint16), want.view(np.uint16))
    got = rocsample.sample_from_logits(ml, temperature=0.8, top_k=50, seed=2,
                                       backend=gpu.name)
    np.testing.assert_array_equal(got, rocsample.sample_from_logits(
        widen_to_f32(half), temperature=0.8, top_k=50, seed=2, backend=gpu.name))


PATHS = [("auto", {}), ("topk", dict(top_k=50)), ("fused", dict(top_k=500)),
         ("topp", dict(top_p=0.9)), ("fused", dict(top_p=0.9)),
         ("fused", dict(top_k=50, top_p=0.9, min_p=0.02)), ("fused", dict(min_p=0.05))]


@pytest.mark.parametrize("kind", ["f16", "bf16"])
@pytest.mark.parametrize("vocab", VOCABS)
@pytest.mark.parametrize("rows", [1, 5, None])  # None: more rows than SMs, one block a row
def test_half_probs_draw_the_widened_float32_tokens(gpu, kind, vocab, rows):
    rows = rows or gpu.sm_count + 3
    rng = np.random.default_rng(vocab + rows + 1)
    from rocsample.backends import cpu_engine

    p32 = cpu_engine.softmax((rng.standard_normal((rows, vocab)) * 3).astype(np.float32))
    half = _half(p32, kind)
    wide = widen_to_f32(half)
    for method, kw in PATHS:
        for seed in (3, np.arange(rows)):
            got = rocsample.sample(half, seed=seed, offset=1, method=method,
                                   backend=gpu.name, **kw)
            want = rocsample.sample(wide, seed=seed, offset=1, method=method,
                                    backend=gpu.name, **kw)
            np.testing.assert_array_equal(got, want, err_msg=f"{method} {kw}")


@pytest.mark.parametrize("kind", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("rows", [9, None])  # G blocks a row; None: one block a row
def test_signed_zeros_and_bad_values_in_every_sub_chunk_position(gpu, kind, rows):
    """The plain scan's sub-chunk maxima take the largest raw bit pattern and fall back to
    the keys one by one when it is a sign bit, Inf or NaN (kernels/rs_engine_block.h
    rs_held_max; on sm_90 two packed 2-byte values an instruction): -0.0 beside positive
    values in one sub-chunk of a row (valid: it weighs 0), a row of signed and unsigned zeros
    only (no mass: -1), a negative value, +Inf or NaN in the last sub-chunk (-1), and rows
    whose largest value is below 2^-88 (the mass's two-factor scale), and whole sub-chunks
    of zeros (mass 0 without the two-factor path, as padding past a span) draw the widened
    float32 rows' tokens, on the GPU and in numpy, on every sampling path."""
    rows = rows or gpu.sm_count + 3
    from rocsample.backends import cpu_engine

    vocab = 3 * 4096 + 700  # four sub-chunks, the last one short
    rng = np.random.default_rng(rows + len(kind))
    p32 = cpu_engine.softmax((rng.standard_normal((rows, vocab)) * 2).astype(np.float32))
    p32[0, 4096:8192:3] = -0.0  # a sub-chunk with signed zeros among its values
    p32[1, :] = np.where(np.arange(vocab) % 2 == 0, -0.0, 0.0)  # zeros only: -1
    p32[2, vocab - 5] = -1e-3  # a negative value: -1
    p32[3, vocab - 1] = np.inf  # -1
    p32[4, 9000] = np.nan  # -1
    p32[5] = np.abs(p32[5]) * np.float32(2.0**-95)  # below 2^-88 (f16: all zero then, -1)
    p32[6, :4096] = -0.0  # a whole sub-chunk of -0.0 before valid ones
    p32[7, 12288:] = -0.0  # the short last sub-chunk -0.0
    p32[8, 4096:8192] = 0.0  # a whole sub-chunk of +0.0 between valid ones: mass 0
    x = p32 if kind == "f32" else _half(p32, kind)
    wide = p32 if kind == "f32" else widen_to_f32(x)
    for method, kw in PATHS:
        for seed in (3, np.arange(rows)):
            args = dict(seed=seed, offset=2, method=method, check_inputs=False, **kw)
            got = rocsample.sample(x, backend=gpu.name, **args)
            np.testing.assert_array_equal(got, rocsample.sample(wide, backend="cpu", **args),
                                          err_msg=f"{method} {kw} (cpu)")
            if kind != "f32":
                np.testing.assert_array_equal(
                    got, rocsample.sample(wide, backend=gpu.name, **args),
                    err_msg=f"{method} {kw}")
            assert got[1:5].tolist() == [-1] * 4, (method, kw, got[:8])
            assert (got[[0, 6, 7, 8]] >= 0).all() and got[6] >= 4096 and got[7] < 12288
            assert not 4096 <= got[8] < 8192
            assert not (4096 <= got[0] < 8192 and (got[0] - 4096) % 3 == 0)  # a -0.0
            assert (got[5] >= 0) == (kind != "f16")  # f16: 2^-95 x p rounds to 0


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_torch_half_probs_are_sampled_in_place(gpu, dtype):
    torch = pytest.importorskip("torch")
    if gpu.name != "cuda" or not torch.cuda.is_available():
        pytest.skip("torch CUDA tensors need the cuda backend")
    g = torch.Generator(device="cuda").manual_seed(1)
    probs = torch.softmax(torch.randn((256, 151936), device="cuda", generator=g) * 3, -1)
    half = probs.to(getattr(torch, dtype))
    for kw in ({}, dict(top_k=50), dict(top_p=0.9), dict(min_p=0.05)):
        a = torch.from_dlpack(rocsample.sample(half, seed=5, **kw))
        b = torch.from_dlpack(rocsample.sample(half.float(), seed=5, **kw))
        assert torch.equal(a, b), kw


ODD_VOCABS = [4099, 33001, 128257]  # rows of a contiguous matrix start at every alignment


@pytest.mark.parametrize("vocab", ODD_VOCABS)
@pytest.mark.parametrize("rows", [8, None])  # G blocks a row (two launches); None: one a row
def test_softmax_does_not_depend_on_where_a_row_starts(gpu, vocab, rows):
    """Equal rows of an odd vocab start at every 4-byte (float32) or 2-byte (f16/bf16)
    alignment: softmax must give every one bit for bit what it gives the 16-byte-aligned
    first row (its float sum visits the same elements in the same order whatever the
    alignment: kernels/rs_common.h, rs_for_groups), and a half row bit for bit what its widened
    float32 row gives."""
    rows = rows or gpu.sm_count + 3
    rng = np.random.default_rng(vocab + rows + 7)
    base = (rng.standard_normal(vocab) * 4).astype(np.float32)
    base[::97] = -np.inf
    x = np.tile(base, (rows, 1))  # row r starts 4 * r * vocab bytes in: every residue mod 16
    for t in (1.0, 0.7):
        got = rocsample.softmax(x, t, backend=gpu.name)
        np.testing.assert_array_equal(got, np.tile(got[0], (rows, 1)), err_msg=f"float32 T {t}")
        for kind in ("f16", "bf16"):
            half = _half(x, kind)  # 2 * r * vocab bytes in: every even residue mod 16
            wide = widen_to_f32(half)
            want = rocsample.softmax(wide, t, backend=gpu.name)
            np.testing.assert_array_equal(want, np.tile(want[0], (rows, 1)))
            np.testing.assert_array_equal(rocsample.softmax(half, t, backend=gpu.name), want,
                                          err_msg=f"{kind} T {t}")


@pytest.mark.parametrize("kind", ["f16", "bf16"])
@pytest.mark.parametrize("vocab", ODD_VOCABS)
@pytest.mark.parametrize("rows", [8, None])
def test_half_probs_at_every_alignment_draw_the_widened_float32_tokens(gpu, kind, vocab,
                                                                          rows):
    """Equal half-precision probability rows at every 2-byte alignment (16-, 8-, 4- and
    2-byte loads, kernels/rs_engine_block.h rs_load_held8, and the draw's groups of four) with
    one seed and offset for all (per-row arrays: the row's slot takes no part) draw one token,
    that of the widened float32 rows and of the cpu backend, on every sampling path."""
    rows = rows or gpu.sm_count + 3
    from rocsample.backends import cpu_engine

    rng = np.random.default_rng(vocab + rows + 11)
    base = cpu_engine.softmax((rng.standard_normal((1, vocab)) * 3).astype(np.float32))
    half = _half(np.tile(base, (rows, 1)), kind)
    wide = widen_to_f32(half)
    seeds, offsets = np.full(rows, 1234, np.int64), np.full(rows, 9, np.int64)
    for method, kw in PATHS:
        for s in range(3):
            args = dict(seed=seeds + s, offset=offsets, method=method, **kw)
            got = rocsample.sample(half, backend=gpu.name, **args)
            assert (got == got[0]).all() and got[0] >= 0, f"{method} {kw}: {got}"
            np.testing.assert_array_equal(got, rocsample.sample(wide, backend=gpu.name, **args),
                                          err_msg=f"{method} {kw}")
            np.testing.assert_array_equal(got, rocsample.sample(wide, backend="cpu", **args),
                                          err_msg=f"{method} {kw} (cpu)")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_torch_strided_rows_softmax_equals_the_widened_float32(gpu, dtype):
    """Rows read in place at a row stride that leaves them at every alignment (torch views
    x[:, :vocab] of wider matrices), half and float32: the same softmax bit for bit."""
    torch = pytest.importorskip("torch")
    if gpu.name != "cuda" or not torch.cuda.is_available():
        pytest.skip("torch CUDA tensors need the cuda backend")
    vocab, rows = 33001, 16
    g = torch.Generator(device="cuda").manual_seed(3)
    base = torch.randn((1, vocab), device="cuda", generator=g) * 4
    half_wide = torch.zeros((rows, vocab + 3), device="cuda", dtype=getattr(torch, dtype))
    half_wide[:, :vocab] = base.to(half_wide.dtype)
    half = half_wide[:, :vocab]  # row stride vocab + 3: every 2-byte alignment
    f32_wide = torch.zeros((rows, vocab + 1), device="cuda")
    f32_wide[:, :vocab] = half.float()
    wide = f32_wide[:, :vocab]  # row stride vocab + 1: every 4-byte alignment
    # The reference: the same rows, every one 16-byte aligned (row stride vocab + 3 floats),
    # so the launch is the same (a lone row would get more blocks, its sum another order).
    aligned = torch.zeros((rows, vocab + 3), device="cuda")
    aligned[:, :vocab] = half.float()
    want = torch.from_dlpack(rocsample.softmax(aligned[:, :vocab], 0.8))
    assert torch.equal(want, want[:1].expand(rows, vocab))
    assert torch.equal(torch.from_dlpack(rocsample.softmax(wide, 0.8)), want)
    assert torch.equal(torch.from_dlpack(rocsample.softmax(half, 0.8)), want)


LOGIT_FILTERS = [{}, dict(top_k=50), dict(top_k=300), dict(top_p=0.9),
                 dict(top_k=50, top_p=0.9), dict(min_p=0.1), dict(top_p=0.5, min_p=0.02)]


@pytest.mark.parametrize("kind", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("kw", LOGIT_FILTERS, ids=lambda kw: "-".join(kw) or "plain")
def test_sample_from_logits_draws_what_sampling_its_softmax_draws(gpu, kind, kw):
    """sample_from_logits samples the softmax without writing it (logits_sampling.hip): every
    token must be the one `sample` draws from the softmax written by `softmax` on the same
    GPU, through every engine path (one block a row and G blocks, top-k candidates and the
    full-row top-k, the top-p cut, min-p), per-row and greedy temperatures, masked tokens,
    invalid rows and unaligned vocabularies."""
    rng = np.random.default_rng(len(kw) * 10 + len(kind))
    shapes = [(1, 151936), (5, 32000), (140, 1001), (3, 128256), (2, 4097)]
    for i, (rows, vocab) in enumerate(shapes):
        x = (rng.standard_normal((rows, vocab)) * rng.uniform(1, 6)).astype(np.float32)
        x[0, ::97] = -np.inf
        if rows > 2:
            x[1, 5] = np.nan  # an invalid row: token -1 on both paths
            x[2, 7:11] = x[2].max() + 1  # ties for the maximum (greedy draws among them)
        x = x if kind == "f32" else _half(x, kind)
        t = [0.8, np.linspace(0.3, 1.5, rows).astype(np.float32), 0.0, 1.0, 0.6][i]
        for seed, offset in ((i, 0), (np.arange(rows) + 7, 3)):
            got = rocsample.sample_from_logits(x, temperature=t, seed=seed, offset=offset,
                                               backend=gpu.name, **kw)
            probs = rocsample.softmax(x, t, backend=gpu.name)
            want = rocsample.sample(probs, seed=seed, offset=offset, backend=gpu.name,
                                    check_inputs=False, **kw)
            np.testing.assert_array_equal(got, want, err_msg=f"{rows}x{vocab} t={t}")
            if rows > 2:
                assert got[1] == -1


@pytest.mark.parametrize("kind", ["f16", "bf16"])
@pytest.mark.parametrize("vocab", [32000, 128256, 33001])  # 33001: rows at 2-byte alignments
@pytest.mark.parametrize("rows", [3, 200])  # G blocks a row (two softmax launches); one
def test_half_results_are_the_float32_results_rounded_once(gpu, kind, vocab, rows):
    """``out_dtype`` the logits' own type (the _DT_DT entries): every value is the float32
    entry's result on the same logits, rounded once to nearest even (numpy's float16 cast,
    rocsample's bfloat16 rounding), bit for bit; NaN rows stay NaN; a temperature-scaled
    value beyond float16's range is Inf. Every output row of an odd vocab starts at another
    2-byte alignment (the store of four needs 8 bytes, else one at a time)."""
    from rocsample.buffers.dtypes import narrow_f32

    name = {"f16": "float16", "bf16": "bfloat16"}[kind]
    rng = np.random.default_rng(vocab + rows + 1)
    x = (rng.standard_normal((rows, vocab)) * 4).astype(np.float32)
    x[0, ::101] = -np.inf
    x[1, 7] = np.nan  # an invalid row: NaN everywhere
    x[2, :50] = 6e4  # float16's 65504 passed at T = 0.7 (bfloat16 keeps it)
    half = _half(x, kind)
    for t in (1.0, 0.7, 0.0):
        for op in (rocsample.softmax, rocsample.temperature_scale):
            got = op(half, t, out_dtype=name, backend=gpu.name)
            assert got.dtype == narrow_f32(np.zeros(1, np.float32), kind).dtype
            want = narrow_f32(op(half, t, backend=gpu.name), kind)
            nan = np.isnan(widen_to_f32(want))
            np.testing.assert_array_equal(np.isnan(widen_to_f32(got)), nan, err_msg=f"{op} {t}")
            np.testing.assert_array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan],
                                          err_msg=f"{op.__name__} T {t}")
            # a NaN logit: its softmax row is NaN; its scaled value alone is
            assert nan[1].all() if op is rocsample.softmax else nan[1, 7]
            if op is rocsample.temperature_scale and t == 0.7 and kind == "f16":
                assert np.isinf(widen_to_f32(got)[2, :50]).all()
            # the cpu backend stores the same values
            cpu = op(half, t, out_dtype=name, backend="cpu")
            np.testing.assert_array_equal(np.isnan(widen_to_f32(cpu)), nan)
            if op is rocsample.temperature_scale:  # division: the same bits on every backend
                np.testing.assert_array_equal(cpu.view(np.uint16)[~nan],
                                              got.view(np.uint16)[~nan])


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_torch_half_results_in_place_and_replayed(gpu, dtype):
    """A torch half tensor's softmax into the caller's half ``out`` (twice: the second call
    replays the launch plan), and without ``out`` (a new half tensor), equal the float32
    result rounded once."""
    torch = pytest.importorskip("torch")
    if gpu.name != "cuda" or not torch.cuda.is_available():
        pytest.skip("torch CUDA tensors need the cuda backend")
    tdt = getattr(torch, dtype)
    rows, vocab = 64, 128256
    g = torch.Generator(device="cuda").manual_seed(5)
    logits = (torch.randn((rows, vocab), device="cuda", generator=g) * 3).to(tdt)
    want = torch.from_dlpack(rocsample.softmax(logits, 0.9)).to(tdt)  # torch rounds to even
    out = torch.empty((rows, vocab), device="cuda", dtype=tdt)
    for _ in range(2):
        out.zero_()
        assert rocsample.softmax(logits, 0.9, out_dtype=tdt, out=out) is out
        assert torch.equal(out, want)
    got = torch.from_dlpack(rocsample.softmax(logits, 0.9, out_dtype=dtype))
    assert got.dtype == tdt and torch.equal(got, want)
    scaled = torch.from_dlpack(rocsample.temperature_scale(logits, 0.9, out_dtype=tdt))
    assert torch.equal(scaled, torch.from_dlpack(rocsample.temperature_scale(logits, 0.9)).to(tdt))
    with pytest.raises(ValueError, match="out must be a float32 array"):
        rocsample.softmax(logits, 0.9, out=out)  # a half out asks for out_dtype
    with pytest.raises(ValueError, match="needs .* logits"):
        rocsample.softmax(logits.float(), 0.9, out_dtype=tdt)
