"""Philox4x32-10, the counter-based generator every rocsample backend draws from.

Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3" (SC'11).
rocsample keys it with the 64-bit ``seed`` and gives row ``r`` of a call with ``offset`` the
counter ``(offset & 0xffffffff, offset >> 32, r, 0)``; words 0 and 1 of the output form the
64-bit value ``(w1 << 32) | w0`` used for the draw. With per-row seeds or offsets (one per
request), row ``r`` is keyed by its own seed and counts from ``(its offset lo, hi, 0, 0)``: no
row index, so its draw does not depend on where it sits in the batch (:func:`draws_u64`).
``kernels/rs_common.h`` (``rs_philox_u64``, ``rs_row_draw``) computes the same on the GPU.

Example
-------
>>> from rocsample.philox import philox4x32_10
>>> [hex(int(w)) for w in philox4x32_10([0, 0, 0, 0], [0, 0])[0]]
['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["draws_u64", "philox4x32_10", "row_draws_u64"]

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = 0x9E3779B9
_W1 = 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(counter: Sequence[int] | np.ndarray,
                  key: Sequence[int] | np.ndarray) -> np.ndarray:
    """Apply Philox4x32-10 to one counter or an ``(N, 4)`` array of counters.

    Parameters
    ----------
    counter : array_like of uint32, shape (4,) or (N, 4)
    key : two uint32 words, or an (N, 2) array of them (one key per counter)

    Returns
    -------
    numpy.ndarray of uint32, shape (N, 4)

    Example
    -------
    >>> keys = np.array([[1, 0], [2, 0]])
    >>> philox4x32_10(np.zeros((2, 4)), keys)[1].tolist() == philox4x32_10([0] * 4, [2, 0])[0].tolist()
    True
    """  # noqa: E501
    ctr = np.atleast_2d(np.asarray(counter, dtype=np.uint64)) & _MASK32
    c0, c1, c2, c3 = (ctr[:, i].copy() for i in range(4))
    kk = np.asarray(key, dtype=np.uint64) & _MASK32  # (2,) or (N, 2)
    k0, k1 = kk[..., 0], kk[..., 1]
    w0, w1 = np.uint64(_W0), np.uint64(_W1)
    for _ in range(10):
        p0 = _M0 * c0  # exact: both factors < 2^32
        p1 = _M1 * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & _MASK32
        hi1, lo1 = p1 >> np.uint64(32), p1 & _MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + w0) & _MASK32
        k1 = (k1 + w1) & _MASK32
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def row_draws_u64(seed: int, offset: int, rows: int) -> list[int]:
    """The 64-bit random word of each row ``0..rows-1`` for one ``(seed, offset)``.

    Example
    -------
    >>> len(row_draws_u64(seed=1, offset=0, rows=3))
    3
    """
    seed &= (1 << 64) - 1
    offset &= (1 << 64) - 1
    ctr = np.zeros((rows, 4), dtype=np.uint64)
    ctr[:, 0] = offset & 0xFFFFFFFF
    ctr[:, 1] = offset >> 32
    ctr[:, 2] = np.arange(rows, dtype=np.uint64)
    out = philox4x32_10(ctr, (seed & 0xFFFFFFFF, seed >> 32))
    return [(int(w1) << 32) | int(w0) for w0, w1 in zip(out[:, 0], out[:, 1], strict=True)]


def draws_u64(seed: int | np.ndarray, offset: int | np.ndarray, rows: int) -> list[int]:
    """The 64-bit random word of each row for scalar or per-row ``seed`` and ``offset``.

    Both scalars: :func:`row_draws_u64` (counter ``(offset, row, 0)``). Either one an array of
    ``rows`` uint64 values: row ``r`` is keyed by its seed and counts from ``(its offset, 0,
    0)``, so its word is the one it gets alone in a batch of one.

    Example
    -------
    >>> seeds = np.array([5, 7], dtype=np.uint64)
    >>> draws_u64(seeds, 3, 2)[1] == draws_u64(np.array([7], np.uint64), 3, 1)[0]
    True
    >>> draws_u64(5, 3, 2)[1] == draws_u64(5, 3, 1)[0]   # scalar: the row index counts
    False
    """
    if np.ndim(seed) == 0 and np.ndim(offset) == 0:
        return row_draws_u64(int(seed), int(offset), rows)
    s = np.broadcast_to(np.asarray(seed, dtype=np.uint64), (rows,))
    o = np.broadcast_to(np.asarray(offset, dtype=np.uint64), (rows,))
    ctr = np.zeros((rows, 4), dtype=np.uint64)
    ctr[:, 0] = o & _MASK32
    ctr[:, 1] = o >> np.uint64(32)
    out = philox4x32_10(ctr, np.stack([s & _MASK32, s >> np.uint64(32)], axis=1))
    return [(int(w1) << 32) | int(w0) for w0, w1 in zip(out[:, 0], out[:, 1], strict=True)]
