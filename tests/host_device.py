"""A STAND-IN GPU for tests of the generic executor on machines without one.

Memory is host memory (aligned numpy blocks, stream-ordered calls done at once) and a launch
runs the numpy twin of the elementwise kernel it names (rocsample.ops.elementwise.run_*),
reading its packed arguments exactly as the kernel would: so what the executor builds (the
argument order, the info array in "device" memory, base pointers with start offsets, null
for a contiguous layout, the block size) is checked end to end. It is never used by the
library; the real kernels run in tests/test_gpu_elementwise.py on GPU machines.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from rocsample.buffers import HostMemoryDriver
from rocsample.ops import elementwise as ew
from rocsample.registry import KERNELS


def host_array(ptr: int, count: int, dtype: np.dtype) -> np.ndarray:
    """``count`` elements at host address ``ptr``, shared (not copied)."""
    nbytes = count * dtype.itemsize
    raw = (ctypes.c_char * max(nbytes, 1)).from_address(ptr)
    return np.frombuffer(raw, dtype=np.uint8, count=nbytes).view(dtype)


def _scalar(value: int | float, dtype: str) -> float | int:
    if dtype == "bf16":
        return float(ew.bf16_to_f32(np.array([value], np.uint16))[0])
    if dtype == "f16":
        return float(np.array([value], np.uint16).view(np.float16)[0])
    return value


class HostDevice(HostMemoryDriver):
    """A runtime (the part GpuBackend uses) whose kernels are the numpy twin."""

    name = "cuda"
    dlpack_device = (2, 0)
    device_index = 0
    device_name = "host stand-in"
    target = "sm_90"
    wave_size = 32
    sm_count = 132

    def __init__(self) -> None:
        super().__init__()
        self.launches: list[tuple[str, tuple[int, int], int, dict[str, Any]]] = []

    def make_current(self) -> None:
        pass

    def alloc_async(self, nbytes: int, stream: int) -> int:
        return self.alloc(nbytes)

    def free_async(self, ptr: int, stream: int) -> None:
        self.free(ptr)

    def copy_from_host_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        self.copy_from_host(dst, src, nbytes)

    def launch(self, func: Any, grid: tuple[int, int], block: int, args: Any, stream: int,
               overlap: bool = False) -> None:
        spec = KERNELS[func]
        values = {n: v.value for n, v in zip(spec.arg_names, args.values, strict=True)}
        self.launches.append((func, grid, block, values))
        e = ew.ENTRIES[func]
        numel, nd = values["numel"], values["num_dims"]
        groups = 3 if e.module == "ternary" else 1
        info = (host_array(values["info"], (1 + groups) * nd, np.dtype(np.uint64)).copy()
                if values["info"] else None)

        def operand(name: str, group: int, dtype: str) -> np.ndarray:
            span = numel
            if info is not None:
                dims = info[:nd].astype(np.int64)
                st = info[group * nd:(group + 1) * nd].astype(np.int64)
                span = ew.Layout(tuple(dims), tuple(st)).span if numel else 0
            return host_array(values[name], span, ew.DTYPES[dtype].storage)

        store = ew.DTYPES[e.dtype].storage
        out = host_array(values["out"], numel, store)
        if e.module == "unary":
            param = _scalar(values["param"], e.dtype) if "param" in values else None
            ew.run_unary(e.op, e.dtype, numel, nd, info, operand("inp", 1, e.dtype), out,
                         param)
        elif e.module == "affine":
            inp = operand("inp", 1, e.dtype) if values["inp"] else None
            ew.run_affine(e.dtype, numel, nd, info, inp, out,
                          _scalar(values["mul"], e.dtype), _scalar(values["add"], e.dtype))
        else:
            ew.run_where(e.id_dtype, e.dtype, numel, nd, info, operand("ids", 1, e.id_dtype),
                         operand("t", 2, e.dtype), operand("f", 3, e.dtype), out)

    def event_create(self) -> Any:
        return object()

    def event_record(self, event: Any, stream: int) -> None:
        pass

    def event_done(self, event: Any) -> bool:
        return True

    def wait(self, event: Any, timeout: float, what: str) -> None:
        pass  # the stand-in's work is done when it is queued

    def event_destroy(self, event: Any) -> None:
        pass


class TwinKernels:
    """The kernel cache's ``get``: every registered kernel, its function its name."""

    def get(self, kernel: str) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(function=kernel, grid_wait=False, spec=KERNELS[kernel])
