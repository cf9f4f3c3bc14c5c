"""TEST EQUIPMENT: the sampling kernels' own code under AddressSanitizer, in a process of its
own (started by tests/test_kernel_host.py with libasan preloaded, as a Python that was not
built with ASan needs). Every operand, workspace and result lives in a C-library block of
exactly its size (tests/kernel_device.py, asan=True), so a kernel that reads or writes a
byte outside one stops this process with ASan's report and a non-zero status. The calls
cover every engine path at vocabularies that end inside a sub-chunk, inside a thread's group
of eight and one element past a boundary, float and 2-byte rows, and the softmax entries.

Usage: python -m tests.kernel_asan WAVE. Prints "calls N" and exits 0 when every token and
softmax value agrees with the numpy backend.
"""

from __future__ import annotations

import sys

import numpy as np

import rocsample
from rocsample.backends import cpu_engine
from rocsample.backends.gpu import GpuBackend
from rocsample.buffers import DeviceBuffer
from rocsample.buffers.dtypes import widen_to_f32

from .host_device import TwinKernels
from .kernel_device import KernelDevice

CASES = [dict(), dict(top_k=50), dict(top_k=300), dict(top_p=0.9), dict(min_p=0.05),
         dict(top_k=50, top_p=0.8, min_p=0.01)]


def _half(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "f16":
        return x.astype(np.float16)
    from rocsample.buffers import BFLOAT16

    return (x.view(np.uint32) >> np.uint32(16)).astype(np.uint16).view(BFLOAT16)


def _host(x) -> np.ndarray:
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def main(wave: int) -> int:
    b = GpuBackend(KernelDevice(wave=wave, sm_count=8, asan=True))
    b.kernels = TwinKernels()
    rng = np.random.default_rng(wave)
    calls = 0
    for rows, vocab in [(1, 1), (3, 7), (2, 4097), (5, 8191), (2, 12289), (9, 2053)]:
        z = (rng.standard_normal((rows, vocab)) * 3).astype(np.float32)
        probs = cpu_engine.softmax(z)
        for kind in ("f32", "f16", "bf16"):
            x = probs if kind == "f32" else _half(probs, kind)
            wide = probs if kind == "f32" else widen_to_f32(x)
            dev = DeviceBuffer.from_numpy(b.rt, x)
            for method in ("auto", "fused", "topp"):
                for case in CASES:
                    if method == "topp" and set(case) != {"top_p"}:
                        continue
                    got = b.sample(dev, rocsample.validation.sampling_params(
                        rows, seed=7, offset=calls, **case), method=method)
                    want = cpu_engine.sample_rows(wide, seed=7, offset=calls, **case)
                    calls += 1
                    if not np.array_equal(_host(got), want):
                        print("MISMATCH", rows, vocab, kind, method, case, got, want)
                        return 1
            dev.free()
        lg = DeviceBuffer.from_numpy(b.rt, z)
        t = np.float32(0.8)
        got = _host(b.softmax(lg, t))
        calls += 1
        if not np.allclose(got, cpu_engine.softmax(z, t), rtol=2e-5, atol=1e-12):
            print("SOFTMAX MISMATCH", rows, vocab)
            return 1
        for case in CASES:  # logits: what sampling the kernels' own softmax draws
            tokens = _host(b.sample_from_logits(lg, t, rocsample.validation.sampling_params(
                rows, seed=3, **case)))
            calls += 1
            if not np.array_equal(tokens, cpu_engine.sample_rows(got, seed=3, **case)):
                print("LOGITS MISMATCH", rows, vocab, case)
                return 1
        lg.free()
    b.close()
    print(f"calls {calls}")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
