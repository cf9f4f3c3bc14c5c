"""A float64 oracle for rocsample's sampling semantics, written from the definitions.

Nothing here imports rocsample: every rule is re-derived from ``DESIGN.md`` ("Sampling
semantics") so the tests compare the implementation with an independent statement of what
"correct" means.

* A row is valid when every value is finite and >= 0 (-0.0 counts as 0) and the row has
  positive mass; rules apply to ``p / sum(p)``.
* top-k keeps every token >= the k-th largest (ties kept); k in (0, None) or k >= V: no cut.
* top-p keeps every token >= the smallest probability of the shortest descending prefix with
  mass >= p (p = 1: no cut); with top-k it acts on the renormalised top-k set.
* min-p keeps p >= min_p * max(p), after the other two (an intersection of upper sets).
* The sampled distribution is the kept probabilities renormalised.

It also holds an independent Philox4x32-10 (Salmon et al., SC'11; Random123's constants), a
float64 softmax, the exact chi-square tail (regularised incomplete gamma, no scipy) and
Pearson's goodness-of-fit test with merged bins.
"""

from __future__ import annotations

import math

import numpy as np

# ----------------------------------------------------------------------------------------------
# Philox4x32-10
# ----------------------------------------------------------------------------------------------

_MASK = 0xFFFFFFFF
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85


def philox4x32_10(counter, key) -> tuple[np.ndarray, ...]:
    """Philox4x32-10 of counters (four uint32 words, each a scalar or an array) and one key.

    Returns the four output words as uint64 arrays (values < 2**32). Products of two 32-bit
    words are exact in uint64.
    """
    c0, c1, c2, c3 = (np.asarray(w, dtype=np.uint64) & np.uint64(_MASK) for w in counter)
    k0, k1 = int(key[0]) & _MASK, int(key[1]) & _MASK
    m = np.uint64(_MASK)
    for _ in range(10):
        p0 = np.uint64(PHILOX_M0) * c0
        p1 = np.uint64(PHILOX_M1) * c2
        c0, c1, c2, c3 = (
            (p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0),
            p1 & m,
            (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1),
            p0 & m,
        )
        k0 = (k0 + PHILOX_W0) & _MASK
        k1 = (k1 + PHILOX_W1) & _MASK
    return c0, c1, c2, c3


def row_uniforms(seed: int, offset: int, rows: int) -> np.ndarray:
    """The point in [0, 1) each row draws: counter (offset lo, offset hi, row, 0), key = seed,
    value ``((w1 << 32) | w0) / 2**64`` (the layout documented in kernels/rs_common.h)."""
    r = np.arange(rows, dtype=np.uint64)
    w0, w1, _, _ = philox4x32_10(
        (np.full(rows, offset & _MASK), np.full(rows, (offset >> 32) & _MASK), r, np.zeros(rows)),
        (seed & _MASK, (seed >> 32) & _MASK),
    )
    return w1.astype(np.float64) * 2.0**-32 + w0.astype(np.float64) * 2.0**-64


# ----------------------------------------------------------------------------------------------
# Filters
# ----------------------------------------------------------------------------------------------


def is_valid(row) -> bool:
    x = np.asarray(row, dtype=np.float64)
    return bool(x.size > 0 and np.all(np.isfinite(x)) and np.all(x >= 0) and x.sum() > 0)


def _top_k_mask(x: np.ndarray, k) -> np.ndarray:
    v = x.size
    if k is None or k <= 0 or k >= v:
        return np.ones(v, dtype=bool)
    kth = np.sort(x)[::-1][k - 1]
    return x >= kth


def _top_p_threshold(x: np.ndarray, cand: np.ndarray, p: float) -> float:
    """Smallest value of the shortest descending prefix (of the candidates) with mass >= p."""
    vals = np.sort(x[cand])[::-1]
    cum = np.cumsum(vals) / vals.sum()
    j = int(np.argmax(cum >= p)) if np.any(cum >= p) else vals.size - 1
    return float(vals[j])


def kept_mask(row, top_k=None, top_p=None, min_p=None) -> np.ndarray:
    """Boolean mask of the tokens a valid row keeps (before dropping zero probabilities)."""
    x = np.asarray(row, dtype=np.float64)
    keep = _top_k_mask(x, top_k)
    if top_p is not None and top_p < 1.0:
        keep = keep & (x >= _top_p_threshold(x, keep, float(top_p)))
    if min_p is not None and min_p > 0:
        keep = keep & (x >= float(min_p) * x.max())
    return keep


def sampling_probs(row, top_k=None, top_p=None, min_p=None) -> np.ndarray | None:
    """The distribution a row is sampled from (float64, sums to 1), or None if invalid."""
    if not is_valid(row):
        return None
    x = np.asarray(row, dtype=np.float64)
    q = np.where(kept_mask(x, top_k, top_p, min_p), x, 0.0)
    s = q.sum()
    return None if s == 0 else q / s


# ----------------------------------------------------------------------------------------------
# Keeping test inputs away from decision boundaries the float implementation may round across
# ----------------------------------------------------------------------------------------------


def mass_quantum_bound(vocab: int) -> float:
    """Bound on |implementation - exact| for any normalised cumulative mass of a row.

    The implementation stores each value as an integer mass, truncated, with the row maximum in
    [2**39, 2**40): each token is off by < 1 unit and any kept set holds >= 2**39 units, so a
    prefix sum over a normalised total moves by < 2 * V / 2**39. (Plain sampling truncates at
    each 4096-element sub-chunk's own, finer scale and then once per sub-chunk at the row's:
    < V + V / 4096 units in all, inside the same bound.)
    """
    return 2.0 * vocab * 2.0**-39


def top_p_boundary_distance(row, top_p: float, top_k=None) -> float:
    """Distance from p to the nearest normalised cumulative mass at the end of a tie group."""
    x = np.asarray(row, dtype=np.float64)
    cand = _top_k_mask(x, top_k)
    vals = np.sort(x[cand])[::-1]
    cum = np.cumsum(vals) / vals.sum()
    ends = np.append(vals[1:] != vals[:-1], True)
    return float(np.min(np.abs(cum[ends] - top_p)))


def safe_top_p(row, top_p: float, top_k=None, margin: float | None = None) -> float:
    """The float32 value nearest to ``top_p`` whose cut is at least ``margin`` from a boundary.

    The result is exactly representable in float32 (the kernels take float32 parameters), so
    the oracle and the implementation see the same p.
    """
    p32 = np.float32(top_p)
    if p32 >= 1.0:
        return 1.0
    margin = 4.0 * mass_quantum_bound(np.asarray(row).size) if margin is None else margin
    up, down = p32, p32
    for _ in range(100000):
        for cand in (down, up):
            if 0 < cand < 1 and top_p_boundary_distance(row, float(cand), top_k) >= margin:
                return float(cand)
        down = np.nextafter(down, np.float32(0))
        up = np.nextafter(up, np.float32(1))
    raise AssertionError(f"no float32 top_p near {top_p} clears the margin {margin}")


def safe_min_p(row, min_p: float, rel_margin: float = 2.0**-20) -> float:
    """The float32 value nearest to ``min_p`` with no value within ``rel_margin`` (relative) of
    ``min_p * max``: far from any rounding of the threshold product."""
    x = np.asarray(row, dtype=np.float64)
    m32 = np.float32(min_p)
    if not m32 > 0 or m32 >= 1:
        return float(m32)
    up, down = m32, m32
    for _ in range(100000):
        for cand in (down, up):
            t = float(cand) * x.max()
            if 0 < cand < 1 and np.all(np.abs(x - t) > rel_margin * t):
                return float(cand)
        down = np.nextafter(down, np.float32(0))
        up = np.nextafter(up, np.float32(1))
    raise AssertionError(f"no float32 min_p near {min_p} clears the margin")


# ----------------------------------------------------------------------------------------------
# Exact draws: inverse CDF in index order
# ----------------------------------------------------------------------------------------------


def predict_draws(q: np.ndarray, u: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Token of each uniform ``u`` under the inverse CDF of ``q`` taken in index order, and a
    mask of the draws within ``eps`` of a cumulative boundary (where rounding may decide)."""
    nz = np.flatnonzero(q > 0)
    cum = np.cumsum(q[nz])
    pos = np.searchsorted(cum, u, side="right")
    tokens = nz[np.minimum(pos, nz.size - 1)]
    edges = np.concatenate(([0.0], cum))
    i = np.searchsorted(edges, u)
    near = np.minimum(
        np.abs(u - edges[np.clip(i - 1, 0, edges.size - 1)]),
        np.abs(edges[np.clip(i, 0, edges.size - 1)] - u),
    )
    return tokens.astype(np.int64), (near < eps) | (pos >= nz.size)


# ----------------------------------------------------------------------------------------------
# Softmax and temperature
# ----------------------------------------------------------------------------------------------


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """float64 softmax of one row of ``logits / T``; T = 0: the indicator of the maxima; a row
    with NaN or +inf (or T < 0 / NaN) gives NaN; -inf logits give 0."""
    x = np.asarray(logits, dtype=np.float64)
    t = float(temperature)
    if np.any(np.isnan(x)) or np.any(np.isposinf(x)) or not t >= 0 or np.all(np.isneginf(x)):
        return np.full(x.shape, np.nan)
    mx = x[~np.isneginf(x)].max()
    if t == 0:
        return (x == mx).astype(np.float64)
    with np.errstate(invalid="ignore"):
        e = np.exp((x - mx) / t)
    e[np.isneginf(x)] = 0.0
    return e / e.sum()


# ----------------------------------------------------------------------------------------------
# Chi-square
# ----------------------------------------------------------------------------------------------


def _gamma_p_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    n = a
    for _ in range(100000):
        n += 1.0
        term *= x / n
        total += term
        if abs(term) < abs(total) * 1e-17:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_q_fraction(a: float, x: float) -> float:
    # Modified Lentz evaluation of the continued fraction of Q(a, x) (x >= a + 1).
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 100000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h * math.exp(-x + a * math.log(x) - math.lgamma(a))


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X ~ chi-square(df): the regularised upper incomplete gamma Q(df/2, x/2)."""
    if x <= 0:
        return 1.0
    a, h = df / 2.0, x / 2.0
    if h < a + 1.0:
        return max(0.0, 1.0 - _gamma_p_series(a, h))
    return _gamma_q_fraction(a, h)


def chi2_isf(alpha: float, df: int) -> float:
    """Critical value c with P(X >= c) = alpha (bisection on chi2_sf)."""
    lo, hi = 0.0, float(df) + 100.0
    while chi2_sf(hi, df) > alpha:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if chi2_sf(mid, df) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def merged_bins(expected: np.ndarray, min_expected: float = 5.0) -> list[np.ndarray]:
    """Group token indices (expected > 0) so every group's expected count is >= min_expected.

    Tokens are taken in ascending expected order and accumulated; a short last group joins the
    previous one. Large tokens end up alone, small ones pooled.
    """
    idx = np.flatnonzero(expected > 0)
    idx = idx[np.argsort(expected[idx], kind="stable")]
    groups: list[list[int]] = []
    cur: list[int] = []
    acc = 0.0
    for i in idx:
        cur.append(int(i))
        acc += expected[i]
        if acc >= min_expected:
            groups.append(cur)
            cur, acc = [], 0.0
    if cur:
        if groups:
            groups[-1].extend(cur)
        else:
            groups.append(cur)
    return [np.asarray(g) for g in groups]


def chi_square(counts: np.ndarray, q: np.ndarray, min_expected: float = 5.0):
    """Pearson's statistic of ``counts`` against probabilities ``q`` over merged bins.

    Returns (statistic, degrees of freedom, p-value); df = 0 (one bin) gives p-value 1.
    """
    n = counts.sum()
    expected = n * np.asarray(q, dtype=np.float64)
    groups = merged_bins(expected, min_expected)
    obs = np.array([counts[g].sum() for g in groups], dtype=np.float64)
    exp = np.array([expected[g].sum() for g in groups])
    df = len(groups) - 1
    stat = float(np.sum((obs - exp) ** 2 / exp))
    return stat, df, (chi2_sf(stat, df) if df > 0 else 1.0)
