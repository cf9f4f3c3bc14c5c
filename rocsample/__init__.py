"""rocsample: fast, exact LLM token sampling on AMD and NVIDIA GPUs, with a numpy fallback.

Example
-------
>>> import numpy as np, rocsample
>>> probs = np.array([[0.1, 0.6, 0.3]], dtype=np.float32)
>>> tokens = rocsample.sample(probs, top_k=2, seed=0)
>>> tokens.dtype.name, tokens.shape
('int32', (1,))
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger("rocsample").addHandler(logging.NullHandler())

from .api import (  # noqa: E402
    backend,
    cache_info,
    reserve,
    sample,
    sample_from_logits,
    softmax,
    temperature_scale,
    warmup,
)
from .api_elementwise import affine, launch_elementwise, unary, where  # noqa: E402
from .api_mlp import fused_add_rms_norm, rms_norm, silu_and_mul, swiglu  # noqa: E402
from .buffers import BFLOAT16, DeviceBuffer  # noqa: E402
from .errors import (  # noqa: E402
    BackendUnavailable,
    CaptureError,
    CompileError,
    ConfigError,
    KernelLoadError,
    KernelTimeout,
    LaunchError,
    RocsampleError,
)
from .profiling import KernelTimer, profile  # noqa: E402
from .samplers import FusedSampler, MinPSampler, Sampler, TopKSampler, TopPSampler  # noqa: E402

__all__ = [
    "BFLOAT16",
    "BackendUnavailable",
    "CaptureError",
    "CompileError",
    "ConfigError",
    "DeviceBuffer",
    "FusedSampler",
    "KernelLoadError",
    "KernelTimer",
    "KernelTimeout",
    "LaunchError",
    "MinPSampler",
    "RocsampleError",
    "Sampler",
    "TopKSampler",
    "TopPSampler",
    "__version__",
    "affine",
    "backend",
    "cache_info",
    "fused_add_rms_norm",
    "launch_elementwise",
    "profile",
    "reserve",
    "rms_norm",
    "sample",
    "sample_from_logits",
    "silu_and_mul",
    "softmax",
    "swiglu",
    "temperature_scale",
    "unary",
    "warmup",
    "where",
]
