"""GPU draws against the exact float64 distribution (tests/exact.py), over the issue's grid.

For each vocabulary size, input shape and operation, one probability row is sampled many
times on the GPU (copies of the row in large batches; every (offset, row) is an independent
Philox counter) and Pearson's chi-square over merged bins (expected >= 5) is tested at
significance 1e-7 per case; with ~400 cases the chance of any false failure is < 1e-4.
No token outside the exact support may ever be drawn. Batch sizes B in {1, 7, 32, 128, 512}
are covered by an exact comparison with the numpy backend on every vocabulary size.
"""

from __future__ import annotations

import numpy as np
import pytest

import rocsample
from rocsample.backends import cpu_engine as cpu_kernels

from . import exact
from .test_gpu import gpu  # noqa: F401  (fixture)

pytestmark = pytest.mark.gpu
VOCABS = [1, 2, 31, 1000, 32000, 128256, 151936, 256000]
ALPHA = 1e-7


def _row(v: int, shape: str) -> np.ndarray:
    rng = np.random.default_rng(v * 7 + (shape == "peaked"))
    z = rng.standard_normal(v) * 3
    if shape == "peaked" and v > 1:
        z[rng.integers(0, v)] += 12
    return cpu_kernels.softmax(z.astype(np.float32)[None, :])[0]


def _top_p(row: np.ndarray, p: float, top_k=None) -> tuple[float, float]:
    """(p to use, tolerance): a boundary-safe float32 p when one exists nearby, else p itself
    with a tolerance: a token outside the exact support may then be drawn only if its own
    probability is below the implementation's mass quantisation bound (a float near-tie)."""
    margin = 4.0 * exact.mass_quantum_bound(row.size)
    p32 = float(np.float32(p))
    if p32 >= 1.0 or exact.top_p_boundary_distance(row, p32, top_k) >= margin:
        return p32, 0.0
    if row.size <= 32000:
        return exact.safe_top_p(row, p, top_k=top_k), 0.0
    return p32, margin


def _cases(row: np.ndarray):
    v = row.size
    cases = [(dict(), 0.0)]
    cases += [(dict(top_k=k), 0.0) for k in sorted({1, 2, 50, max(v - 1, 1), v})]
    for p in (1e-6, 0.5, 0.9, 0.999999, 1.0):
        pp, tol = _top_p(row, p)
        cases.append((dict(top_p=pp), tol))
    cases += [(dict(min_p=exact.safe_min_p(row, m)), 0.0) for m in (0.0, 0.1, 1.0)]
    pp, tol = _top_p(row, 0.9, top_k=50)
    cases.append((dict(top_k=50, top_p=pp), tol))
    return cases


def _draws(gpu, row, n, **kw):  # noqa: F811
    """n draws of one row: copies of it in a device-resident batch, fresh offset per call."""
    v = row.size
    per_call = max(1, min(n, (1 << 28) // (4 * v)))  # <= 256 MiB of probabilities per call
    batch = rocsample.DeviceBuffer.from_numpy(
        gpu.rt, np.ascontiguousarray(np.broadcast_to(row, (per_call, v))))
    out, offset = [], 0
    try:
        while sum(map(len, out)) < n:
            tokens = rocsample.sample(batch, seed=2026, offset=offset, backend=gpu.name, **kw)
            out.append(tokens.numpy())
            tokens.free()
            offset += 1
    finally:
        batch.free()
    return np.concatenate(out)[:n]


@pytest.mark.parametrize("shape", ["normal", "peaked"])
@pytest.mark.parametrize("v", VOCABS)
def test_distribution_matches_float64(gpu, v, shape):  # noqa: F811
    row = _row(v, shape)
    n = 20000 if v <= 32000 else 6000
    failures = []
    base = row.astype(np.float64) / row.astype(np.float64).sum()
    for kw, tol in _cases(row):
        q = exact.sampling_probs(row, **kw)
        tokens = _draws(gpu, row, n, **kw)
        assert tokens.min() >= 0, kw
        counts = np.bincount(tokens, minlength=v).astype(np.float64)
        outside = counts[(q == 0) & (base >= tol)].sum()
        stat, df, pval = exact.chi_square(counts, q)
        if outside or pval < ALPHA:
            failures.append((kw, int(outside), stat, df, pval))
    assert not failures, failures


@pytest.mark.parametrize("b", [1, 7, 32, 128, 512])
def test_every_batch_size_matches_numpy(gpu, b):  # noqa: F811
    rng = np.random.default_rng(b)
    for v in VOCABS:
        probs = cpu_kernels.softmax((rng.standard_normal((b, v)) * 3).astype(np.float32))
        # numpy is slow on huge rows: there, compare the first and last 16 rows of the batch
        # (each numpy row drawn with its own batch index in the Philox counter).
        check = np.unique(np.r_[0:min(b, 16), max(b - 16, 0):b]) if v > 32000 else np.arange(b)
        for kw in (dict(top_k=50), dict(top_p=0.9), dict(top_k=50, top_p=0.9),
                   dict(min_p=0.1), dict()):
            got = rocsample.sample(probs, seed=b, offset=v, backend=gpu.name, **kw)
            want = cpu_kernels.sample_rows(probs[check], seed=b, offset=v, row_ids=check, **kw)
            assert got.shape == (b,) and np.array_equal(got[check], want), (v, kw)
