"""FlashInfer's MLP kernels as a benchmark baseline, through the C ABI of
``tools/flashinfer_ref/fi_ref.cu`` (built by ``make flashinfer-ref`` into ``.fi/libfi_ref.so``).

The device the benchmarks run on cannot install ``flashinfer-python`` (its wheel and its
dependencies are far larger than what travels there, and its kernels compile at first use), so
the benchmark loads FlashInfer's own RMSNorm, fused-add RMSNorm and SiLU-and-mul kernels from a
shared library built from the wheel's headers, and calls them on torch tensors on torch's
current stream. FlashInfer serves these operations for float16 and bfloat16 only.

Example
-------
>>> ref = FlashInferRef.load("/nonexistent/libfi_ref.so")   # doctest: +SKIP
>>> ref.rmsnorm(x, w, out, eps=1e-6)                          # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

from .diskcache import check_trusted_file

__all__ = ["FlashInferRef"]

_DTYPES = {"torch.bfloat16": 0, "torch.float16": 1}


class FlashInferRef:
    """The three entry points of ``libfi_ref.so`` over torch tensors (rows, d), last dim
    contiguous; raises :class:`RuntimeError` with CUDA's error code when a launch fails."""

    def __init__(self, lib: ctypes.CDLL, num_sms: int) -> None:
        self._lib = lib
        self._sms = num_sms
        u, f, p = ctypes.c_uint, ctypes.c_float, ctypes.c_void_p
        lib.fi_rmsnorm.argtypes = [ctypes.c_int, p, p, p, u, u, u, u, f, ctypes.c_int, p]
        lib.fi_fused_add_rmsnorm.argtypes = [ctypes.c_int, p, p, p, u, u, u, u, f,
                                             ctypes.c_int, p]
        lib.fi_silu_and_mul.argtypes = [ctypes.c_int, p, p, ctypes.c_longlong, ctypes.c_int,
                                        ctypes.c_int, p]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FlashInferRef:
        """Load the library at ``path``; :class:`FileNotFoundError` names it when absent, and
        :class:`~rocsample.errors.KernelLoadError` says why when someone other than this user
        (or root) could have written it or could swap it
        (:func:`rocsample.diskcache.check_trusted_file`): loading it runs its code."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"FlashInfer reference library not found: {path} "
                                    "(build it with `make flashinfer-ref`)")
        real = check_trusted_file(path, "FlashInfer reference library")
        import torch

        sms = torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count
        return cls(ctypes.CDLL(os.fspath(real)), sms)

    @staticmethod
    def supports(dtype: Any) -> bool:
        """Whether FlashInfer serves ``dtype`` (a torch dtype)."""
        return str(dtype) in _DTYPES

    @staticmethod
    def _stream() -> int:
        import torch

        return torch.cuda.current_stream().cuda_stream

    @staticmethod
    def _check(rc: int, what: str) -> None:
        if rc != 0:
            raise RuntimeError(f"FlashInfer {what} launch failed: cudaError_t {rc}")

    def rmsnorm(self, x: Any, w: Any, out: Any, *, eps: float, gemma: bool = False) -> None:
        rows, d = x.shape
        self._check(self._lib.fi_rmsnorm(_DTYPES[str(x.dtype)], x.data_ptr(), w.data_ptr(),
                                         out.data_ptr(), rows, d, x.stride(0), out.stride(0),
                                         eps, int(gemma), self._stream()), "rmsnorm")

    def fused_add_rmsnorm(self, x: Any, residual: Any, w: Any, *, eps: float,
                          gemma: bool = False) -> None:
        rows, d = x.shape
        self._check(self._lib.fi_fused_add_rmsnorm(
            _DTYPES[str(x.dtype)], x.data_ptr(), residual.data_ptr(), w.data_ptr(), rows, d,
            x.stride(0), residual.stride(0), eps, int(gemma), self._stream()),
            "fused_add_rmsnorm")

    def silu_and_mul(self, x: Any, out: Any) -> None:
        rows, two_d = x.shape
        self._check(self._lib.fi_silu_and_mul(_DTYPES[str(x.dtype)], out.data_ptr(),
                                              x.data_ptr(), rows, two_d // 2, self._sms,
                                              self._stream()), "silu_and_mul")
