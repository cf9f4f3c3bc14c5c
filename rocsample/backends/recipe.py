"""What an operation hands the GPU executor: a launch recipe, as data.

An operation module (:mod:`rocsample.ops.sampling`, :mod:`rocsample.ops.elementwise_ops`)
turns validated arguments and a few device facts into a :class:`Recipe`; the executor
(:class:`~rocsample.backends.gpu.GpuBackend`) makes the per-call buffers it names by role,
puts its host arrays in device memory, takes the stream workspace when it asks for one, and
launches each :class:`Launch` with its arguments packed by name from the kernel's registered
signature. Nothing here knows any particular operation.

Example
-------
>>> r = Recipe("copy", (Buffer("out", (4,), "f4", "new"),), {}, None,
...            [Launch("k", (1, 1), {"n": 4, "out": 0}, (("out", "out", 0),))])
>>> r.launches[0].bind, r.buffers[0].role
((('out', 'out', 0),), 'out')
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

__all__ = ["Buffer", "DeviceFacts", "Launch", "Recipe"]


class Launch(NamedTuple):
    """One kernel launch.

    ``args`` holds every argument of ``kernel`` by name; the arguments whose value is a
    per-call device address (``bind``: (argument, role, byte offset)) are set by the executor
    to the address of that role's memory plus the offset just before the launch (their value
    in ``args`` until then is a placeholder). ``after_phase``: the launch is a later phase of
    the previous one, which it may overlap when its code object waits for that grid
    (``LoadedKernel.grid_wait``). ``block``: threads a block, for a kernel that takes any
    block size (the MLP family's few-row calls); 0, the block it is registered with.
    """

    kernel: str
    grid: tuple[int, int]
    args: dict[str, Any]
    bind: tuple[tuple[str, str, int], ...] = ()
    after_phase: bool = False
    block: int = 0


class Buffer(NamedTuple):
    """A per-call device buffer the recipe needs, named by role.

    ``kind`` says what the executor (and a replayed plan) makes: ``"tokens"`` a (rows,) int32
    result taken from the stream's output slab when the input is on the device (a new buffer
    for host input, copied back); ``"new"`` a new result buffer; ``"temp"`` scratch memory
    freed, stream-ordered, behind the call's launches. The buffer of role ``"out"`` is the
    call's result.
    """

    role: str
    shape: tuple[int, ...]
    dtype: Any
    kind: str


class Recipe(NamedTuple):
    """Everything the executor launches for one call.

    ``uploads``: host arrays (per-row parameters, a layout ``info``) put in device memory for
    this call only, each bound by its role; ``constants``: host arrays that depend only on
    the call's shapes and layouts (a layout ``info``), put in device memory once per distinct
    content and kept (``StreamMemory.constant``); ``workspace``: the (rows, vocab) layout of the
    stream's sampling workspace the launches use (role ``"ws"``), or None.
    """

    op: str
    buffers: tuple[Buffer, ...]
    uploads: dict[str, Any]
    workspace: tuple[int, int] | None
    launches: list[Launch]
    constants: dict[str, Any] | None = None


class DeviceFacts(Protocol):
    """What a recipe may ask of the device it is built for."""

    @property
    def sm_count(self) -> int:
        """Streaming multiprocessors (NVIDIA) or compute units (AMD)."""
        ...

    def has_companion(self, kernel: str) -> bool:
        """Whether the optional kernel ``kernel`` (``KernelSpec.companion_of``) is loaded
        with its contract kernel (it may load it)."""
        ...
