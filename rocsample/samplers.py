"""Sampler objects: parameters fixed once, a fresh offset each call.

Each call of ``sample`` uses ``(seed, offset)`` and then advances ``offset`` by one, so a
decoding loop gets new randomness per step while staying reproducible from the seed. ``seed``
may be one value per row (a request's own); so may ``offset`` as a numpy array (each row's
advances by one a call, wrapping at 2**64). A device array offset is the caller's to advance
(the kernels read it at launch): the sampler passes it as it is.

Example
-------
>>> import numpy as np
>>> from rocsample import TopKSampler
>>> s = TopKSampler(top_k=2, seed=7, backend="cpu")
>>> probs = np.array([[0.5, 0.3, 0.2]], dtype=np.float32)
>>> int(s.sample(probs)[0]) in (0, 1)
True
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .api import sample

__all__ = ["FusedSampler", "MinPSampler", "Sampler", "TopKSampler", "TopPSampler"]


class Sampler:
    """Plain sampling (no filter). Subclasses fix the filters and the kernel path."""

    method = "fused"

    def __init__(self, *, seed: int = 0, offset: int = 0, backend: str | None = None,
                 device: int = 0, **filters: Any) -> None:
        self.seed = seed
        self.offset = offset
        self.backend = backend
        self.device = device
        self.filters = filters
        self._lock = threading.Lock()
        # Validate now (with one row; per-row arrays are checked again against the batch).
        self._check()

    def _check(self) -> None:
        from .validation import check_method, sampling_params

        given = [*self.filters.values(), self.seed, self.offset]
        rows = max((int(np.shape(v)[0]) for v in given
                    if isinstance(v, np.ndarray | list | tuple) and np.ndim(v) == 1), default=1)
        params = sampling_params(rows, seed=self.seed, offset=self.offset, **self.filters)
        if isinstance(params.offset, np.ndarray):
            self.offset = params.offset.copy()  # uint64: advanced in place, wrapping
        check_method(self.method, params)

    def _next_offset(self) -> Any:
        with self._lock:
            off = self.offset
            if isinstance(off, np.ndarray):
                self.offset = off + np.uint64(1)  # a new array: the call keeps its own
            elif isinstance(off, int | np.integer):
                self.offset = (int(off) + 1) % (1 << 64)
            return off

    def sample(self, probs: Any, *, stream: int | None = None) -> Any:
        """Sample one token per row, then advance the offset."""
        return sample(probs, seed=self.seed, offset=self._next_offset(), stream=stream,
                      method=self.method, backend=self.backend, device=self.device,
                      **self.filters)

    def __repr__(self) -> str:
        args = [f"{k}={v!r}" for k, v in self.filters.items()]
        args += [f"seed={self.seed}", f"offset={self.offset}"]
        return f"{type(self).__name__}({', '.join(args)})"


class TopKSampler(Sampler):
    """Top-k sampling through ``topk_sampling_kernel``."""

    method = "topk"

    def __init__(self, top_k: Any, **kw: Any) -> None:
        super().__init__(top_k=top_k, **kw)


class TopPSampler(Sampler):
    """Top-p sampling through the three-stage ``topp_*`` kernel pipeline."""

    method = "topp"

    def __init__(self, top_p: Any, **kw: Any) -> None:
        super().__init__(top_p=top_p, **kw)


class MinPSampler(Sampler):
    """Min-p sampling (through the fused kernel)."""

    def __init__(self, min_p: Any, **kw: Any) -> None:
        super().__init__(min_p=min_p, **kw)


class FusedSampler(Sampler):
    """Top-k, then top-p, then min-p in one ``topk_topp_sampling_kernel`` launch."""

    def __init__(self, top_k: Any = None, top_p: Any = None, min_p: Any = None,
                 **kw: Any) -> None:
        super().__init__(top_k=top_k, top_p=top_p, min_p=min_p, **kw)
