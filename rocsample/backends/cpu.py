"""The numpy backend: the same operations and the same draws, on the host."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..validation import SamplingParams, check_bad_rows, check_matrix_shape, rng_views
from . import cpu_engine

__all__ = ["CpuBackend"]


def _host(x: Any, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.from_dlpack(x)  # torch CPU tensors and friends, without a copy
        except (BufferError, TypeError, RuntimeError, AttributeError) as exc:
            raise TypeError(
                f"{name}: the cpu backend takes host arrays (numpy, or DLPack on the CPU); got "
                f"{type(x).__name__} ({exc}). Device arrays need a GPU backend."
            ) from exc
    check_matrix_shape(name, arr.shape, arr.dtype)
    return arr


class CpuBackend:
    """Sampling with numpy (:mod:`rocsample.backends.cpu_engine`)."""

    name = "cpu"

    def describe(self) -> dict[str, Any]:
        return {"backend": "cpu", "device": "host (numpy)", "index": 0, "target": "numpy",
                "wave_size": 1}

    def plan_key(self, *args: Any) -> None:
        """No launch plans on the host: every call takes the general path."""
        return None

    def sample(self, probs: Any, params: SamplingParams, *, method: str = "auto",
               stream: int | None = None, check_inputs: bool = True,
               plan_key: Any = None) -> np.ndarray:
        x = _host(probs, "probs")
        for name, view in rng_views(params):
            raise TypeError(f"{name}: the cpu backend takes host seed/offset arrays (numpy) or "
                            f"ints; got a device array on {view.device}")
        if check_inputs:
            check_bad_rows("probs", x)
        return cpu_engine.sample_rows(x, top_k=params.top_k, top_p=params.top_p,
                                      min_p=params.min_p, seed=params.seed,
                                      offset=params.offset)

    def softmax(self, logits: Any, temperature: Any, *, stream: int | None = None,
                plan_key: Any = None) -> np.ndarray:
        return cpu_engine.softmax(_host(logits, "logits"), temperature)

    def temperature_scale(self, logits: Any, temperature: Any, *, stream: int | None = None,
                          plan_key: Any = None) -> np.ndarray:
        return cpu_engine.temperature_scale(_host(logits, "logits"), temperature)

    def sample_from_logits(self, logits: Any, temperature: Any, params: SamplingParams, *,
                           stream: int | None = None, plan_key: Any = None) -> np.ndarray:
        probs = cpu_engine.softmax(_host(logits, "logits"), temperature)
        return self.sample(probs, params, check_inputs=False)
