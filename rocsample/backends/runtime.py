"""What the HIP and CUDA backends share: the driver protocol and kernel argument packing.

A :class:`Runtime` is a thin wrapper over one vendor driver API for one device (HIP through
hip-python, CUDA through cuda-python). Everything above it (kernel cache, the executor of
launch recipes, per-call memory, workspaces, launch plans, deadlines) is written once, in
:mod:`rocsample.backends.gpu` and the modules beside it.

Kernel arguments are packed here, once, with explicit C types taken from the kernel's
registered signature: hip-python would pack a bare Python int as 8 bytes and a numpy scalar
as a host pointer, so nothing is left to inference.
"""

from __future__ import annotations

import ctypes
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from .. import config
from ..errors import KernelTimeout, LaunchError

__all__ = ["CAPTURE_IMPLICIT", "NamedPacker", "PackedArgs", "Runtime", "pack_args", "pack_named"]

#: What the driver's "implicit capture" refusal means for a caller (HIP and CUDA alike).
CAPTURE_IMPLICIT = (
    "another stream of this device is capturing a graph in global mode, and this call was "
    "made on the legacy default stream, which would join and invalidate that capture: pass "
    "the capturing stream (stream=torch.cuda.current_stream().cuda_stream inside "
    "torch.cuda.graph)")

_CTYPES = {
    "ptr": ctypes.c_uint64,  # device addresses are 64-bit on every supported target
    "i32": ctypes.c_int32,
    "i64": ctypes.c_int64,
    "u64": ctypes.c_uint64,
    "f32": ctypes.c_float,
    "f64": ctypes.c_double,
    "u8": ctypes.c_uint8,
    "u32": ctypes.c_uint32,
    "i16": ctypes.c_int16,
    # __half and __nv_bfloat16 by value: two bytes, passed as their bit pattern (an int).
    "f16": ctypes.c_uint16,
    "bf16": ctypes.c_uint16,
}


class PackedArgs:
    """A ``void*[]`` of pointers to typed argument values (the ``kernelParams`` ABI)."""

    __slots__ = ("address", "array", "values")

    def __init__(self, types: Sequence[str], values: Sequence[Any]) -> None:
        if len(types) != len(values):
            raise ValueError(f"kernel takes {len(types)} arguments, got {len(values)}")
        self.values = [
            _CTYPES[t](0 if v is None else v) for t, v in zip(types, values, strict=True)
        ]
        self.array = (ctypes.c_void_p * len(self.values))(
            *(ctypes.addressof(v) for v in self.values)
        )
        self.address = ctypes.addressof(self.array)


def pack_args(types: Sequence[str], values: Sequence[Any]) -> PackedArgs:
    """Pack ``values`` by ``types`` ("ptr", "i32", "i64", "u64", "f32", "f64", "u8", "u32",
    "i16"; "f16" and "bf16" take the 16-bit pattern as an int)."""
    return PackedArgs(types, values)


def pack_named(kernel: str, names: Sequence[str], types: Sequence[str],
               values: Mapping[str, Any]) -> PackedArgs:
    """Pack the arguments of ``kernel`` given by name, in its registered order.

    Every name of the signature must be given and no other: a recipe that misnames an
    argument would otherwise shift every later one.

    Example
    -------
    >>> pack_named("k", ("n", "x"), ("u64", "f32"), {"x": 2.0, "n": 3}).values[0].value
    3
    >>> pack_named("k", ("n", "x"), ("u64", "f32"), {"n": 3, "y": 1.0})
    Traceback (most recent call last):
    ValueError: kernel k: missing argument x, unknown argument y (it takes n, x)
    """
    try:
        ordered = [values[n] for n in names]
    except KeyError:
        ordered = None
    if ordered is None or len(values) != len(names):
        missing = [n for n in names if n not in values]
        unknown = [n for n in values if n not in names]
        parts = [f"missing argument{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
                 if missing else "",
                 f"unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
                 if unknown else ""]
        raise ValueError(f"kernel {kernel}: {', '.join(p for p in parts if p)} "
                         f"(it takes {', '.join(names)})")
    return PackedArgs(types, ordered)


class NamedPacker:
    """:func:`pack_named` for one kernel, with what it needs worked out once: the general
    path of the executor packs through it at every launch.

    Example
    -------
    >>> pack = NamedPacker("k", ("n", "x"), ("u64", "f32"))
    >>> pack({"x": 2.0, "n": 3}).values[1].value
    2.0
    >>> pack({"n": 3})
    Traceback (most recent call last):
    ValueError: kernel k: missing argument x (it takes n, x)
    """

    __slots__ = ("array", "classes", "kernel", "names", "take", "types")

    def __init__(self, kernel: str, names: Sequence[str], types: Sequence[str]) -> None:
        self.kernel, self.names, self.types = kernel, tuple(names), tuple(types)
        self.classes = tuple(_CTYPES[t] for t in types)
        self.array = ctypes.c_void_p * len(self.names)
        one = len(self.names) == 1
        self.take = itemgetter(*self.names) if not one else (lambda v: (v[self.names[0]],))

    def __call__(self, values: Mapping[str, Any]) -> PackedArgs:
        if len(values) == len(self.names):
            try:
                ordered = self.take(values)
            except KeyError:
                pass
            else:
                # PackedArgs without its per-call type lookups and length check (done above).
                packed = PackedArgs.__new__(PackedArgs)
                packed.values = values = [c(0 if v is None else v)
                                          for c, v in zip(self.classes, ordered, strict=True)]
                packed.array = self.array(*map(ctypes.addressof, values))
                packed.address = ctypes.addressof(packed.array)
                return packed
        return pack_named(self.kernel, self.names, self.types, values)  # raises: what is wrong


class Runtime(ABC):
    """One device of one GPU driver API. Subclasses stay small: only vendor calls live there."""

    name: str  # "hip" or "cuda"
    toolchain: str  # "hiprtc" or "nvrtc"
    dlpack_device_type: int  # kDLROCM = 10, kDLCUDA = 2
    device_index: int
    device_name: str
    target: str  # full AMD target id or "sm_XY"
    wave_size: int
    sm_count: int  # streaming multiprocessors (NVIDIA) or compute units (AMD)
    code_suffix: str  # ".hsaco" or ".cubin": file names in the precompiled directory

    @property
    def dlpack_device(self) -> tuple[int, int]:
        return (self.dlpack_device_type, self.device_index)

    # memory (MemoryDriver protocol of rocsample.buffers)
    @abstractmethod
    def alloc(self, nbytes: int) -> int: ...
    @abstractmethod
    def free(self, ptr: int) -> None: ...
    @abstractmethod
    def copy_from_host(self, dst: int, src: int, nbytes: int) -> None: ...
    @abstractmethod
    def copy_to_host(self, dst: int, src: int, nbytes: int) -> None: ...

    # stream-ordered memory (what the per-call path uses: no synchronisation)
    @abstractmethod
    def alloc_async(self, nbytes: int, stream: int) -> int: ...
    @abstractmethod
    def free_async(self, ptr: int, stream: int) -> None: ...
    @abstractmethod
    def copy_from_host_async(self, dst: int, src: int, nbytes: int, stream: int) -> None: ...

    def drain(self, stream: int, what: str) -> None:
        """Wait, with the deadline (:func:`rocsample.config.sync_timeout`), for the work
        queued so far on ``stream``; ``what`` names it in a KernelTimeout."""
        event = self.event_create()
        try:
            self.event_record(event, stream)
            self.wait(event, config.sync_timeout(), what)
        finally:
            self.event_destroy(event)

    def stream_wait(self, consumer: int, producer: int) -> None:
        """Make ``consumer`` wait for the work queued so far on ``producer`` (no host sync)."""
        event = self.event_create()
        try:
            self.event_record(event, producer)
            self.stream_wait_event(consumer, event)
        finally:
            self.event_destroy(event)

    @abstractmethod
    def stream_wait_event(self, stream: int, event: Any) -> None: ...

    @abstractmethod
    def stream_is_capturing(self, stream: int) -> bool:
        """Whether ``stream`` is capturing a graph now (cuStreamIsCapturing,
        hipStreamIsCapturing): work queued on it is then recorded, not run, and nothing may
        allocate, copy from the host or synchronise on it (``rocsample.reserve``). A query
        that the driver refuses because another stream captures in global mode (the legacy
        default stream) is a :class:`~rocsample.errors.CaptureError`."""

    # modules and launches
    @abstractmethod
    def load_module(self, image: bytes) -> Any: ...
    @abstractmethod
    def get_function(self, module: Any, entry: str) -> Any: ...
    @abstractmethod
    def unload_module(self, module: Any) -> None: ...
    @abstractmethod
    def launch(self, func: Any, grid: tuple[int, int], block: int, args: PackedArgs,
               stream: int, overlap: bool = False) -> None:
        """Launch ``func`` on ``stream``. With ``overlap`` the grid may start while the
        previous kernel on the stream is still running (NVIDIA sm_90+: a programmatic
        dependent launch), for kernels that wait for that grid themselves before reading
        what it wrote (``LoadedKernel.grid_wait``); a runtime without it launches as usual."""

    # ordering and timing
    @abstractmethod
    def event_create(self) -> Any: ...
    @abstractmethod
    def event_record(self, event: Any, stream: int) -> None: ...
    @abstractmethod
    def event_done(self, event: Any) -> bool: ...
    @abstractmethod
    def event_elapsed_ms(self, start: Any, end: Any) -> float: ...
    @abstractmethod
    def event_destroy(self, event: Any) -> None: ...
    @abstractmethod
    def stream_create(self) -> int: ...
    @abstractmethod
    def stream_destroy(self, stream: int) -> None: ...
    @abstractmethod
    def make_current(self) -> None: ...

    def wait(self, event: Any, timeout: float, what: str) -> None:
        """Poll ``event`` until done; raise :class:`KernelTimeout` after ``timeout`` seconds.

        Polling (not a blocking synchronize) is what lets a hung kernel become an error
        instead of a hung process. The sleep grows from 20 us to 1 ms.
        """
        deadline = time.monotonic() + timeout
        pause = 2e-5
        while not self.event_done(event):
            if time.monotonic() > deadline:
                raise KernelTimeout(what, self.name, timeout)
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)

    def fail(self, call: str, err: Any, what: str = "") -> LaunchError:
        return LaunchError(what or call, self.name, f"{call} failed: {self.error_text(err)}")

    @abstractmethod
    def error_text(self, err: Any) -> str: ...
