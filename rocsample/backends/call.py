"""The per-call device memory of the GPU executor, and its one launch function.

Buffers come from the stream-ordered allocator and are freed on the same stream right after
the launches: the free is queued behind the kernels, so nothing waits and nothing is reused
while a kernel may still read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import profiling
from ..buffers import DeviceBuffer
from ..errors import CaptureError
from ..registry import KERNELS
from .plan import LaunchPlan
from .runtime import NamedPacker

if TYPE_CHECKING:
    from .gpu import GpuBackend

__all__ = ["Call"]

#: One packer per kernel, made at its first launch (registry rows never change).
_PACKERS: dict[str, NamedPacker] = {}


def _packer(kernel: str) -> NamedPacker:
    spec = KERNELS[kernel]
    return _PACKERS.setdefault(kernel, NamedPacker(kernel, spec.arg_names, spec.arg_types))


class Call:
    """The temporary device memory of one call, ordered on the call's stream."""

    __slots__ = ("backend", "capturing", "plan", "roles", "stream", "temp", "views", "ws")

    def __init__(self, backend: GpuBackend, stream: int) -> None:
        self.backend = backend
        self.stream = stream
        self.temp: list[DeviceBuffer] = []
        self.views: list[Any] = []  # caller arrays kept alive until the launches are queued
        self.plan: LaunchPlan | None = None  # records the launches when set
        self.roles: dict[int, str] = {}  # the call's own buffers: pointer -> plan role
        self.ws: int | None = None  # the stream workspace, once a launch uses it
        # Whether the stream captures a graph: then every buffer comes from its reservation
        # (GpuBackend.execute checks that before anything is queued).
        self.capturing = backend.rt.stream_is_capturing(stream)

    def buffer(self, shape: tuple[int, ...], dtype: Any) -> DeviceBuffer:
        if self.capturing:  # the executor's checks make this unreachable: a last guard
            raise CaptureError("call", self.stream, "a per-call allocation was asked for")
        buf = DeviceBuffer(self.backend.rt, shape, dtype, stream=self.stream)
        self.temp.append(buf)
        return buf

    def upload(self, array: np.ndarray) -> DeviceBuffer:
        host = np.ascontiguousarray(array)
        buf = self.buffer(host.shape, host.dtype)
        # Pageable host memory: the async copy returns once the source has been read.
        self.backend.rt.copy_from_host_async(buf.ptr, host.ctypes.data, host.nbytes,
                                             self.stream)
        return buf

    def launch(self, kernel: str, grid: tuple[int, int], args: dict[str, Any],
               after_phase: bool = False, block: int = 0) -> None:
        """Launch ``kernel`` with its arguments by name (packed in its registered order) and
        ``block`` threads a block (0: its registered block size, the most it is compiled
        for); ``after_phase``: it is a later phase of the call's previous launch, which it
        may overlap if its code object waits for that grid (grid_wait). The one launch of the
        executor, for every family."""
        spec = KERNELS[kernel]
        # A recipe's block is its family's grid rule's (rocsample.ops.mlp: at most the
        # registered one, tested there), not checked again on every launch.
        block = block or spec.block
        loaded = self.backend.kernels.get(kernel)
        packed = (_PACKERS.get(kernel) or _packer(kernel))(args)
        timer = profiling.active()
        start = timer.before(self.backend.rt, self.stream) if timer else None
        overlap = after_phase and loaded.grid_wait and timer is None  # events sit between
        self.backend.rt.launch(loaded.function, grid, block, packed, self.stream, overlap)
        if self.plan is not None:
            self.plan.add(loaded.function, grid, block, packed, spec.arg_names,
                          spec.arg_types, self.roles, overlap)
        if timer:
            timer.after(self.backend.rt, self.stream, kernel, start)

    def wait(self, what: str) -> None:
        """Wait for the call's work with the deadline (KernelTimeout instead of a hang)."""
        self.backend.rt.drain(self.stream, what)

    def release(self) -> None:
        for b in self.temp:
            b.free()
        self.temp = []
        self.views = []
