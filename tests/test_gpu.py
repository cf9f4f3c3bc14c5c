"""GPU tests: every kernel through the loader on a real device (run by `make test-gpu`).

They skip with the reason where no GPU backend can start (CI); with ROCSAMPLE_REQUIRE_GPU=1
(what `make test-gpu` sets) a missing GPU is a failure instead. The backend under test is
ROCSAMPLE_BACKEND if it names a GPU backend, else whichever GPU backend starts.

Because every backend uses the same integer arithmetic and the same Philox counters, the GPU
must draw exactly the token the numpy backend draws from the same float32 probabilities;
the distributions themselves are tested against float64 in test_cpu_sampling.py, and a few
directly here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import rocsample
from rocsample.backends import cpu_engine as cpu_kernels
from rocsample.backends import get_backend
from rocsample.errors import BackendUnavailable, KernelLoadError, KernelTimeout

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


def _probs(rng, b, v, shape="normal"):
    z = rng.standard_normal((b, v)) * 3
    if shape == "peaked":
        z[:, rng.integers(0, v, b)] += 25
    return cpu_kernels.softmax(z.astype(np.float32))


CASES = [
    dict(),
    dict(top_k=1), dict(top_k=2), dict(top_k=50),
    dict(top_p=1e-6), dict(top_p=0.5), dict(top_p=0.9), dict(top_p=0.999999),
    dict(top_k=50, top_p=0.9), dict(min_p=0.1), dict(min_p=1.0), dict(top_k=50, min_p=0.1),
]


@pytest.mark.parametrize("b,v", [(1, 1), (7, 2), (32, 31), (128, 1000), (7, 32000),
                                 (32, 128256), (4, 151936), (2, 256000), (512, 1000)])
@pytest.mark.parametrize("shape", ["normal", "peaked"])
def test_gpu_matches_numpy_exactly(gpu, b, v, shape):
    rng = np.random.default_rng(b * 1000 + v)
    probs = _probs(rng, b, v, shape)
    for case in CASES + [dict(top_k=max(v - 1, 1)), dict(top_k=v)]:
        for method in ("auto", "fused"):
            got = gpu.sample(probs, rocsample.validation.sampling_params(b, seed=11, offset=3,
                                                                         **case), method=method)
            want = cpu_kernels.sample_rows(probs, seed=11, offset=3, **case)
            assert np.array_equal(got, want), (case, method, np.flatnonzero(got != want)[:5])


def test_per_row_parameters(gpu):
    rng = np.random.default_rng(5)
    probs = _probs(rng, 64, 5000)
    k = rng.integers(0, 300, 64).astype(np.int32)
    p = rng.uniform(0.05, 1.0, 64).astype(np.float32)
    m = rng.uniform(0.0, 0.3, 64).astype(np.float32)
    for kw in (dict(top_k=k), dict(top_p=p), dict(min_p=m), dict(top_k=k, top_p=p, min_p=m)):
        got = rocsample.sample(probs, seed=3, backend=gpu.name, **kw)
        assert np.array_equal(got, cpu_kernels.sample_rows(probs, seed=3, **kw))


@pytest.mark.parametrize("rows", [4, 300])  # many blocks per row; one block per row
def test_topk_rows_with_fewer_nonzeros_than_k(gpu, rows):
    """Zeros are never top-k candidates: a row with fewer than k nonzero elements keeps them
    all (the k-th largest is 0), and the draw and the top-p cut see only the nonzeros."""
    rng = np.random.default_rng(29)
    probs = np.zeros((rows, 20000), np.float32)
    for r in range(rows):
        n = 1 + r % 40  # 1..40 nonzeros, below k = 50
        probs[r, rng.choice(20000, n, replace=False)] = rng.random(n).astype(np.float32) + 0.01
    probs[0, :] = 0.0
    probs[0, 19999] = 1.0  # a single nonzero at the very end of the row
    for case in (dict(top_k=50), dict(top_k=50, top_p=0.5), dict(top_k=128, min_p=0.2)):
        for offset in range(3):
            got = rocsample.sample(probs, seed=11, offset=offset, backend=gpu.name, **case)
            want = cpu_kernels.sample_rows(probs, seed=11, offset=offset, **case)
            assert np.array_equal(got, want), (case, offset)
    assert (got[probs[np.arange(rows), got] > 0]).size == rows  # only nonzeros are drawn


@pytest.mark.parametrize("rows", [1, 5, 300])  # many blocks per row; one block per row
def test_plain_rows_at_many_scales(gpu, rows):
    """Plain sampling weighs each 4096-element sub-chunk at its own scale in one read: rows
    whose 128-element runs differ by up to 2**60 (most by up to 2**7), alone and beside rows
    with filters (min-p, the top-p pipeline with p = 1 rows), draw numpy's tokens."""
    rng = np.random.default_rng(41)
    v = 30000  # eight sub-chunks, the last one short; 235 groups, the last one short
    probs = rng.random((rows, v)).astype(np.float32)
    scales = 2.0 ** -rng.integers(0, 8, (rows, 235)).astype(np.float64)
    scales[rng.random((rows, 235)) < 0.05] = 2.0**-60
    probs *= np.repeat(scales, 128, axis=1)[:, :v].astype(np.float32)
    m = np.where(np.arange(rows) % 2 == 0, 0.0, 0.2).astype(np.float32)
    p = np.where(np.arange(rows) % 3 == 0, 1.0, 0.9).astype(np.float32)
    for kw, method in ((dict(), "auto"), (dict(), "fused"), (dict(top_k=0), "auto"),
                       (dict(min_p=m), "auto"), (dict(top_p=p), "topp"), (dict(), "topp")):
        for offset in range(3):
            got = rocsample.sample(probs, seed=13, offset=offset, method=method,
                                   backend=gpu.name, **kw)
            want = cpu_kernels.sample_rows(probs, seed=13, offset=offset, **kw)
            assert np.array_equal(got, want), (kw, method, offset)


@pytest.mark.parametrize("rows", [2, 300])  # many blocks per row; one block per row
def test_min_p_candidates_and_their_overflow(gpu, rows):
    """min-p alone reads the row once, keeping per sub-chunk the elements >= min_p x the
    largest value seen so far: rows whose maximum comes last (the bound rises late), rows
    with the maximum first, and flat rows (more candidates than room: the second phase)."""
    rng = np.random.default_rng(43)
    v = 40000
    probs = _probs(rng, rows, v)
    probs[::3] = np.sort(probs[::3], axis=1)  # ascending: the maximum is the last element
    probs[1::3] = np.sort(probs[1::3], axis=1)[:, ::-1]  # descending
    probs[2::6] = 1.0 + rng.integers(0, 2, (len(probs[2::6]), v)).astype(np.float32) / 64
    for mp in (0.1, 0.6, 1.0, np.linspace(0.0, 0.9, rows).astype(np.float32)):
        for offset in range(2):
            got = rocsample.sample(probs, min_p=mp, seed=17, offset=offset, backend=gpu.name)
            want = cpu_kernels.sample_rows(probs, min_p=mp, seed=17, offset=offset)
            assert np.array_equal(got, want), (mp, offset, np.flatnonzero(got != want)[:5])


def test_topk_bound_of_one_block_rows(gpu):
    """Top-k candidates of rows with one block and few sub-chunks (V = 32000 at many rows):
    the bound the candidates start from (the first sub-chunk's) must never exceed the row's
    k-th largest, and rows with too many candidates must still end right. 300 rows of 30000:
    smooth and peaked rows, the k-th largest tied with 30 more copies, quantised rows (ties:
    the bound rises, then the full-row path), rows with fewer nonzeros than k, the largest
    values all in the first sub-chunks or all after them, rows with 80 ties above everything
    else in each sub-chunk (640 at the k-th largest: too many for the small list, so the
    last block works on the workspace slots), and a NaN row; k from 1 to 128, with top-p and
    min-p."""
    rng = np.random.default_rng(53)
    rows, v = 300, 30000
    probs = _probs(rng, rows, v)
    probs[1::10] = _probs(rng, len(probs[1::10]), v, "peaked")
    for r in range(2, rows, 10):  # 30 more copies of the 40th largest
        v40 = np.sort(probs[r])[-40]
        probs[r, rng.choice(np.flatnonzero(probs[r] < v40), 30, replace=False)] = v40
    probs[3::10] = rng.integers(1, 5, (len(probs[3::10]), v)).astype(np.float32)
    probs[4::10] = 0.0
    for r in range(4, rows, 10):
        probs[r, rng.choice(v, 1 + r % 60, replace=False)] = rng.random(1 + r % 60) + 0.01
    probs[5::10] = np.sort(probs[5::10], axis=1)  # the largest values last
    probs[6::10] = np.sort(probs[6::10], axis=1)[:, ::-1]  # ... all in the first round
    for r in range(8, rows, 10):  # 80 ties of twice the maximum in each sub-chunk
        top = 2 * probs[r].max()
        for c in range(0, v, 4096):
            probs[r, c + rng.choice(min(4096, v - c), 80, replace=False)] = top
    bad = probs.copy()
    bad[7, 123] = np.nan
    for k in (1, 5, 50, 128):
        for kw in (dict(top_k=k), dict(top_k=k, top_p=0.8), dict(top_k=k, min_p=0.05)):
            got = rocsample.sample(probs, seed=7, offset=k, backend=gpu.name, **kw)
            want = cpu_kernels.sample_rows(probs, seed=7, offset=k, **kw)
            assert np.array_equal(got, want), (kw, np.flatnonzero(got != want)[:5])
    got = rocsample.sample(bad, top_k=50, seed=7, check_inputs=False, backend=gpu.name)
    want = cpu_kernels.sample_rows(probs, top_k=50, seed=7)
    assert got[7] == -1 and np.array_equal(np.delete(got, 7), np.delete(want, 7))


@pytest.mark.parametrize("kind", ["f32", "bf16"])
def test_rows_rising_by_span_draw_the_base_entries_tokens(gpu, monkeypatch, kind):
    """Top-k rows the host sends to the rise entries by their block span alone (G = 1 at 264
    rows: spans of 24, 40 and 56 sub-chunks, k x sub-chunks <= RISE_CAND) draw exactly the
    tokens of the base entries (the rise entries kept away), from probabilities and from
    logits (the same device's exp on both paths). The profile shows which entries ran: the
    rise entries for some rows, never for the base calls."""
    from rocsample.buffers.dtypes import narrow_f32
    from rocsample.ops import sampling

    rng = np.random.default_rng(67)
    rose = set()
    for v in (98304, 163840, 229376):
        probs = _probs(rng, 264, v)
        for op, x in (("sample", narrow_f32(probs, kind)),
                      ("sample_from_logits", narrow_f32(np.log(probs), kind))):
            f = getattr(rocsample, op)
            for k in (20, 50):
                with rocsample.profile() as prof:
                    got = f(x, top_k=k, seed=9, offset=k, backend=gpu.name)
                rose |= {n for n in prof.summary() if "_rise" in n}
                with monkeypatch.context() as m, rocsample.profile() as base:
                    m.setattr(sampling, "_rise_suffix", lambda *a, **kw: "")
                    want = f(x, top_k=k, seed=9, offset=k, backend=gpu.name)
                assert not any("_rise" in n for n in base.summary()), base.summary()
                assert np.array_equal(got, want), (op, v, k, np.flatnonzero(got != want)[:5])
    assert rose, "no row took a rise entry"


def test_engine_fallbacks_match_numpy(gpu):
    """Rows the one-read/histogram fast paths cannot serve take the full-row path, and agree.

    Flat rows overflow the per-chunk top-k candidates (ties) and crowd the top-p cut bin
    (more than 8192 elements); quantised rows put many ties at the k-th value, and so do rows
    with a few ties in every sub-chunk (too many at the k-th largest for the small list); k > 128
    is beyond the one-read path; min-p above and inside the top-p bin; the top-p pipeline
    with p = 1 rows; the workspace is reused across shapes on one stream.
    """
    rng = np.random.default_rng(17)
    flat = np.full((3, 20000), 0.25, np.float32)
    flat[1, ::7] = 0.5
    quant = rng.integers(1, 5, (5, 9000)).astype(np.float32)
    normal = _probs(rng, 6, 50000)
    # 40 ties above everything else in each 4096-element sub-chunk: few candidates per
    # sub-chunk (the shared-memory candidate list), but 1280 of them at the k-th largest
    # (more than the small-list path takes), so the last block goes back to the slots.
    ties = _probs(rng, 2, 128256)
    for r in range(2):
        for c in range(0, 128256, 4096):
            ties[r, c + rng.choice(min(4096, 128256 - c), 40, replace=False)] = 2 * ties[r].max()
    # 30 more copies of each row's 40th largest value: ties across the k-th largest (k = 50)
    # that the rank among the candidates must count.
    tied_k = _probs(rng, 2, 60000)
    for r in range(2):
        v40 = np.sort(tied_k[r])[-40]
        tied_k[r, rng.choice(np.flatnonzero(tied_k[r] < v40), 30, replace=False)] = v40
    per_row_p = np.array([0.3, 1.0, 0.9, 1.0, 0.05, 0.999], np.float32)
    cases = [dict(top_k=50), dict(top_k=128), dict(top_k=129), dict(top_k=1000),
             dict(top_p=0.5), dict(top_p=0.5, min_p=0.9), dict(min_p=0.5),
             dict(top_k=50, top_p=0.3), dict(top_p=0.9, min_p=0.02), dict(top_p=0.9, min_p=0.3)]
    for probs in (flat, quant, normal, ties, tied_k, flat, normal):
        for case in cases:
            for method in ("auto", "fused"):
                got = rocsample.sample(probs, seed=5, offset=9, method=method,
                                       backend=gpu.name, **case)
                want = cpu_kernels.sample_rows(probs, seed=5, offset=9, **case)
                assert np.array_equal(got, want), (probs.shape, case, method, got, want)
    for kw in (dict(top_p=per_row_p), dict()):
        got = rocsample.sample(normal, seed=2, method="topp", backend=gpu.name, **kw)
        assert np.array_equal(got, cpu_kernels.sample_rows(normal, seed=2, **kw))


def _topp_bin_range(row: np.ndarray, p: float) -> tuple[int, int]:
    """The bins [lo, hi] that the two-read top-p phase gathers (rs_hist_bounds and
    rs_phase_cut in kernels/rs_engine_cut.h), in exact integers: from each 11-bit key bin's
    significand sum and the row maximum, bounds on the bin's truncated mass."""
    keys = row.view(np.uint32) & np.uint32(0x7FFFFFFF)
    max_exp = max(int(keys.max()) >> 23, 1)
    sig = np.where(keys >> 23 > 0, (keys & 0x7FFFFF) | 0x800000, keys & 0x7FFFFF)
    sums = [0] * 2048
    for b, s in zip((keys >> 20).tolist(), sig.tolist(), strict=True):
        sums[b] += s
    hi_b, lo_b = [0] * 2049, [0] * 2049  # cumulative from the top
    for b in range(2047, -1, -1):
        s, e = sums[b], b >> 3
        shift = max(e, 1) - max_exp + 16
        h = low = 0
        if s and shift >= 0:
            h = low = s << shift
        elif s and shift > -24:
            h = s >> -shift
            n = s >> 23 if e else s
            low = h - n if h > n else 0
        hi_b[b], lo_b[b] = hi_b[b + 1] + h, lo_b[b + 1] + low
    pf = float(np.float32(p))
    hi = max(b for b in range(2048) if hi_b[b] != hi_b[b + 1] and hi_b[b] >= pf * lo_b[0])
    lo = max([b for b in range(2048) if lo_b[b] != lo_b[b + 1] and lo_b[b] >= pf * hi_b[0]],
             default=0)
    return min(lo, hi), hi


def test_topp_bin_range_and_histogram_across_layouts(gpu):
    """Top-p's second read gathers every bin that may hold the cut: for this row the mass
    bounds leave two bins (the cut at 0.999999 sits within the truncation error of a bin
    edge), and the draw is still exactly numpy's. The per-row histograms must be zero before
    each call: calls of other shapes and methods on the same stream in between (smaller and
    larger batches, top-k filling the candidate slots) must not disturb them."""
    rng = np.random.default_rng(0)
    row = (np.exp(rng.standard_normal(3000) * 3) * 1e-3).astype(np.float32)
    row[0] = 1e4
    lo, hi = _topp_bin_range(row, 0.999999)
    assert lo < hi, (lo, hi)  # the precondition: this row takes the two-bin path
    probs = np.tile(row, (3, 1))
    for method in ("topp", "auto", "fused"):
        got = rocsample.sample(probs, top_p=0.999999, seed=3, method=method, backend=gpu.name)
        want = cpu_kernels.sample_rows(probs, top_p=0.999999, seed=3)
        assert np.array_equal(got, want), (method, got, want)
    shapes = [(2, 3000), (7, 50000), (3, 3000), (7, 50000), (1, 130000), (5, 20000)]
    for i, (b, v) in enumerate(shapes * 2):
        x = _probs(rng, b, v)
        for kw in (dict(top_p=0.9), dict(top_k=50), dict(top_p=0.5, min_p=0.01)):
            got = rocsample.sample(x, seed=i, offset=1, backend=gpu.name, **kw)
            want = cpu_kernels.sample_rows(x, seed=i, offset=1, **kw)
            assert np.array_equal(got, want), ((b, v), kw, got, want)


@pytest.mark.parametrize("b, v, ties", [
    (4, 32000, 25), (300, 32000, 25), (3, 2000, 25),  # <= 256 gathered: one a thread
    (4, 151936, 25), (140, 128256, 25),  # ~300-400 gathered in one bin: the digit path
    (2, 151936, 600),  # more than a block's worth in the cut's digit: rs_select's last level
    (2, 151936, 1800),  # more than 4 a thread gathered: rs_select over the list
    (300, 32000, 3000),  # one block gathers more than its shared stage holds (2048)
])
def test_topp_cut_with_ties_among_few_gathered(gpu, b, v, ties):
    """Top-p's last block finds the cut among the gathered elements without the radix
    selection while they are few (rs_phase_cut): one element a thread up to half a block,
    else the mass of each digit below the cut bin's and one element a thread within the
    cut's digit. More copies of the value at each row's cut put ties at and around it, which
    every copy's mass must count. Rows of 32000 and 151936 with several blocks a row, one
    block a row (300 x 32000, 140 x 128256), and one sub-chunk (2000). A block gathers into
    shared memory first; with 3000 copies one block gathers more than that holds and reads
    its span again, gathering straight into the workspace."""
    rng = np.random.default_rng(23)
    probs = _probs(rng, b, v)
    for r in range(b):
        s = np.sort(probs[r])[::-1]
        cut = s[np.searchsorted(np.cumsum(s, dtype=np.float64), 0.9 * s.sum())]
        probs[r, rng.choice(np.flatnonzero(probs[r] < cut), ties, replace=False)] = cut
    for p in (0.9, 0.5):
        want = cpu_kernels.sample_rows(probs, top_p=p, seed=4)
        for method in ("auto", "fused", "topp"):
            got = rocsample.sample(probs, top_p=p, seed=4, method=method, backend=gpu.name)
            assert np.array_equal(got, want), ((b, v), p, method)


def test_auto_method_choice(monkeypatch):
    """No GPU needed: which kernel path "auto" takes (the top-p stages only when overridden)."""
    from rocsample.ops.sampling import _choose
    from rocsample.validation import sampling_params

    def choice(**kw):
        full = dict(top_k=None, top_p=None, min_p=None) | kw
        return _choose(sampling_params(2, seed=0, offset=0, **full))

    for var in ("TOPP_PREFIX_SUM_HSACO", "TOPP_THRESHOLD_HSACO", "TOPP_SAMPLE_HSACO"):
        monkeypatch.delenv(var, raising=False)
    assert choice(top_k=5) == "topk"
    assert choice(top_p=0.9) == "fused"
    assert choice(top_p=np.array([0.5, 1.0], np.float32)) == "fused"
    assert choice(top_k=5, top_p=0.9) == choice(min_p=0.1) == choice() == "fused"
    monkeypatch.setenv("TOPP_THRESHOLD_HSACO", "/some/override.cubin")
    assert choice(top_p=0.9) == "topp"
    assert choice(top_k=5, top_p=0.9) == "fused"


def test_topk_distribution_on_gpu(gpu):
    # One row repeated N times gives N independent draws (counter includes the row index).
    n, v, k = 40000, 100, 10
    row = _probs(np.random.default_rng(1), 1, v)[0]
    tokens = rocsample.sample(np.tile(row, (n, 1)), top_k=k, backend=gpu.name)
    kept = np.argsort(row)[::-1][:k]
    assert set(np.unique(tokens)) <= set(kept.tolist())
    expected = row[kept] / row[kept].sum() * n
    observed = np.array([(tokens == t).sum() for t in kept])
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < 45.0  # chi-square(9 dof) exceeds 45 with probability < 1e-6


def test_softmax_and_temperature(gpu):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((9, 3001)) * 4).astype(np.float32)
    x[1, 5] = -np.inf
    t = np.array([1, 0.5, 2, 0, 1, 1, 3, 0.7, 1], dtype=np.float32)
    got = rocsample.softmax(x, t, backend=gpu.name)
    want = cpu_kernels.softmax(x, t)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-12)
    np.testing.assert_array_equal(rocsample.temperature_scale(x, t, backend=gpu.name),
                                  cpu_kernels.temperature_scale(x, t))
    bad = x.copy()
    bad[0, 0] = np.nan
    assert np.isnan(rocsample.softmax(bad, backend=gpu.name)[0]).all()
    greedy = rocsample.sample_from_logits(x, temperature=0.0, backend=gpu.name)
    assert np.array_equal(greedy, x.argmax(axis=1))


@pytest.mark.parametrize("rows,vocab", [(1, 151936), (5, 151936), (3, 50001), (40, 32000)])
def test_softmax_with_several_blocks_a_row(gpu, rows, vocab):
    """Few rows take the two-launch softmax (G blocks a row, one span each): the values of
    numpy's softmax to float rounding, every rule for bad rows and T = 0 across spans, the
    same bits on every run; temperature_scale splits its rows too and stays exact."""
    rng = np.random.default_rng(rows * 7 + vocab)
    x = (rng.standard_normal((rows, vocab)) * 4).astype(np.float32)
    t = rng.uniform(0.3, 2.0, rows).astype(np.float32)
    specials = [  # (row edits, temperature): spans masked, NaN or +Inf late, max late, ...
        (lambda r: r.__setitem__(slice(0, vocab - 5000), -np.inf), 0.7),
        (lambda r: r.__setitem__(vocab - 3, np.nan), 1.0),
        (lambda r: r.__setitem__(vocab - 1, 40.0), 0.0),  # greedy: the maximum in the last span
        (lambda r: r.__setitem__(slice(None), -np.inf), 1.0),  # nothing finite
        (lambda r: r.__setitem__(vocab // 2, np.inf), 1.0),
    ]
    for r, (edit, temp) in enumerate(specials[:rows]):
        edit(x[r])
        t[r] = temp
    with rocsample.profile() as prof:
        got = rocsample.softmax(x, t, backend=gpu.name)
    assert {"softmax_stats", "softmax_write"} <= set(prof.summary())  # the split path ran
    want = cpu_kernels.softmax(x, t)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-12)  # NaN rows match NaN rows
    assert np.array_equal(np.isnan(got), np.isnan(want))
    if rows >= 3:
        assert np.array_equal(got[2], (x[2] == x[2].max()).astype(np.float32))
    np.testing.assert_array_equal(rocsample.softmax(x, t, backend=gpu.name), got)
    np.testing.assert_array_equal(rocsample.temperature_scale(x, t, backend=gpu.name),
                                  cpu_kernels.temperature_scale(x, t))
    tokens = rocsample.sample_from_logits(x, temperature=t, seed=5, backend=gpu.name)
    np.testing.assert_array_equal(tokens, cpu_kernels.sample_rows(got, seed=5))


def test_bad_rows_give_minus_one(gpu):
    rng = np.random.default_rng(3)
    probs = _probs(rng, 10, 999)
    bad = probs.copy()
    bad[0, 3] = np.nan
    bad[1, 4] = np.inf
    bad[2, 5] = -np.inf
    bad[3, 6] = -1e-3
    bad[4] = 0
    bad[5] = np.float32(1e-42)  # denormals only: valid
    bad[6] = 1.0  # all equal
    bad[7, :] = 1e-30
    bad[7, 17] = 1e30  # one huge among tiny
    for kw in (dict(), dict(top_k=5), dict(top_p=0.5), dict(top_k=5, top_p=0.5, min_p=0.1)):
        got = rocsample.sample(bad, seed=9, check_inputs=False, backend=gpu.name, **kw)
        assert got[:5].tolist() == [-1] * 5
        assert np.array_equal(got, cpu_kernels.sample_rows(bad, seed=9, **kw))
        assert got[7] == 17
    with pytest.raises(ValueError, match="rows 0, 1, 2, 3, 4"):
        rocsample.sample(bad, backend=gpu.name)


def test_determinism_across_runs_streams_and_batch(gpu):
    rng = np.random.default_rng(4)
    probs = _probs(rng, 128, 32000)
    a = rocsample.sample(probs, top_k=50, top_p=0.9, seed=5, offset=7, backend=gpu.name)
    stream = gpu.rt.stream_create()
    try:
        b = rocsample.sample(probs, top_k=50, top_p=0.9, seed=5, offset=7, backend=gpu.name,
                             stream=stream)
    finally:
        gpu.rt.stream_destroy(stream)
    c = rocsample.sample(probs[:7], top_k=50, top_p=0.9, seed=5, offset=7, backend=gpu.name)
    assert np.array_equal(a, b) and np.array_equal(a[:7], c)
    d = rocsample.sample(probs, top_k=50, top_p=0.9, seed=5, offset=8, backend=gpu.name)
    assert not np.array_equal(a, d)


def test_kernels_loaded_once_and_report_origin(gpu):
    rocsample.sample(_probs(np.random.default_rng(0), 2, 100), top_p=0.5, method="topp",
                     backend=gpu.name)
    info = gpu.kernels.info()
    for name in ("topp_prefix_sum", "topp_threshold", "topp_sample"):
        assert info["kernels"][name]["origin"] in ("compile", "jit-cache", "precompiled")
    compiles = gpu.kernels.stats.compiles
    for _ in range(3):
        rocsample.sample(_probs(np.random.default_rng(0), 2, 100), top_p=0.5, method="topp",
                         backend=gpu.name)
    assert gpu.kernels.stats.compiles == compiles


def test_timeout_names_the_kernel(gpu, monkeypatch):
    probs = _probs(np.random.default_rng(0), 512, 151936)
    monkeypatch.setenv("ROCSAMPLE_SYNC_TIMEOUT", "1e-7")
    with pytest.raises(KernelTimeout, match="sample"):
        rocsample.sample(probs, top_k=50, top_p=0.9, backend=gpu.name, check_inputs=False)
    monkeypatch.delenv("ROCSAMPLE_SYNC_TIMEOUT")
    gpu_out = rocsample.sample(probs[:2], top_k=50, backend=gpu.name)  # still usable
    assert gpu_out.shape == (2,)


def test_threads_on_own_streams(gpu):
    rng = np.random.default_rng(6)
    probs = _probs(rng, 32, 32000)
    want = cpu_kernels.sample_rows(probs, top_k=50, top_p=0.9, seed=1)
    errors = []
    done = []

    def work():
        s = None
        try:
            s = gpu.rt.stream_create()
            for _ in range(10):
                got = rocsample.sample(probs, top_k=50, top_p=0.9, seed=1, stream=s,
                                       backend=gpu.name)
                if not np.array_equal(got, want):
                    errors.append("mismatch")
            done.append(1)
        except Exception as exc:  # reported by the assertion below
            errors.append(repr(exc))
        finally:
            if s is not None:
                gpu.rt.stream_destroy(s)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(done) == 8


def test_env_override_with_precompiled_code_object(gpu, tmp_path, monkeypatch):
    # `python -m rocsample compile` for this device's target: a CUBIN for sm_XY (cuda, or
    # hip on the NVIDIA platform), an offload bundle for gfx targets.
    out = tmp_path / "co"
    run = subprocess.run([sys.executable, "-m", "rocsample", "compile", "--arch", gpu.rt.target,
                          "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    suffix = ".cubin" if gpu.rt.target.startswith("sm_") else ".hsaco"
    from rocsample.kernel_cache import KernelCache

    monkeypatch.setenv("FUSED_SAMPLING_HSACO", str(out / f"topk_topp_sampling{suffix}"))
    cache = KernelCache(gpu.rt)
    assert cache.get("topk_topp_sampling").resolution.origin == "env"
    monkeypatch.setenv("FUSED_SAMPLING_HSACO", str(out / f"topk_sampling{suffix}"))
    with pytest.raises(KernelLoadError, match="FUSED_SAMPLING_HSACO.*topk_topp_sampling_kernel"):
        KernelCache(gpu.rt).get("topk_topp_sampling")


def test_torch_zero_copy(gpu):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no GPU here")
    probs_np = _probs(np.random.default_rng(7), 16, 32000)
    full = torch.zeros((16, 40000), device="cuda")
    full[:, :32000] = torch.from_numpy(probs_np).cuda()
    view = full[:, :32000]  # row-strided: stride 40000
    from rocsample.buffers import as_array_view

    assert as_array_view(view).ptr == view.data_ptr()
    out = rocsample.sample(view, top_k=50, seed=2, backend=gpu.name)
    tokens = torch.from_dlpack(out)
    assert tokens.data_ptr() == out.ptr and tokens.device.type == "cuda"
    torch.cuda.synchronize()
    assert np.array_equal(tokens.cpu().numpy(), cpu_kernels.sample_rows(probs_np, top_k=50,
                                                                        seed=2))
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        out2 = rocsample.sample(view, top_k=50, seed=2, backend=gpu.name,
                                stream=s.cuda_stream)
    s.synchronize()
    assert torch.equal(torch.from_dlpack(out2), tokens)


def test_repeated_calls_replay_a_launch_plan(gpu):
    """The decode-loop fast path (a launch plan per tensor, parameters and stream) draws
    exactly what numpy draws: new seeds and offsets, new data in the same memory, a workspace
    that grew for another shape in between, a DeviceBuffer input."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no GPU here")
    rng = np.random.default_rng(23)
    probs_np = _probs(rng, 8, 50000)
    t = torch.from_numpy(probs_np).cuda()
    for case in (dict(), dict(top_k=50), dict(top_p=0.9), dict(top_k=50, top_p=0.9),
                 dict(min_p=0.1)):
        for step in range(3):
            if step == 2:  # same pointer and shape, new contents
                probs_np = _probs(rng, 8, 50000)
                t.copy_(torch.from_numpy(probs_np))
                rocsample.sample(np.ones((300, 60000), np.float32), seed=1, backend=gpu.name)
            got = rocsample.sample(t, seed=4, offset=step, backend=gpu.name, **case)
            torch.cuda.synchronize()
            want = cpu_kernels.sample_rows(probs_np, seed=4, offset=step, **case)
            assert np.array_equal(torch.from_dlpack(got).cpu().numpy(), want), (case, step)
    # Plans are looked up before validation: with one in place, what validation refuses is
    # still refused, and an equal value of another type is judged on its own.
    rocsample.sample(t, top_k=50, seed=1, backend=gpu.name)
    for bad, err in ((dict(seed=-1), ValueError), (dict(seed=True), TypeError),
                     (dict(seed=1.0), TypeError), (dict(offset=2**64), ValueError)):
        with pytest.raises(err):
            rocsample.sample(t, top_k=50, backend=gpu.name, **{"seed": 1, **bad})
    with pytest.raises(ValueError, match="top_p"):
        rocsample.sample(t, top_k=50, top_p=1.5, seed=1, backend=gpu.name)
    with pytest.raises(TypeError, match="top_k"):
        rocsample.sample(t, top_k=True, seed=1, backend=gpu.name)
    got = rocsample.sample(t, top_k=50.0, seed=4, backend=gpu.name)  # an integral float: ok
    torch.cuda.synchronize()
    want = cpu_kernels.sample_rows(probs_np, top_k=50, seed=4)
    assert np.array_equal(torch.from_dlpack(got).cpu().numpy(), want)
    from rocsample.buffers import DeviceBuffer

    # Threads replaying one plan on one stream: each gets its own seed's tokens.
    results = {}

    def worker(seed):
        outs = [rocsample.sample(t, top_k=50, seed=seed, backend=gpu.name) for _ in range(20)]
        torch.cuda.synchronize()
        results[seed] = [torch.from_dlpack(o).cpu().numpy() for o in outs]

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == list(range(8))  # no worker died
    for seed, outs in results.items():
        want = cpu_kernels.sample_rows(probs_np, top_k=50, seed=seed)
        assert all(np.array_equal(o, want) for o in outs), seed
    buf = DeviceBuffer.from_numpy(gpu.rt, probs_np)
    for offset in range(3):
        got = rocsample.sample(buf, top_k=20, seed=9, offset=offset, backend=gpu.name)
        want = cpu_kernels.sample_rows(probs_np, top_k=20, seed=9, offset=offset)
        assert np.array_equal(got.numpy(), want)
    buf.free()
    # Results come from output slabs: 150 kept results (three slabs) never share memory and
    # each keeps its own tokens; dropping them frees the slabs.
    kept = [rocsample.sample(t, min_p=0.1, seed=5, offset=o, backend=gpu.name)
            for o in range(150)]
    assert len({o.ptr for o in kept}) == 150
    for o, got in enumerate(kept):
        want = cpu_kernels.sample_rows(probs_np, min_p=0.1, seed=5, offset=o)
        assert np.array_equal(got.numpy(), want), o


def test_later_phases_overlap_the_previous_one(gpu):
    """On NVIDIA sm_90+ a sampling call's later phases are programmatic dependent launches:
    each may start while the previous phase runs, and the kernels wait for that grid before
    reading the workspace (rs_engine.h). Back-to-back calls on a device array, for each kind
    that takes several launches (top-p and min-p with several blocks a row, the top-p
    stages), must draw numpy's tokens."""
    import re

    from rocsample import config
    from rocsample.buffers import DeviceBuffer

    assert gpu.kernels.get("topk_topp_sampling").grid_wait  # built from rs_engine.h
    if gpu.name == "cuda":
        cc = int(re.match(r"sm_(\d+)", gpu.rt.target).group(1))
        assert gpu.rt.overlap_launches == (cc >= 90 and config.overlap_launches())
    info = subprocess.run([sys.executable, "-m", "rocsample", "info"], capture_output=True,
                          text=True, env={**os.environ, "ROCSAMPLE_BACKEND": gpu.name})
    said = "yes" if gpu.describe()["overlap_launches"] else "no"
    assert f"later phases overlap the previous one: {said}" in info.stdout, info.stdout
    rng = np.random.default_rng(31)
    for rows, vocab in ((1, 151936), (32, 32000)):
        probs = _probs(rng, rows, vocab)
        buf = DeviceBuffer.from_numpy(gpu.rt, probs)
        for kw, method in ((dict(top_p=0.9), "fused"), (dict(min_p=0.1), "fused"),
                           (dict(top_p=0.9), "topp")):
            outs = [rocsample.sample(buf, seed=3, offset=o, method=method, backend=gpu.name, **kw)
                    for o in range(24)]
            for o, got in enumerate(outs):
                want = cpu_kernels.sample_rows(probs, seed=3, offset=o, **kw)
                assert np.array_equal(got.numpy(), want), (rows, vocab, kw, method, o)
        buf.free()


@pytest.mark.parametrize("rows,vocab", [(1, 128256), (8, 50000), (300, 4000)])
def test_repeated_logits_calls_replay_a_launch_plan(gpu, rows, vocab, monkeypatch):
    """softmax, temperature_scale and sample_from_logits on a device array: from the second
    call on the recorded launches run (the general path's array parsing is made to fail
    meanwhile) with new outputs each call, giving the general path's bits and seeing new
    contents of the same memory."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no GPU here")
    rng = np.random.default_rng(rows + vocab)
    x_np = (rng.standard_normal((rows, vocab)) * 3).astype(np.float32)
    x = torch.from_numpy(x_np).cuda()
    kept = []
    for step in range(4):
        if step == 3:  # same pointer and shape, new contents
            x_np = (rng.standard_normal((rows, vocab)) * 3).astype(np.float32)
            x.copy_(torch.from_numpy(x_np))
        with monkeypatch.context() as m:
            if step > 0:
                m.setattr(gpu, "_matrix", lambda *a, **k: pytest.fail("general path taken"))
            sm = rocsample.softmax(x, 0.8, backend=gpu.name)
            ts = rocsample.temperature_scale(x, 0.8, backend=gpu.name)
            tok = rocsample.sample_from_logits(x, temperature=0.8, top_k=50, seed=3,
                                               offset=step, backend=gpu.name)
        torch.cuda.synchronize()
        want = rocsample.softmax(x_np, 0.8, backend=gpu.name)  # numpy in: the general path
        assert np.array_equal(torch.from_dlpack(sm).cpu().numpy(), want), step
        assert np.array_equal(torch.from_dlpack(ts).cpu().numpy(),
                              cpu_kernels.temperature_scale(x_np, 0.8)), step
        assert np.array_equal(torch.from_dlpack(tok).cpu().numpy(),
                              cpu_kernels.sample_rows(want, top_k=50, seed=3, offset=step)), step
        kept.append((sm, want))
    assert len({sm.ptr for sm, _ in kept}) == len(kept)  # a new output every call
    for sm, want in kept:  # earlier results keep their values
        assert np.array_equal(torch.from_dlpack(sm).cpu().numpy(), want)


def test_threads_of_different_shapes_share_one_stream(gpu):
    """Threads sampling tensors of different shapes on one stream, each call on the plan path
    or the general one: a call's workspace layout holds from taking the workspace to its last
    launch (the stream's lock), so every token is numpy's."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no GPU here")
    rng = np.random.default_rng(31)
    shapes = [(8, 50000), (300, 4000), (1, 128256), (40, 32000)]
    data = [_probs(rng, r, v) for r, v in shapes]
    tensors = [torch.from_numpy(d).cuda() for d in data]
    torch.cuda.synchronize()
    handle = torch.cuda.Stream().cuda_stream
    cases = [dict(top_p=0.9), dict(top_k=50), dict(min_p=0.1), dict(top_k=50, top_p=0.9), {}]
    results, errors = {}, []

    def worker(i):
        try:
            results[i] = [(step, case, rocsample.sample(tensors[i], seed=i, offset=step,
                                                       stream=handle, backend=gpu.name, **case))
                          for step in range(40) for case in [cases[(i + step) % len(cases)]]]
        except Exception as exc:  # reported below with the thread's shape
            errors.append((shapes[i], exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(shapes))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    torch.cuda.synchronize()
    assert not errors, errors
    for i, outs in results.items():
        for step, case, got in outs:
            want = cpu_kernels.sample_rows(data[i], seed=i, offset=step, **case)
            assert np.array_equal(torch.from_dlpack(got).cpu().numpy(), want), (i, step, case)


def test_cupy_zero_copy(gpu):
    cp = pytest.importorskip("cupy")
    probs_np = _probs(np.random.default_rng(8), 8, 1000)
    x = cp.asarray(probs_np)
    out = rocsample.sample(x, top_p=0.9, seed=4, backend=gpu.name)
    y = cp.from_dlpack(out)
    assert int(y.data.ptr) == out.ptr
    assert np.array_equal(cp.asnumpy(y), cpu_kernels.sample_rows(probs_np, top_p=0.9, seed=4))


def _alone_on_the_gpu(torch) -> bool:
    """Whether NVML sees no other process on device 0 (unknown, e.g. no pynvml: True)."""
    try:
        listing = torch.cuda.list_gpu_processes(0)
    except Exception:  # noqa: BLE001 - any NVML trouble: unknown
        return True
    return sum(1 for line in listing.splitlines() if line.startswith("process")) <= 1


def test_memory_is_stable_over_many_calls(gpu, monkeypatch):
    """10000 calls leave no allocation of the backend's behind (counted at the runtime, so
    exact whatever else uses the GPU) and, when this process is alone on the GPU, the
    device's free memory where it was (the two suites of tools/gpu_session.sh run side by
    side, and the other one's allocations move the device-wide figure)."""
    torch = pytest.importorskip("torch")
    probs = torch.from_numpy(_probs(np.random.default_rng(9), 4, 1000)).cuda()
    for _ in range(50):
        rocsample.sample(probs, top_k=5, top_p=0.9, backend=gpu.name)
    torch.cuda.synchronize()
    live: set[int] = set()
    rt = gpu.rt
    for name, free_name in (("alloc", "free"), ("alloc_async", "free_async")):
        alloc, free = getattr(rt, name), getattr(rt, free_name)

        def counted_alloc(*a, _alloc=alloc):
            ptr = _alloc(*a)
            live.add(ptr)
            return ptr

        def counted_free(ptr, *a, _free=free):
            live.discard(ptr)
            return _free(ptr, *a)

        monkeypatch.setattr(rt, name, counted_alloc)
        monkeypatch.setattr(rt, free_name, counted_free)
    alone = _alone_on_the_gpu(torch)
    free0 = torch.cuda.mem_get_info()[0]
    for i in range(10000):
        rocsample.sample(probs, top_k=5, top_p=0.9, offset=i, backend=gpu.name)
    torch.cuda.synchronize()
    assert not live, f"{len(live)} allocations of the calls are still live"
    if alone and _alone_on_the_gpu(torch):
        assert torch.cuda.mem_get_info()[0] == free0


def test_agreement_with_numpy_from_logits(gpu):
    """GPU softmax+sample vs numpy softmax+sample over a randomised suite.

    From the same float32 probabilities the two backends agree exactly (tested above); from
    logits they can differ only where the last-bit difference of exp moves a draw across a
    boundary. Each disagreement is shown to be such a near-tie: numpy sampling the GPU's own
    probabilities reproduces the GPU token, and the two softmax outputs differ by < 1e-5
    relative.
    """
    rng = np.random.default_rng(12345)
    rows = agree = 0
    for trial in range(60):
        b = int(rng.choice([1, 7, 32, 128, 512]))
        v = int(rng.choice([31, 1000, 32000, 50257]))
        logits = (rng.standard_normal((b, v)) * rng.uniform(0.5, 5)).astype(np.float32)
        kw = [dict(), dict(top_k=50), dict(top_p=0.9), dict(top_k=50, top_p=0.9),
              dict(min_p=0.1)][trial % 5]
        t = float(rng.uniform(0.3, 1.5))
        got = rocsample.sample_from_logits(logits, temperature=t, seed=trial, backend=gpu.name,
                                           **kw)
        want = rocsample.sample_from_logits(logits, temperature=t, seed=trial, backend="cpu",
                                            **kw)
        rows += b
        agree += int((got == want).sum())
        if not np.array_equal(got, want):
            gp = rocsample.softmax(logits, t, backend=gpu.name)
            cp_ = cpu_kernels.softmax(logits, t)
            assert np.array_equal(cpu_kernels.sample_rows(gp, seed=trial, **kw), got)
            assert np.allclose(gp, cp_, rtol=1e-5, atol=1e-30)
    rate = agree / rows
    print(f"GPU/numpy agreement from logits: {agree}/{rows} rows = {rate:.6f}")
    out = os.environ.get("ROCSAMPLE_RESULTS_DIR")
    if out:
        with open(os.path.join(out, "agreement.txt"), "w") as f:
            f.write(f"{agree} {rows} {rate:.6f}\n")
    assert rate >= 0.999


def test_two_gpus_get_their_own_modules_and_same_tokens(gpu):
    torch = pytest.importorskip("torch")
    if torch.cuda.device_count() < 2:
        pytest.skip(f"needs 2 GPUs; this machine has {torch.cuda.device_count()}")
    probs = _probs(np.random.default_rng(10), 16, 32000)
    b0 = get_backend(gpu.name, 0)
    b1 = get_backend(gpu.name, 1)
    assert b0 is not b1 and b0.kernels is not b1.kernels
    t0 = rocsample.sample(probs, top_k=50, top_p=0.9, seed=3, backend=gpu.name, device=0)
    t1 = rocsample.sample(probs, top_k=50, top_p=0.9, seed=3, backend=gpu.name, device=1)
    assert np.array_equal(t0, t1)
    assert "topk_topp_sampling" in b1.kernels.info()["kernels"]
    x1 = torch.from_numpy(probs).to("cuda:1")
    out = rocsample.sample(x1, top_k=50, top_p=0.9, seed=3, backend=gpu.name, device=1)
    assert torch.from_dlpack(out).device.index == 1
    with pytest.raises(ValueError, match="device"):
        rocsample.sample(x1, top_k=5, backend=gpu.name, device=0)


def test_profile_times_every_kernel(gpu):
    torch = pytest.importorskip("torch")
    probs = torch.from_numpy(_probs(np.random.default_rng(11), 32, 32000)).cuda()
    with rocsample.profile() as prof:
        rocsample.sample(probs, top_p=0.9, method="topp", backend=gpu.name)
        rocsample.sample(probs, top_k=50, top_p=0.9, backend=gpu.name)
    s = prof.summary()
    assert set(s) == {"topp_prefix_sum", "topp_threshold", "topp_sample", "topk_topp_sampling"}
    assert all(v["calls"] == 1 and v["total_us"] > 0 for v in s.values())
    assert "topk_topp_sampling" in prof.table()
