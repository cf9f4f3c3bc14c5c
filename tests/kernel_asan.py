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
from .test_gpu_half import _half  # the GPU tests' rounding of probabilities to 2 bytes

CASES = [dict(), dict(top_k=50), dict(top_k=300), dict(top_p=0.9), dict(min_p=0.05),
         dict(top_k=50, top_p=0.8, min_p=0.01)]


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
    refused = _refused_launches(wave)
    if refused < 0:
        return 1
    print(f"calls {calls + refused}")
    return 0


def _refused_launches(wave: int) -> int:
    """Launches the executor never makes, straight through the kernel ABI: a vocabulary of 0
    or above 2^23 and rows past the batch leave out alone; more blocks a row than sub-chunks
    write -1 for each row. Nothing else is read or written (ASan, and out's guard words)."""
    from rocsample.backends.runtime import pack_args
    from rocsample.registry import KERNELS, ws_total_words

    from .kernel_device import library

    spec = KERNELS["topk_topp_sampling"]
    lib = library(spec.module, wave, spec.block, asan=True)
    rows, vocab = 3, 5000
    probs = np.ascontiguousarray(np.random.default_rng(0).random((rows, vocab), np.float32))
    ws = np.zeros(ws_total_words(rows, vocab), np.uint64)
    out = np.full(rows + 2, 77, np.int32)  # out[1:4] is the kernel's; the ends are guards
    n = 0
    for grid, v, want in [((rows, 1), 0, [77, 77, 77]), ((rows, 1), (1 << 23) + 1, [77] * 3),
                          ((rows, 3), vocab, [-1, -1, -1]), ((rows + 4, 1), 1, None)]:
        out[:] = 77
        args = dict(probs=probs.ctypes.data, row_stride=vocab, batch=rows, vocab=v, top_k=0,
                    top_k_val=50, top_p=0, top_p_val=0.9, min_p=0, min_p_val=0.0, seed=1,
                    offset=0, seeds=0, offsets=0, out=out.ctypes.data + 4, ws=ws.ctypes.data,
                    phase=0, nphase=1)
        packed = pack_args(spec.arg_types, [args[k] for k in spec.arg_names])
        if lib.rsh_launch(spec.entry.encode(), grid[0], grid[1], spec.block, packed.address,
                          len(spec.arg_types), 5):
            print("REFUSED", grid, v, lib.rsh_error())
            return -10**6
        n += 1
        got = out[1:4].tolist()
        if out[0] != 77 or out[-1] != 77 or (want is not None and got != want) or (
                want is None and min(got) < 0):
            print("BAD ABI LAUNCH", grid, v, out.tolist())
            return -10**6
    return n


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
