"""Philox4x32-10, the counter-based generator every rocsample backend draws from.

Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3" (SC'11).
rocsample keys it with the 64-bit ``seed`` and gives row ``r`` of a call with ``offset`` the
counter ``(offset & 0xffffffff, offset >> 32, r, 0)``; words 0 and 1 of the output form the
64-bit value ``(w1 << 32) | w0`` used for the draw. ``kernels/rs_common.h`` (``rs_philox_u64``)
computes the same thing on the GPU.

Example
-------
>>> from rocsample.philox import philox4x32_10
>>> [hex(int(w)) for w in philox4x32_10([0, 0, 0, 0], [0, 0])[0]]
['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["philox4x32_10", "row_draws_u64"]

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = 0x9E3779B9
_W1 = 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(counter: Sequence[int] | np.ndarray, key: Sequence[int]) -> np.ndarray:
    """Apply Philox4x32-10 to one counter or an ``(N, 4)`` array of counters.

    Parameters
    ----------
    counter : array_like of uint32, shape (4,) or (N, 4)
    key : two uint32 words

    Returns
    -------
    numpy.ndarray of uint32, shape (N, 4)
    """
    ctr = np.atleast_2d(np.asarray(counter, dtype=np.uint64)) & _MASK32
    c0, c1, c2, c3 = (ctr[:, i].copy() for i in range(4))
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for _ in range(10):
        p0 = _M0 * c0  # exact: both factors < 2^32
        p1 = _M1 * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & _MASK32
        hi1, lo1 = p1 >> np.uint64(32), p1 & _MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ np.uint64(k0), lo1, hi0 ^ c3 ^ np.uint64(k1), lo0
        k0 = (k0 + _W0) & 0xFFFFFFFF
        k1 = (k1 + _W1) & 0xFFFFFFFF
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
