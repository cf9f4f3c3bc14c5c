"""The numpy mirror of ``kernels/*.hip``: the CPU backend and the test oracle.

Every function here computes what the GPU kernel of the same name computes, with the same
integer arithmetic (see ``kernels/rs_common.h``), so for the same ``(seed, offset)`` the CPU
and any GPU draw the same token from the same probabilities. Only ``softmax`` can differ, by
the last bit of ``exp``, which can move a draw that lands on a boundary.

Example
-------
>>> import numpy as np
>>> from rocsample.backends.cpu_engine import sample_rows
>>> probs = np.array([[0.1, 0.0, 0.9]], dtype=np.float32)
>>> sample_rows(probs, top_k=np.array([1]), seed=0).tolist()
[2]
"""

from __future__ import annotations

import numpy as np

from ..philox import draws_u64, row_draws_u64

__all__ = [
    "VOCAB_MAX",
    "row_masses",
    "sample_rows",
    "softmax",
    "temperature_scale",
]

VOCAB_MAX = 1 << 23  # 64-bit mass sums stay exact up to this many tokens per row
_INF_KEY = 0x7F800000


def _keys(row: np.ndarray) -> np.ndarray:
    return row.view(np.uint32) & np.uint32(0x7FFFFFFF)


def row_masses(keys: np.ndarray, max_key: int) -> np.ndarray:
    """Exact integer masses of non-negative finite float keys (``rs_mass`` in numpy)."""
    return _masses(keys, max(max_key >> 23, 1))


def _masses(keys: np.ndarray, max_exp) -> np.ndarray:
    """``rs_mass`` of each key; ``max_exp`` is a scalar or broadcasts against ``keys``."""
    e = (keys >> np.uint32(23)).astype(np.int64)
    m = (keys & np.uint32(0x7FFFFF)).astype(np.uint64)
    m = np.where(e > 0, m | np.uint64(0x800000), m)
    e = np.maximum(e, 1)
    s = e - max_exp + 16
    left = m << np.clip(s, 0, 16).astype(np.uint64)
    right = m >> np.clip(-s, 0, 63).astype(np.uint64)
    return np.where(s >= 0, left, right).astype(np.uint64)


CHUNK = 4096  # elements per sub-chunk (RS_CHUNK): the unit of plain sampling's mass scale


def _plain_draw(keys: np.ndarray, r: int) -> int:
    """Plain sampling's draw (``rs_plain_draw``): mass per sub-chunk at its own scale."""
    vocab = keys.size
    nc = -(-vocab // CHUNK)
    padded = np.zeros(nc * CHUNK, dtype=np.uint32)
    padded[:vocab] = keys
    chunks = padded.reshape(nc, CHUNK)
    cexp = np.maximum(chunks.max(axis=1) >> np.uint32(23), 1).astype(np.int64)
    masses = _masses(chunks, cexp[:, None])
    sums = [int(m) for m in masses.sum(axis=1, dtype=np.uint64)]
    emax = int(cexp.max())
    weights = [m >> (emax - int(e)) for m, e in zip(sums, cexp, strict=True)]
    cum_w = np.cumsum(np.array(weights, dtype=np.uint64), dtype=np.uint64)
    target = (r * int(cum_w[-1])) >> 64  # the sub-chunk holding the maximum weighs > 0
    c = int(np.searchsorted(cum_w, np.uint64(target), side="right"))
    before = int(cum_w[c - 1]) if c else 0
    local = ((target - before + 1) << (emax - int(cexp[c]))) - 1
    cum = np.cumsum(masses[c], dtype=np.uint64)
    return c * CHUNK + int(np.searchsorted(cum, np.uint64(local), side="right"))


def _row_max_key(row: np.ndarray) -> int | None:
    """Key of the row maximum, or None when the row is invalid (as ``rs_row_max_key``)."""
    if row.size == 0:
        return None
    keys = _keys(row)
    if not np.all(row >= 0) or np.any(keys >= _INF_KEY):
        return None
    mx = int(keys.max())
    return mx if mx != 0 else None


def _kth_key(keys: np.ndarray, k: int) -> int:
    return int(np.partition(keys, keys.size - k)[keys.size - k])


def _top_p_key(keys: np.ndarray, masses: np.ndarray, floor_key: int, p: float) -> int:
    """Largest key v with mass(key >= v) >= p * mass(key >= floor_key), compared in double."""
    cand = keys >= floor_key
    ck, cm = keys[cand], masses[cand]
    order = np.argsort(ck, kind="stable")[::-1]
    ck, cm = ck[order], cm[order]
    cum = np.cumsum(cm, dtype=np.uint64)
    target = float(np.float32(p)) * float(cum[-1])
    last_of_key = np.append(ck[1:] != ck[:-1], True)  # cumulative mass through all ties
    ends = cum[last_of_key]
    bin_mass = np.diff(ends, prepend=np.uint64(0))
    ok = (ends.astype(np.float64) >= target) & (bin_mass != 0)
    return int(ck[last_of_key][int(np.argmax(ok))])


def _min_p_key(min_p: float, max_key: int) -> int:
    """Smallest float32 key >= min_p * max, the product exact in double (``rs_min_p_key``)."""
    if not min_p > 0:
        return 0
    mx = float(np.array([max_key], dtype=np.uint32).view(np.float32)[0])
    t = float(np.float32(min_p)) * mx  # exact: 24 + 24 significant bits fit in a double
    with np.errstate(over="ignore"):
        f = np.float32(t)
    key = int(np.array([f], dtype=np.float32).view(np.uint32)[0]) & 0x7FFFFFFF
    return key + 1 if float(f) < t else key


def _draw(keys: np.ndarray, masses: np.ndarray, thr: int, r: int) -> int:
    kept = np.where(keys >= thr, masses, np.uint64(0))
    cum = np.cumsum(kept, dtype=np.uint64)
    total = int(cum[-1])
    if total == 0:
        return -1
    target = (r * total) >> 64
    return int(np.searchsorted(cum, np.uint64(target), side="right"))


def _per_row(value, rows: int, dtype) -> np.ndarray:
    if value is None:
        return None
    arr = np.asarray(value, dtype=dtype)
    return np.broadcast_to(arr, (rows,)) if arr.ndim == 0 else arr


def sample_rows(
    probs: np.ndarray,
    *,
    top_k=None,
    top_p=None,
    min_p=None,
    seed: int | np.ndarray = 0,
    offset: int | np.ndarray = 0,
    row_ids: np.ndarray | None = None,
) -> np.ndarray:
    """Sample one token per row of a float32 ``(B, V)`` array, exactly as the kernels do.

    ``top_k``, ``top_p`` and ``min_p`` are None, scalars or one value per row; no argument
    checking happens here (the public API validates). Invalid rows give -1. ``seed`` and
    ``offset`` are ints or one uint64 per row (then a row's draw depends on its own seed and
    offset only: :func:`rocsample.philox.draws_u64`). ``row_ids`` (scalar seed and offset
    only) gives each row's index in the Philox counter (default ``0..B-1``), so a subset of
    a batch can be drawn exactly as the full batch draws it.
    """
    probs = np.asarray(probs, dtype=np.float32)
    rows, vocab = probs.shape
    ks = _per_row(top_k, rows, np.int64)
    ps = _per_row(top_p, rows, np.float32)
    mps = _per_row(min_p, rows, np.float32)
    if row_ids is None:
        draws = draws_u64(seed, offset, rows)
    else:
        ids = np.asarray(row_ids, dtype=np.int64)
        table = row_draws_u64(seed, offset, int(ids.max()) + 1)
        draws = [table[i] for i in ids]
    out = np.full(rows, -1, dtype=np.int32)
    for r in range(rows):
        row = probs[r]
        max_key = _row_max_key(row)
        if max_key is None:
            continue
        keys = _keys(row)
        k = int(ks[r]) if ks is not None else 0
        p = float(ps[r]) if ps is not None else 1.0
        mp = float(mps[r]) if mps is not None else 0.0
        if not 0 < k < vocab and not p < 1.0 and not mp > 0.0:
            out[r] = _plain_draw(keys, draws[r])
            continue
        masses = row_masses(keys, max_key)
        thr = _kth_key(keys, k) if 0 < k < vocab else 0
        if p < 1.0:
            thr = _top_p_key(keys, masses, thr, p)
        thr = max(thr, _min_p_key(mp, max_key))
        out[r] = _draw(keys, masses, thr, draws[r])
    return out


def _row_temps(temperature, rows: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(temperature, dtype=np.float32), (rows,))


def temperature_scale(logits: np.ndarray, temperature) -> np.ndarray:
    """``logits / T`` per row (T = 0 copies the row; T < 0 or NaN gives NaN), as the kernel.

    A logit / T beyond float32 is +-Inf, as the kernel's IEEE division writes it (a tiny T
    and a large logit); softmax then makes the row invalid (token -1), without a warning.
    """
    x = np.asarray(logits, dtype=np.float32)
    t = _row_temps(temperature, x.shape[0])[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = np.where(t > 0, x / np.where(t > 0, t, np.float32(1)), x)
    return np.where(t >= 0, y, np.float32(np.nan)).astype(np.float32)


def softmax(logits: np.ndarray, temperature=1.0) -> np.ndarray:
    """Row softmax of ``logits / T`` in float32 with the kernel's rules for T = 0 and bad rows."""
    x = np.asarray(logits, dtype=np.float32)
    rows = x.shape[0]
    t = _row_temps(temperature, rows)
    out = np.empty_like(x)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for r in range(rows):
            row, tr = x[r], t[r]
            finite_max = row[~np.isneginf(row)]
            bad = np.any(np.isnan(row)) or np.any(np.isposinf(row)) or not tr >= 0
            if bad or finite_max.size == 0:
                out[r] = np.nan
                continue
            mx = finite_max.max()
            if tr == 0:
                out[r] = (row == mx).astype(np.float32)
                continue
            e = np.exp(row / tr - mx / tr)
            out[r] = e / e.sum(dtype=np.float32)
    return out
