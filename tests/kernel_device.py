"""TEST EQUIPMENT: the real sampling kernels on a CPU.

:class:`KernelDevice` is :class:`tests.host_device.HostDevice` (the stand-in GPU whose memory
is host memory) with one difference: a launch of a sampling-family kernel runs that kernel's
own code, ``kernels/*.hip`` unchanged, built by g++ on ``tests/kernel_host/gpu_host.h`` (the
HIP branch of ``rs_common.h``; a block's threads are fibers switched at ``__syncthreads`` and
at the wave operations, atomics plain read-modify-writes). So the executor's launches (the
grid, the phases, the workspace, the argument packing) and the kernels' arithmetic are
checked together, at wave 32 (NVIDIA, RDNA) and at wave 64 (CDNA, which no machine of ours
has), with the blocks of a grid and the threads after each barrier run in an order drawn
from a seed. The other families still run their numpy twins.

The wave-32 build stands for the H200: it defines ``RS_PACKED_MAX``, so packed 2-byte rows
take the maxima sm_90 takes (``rs_held_max2``, kernels/rs_engine_block.h, with a portable
``rs_max_u16x2`` for the PTX instruction), and ``RS_REDUX``, so wave sums and maxima take
sm_80's reductions (the 64-bit sum in three parts, rs_common.h; gpu_host.h supplies
``__reduce_add_sync`` and ``__reduce_max_sync``); the wave-64 build takes CDNA's code.

What it cannot check: memory ordering between blocks that run at the same time (blocks run
one after another here), speed, and the rest of the NVIDIA-only code (``RS_CUDA``: PTX
conversions, the overlapping launches); those run on the GPU (``tests/test_gpu*.py``).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rocsample.backends.runtime import pack_args
from rocsample.registry import ABI_VERSION, BLOCK_SIZE, KERNELS, MODULES, kernel_source_dir

from .host_device import HostDevice

HERE = Path(__file__).parent / "kernel_host"
_LIBS: dict[tuple[str, int, int, bool], ctypes.CDLL] = {}


def gxx() -> str | None:
    """The host C++ compiler the harness needs (g++ 12 or later: C++17 and ``_Float16``)."""
    return shutil.which("g++")


def _sources() -> bytes:
    h = hashlib.sha256()
    for d in (kernel_source_dir(), HERE):
        for p in sorted(d.iterdir()):
            if p.suffix in (".h", ".hip", ".cpp"):
                h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16].encode()


def build_dir() -> Path:
    """Where the libraries are kept: a directory of this user's, keyed by the sources."""
    root = Path(tempfile.gettempdir()) / f"rocsample-kernel-host-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    if root.stat().st_uid != os.getuid() or root.stat().st_mode & 0o022:
        raise RuntimeError(f"{root} is not this user's private directory")
    return root / _sources().decode()


def compile_module(source: str, entries: list[str], wave: int, block: int, out: Path,
                   include: tuple[Path, ...] = (), asan: bool = False,
                   defines: tuple[str, ...] = ()) -> None:
    """Build kernel source file ``source`` (found on ``include``, then kernels/) with its
    ``entries`` into the shared library ``out`` on the host harness (gpu_host.h, module.cpp),
    with ``-D`` of each of ``defines``; raise RuntimeError with the compiler's message if it
    fails."""
    tmp = f"{out}.{os.getpid()}.tmp"
    cmd = [gxx() or "g++", "-std=c++17", "-O1", "-shared", "-fPIC", "-ffp-contract=off",
           "-Wno-unknown-pragmas", *(f"-D{d}" for d in defines),
           f"-DRS_WAVE={wave}", f"-DRS_BLOCK={block}",
           f"-DRS_ABI_VERSION={ABI_VERSION}", f'-DRSH_MODULE="{source}"',
           "-DRSH_ENTRIES=" + " ".join(f"X({e})" for e in entries),
           *(a for d in include for a in ("-I", str(d))), "-I", str(kernel_source_dir()),
           "-I", str(HERE), str(HERE / "module.cpp"), "-o", tmp]
    if asan:
        cmd[1:1] = ["-fsanitize=address", "-fno-omit-frame-pointer"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"building {source} for the host failed:\n{r.stderr[-4000:]}")
    os.replace(tmp, out)


def library_defines(wave: int) -> tuple[str, ...]:
    """What a library module is built with besides its wave and block: at wave 32 (the
    H200's width) sm_90's packed 2-byte maxima and sm_80's wave reductions (module
    docstring)."""
    return ("RS_PACKED_MAX=1", "RS_REDUX=1") if wave == 32 else ()


def _build(module: str, wave: int, block: int, asan: bool) -> Path:
    m = MODULES[module]
    # The defines are part of the name: build_dir's key covers the sources, not this file.
    tag = hashlib.sha256(" ".join(library_defines(wave)).encode()).hexdigest()[:8]
    out = build_dir() / f"{module}-w{wave}-b{block}-{tag}{'-asan' if asan else ''}.so"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        compile_module(m.source, list(m.entries), wave, block, out, asan=asan,
                       defines=library_defines(wave))
    return out


def build_all(wave: int, block: int = BLOCK_SIZE, asan: bool = False) -> dict[str, Path]:
    """Build every sampling module for (wave, block), two at a time; their paths by module."""
    mods = [n for n, m in MODULES.items() if m.family == "sampling"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(lambda n: _build(n, wave, block, asan), mods))
    return dict(zip(mods, paths, strict=True))


def library(module: str, wave: int, block: int = BLOCK_SIZE, asan: bool = False) -> ctypes.CDLL:
    key = (module, wave, block, asan)
    if key not in _LIBS:
        lib = ctypes.CDLL(str(_build(module, wave, block, asan)))
        lib.rsh_launch.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint,
                                   ctypes.c_uint, ctypes.c_void_p, ctypes.c_int,
                                   ctypes.c_ulonglong]
        lib.rsh_launch.restype = ctypes.c_int
        lib.rsh_error.restype = ctypes.c_char_p
        _LIBS[key] = lib
    return _LIBS[key]


class KernelRunError(AssertionError):
    """A launch the host harness refused or stopped (the reason from gpu_host.h)."""


class KernelDevice(HostDevice):
    """The stand-in GPU whose sampling launches run the real kernels (module docstring).

    ``wave``: the wave size the kernels are built for and the executor is told (32 or 64);
    ``sm_count``: what the executor sizes grids by; ``seed``: the first launch's order seed
    (each launch takes the next); ``asan``: kernels built with AddressSanitizer and memory
    allocated by the C library at exactly the size asked (in a process started with
    libasan preloaded: tests/kernel_asan.py), so that a read or write outside an allocation
    stops the process with ASan's report.
    """

    def __init__(self, wave: int = 32, sm_count: int = 132, seed: int = 0,
                 asan: bool = False) -> None:
        super().__init__()
        self.wave_size = wave
        self.sm_count = sm_count
        self.target = "sm_90" if wave == 32 else "gfx942"
        self.seed = seed
        self.asan = asan
        self.ran: list[str] = []  # the real kernels launched, in order
        if asan:
            self._libc = ctypes.CDLL(None)
            self._libc.posix_memalign.argtypes = [ctypes.POINTER(ctypes.c_void_p),
                                                  ctypes.c_size_t, ctypes.c_size_t]
            self._libc.free.argtypes = [ctypes.c_void_p]

    # Memory: with asan, C-library blocks of exactly the size asked (ASan knows their ends).
    def _exact(self, nbytes: int) -> int:
        import numpy as np

        from .host_device import host_array

        p = ctypes.c_void_p()
        assert self._libc.posix_memalign(ctypes.byref(p), 256, max(int(nbytes), 1)) == 0
        self._blocks[p.value] = host_array(p.value, int(nbytes), np.dtype(np.uint8))
        return p.value

    def _release(self, ptr: int) -> None:
        if self._blocks.pop(ptr, None) is None:
            raise ValueError(f"pointer {ptr:#x} is not a live allocation of this driver")
        self._libc.free(ptr)

    def alloc(self, nbytes: int) -> int:
        if not self.asan:
            return super().alloc(nbytes)
        self._guard("alloc")
        return self._exact(nbytes)

    def free(self, ptr: int) -> None:
        if not self.asan:
            return super().free(ptr)
        self._guard("free")
        self._release(ptr)

    def alloc_async(self, nbytes: int, stream: int) -> int:
        if not self.asan:
            return super().alloc_async(nbytes, stream)
        self._guard("alloc_async", stream)
        return self._exact(nbytes)

    def free_async(self, ptr: int, stream: int) -> None:
        if not self.asan:
            return super().free_async(ptr, stream)
        self._guard("free_async", stream)
        self._release(ptr)

    def _run(self, func: str, grid: tuple[int, int], block: int, values: dict) -> None:
        spec = KERNELS[func]
        if spec.family != "sampling":
            super()._run(func, grid, block, values)
            return
        # At a call's start the prefix is zero, and the row words are garbage: the kernels
        # write each before they read it (later phases read what earlier ones wrote).
        if values.get("ws") and self.workspace_at_start(func, values):
            self.scribble_rows(values)
        lib = library(spec.module, self.wave_size, spec.block, self.asan)
        packed = pack_args(spec.arg_types, [values[n] for n in spec.arg_names])
        self.seed += 1
        rc = lib.rsh_launch(spec.entry.encode(), grid[0], grid[1], block, packed.address,
                            len(spec.arg_types), self.seed)
        if rc:
            raise KernelRunError(f"{func} {grid} x {block}: {lib.rsh_error().decode()}")
        self.ran.append(func)


def stand_in(kind: str, monkeypatch: Any) -> Any:
    """A GPU backend on the stand-in device, made the public API's GPU backend (``backend=
    "cpu"`` stays the numpy backend, the reference): ``kind`` "twin" runs the numpy twin of
    each kernel (tests/host_device.py), "kernels" the kernels' own code built for the CPU
    (this module; skips, or fails in CI, without g++)."""
    from rocsample.backends.gpu import GpuBackend

    from .conftest import need
    from .host_device import TwinKernels

    if kind == "kernels":
        need(gxx() is not None, "g++ not found (make setup installs it)")
        b = GpuBackend(KernelDevice())
    else:
        b = GpuBackend(HostDevice())
    b.kernels = TwinKernels()
    return use_as_gpu(b, monkeypatch)


def use_as_gpu(b: Any, monkeypatch: Any) -> Any:
    """Make backend ``b`` the public API's GPU backend for one test (``backend="cpu"`` stays
    the numpy backend); returns ``b``."""
    from rocsample import api

    cpu = api.get_backend("cpu")
    monkeypatch.setattr(api, "get_backend",
                        lambda name=None, device=0: cpu if name == "cpu" else b)
    return b
