"""Statistical and exact tests of the numpy sampler (rocsample.backends.cpu_engine) against a
float64 oracle (tests/exact.py) written from the semantics in DESIGN.md, not from rocsample's
code.

How the distribution tests decide (all seeds are fixed, so every run draws the same tokens):

* B copies of one row in one ``sample_rows`` call are B independent draws (row r uses the
  Philox counter (offset, r)).
* Tokens outside the kept set (oracle probability 0) must never be drawn: asserted exactly.
* Goodness of fit: Pearson's chi-square over the kept support, bins merged (smallest expected
  counts first) until each bin expects >= 5 draws, df = bins - 1. Under H0 the statistic is
  asymptotically chi-square(df); the p-value is computed exactly from the regularised
  incomplete gamma function (exact.chi2_sf, no scipy) and the test fails when p < ALPHA = 1e-6.
  The chi-square test has little power against one missing small bin, so in addition every
  kept token expected >= 30 times must appear at least once: P(Poisson(30) = 0) = e^-30 < 1e-13
  per token, so with <= 1000 tokens a false alarm has probability < 1e-10.
* Exact draws: rs_common.h documents the draw as the point umulhi64(r, total) of the kept
  integer masses, r = (w1 << 32) | w0 of Philox4x32-10 with key seed and counter
  (offset lo, offset hi, row, 0). With an independent Philox (exact.py) that is u = r / 2**64 in
  [0, 1) and the token is the inverse CDF, in index order, of the float64 oracle's kept
  distribution. The implementation's cumulative masses differ from the oracle's by less than
  2 V / 2**39 (each integer mass is truncated by < 1 unit and the row maximum holds >= 2**39
  units), so every draw farther than eps = 4 * 2 V / 2**39 from a boundary must match the
  prediction token for token. This catches any wrong kept set with only a few hundred draws.
* Top-p and min-p parameters are nudged (to the nearest float32 values) so that no cut lies
  within that rounding distance of a cumulative-mass boundary (top-p) or of min_p * max
  (min-p, 2**-20 relative); the parameters are then exactly representable in float32, as the
  kernels take them.
"""

from __future__ import annotations

import functools
import math
import zlib

import numpy as np
import pytest

from rocsample.backends.cpu_engine import sample_rows, softmax, temperature_scale
from rocsample.philox import philox4x32_10, row_draws_u64

from . import exact

ALPHA = 1e-6
MIN_SEEN = 30.0  # a kept token expected this many times must be drawn at least once


def case_seed(name: str) -> int:
    """A fixed 64-bit seed per test case (crc32 is stable across runs and platforms)."""
    return (zlib.crc32(name.encode()) << 32) | zlib.crc32(name[::-1].encode())


def draw_copies(row: np.ndarray, n: int, seed: int, offset: int = 0, **params) -> np.ndarray:
    """n independent draws from one row: n copies of it in one batch."""
    row = np.asarray(row, dtype=np.float32)
    out = sample_rows(np.broadcast_to(row, (n, row.size)), seed=seed, offset=offset, **params)
    assert out.dtype == np.int32 and out.shape == (n,)
    return out


def exact_eps(vocab: int) -> float:
    return 4.0 * exact.mass_quantum_bound(vocab) + 1e-12


def check_distribution(tokens: np.ndarray, q: np.ndarray, label: str = "") -> None:
    """Draws never leave the support of q, and fit q (chi-square and per-token presence)."""
    vocab = q.size
    assert np.all((tokens >= 0) & (tokens < vocab)), f"{label}: token out of range"
    counts = np.bincount(tokens, minlength=vocab)
    outside = np.flatnonzero((q == 0) & (counts > 0))
    assert outside.size == 0, f"{label}: drew tokens outside the kept set: {outside[:10]}"
    n = tokens.size
    missing = np.flatnonzero((q * n >= MIN_SEEN) & (counts == 0))
    assert missing.size == 0, f"{label}: kept tokens never drawn: {missing[:10]}"
    stat, df, pval = exact.chi_square(counts, q)
    assert pval >= ALPHA, f"{label}: chi-square {stat:.1f} on {df} df, p = {pval:.2e}"


def check_exact_draws(tokens: np.ndarray, q: np.ndarray, u: np.ndarray, label: str = "",
                      max_ambiguous: int | None = None) -> None:
    """Every draw away from a boundary is the oracle's inverse-CDF token for its uniform."""
    predicted, ambiguous = exact.predict_draws(q, u, exact_eps(q.size))
    bad = np.flatnonzero(~ambiguous & (tokens != predicted))
    assert bad.size == 0, (
        f"{label}: {bad.size} of {tokens.size} draws differ from the oracle, e.g. row {bad[0]}: "
        f"got {tokens[bad[0]]}, expected {predicted[bad[0]]}"
    )
    if max_ambiguous is None:
        max_ambiguous = max(2, tokens.size // 1000)
    assert ambiguous.sum() <= max_ambiguous, f"{label}: too many boundary draws"


# ----------------------------------------------------------------------------------------------
# Input shapes and the parameter matrix
# ----------------------------------------------------------------------------------------------

SHAPES = ("spread", "peaked")
VOCABS = (1, 2, 31, 1000)


@functools.cache
def shape_row(shape: str, vocab: int) -> np.ndarray:
    """spread: softmax(3 z); peaked: softmax(z + 12 e_j); z ~ N(0, 1), as float32."""
    rng = np.random.default_rng(zlib.crc32(f"{shape}/{vocab}".encode()))
    z = rng.standard_normal(vocab)
    if shape == "spread":
        logits = 3.0 * z
    else:
        logits = z.copy()
        logits[rng.integers(vocab)] += 12.0
    row = exact.softmax(logits).astype(np.float32)
    row.flags.writeable = False
    return row


# name -> (top_k, top_p, min_p); "V" and "V-1" are resolved per vocabulary size.
CONFIGS: dict[str, tuple] = {
    "plain": (None, None, None),
    "k1": (1, None, None),
    "k2": (2, None, None),
    "k50": (50, None, None),
    "kV-1": ("V-1", None, None),
    "kV": ("V", None, None),
    "p1e-6": (None, 1e-6, None),
    "p0.5": (None, 0.5, None),
    "p0.9": (None, 0.9, None),
    "p0.999999": (None, 0.999999, None),
    "p1": (None, 1.0, None),
    "k50p0.9": (50, 0.9, None),
    "k2p0.5": (2, 0.5, None),
    "kV-1p0.999999": ("V-1", 0.999999, None),
    "min0": (None, None, 0.0),
    "min0.1": (None, None, 0.1),
    "min1": (None, None, 1.0),
    "k50p0.9min0.1": (50, 0.9, 0.1),
}

# Draws for a case whose kept set is new for its (shape, V) and holds more than one token.
# sample_rows costs ~0.1 ms per row in numpy, so the sizes are set per case rather than 20k+
# everywhere: the chi-square has >= 5 expected per merged bin at these sizes, and the
# exact-draw check (which catches a wrong kept set with a few hundred draws) runs on every case.
FULL_DRAWS = {2: 4000, 31: 4000, 1000: 6000}
FULL_DRAWS_PLAIN_1000 = 20000  # the unfiltered V = 1000 cases, the widest supports
# Draws for a case whose kept set equals one already tested at FULL_DRAWS (same distribution,
# so it only needs the exact-draw and support checks) or has a single token.
FEW_DRAWS = 300


@functools.cache
def resolved_params(shape: str, vocab: int, name: str) -> tuple:
    row = shape_row(shape, vocab)
    k, p, mp = CONFIGS[name]
    k = {"V": vocab, "V-1": vocab - 1}.get(k, k) if isinstance(k, str) else k
    if p is not None:
        p = exact.safe_top_p(row, p, k)
    if mp is not None:
        mp = exact.safe_min_p(row, mp)
    return k, p, mp


@functools.cache
def kept_support(shape: str, vocab: int, name: str) -> tuple[int, ...]:
    q = exact.sampling_probs(shape_row(shape, vocab), *resolved_params(shape, vocab, name))
    return tuple(np.flatnonzero(q > 0).tolist())


def draws_for(shape: str, vocab: int, name: str) -> int:
    support = kept_support(shape, vocab, name)
    if vocab == 1:
        return 100  # every V = 1 case has the one token
    if len(support) == 1:
        return FEW_DRAWS
    names = list(CONFIGS)
    for earlier in names[: names.index(name)]:
        if kept_support(shape, vocab, earlier) == support:
            return FEW_DRAWS
    if vocab == 1000 and name == "plain":
        return FULL_DRAWS_PLAIN_1000
    return FULL_DRAWS[vocab]


def matrix_params() -> list:
    out = []
    for shape in SHAPES:
        for vocab in VOCABS:
            for name in CONFIGS:
                n = draws_for(shape, vocab, name)
                marks = [pytest.mark.slow] if n >= FULL_DRAWS[1000] else []
                out.append(pytest.param(shape, vocab, name, n, marks=marks,
                                        id=f"{shape}-V{vocab}-{name}-n{n}"))
    return out


@pytest.mark.parametrize(("shape", "vocab", "name", "n"), matrix_params())
def test_filter_matrix(shape: str, vocab: int, name: str, n: int) -> None:
    """Plain, top-k, top-p, top-k + top-p and min-p draws follow the oracle's distribution."""
    row = shape_row(shape, vocab)
    top_k, top_p, min_p = resolved_params(shape, vocab, name)
    q = exact.sampling_probs(row, top_k, top_p, min_p)
    seed = case_seed(f"matrix/{shape}/{vocab}/{name}")
    tokens = draw_copies(row, n, seed, top_k=top_k, top_p=top_p, min_p=min_p)
    label = f"{shape} V={vocab} {name} (k={top_k}, p={top_p!r}, min_p={min_p!r})"
    check_distribution(tokens, q, label)
    check_exact_draws(tokens, q, exact.row_uniforms(seed, 0, n), label)


def test_matrix_covers_distinct_cuts() -> None:
    """The matrix is not vacuous: the filters really cut, and differently from one another."""
    spread = {name: kept_support("spread", 1000, name) for name in CONFIGS}
    assert len(spread["plain"]) == 1000
    assert len(spread["k1"]) == 1 and len(spread["k2"]) == 2 and len(spread["k50"]) == 50
    assert len(spread["kV-1"]) == 999 and len(spread["p1e-6"]) == 1
    assert 1 < len(spread["p0.5"]) < len(spread["p0.9"]) < len(spread["p0.999999"]) < 1000
    assert 1 < len(spread["min0.1"]) < 1000 and len(spread["min1"]) == 1
    assert len(spread["k50p0.9"]) < 50
    peaked = {name: kept_support("peaked", 1000, name) for name in CONFIGS}
    assert len(peaked["p0.9"]) == 1 and len(peaked["p0.999999"]) > 1


# ----------------------------------------------------------------------------------------------
# Per-row parameters
# ----------------------------------------------------------------------------------------------


def test_per_row_top_k_alternating() -> None:
    row = shape_row("spread", 31)
    n = 16000
    ks = np.where(np.arange(n) % 2 == 0, 3, 10)
    seed = case_seed("per-row-k")
    tokens = draw_copies(row, n, seed, top_k=ks)
    u = exact.row_uniforms(seed, 0, n)
    for k in (3, 10):
        sel = ks == k
        q = exact.sampling_probs(row, top_k=k)
        check_distribution(tokens[sel], q, f"rows with k={k}")
        check_exact_draws(tokens[sel], q, u[sel], f"rows with k={k}")


def test_per_row_mixed_parameters_and_rows() -> None:
    """Rows alternate between two inputs and three parameter sets, all given per row."""
    rows = (shape_row("spread", 1000), shape_row("peaked", 31))
    vocab = 1000
    a = rows[0]
    b = np.zeros(vocab, dtype=np.float32)
    b[:31] = rows[1]
    n = 9000
    which = np.arange(n) % 3
    probs = np.where((which == 1)[:, None], b[None, :], a[None, :]).astype(np.float32)
    ks = np.array([50, 0, 7])[which]
    ps = np.array(
        [exact.safe_top_p(a, 0.8, 50), 1.0, exact.safe_top_p(a, 0.95, 7)], dtype=np.float32
    )[which]
    mps = np.array([0.0, exact.safe_min_p(b, 1e-4), exact.safe_min_p(a, 0.05)],
                   dtype=np.float32)[which]
    seed = case_seed("per-row-mixed")
    tokens = sample_rows(probs, top_k=ks, top_p=ps, min_p=mps, seed=seed)
    u = exact.row_uniforms(seed, 0, n)
    for w in range(3):
        sel = which == w
        i = int(np.flatnonzero(sel)[0])
        q = exact.sampling_probs(probs[i], int(ks[i]), float(ps[i]), float(mps[i]))
        check_distribution(tokens[sel], q, f"parameter set {w}")
        check_exact_draws(tokens[sel], q, u[sel], f"parameter set {w}")
    # A per-row array with one value everywhere is the scalar.
    scalar = sample_rows(probs[:300], top_k=50, top_p=float(ps[0]), seed=seed)
    arrays = sample_rows(probs[:300], top_k=np.full(300, 50), top_p=np.full(300, ps[0]),
                         seed=seed)
    np.testing.assert_array_equal(scalar, arrays)


# ----------------------------------------------------------------------------------------------
# Ties, one-hot rows, V = 1, unnormalised and denormal rows
# ----------------------------------------------------------------------------------------------

TIED = np.array([0.05, 0.1, 0.3, 0.1, 0.1, 0.2, 0.1, 0.05], dtype=np.float32)


@pytest.mark.parametrize(
    ("params", "kept"),
    [
        ({"top_k": 3}, [1, 2, 3, 4, 5, 6]),  # the 3rd largest is 0.1, held by four tokens
        ({"top_k": 6}, [1, 2, 3, 4, 5, 6]),
        ({"top_k": 7}, list(range(8))),  # the 7th largest is 0.05: both 0.05s kept
        ({"top_p": 0.55}, [1, 2, 3, 4, 5, 6]),  # 0.3 + 0.2 < 0.55: the cut lands in the 0.1s
        ({"top_k": 4, "top_p": 0.7}, [1, 2, 3, 4, 5, 6]),
    ],
)
def test_ties_at_the_cut_are_all_kept_and_equally_likely(params: dict, kept: list) -> None:
    n = 4000
    seed = case_seed(f"ties/{sorted(params.items())}")
    tokens = draw_copies(TIED, n, seed, **params)
    q = exact.sampling_probs(TIED, params.get("top_k"), params.get("top_p"))
    assert np.flatnonzero(q).tolist() == kept  # the oracle agrees with the hand count
    check_distribution(tokens, q, str(params))
    check_exact_draws(tokens, q, exact.row_uniforms(seed, 0, n), str(params))
    counts = np.bincount(tokens, minlength=TIED.size)
    tied = [1, 3, 4, 6]
    stat, df, pval = exact.chi_square(counts[tied], np.full(4, 0.25))
    assert pval >= ALPHA, f"tied tokens not equally likely: {counts[tied]}"


DYADIC = np.array([1.0, 8.0, 0.5, 2.0, 4.0, 1.0], dtype=np.float32)  # mass 16.5


@pytest.mark.parametrize(
    ("params", "kept"),
    [
        ({"top_k": 4, "top_p": 0.75}, [1, 4]),  # top-4 (with the tied 1s) holds 16; 8 + 4 = 12
        ({"top_k": 4, "top_p": 0.5}, [1]),  # 8 = 0.5 * 16: the prefix {8} is enough
        ({"top_k": 4, "top_p": 0.875}, [1, 3, 4]),  # 8 + 4 + 2 = 14 = 0.875 * 16
        ({"min_p": 0.25}, [1, 3, 4]),  # 0.25 * 8 = 2: the 2 is kept (>=)
        ({"min_p": 0.125}, [0, 1, 3, 4, 5]),  # 0.125 * 8 = 1: both 1s kept, 0.5 dropped
        ({"top_k": 4, "top_p": 0.75, "min_p": 0.5}, [1, 4]),
    ],
)
def test_cuts_exactly_on_a_boundary(params: dict, kept: list) -> None:
    """Dyadic values make every mass, threshold and product exact in the implementation too,
    so a cut that lands exactly on a cumulative mass (top-p: the prefix with mass == p is the
    shortest with mass >= p) or on a value (min-p: >=) is decided exactly."""
    q = exact.sampling_probs(DYADIC, params.get("top_k"), params.get("top_p"),
                             params.get("min_p"))
    assert np.flatnonzero(q).tolist() == kept
    n = 3000
    seed = case_seed(f"dyadic/{sorted(params.items())}")
    tokens = draw_copies(DYADIC, n, seed, **params)
    check_distribution(tokens, q, str(params))
    check_exact_draws(tokens, q, exact.row_uniforms(seed, 0, n), str(params))


def test_all_equal_row_with_top_k() -> None:
    row = np.full(31, 0.25, dtype=np.float32)
    n = 6000
    tokens = draw_copies(row, n, case_seed("all-equal"), top_k=5, top_p=0.1)
    check_distribution(tokens, np.full(31, 1 / 31), "all tied")


@pytest.mark.parametrize(
    "params",
    [{}, {"top_k": 1}, {"top_k": 50}, {"top_p": 1e-6}, {"top_p": 0.5}, {"top_p": 0.999999},
     {"min_p": 0.1}, {"min_p": 1.0}, {"top_k": 5, "top_p": 0.9, "min_p": 0.5}],
)
def test_one_hot_rows_always_give_their_token(params: dict) -> None:
    vocab, n = 1000, 300
    hot = (np.arange(n) * 37 + 11) % vocab
    probs = np.zeros((n, vocab), dtype=np.float32)
    probs[np.arange(n), hot] = np.linspace(1e-30, 1e30, n, dtype=np.float32)
    np.testing.assert_array_equal(sample_rows(probs, seed=7, **params), hot)


@pytest.mark.parametrize(
    "params", [{}, {"top_k": 1}, {"top_k": 5}, {"top_p": 1e-6}, {"top_p": 0.5}, {"min_p": 1.0}]
)
def test_vocab_of_one(params: dict) -> None:
    values = np.array([1.0, 0.5, 1e-30, 1e30, 1e-45, 3e38, 7.0, 2.0**-149], dtype=np.float32)
    probs = np.repeat(values, 40)[:, None]
    np.testing.assert_array_equal(sample_rows(probs, seed=3, **params), 0)
    bad = np.array([[0.0], [-0.0], [np.nan], [np.inf], [-np.inf], [-1.0]], dtype=np.float32)
    np.testing.assert_array_equal(sample_rows(bad, seed=3, **params), -1)


def powers_of_two_row(seed: int) -> np.ndarray:
    """2**-1 ... 2**-20 and another 2**-20, shuffled: sums to exactly 1, and scaling it by any
    float32 keeps every ratio exact (each product has the scale's mantissa)."""
    values = np.array([2.0**-i for i in range(1, 21)] + [2.0**-20], dtype=np.float32)
    return np.random.default_rng(seed).permutation(values)


SCALE_PARAMS = [{}, {"top_k": 10, "top_p": 0.97}, {"top_p": 0.8, "min_p": 0.01}]


@pytest.mark.parametrize("params", SCALE_PARAMS)
@pytest.mark.parametrize(
    ("base", "scale"),
    [("pow2", 1e-30), ("pow2", 1e30), ("spread", 2.0**-100), ("spread", 2.0**100),
     ("peaked", 2.0**-96), ("peaked", 2.0**100)],
)
def test_unnormalised_rows_draw_identically(base: str, scale: float, params: dict) -> None:
    """Only ratios matter: a normalised row and the same row scaled by ~1e-30 or ~1e30 give
    the same token in every draw (the scale is chosen so the float32 product is exact)."""
    row = powers_of_two_row(1) if base == "pow2" else shape_row(base, 31)
    s = np.float32(scale)
    scaled = row * s
    assert np.array_equal(scaled.astype(np.float64), row.astype(np.float64) * float(s))
    seed = case_seed(f"scale/{base}/{scale}/{sorted(params.items())}")
    n = 600
    ref = draw_copies(row, n, seed, offset=5, **params)
    np.testing.assert_array_equal(draw_copies(scaled, n, seed, offset=5, **params), ref)
    q = exact.sampling_probs(row, params.get("top_k"), params.get("top_p"), params.get("min_p"))
    check_exact_draws(ref, q, exact.row_uniforms(seed, 5, n), f"{base} x {scale}")


@pytest.mark.parametrize("scale", [1e-30, 1e30, 3e-38, 1e-40])
def test_generic_unnormalised_rows_sample_their_ratios(scale: float) -> None:
    """Arbitrary scales round each value; the draws still follow the scaled row's ratios."""
    row = shape_row("spread", 31)
    scaled = (row * np.float32(scale)).astype(np.float32)
    n = 4000
    seed = case_seed(f"generic-scale/{scale}")
    tokens = draw_copies(scaled, n, seed)
    q = exact.sampling_probs(scaled)
    check_distribution(tokens, q, f"x {scale}")
    check_exact_draws(tokens, q, exact.row_uniforms(seed, 0, n), f"x {scale}")


def multiscale_row(vocab: int = 10000) -> np.ndarray:
    """A row over three 4096-element sub-chunks whose 128-element runs sit at scales 2**0 ..
    2**-7 (a few at 2**-30), with zeros: plain sampling weighs each sub-chunk at its own
    scale (see kernels/rs_common.h), the filters use the row's."""
    rng = np.random.default_rng(zlib.crc32(b"multiscale"))
    row = rng.random(vocab).astype(np.float32)
    scale = 2.0 ** -rng.integers(0, 8, -(-vocab // 128)).astype(np.float64)
    scale[rng.integers(0, scale.size, 5)] = 2.0**-30
    row *= np.repeat(scale, 128)[:vocab].astype(np.float32)
    row[rng.integers(0, vocab, 300)] = 0.0
    return row


@pytest.mark.parametrize("params", [{}, {"min_p": 0.5}, {"top_k": 3000}])
def test_multiscale_rows_follow_the_exact_cdf(params: dict) -> None:
    """Rows of sub-chunks at different scales, values at many scales within each: plain
    sampling's per-sub-chunk scales and the filtered paths' row scale both give the
    oracle's token for every draw away from a boundary."""
    row = multiscale_row()
    n = 3000
    seed = case_seed(f"multiscale/{sorted(params.items())}")
    tokens = draw_copies(row, n, seed, **params)
    q = exact.sampling_probs(row, params.get("top_k"), None, params.get("min_p"))
    check_distribution(tokens, q, f"multiscale {params}")
    # A uniform lands within eps of one of the <= V + 1 cumulative edges with probability
    # <= 2 eps (V + 1): allow that expectation plus six standard deviations.
    expect = n * min(1.0, 2 * exact_eps(row.size) * (row.size + 1))
    check_exact_draws(tokens, q, exact.row_uniforms(seed, 0, n), f"multiscale {params}",
                      max_ambiguous=int(expect + 6 * math.sqrt(expect) + 2))


DENORMAL_UNITS = np.array([0, 3, 1, 7, 2, 0, 5, 4, 9, 1, 6, 8, 2, 3], dtype=np.int64)


def denormal_row(units: np.ndarray = DENORMAL_UNITS) -> np.ndarray:
    """Multiples of the smallest denormal 2**-149 (every value subnormal or zero)."""
    row = (units.astype(np.float64) * 2.0**-149).astype(np.float32)
    assert np.array_equal(row.view(np.uint32), units.astype(np.uint32))  # bits == units
    return row


@pytest.mark.parametrize("params", [{}, {"top_k": 4}, {"top_p": 0.5}, {"top_k": 6, "top_p": 0.6}])
def test_denormal_only_rows_are_valid_and_proportional(params: dict) -> None:
    row = denormal_row()
    n = 4000
    seed = case_seed(f"denormal/{sorted(params.items())}")
    tokens = draw_copies(row, n, seed, **params)
    q = exact.sampling_probs(row, params.get("top_k"), params.get("top_p"))
    if not params:
        np.testing.assert_allclose(q, DENORMAL_UNITS / DENORMAL_UNITS.sum(), rtol=1e-15)
    check_distribution(tokens, q, f"denormal {params}")
    check_exact_draws(tokens, q, exact.row_uniforms(seed, 0, n), f"denormal {params}")


def test_denormal_larger_row() -> None:
    units = np.random.default_rng(5).integers(0, 2**23, size=1000)
    row = denormal_row(units)
    n = 10000
    seed = case_seed("denormal-wide")
    tokens = draw_copies(row, n, seed)
    q = exact.sampling_probs(row)
    check_distribution(tokens, q, "denormal V=1000")
    check_exact_draws(tokens, q, exact.row_uniforms(seed, 0, n), "denormal V=1000")


@pytest.mark.parametrize("min_p", [0.13, 0.25, 0.45])
def test_min_p_on_denormal_row_uses_the_exact_threshold(min_p: float) -> None:
    """min-p keeps p >= min_p * max(p). In a denormal row the float32 product min_p * max is
    itself a denormal and rounds by up to half a unit: with max = 10 units and min_p = 0.13 the
    threshold is 1.3 units, so the 1-unit token must be dropped."""
    units = np.arange(1, 11)
    row = denormal_row(units)
    mp = float(np.float32(min_p))
    q = exact.sampling_probs(row, min_p=mp)
    kept = np.flatnonzero(q).tolist()
    assert kept == [i for i in range(10) if units[i] >= mp * 10]
    tokens = draw_copies(row, 4000, case_seed(f"denormal-minp/{min_p}"), min_p=mp)
    check_distribution(tokens, q, f"denormal min_p={mp!r}")


def test_min_p_threshold_not_rounded_down_onto_a_value() -> None:
    """A normal-range row holding exactly float32(min_p * max) rounded down: that value is
    below min_p * max, so min-p must drop it."""
    mx = np.float32(0.7)
    mp = None
    for cand in np.float32(0.1) + np.arange(64, dtype=np.float32) * np.float32(2.0**-27):
        t = float(cand) * float(mx)
        if float(np.float32(t)) < t:  # the float32 product rounds down
            mp = float(cand)
            break
    assert mp is not None
    below = np.float32(float(mp) * float(mx))  # the float32 product, just below the threshold
    assert float(below) < mp * float(mx)
    row = np.array([mx, below, np.float32(0.01), np.float32(0.2)], dtype=np.float32)
    q = exact.sampling_probs(row, min_p=mp)
    assert q[1] == 0 and q[0] > 0 and q[3] > 0
    tokens = draw_copies(row, 2000, case_seed("minp-ulp"), min_p=mp)
    check_distribution(tokens, q, f"min_p={mp!r} with a value at float32(min_p * max)")


# ----------------------------------------------------------------------------------------------
# Philox and the counter layout
# ----------------------------------------------------------------------------------------------

KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    (
        [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
        [0xA4093822, 0x299F31D0],
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
    ),
]


@pytest.mark.parametrize(("ctr", "key", "expected"), KAT)
def test_philox_known_answers(ctr: list, key: list, expected: list) -> None:
    got = philox4x32_10(ctr, key)
    assert got.dtype == np.uint32 and got.shape == (1, 4)
    assert [int(w) for w in got[0]] == expected
    assert [int(w) for w in exact.philox4x32_10(ctr, key)] == expected  # the oracle's, too


def test_philox_batch_matches_single_counters() -> None:
    rng = np.random.default_rng(11)
    ctrs = rng.integers(0, 2**32, size=(64, 4), dtype=np.uint64)
    key = [0x12345678, 0x9ABCDEF0]
    batch = philox4x32_10(ctrs, key)
    ref = exact.philox4x32_10(tuple(ctrs.T), key)
    np.testing.assert_array_equal(batch, np.stack(ref, axis=1).astype(np.uint32))


@pytest.mark.parametrize(
    ("seed", "offset"), [(0, 0), (1, 0), (2**64 - 1, 2**64 - 1), (0xDEADBEEF12345678, 2**32 + 5)]
)
def test_row_words_use_the_documented_counter(seed: int, offset: int) -> None:
    rows = 50
    words = row_draws_u64(seed, offset, rows)
    w0, w1, _, _ = exact.philox4x32_10(
        ([offset & 0xFFFFFFFF] * rows, [offset >> 32] * rows, np.arange(rows), [0] * rows),
        (seed & 0xFFFFFFFF, seed >> 32),
    )
    assert words == [(int(b) << 32) | int(a) for a, b in zip(w0, w1, strict=True)]


def uniform_row(vocab: int = 1000) -> np.ndarray:
    return np.full(vocab, 1.0 / vocab, dtype=np.float32)


def test_reproducible_for_same_seed_and_offset() -> None:
    probs = np.stack([shape_row("spread", 1000)] * 100 + [uniform_row()] * 100)
    for params in ({}, {"top_k": 50, "top_p": 0.9, "min_p": 0.01}):
        a = sample_rows(probs, seed=123, offset=9, **params)
        b = sample_rows(probs.copy(), seed=123, offset=9, **params)
        np.testing.assert_array_equal(a, b)


def test_different_offset_or_seed_changes_draws() -> None:
    """On a uniform V = 1000 row two independent draws agree with probability 1e-3, so among
    256 rows the number of agreements is ~Poisson(0.26): P(>= 6) < 1e-6."""
    n = 256
    base = draw_copies(uniform_row(), n, seed=42, offset=0)
    for seed, offset in ((42, 1), (42, 2**32), (43, 0), (42 + 2**32, 0)):
        other = draw_copies(uniform_row(), n, seed=seed, offset=offset)
        assert np.sum(base == other) <= 5, (seed, offset)
    assert len(set(base.tolist())) > 200  # rows of one call are independent too


def test_row_draw_does_not_depend_on_batch_size() -> None:
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((128, 500)) * 2
    probs = np.stack([exact.softmax(x) for x in logits]).astype(np.float32)
    ks = rng.integers(0, 60, size=128)
    ps = rng.uniform(0.3, 1.0, size=128).astype(np.float32)
    mps = rng.uniform(0.0, 0.05, size=128).astype(np.float32)
    for params in ({}, {"top_k": 20}, {"top_k": ks, "top_p": ps, "min_p": mps}):
        big = sample_rows(probs, seed=77, offset=3, **params)
        small_params = {k: (v[:7] if isinstance(v, np.ndarray) else v) for k, v in params.items()}
        small = sample_rows(probs[:7], seed=77, offset=3, **small_params)
        np.testing.assert_array_equal(small, big[:7])
        one = sample_rows(probs[:1], seed=77, offset=3,
                          **{k: (v[:1] if isinstance(v, np.ndarray) else v)
                             for k, v in params.items()})
        assert one[0] == big[0]


# ----------------------------------------------------------------------------------------------
# Invalid rows
# ----------------------------------------------------------------------------------------------


def invalid_rows(vocab: int) -> list[np.ndarray]:
    base = shape_row("spread", vocab).copy()
    rows = []
    for bad in (np.nan, np.inf, -np.inf, -1e-3, -(2.0**-149)):
        r = base.copy()
        r[vocab // 3] = bad
        rows.append(r)
    rows.append(np.zeros(vocab, dtype=np.float32))
    rows.append(np.full(vocab, -0.0, dtype=np.float32))
    return rows


@pytest.mark.parametrize(
    "params",
    [{}, {"top_k": 5}, {"top_p": 0.7}, {"min_p": 0.2}, {"top_k": 40, "top_p": 0.9, "min_p": 0.01}],
)
def test_invalid_rows_give_minus_one_and_leave_others_alone(params: dict) -> None:
    vocab = 31
    bad = invalid_rows(vocab)
    n = 200
    rng = np.random.default_rng(9)
    good = np.stack([shape_row(("spread", "peaked")[i % 2], vocab) for i in range(n)])
    bad_at = rng.choice(n, size=60, replace=False)
    mixed = good.copy()
    for j, i in enumerate(bad_at):
        mixed[i] = bad[j % len(bad)]
    got = sample_rows(mixed, seed=5, offset=1, **params)
    ref = sample_rows(good, seed=5, offset=1, **params)
    assert np.all(got[bad_at] == -1)
    ok = np.setdiff1d(np.arange(n), bad_at)
    np.testing.assert_array_equal(got[ok], ref[ok])
    assert np.all(ref >= 0)
    # Alone: a valid row r gives the same token in a batch of its own rows 0..r.
    for i in ok[:5]:
        assert sample_rows(mixed[: i + 1], seed=5, offset=1, **params)[i] == got[i]
    # Every kind of bad row alone.
    np.testing.assert_array_equal(sample_rows(np.stack(bad), seed=5, **params), -1)


def test_negative_zero_counts_as_zero() -> None:
    row = np.array([-0.0, 0.25, -0.0, 0.75], dtype=np.float32)
    tokens = draw_copies(row, 4000, case_seed("neg-zero"))
    check_distribution(tokens, exact.sampling_probs(row), "-0.0 entries")


# ----------------------------------------------------------------------------------------------
# softmax and temperature
# ----------------------------------------------------------------------------------------------


def softmax_ref(logits: np.ndarray, temperature) -> np.ndarray:
    t = np.broadcast_to(np.asarray(temperature, dtype=np.float32), (logits.shape[0],))
    return np.stack([exact.softmax(x, float(tt)) for x, tt in zip(logits, t, strict=True)])


@pytest.mark.parametrize("temperature", [1.0, 0.8, 2.0, 10.0])
def test_softmax_matches_float64(temperature: float) -> None:
    """The float32 evaluation of exp((x - max) / T) carries a rounding error ~ 2**-24 of each
    operand, so the logits are kept small (|x / T| <= ~4) where 1e-6 relative holds."""
    rng = np.random.default_rng(int(temperature * 10))
    logits = (rng.standard_normal((16, 1000)) * min(1.0, temperature)).astype(np.float32)
    got = softmax(logits, temperature)
    assert got.dtype == np.float32 and got.shape == logits.shape
    np.testing.assert_allclose(got, softmax_ref(logits, temperature), rtol=1e-6, atol=0)


def test_softmax_per_row_temperature() -> None:
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((6, 200)).astype(np.float32)
    temps = np.array([1.0, 0.5, 2.0, 0.0, 1.0, 4.0], dtype=np.float32)
    got = softmax(logits, temps)
    ref = softmax_ref(logits, temps)
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=0)
    assert np.array_equal(got[3], ref[3])


def test_softmax_zero_temperature_is_the_max_indicator() -> None:
    logits = np.array([[1.0, 3.0, -2.0, 3.0, 0.5], [0.0, -np.inf, 7.0, 7.0, 7.0],
                       [-np.inf, -1.0, -np.inf, -5.0, -1.5]], dtype=np.float32)
    got = softmax(logits, 0.0)
    expected = np.array([[0, 1, 0, 1, 0], [0, 0, 1, 1, 1], [0, 1, 0, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, softmax_ref(logits, 0.0))


def test_softmax_negative_infinity_logits_get_zero() -> None:
    logits = np.array([[-np.inf, 0.0, 1.0, -np.inf, 2.0]], dtype=np.float32)
    for t in (1.0, 0.3):
        got = softmax(logits, t)
        assert got[0, 0] == 0 and got[0, 3] == 0
        np.testing.assert_allclose(got, softmax_ref(logits, t), rtol=1e-6, atol=0)
        seed = case_seed(f"neg-inf/{t}")
        tokens = draw_copies(got[0], 5000, seed)
        check_distribution(tokens, exact.softmax(logits[0], t), f"-inf logits, T={t}")


@pytest.mark.parametrize("temperature", [1.0, 0.0, 0.5])
def test_softmax_bad_rows_give_nan_and_sampling_gives_minus_one(temperature: float) -> None:
    logits = np.array([[0.0, np.nan, 1.0], [0.0, np.inf, 1.0], [np.inf, np.inf, 1.0],
                       [1.0, 2.0, 3.0]], dtype=np.float32)
    got = softmax(logits, temperature)
    assert np.all(np.isnan(got[:3]))
    assert np.all(np.isfinite(got[3]))
    out = sample_rows(got, seed=1)
    assert out[:3].tolist() == [-1, -1, -1] and out[3] >= 0
    # All -inf: no mass at all; whatever softmax gives, sampling it gives -1.
    all_neg = softmax(np.full((1, 4), -np.inf, dtype=np.float32), temperature)
    assert sample_rows(all_neg, seed=1).tolist() == [-1]


def test_softmax_negative_temperature_gives_nan() -> None:
    logits = np.ones((2, 3), dtype=np.float32)
    assert np.all(np.isnan(softmax(logits, -1.0)))
    got = softmax(logits, np.array([1.0, -0.5], dtype=np.float32))
    assert np.all(np.isfinite(got[0])) and np.all(np.isnan(got[1]))


def test_temperature_scale() -> None:
    rng = np.random.default_rng(4)
    logits = (rng.standard_normal((5, 300)) * 10).astype(np.float32)
    logits[0, :3] = [-np.inf, np.inf, 0.0]
    temps = np.array([0.7, 0.0, -1.0, 3.0, 1e-3], dtype=np.float32)
    got = temperature_scale(logits, temps)
    assert got.dtype == np.float32 and got.shape == logits.shape
    # Division of two float32s, correctly rounded: the float64 quotient rounded to float32.
    for r in (0, 3, 4):
        with np.errstate(over="ignore"):
            expected = (logits[r].astype(np.float64) / float(temps[r])).astype(np.float32)
        np.testing.assert_array_equal(got[r], expected)
    np.testing.assert_array_equal(got[1], logits[1])  # T = 0 copies
    assert np.all(np.isnan(got[2]))  # T < 0 gives NaN
    np.testing.assert_array_equal(temperature_scale(logits, 2.0)[3], logits[3] / np.float32(2))
    assert np.all(np.isnan(temperature_scale(logits, -2.0)))
    np.testing.assert_array_equal(temperature_scale(logits, 0.0), logits)


# ----------------------------------------------------------------------------------------------
# Greedy (T = 0)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{}, {"top_k": 1}, {"top_k": 5}, {"top_p": 0.5}, {"min_p": 0.1}, {"min_p": 1.0}]
)
def test_greedy_returns_the_argmax(params: dict) -> None:
    rng = np.random.default_rng(8)
    logits = (rng.standard_normal((256, 1000)) * 3).astype(np.float32)
    probs = softmax(logits, 0.0)
    np.testing.assert_array_equal(sample_rows(probs, seed=99, **params), np.argmax(logits, axis=1))


@pytest.mark.parametrize("params", [{}, {"top_k": 1}, {"top_p": 1e-6}, {"min_p": 1.0}])
def test_greedy_ties_are_uniform(params: dict) -> None:
    vocab = 1000
    logits = np.random.default_rng(6).standard_normal(vocab).astype(np.float32)
    tied = [17, 404, 405, 998]
    logits[tied] = logits.max() + 1.0
    probs = softmax(logits[None, :], 0.0)[0]
    assert np.flatnonzero(probs).tolist() == tied
    n = 3000
    tokens = draw_copies(probs, n, case_seed(f"greedy-ties/{sorted(params.items())}"), **params)
    q = np.zeros(vocab)
    q[tied] = 1.0 / len(tied)
    check_distribution(tokens, q, f"greedy ties {params}")


# ----------------------------------------------------------------------------------------------
# The oracle itself
# ----------------------------------------------------------------------------------------------


def test_oracle_filters_on_hand_examples() -> None:
    row = np.array([0.2, 0.5, 0.3])
    assert exact.kept_mask(row, top_p=0.6).tolist() == [False, True, True]
    assert exact.kept_mask(row, top_p=0.5).tolist() == [False, True, False]
    assert exact.kept_mask(row, top_k=2, top_p=0.6).tolist() == [False, True, False]
    assert exact.kept_mask(row, top_k=2, top_p=0.7).tolist() == [False, True, True]
    assert exact.kept_mask(row, min_p=0.5).tolist() == [False, True, True]
    assert exact.kept_mask(row * 1e-30, top_p=0.6).tolist() == [False, True, True]
    assert exact.sampling_probs([0.0, -0.0]) is None
    assert exact.sampling_probs([1.0, np.nan]) is None
    np.testing.assert_allclose(exact.sampling_probs(row, top_k=2), [0, 0.625, 0.375])


def test_oracle_chi_square_tail() -> None:
    for x in (0.5, 3.0, 23.9, 60.0):
        assert math.isclose(exact.chi2_sf(x, 1), math.erfc(math.sqrt(x / 2)), rel_tol=1e-9)
        assert math.isclose(exact.chi2_sf(x, 2), math.exp(-x / 2), rel_tol=1e-9)
    # Wilson-Hilferty is accurate to a fraction of a percent at large df.
    z = 4.753424308822899  # standard normal quantile of 1 - 1e-6
    for df in (50, 200, 900):
        wh = df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3
        assert math.isclose(exact.chi2_isf(1e-6, df), wh, rel_tol=5e-3)
