"""Runtime compilers: hiprtc (through hip-python) and NVRTC (through cuda-bindings).

Both have the same shape (create a program with in-memory headers, compile with options, read
the log and the code), so one :class:`Toolchain` drives either; only the function names,
the options and the code getter differ. No device is needed to compile: any target the
toolchain knows can be built on a CPU-only machine.

Example
-------
>>> from rocsample.toolchains import get_toolchain
>>> tc = get_toolchain("nvrtc")            # doctest: +SKIP
>>> tc.options("sm_90", wave=32)[:1]       # doctest: +SKIP
['-arch=sm_90']
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import install_command
from .errors import BackendUnavailable

__all__ = ["Toolchain", "get_toolchain", "hip_runtime", "wave_size_for"]

log = logging.getLogger("rocsample")

#: What tools/setup.sh installs: hiprtc lives in libamdhip64 there.
_DEBIAN_ROCM = "libamdhip64-5 libamd-comgr2 libhiprtc-builtins5 libhsa-runtime64-1 rocm-device-libs"


def wave_size_for(target: str) -> int:
    """Lanes per wavefront the code for ``target`` is compiled for.

    gfx9 (GCN/CDNA) runs 64 lanes; gfx10+ (RDNA) compiles wave32 by default; NVIDIA warps
    are 32. A device reports its own width, which the backends prefer; this serves offline
    builds (``make hsaco``) where no device is present.
    """
    if target.startswith("sm_"):
        return 32
    rest = target.split(":")[0].removeprefix("gfx")
    # The last two characters are minor and stepping (hex): gfx90a -> 9, gfx1030 -> 10.
    major = rest[:-2]
    return 32 if major.isdigit() and int(major) >= 10 else 64


#: The first NVRTC (major, minor) given ``--split-compile`` for a module whose kernels call
#: device functions (the sampling engine's; the other modules always get it). NVRTC 13.0's
#: split compile (the H200 image's 13.0.88) compiled the last entry of such a module with
#: register saves in nearly every device function it calls: ``topk_topp_sampling_kernel_bf16``
#: had 297 local stores against 26 for the ``_f16`` entry before it (34 without the option),
#: and plain sampling of 512 x 128256 bfloat16 probabilities moved 189 MB of saved registers
#: through L2 and took 91.9 us against 69.3 for float16 (ncu,
#: bench/results/2026-12-04-h200-session12). NVRTC 13.5 splits without them
#: (``python tools/ptxas_regs.py`` counts them per entry).
SPLIT_COMPILE_FROM = (13, 5)


@dataclass
class Toolchain:
    """One runtime compiler, loaded lazily."""

    name: str  # "hiprtc" or "nvrtc"
    api: Any
    prefix: str  # "hiprtc" or "nvrtc"
    code_getter: str  # "Code" (hiprtc) or "CUBIN" (nvrtc)
    # Held around each compile when the compiler is not thread-safe (hiprtc of ROCm 5.x
    # aborts the process when two programs compile at once); None: compiles may overlap.
    serial: threading.Lock | None = field(default=None, repr=False)
    _identity: str | None = field(default=None, repr=False)

    def _call(self, fn: str, *args: Any) -> tuple[Any, ...]:
        result = getattr(self.api, f"{self.prefix}{fn}")(*args)
        return result if isinstance(result, tuple) else (result,)

    def version(self) -> str:
        """The compiler's name and API version: part of every disk-cache key."""
        _, major, minor = self._call("Version")
        return f"{self.name} {major}.{minor}"

    def describe(self) -> str:
        """:meth:`version` for people: hiprtc's API version (9.0 on ROCm 5.2) does not say
        which ROCm it is, so the HIP runtime's version and library are added."""
        if self.name != "hiprtc":
            return self.version()
        return f"{self.version()} ({hip_runtime()})"

    def identity(self) -> str:
        """What the disk-cache key names as the compiler: :meth:`version`, plus for hiprtc
        the HIP runtime's own version, since hiprtc's API version (9.0) stays the same across
        ROCm releases whose code differs, and for NVRTC its release (``nvrtcVersion`` says
        13.0 for every 13.0.x, whose ptxas differ). Computed once per process."""
        if self._identity is None:
            ident = self.version()
            if self.name == "hiprtc":
                ident += f" ({hip_runtime().split(', ')[0]})"  # the version, not the path
            else:
                ident += f" ({nvrtc_release()})"
            self._identity = ident
        return self._identity

    def options(self, target: str, wave: int, block: int = 0, abi: int = 0,
                calls: bool = False) -> list[str]:
        """Compile options for ``target`` at wave size ``wave``; ``calls``: the module's kernels
        call device functions (:attr:`rocsample.registry.ModuleSpec.calls`)."""
        from .registry import ABI_VERSION, BLOCK_SIZE

        defines = [
            f"-DRS_WAVE={wave}",
            f"-DRS_BLOCK={block or BLOCK_SIZE}",
            f"-DRS_ABI_VERSION={abi or ABI_VERSION}",
        ]
        if self.name == "hiprtc":
            return [f"--offload-arch={target}", "-O3", *defines]
        opts = [f"-arch={target}", "-std=c++17", *defines]
        _, major, minor = self._call("Version")
        # NVRTC 12.4 brought the option.
        if (major, minor) >= (12, 4) and (not calls or (major, minor) >= SPLIT_COMPILE_FROM):
            # ptxas compiles the functions of a module on all cores (same code every run):
            # the engine's modules are large, and a cold start waits for them.
            opts.append("--split-compile=0")
        return opts

    def compile(
        self, source: bytes, filename: str, headers: dict[str, bytes], options: list[str]
    ) -> tuple[bytes | None, str]:
        """Compile; return ``(code or None, log)``. Never raises for a compile failure."""
        if self.serial is None:
            return self._compile(source, filename, headers, options)
        with self.serial:
            return self._compile(source, filename, headers, options)

    def _compile(
        self, source: bytes, filename: str, headers: dict[str, bytes], options: list[str]
    ) -> tuple[bytes | None, str]:
        names = [n.encode() for n in headers]
        bodies = list(headers.values())
        err, prog = self._call("CreateProgram", source, filename.encode(), len(bodies), bodies,
                               names)
        if int(err) != 0:
            return None, f"{self.prefix}CreateProgram failed: {err!r}"
        try:
            opts = [o.encode() for o in options]
            (err,) = self._call("CompileProgram", prog, len(opts), opts)
            _, size = self._call("GetProgramLogSize", prog)
            buf = bytearray(max(int(size), 1))
            self._call("GetProgramLog", prog, buf)
            text = bytes(buf).rstrip(b"\0").decode(errors="replace")
            if int(err) != 0:
                return None, text or repr(err)
            _, size = self._call(f"Get{self.code_getter}Size", prog)
            code = bytearray(int(size))
            self._call(f"Get{self.code_getter}", prog, code)
            return bytes(code), text
        finally:
            self._destroy(prog)

    def _destroy(self, prog: Any) -> None:
        if self.name == "hiprtc":
            # hiprtcDestroyProgram takes hiprtcProgram* (hip-python passes it through as a
            # pointer): hand it the address of a variable holding the handle, not the handle.
            handle = ctypes.c_void_p(int(prog))
            self._call("DestroyProgram", ctypes.addressof(handle))
        else:
            self._call("DestroyProgram", prog)


def _loaded_library(stem: str) -> str | None:
    """The resolved path of the shared library ``stem*`` mapped into this process (Linux)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(None, 5)[-1].strip()
                if path.startswith("/") and Path(path).name.startswith(stem):
                    return os.path.realpath(path)
    except OSError:
        pass
    return None


def nvrtc_release() -> str:
    """The NVRTC release in use: the ``nvidia-cuda-nvrtc`` wheel's version when NVRTC comes
    from it, else the loaded library's file name and size (a CUDA toolkit's libnvrtc).

    Example
    -------
    >>> nvrtc_release()  # doctest: +SKIP
    'nvidia-cuda-nvrtc 13.0.88'
    """
    lib = _loaded_library("libnvrtc")
    try:
        from importlib.metadata import PackageNotFoundError, version

        wheel = version("nvidia-cuda-nvrtc")
    except (ImportError, PackageNotFoundError):
        wheel = None
    if wheel is not None and (lib is None or "site-packages" in lib or "dist-packages" in lib):
        return f"nvidia-cuda-nvrtc {wheel}"
    if lib is None:
        return "libnvrtc not loaded"
    try:
        return f"{Path(lib).name}, {os.stat(lib).st_size} bytes"
    except OSError:
        return Path(lib).name


def hip_runtime() -> str:
    """Which HIP runtime (ROCm) hip-python loaded, e.g. ``HIP 5.2.21153, /usr/lib/...``.

    Example
    -------
    >>> from rocsample.toolchains import hip_runtime
    >>> hip_runtime()                  # doctest: +SKIP
    'HIP 5.2.21153, /usr/lib/x86_64-linux-gnu/libamdhip64.so.5.2.21153'
    """
    parts = []
    try:
        from hip import hip

        err, v = hip.hipRuntimeGetVersion()
        if int(err) == 0:  # HIP_VERSION encoding: major * 10**7 + minor * 10**5 + patch
            parts.append(f"HIP {v // 10_000_000}.{v // 100_000 % 100}.{v % 100_000}")
    except Exception as exc:  # an old hip-python or a runtime without the call
        log.debug("hipRuntimeGetVersion: %s", exc)
    lib = _loaded_library("libamdhip64")
    if lib:
        parts.append(lib)
    return ", ".join(parts) or "HIP runtime version unknown"


_CACHE: dict[str, Toolchain] = {}


def get_toolchain(name: str) -> Toolchain:
    """Load ``"hiprtc"`` or ``"nvrtc"``; raise :class:`BackendUnavailable` saying why not."""
    if name in _CACHE:
        return _CACHE[name]
    if name == "hiprtc":
        from .rocm_libs import prepare_rocm_path

        prepare_rocm_path()
        try:
            from hip import hiprtc
        except ImportError as exc:
            raise BackendUnavailable(
                "hip", f"hip-python is not installed ({exc}): {install_command('hip')}"
            ) from exc
        tc = Toolchain("hiprtc", hiprtc, "hiprtc", "Code", serial=threading.Lock())
    elif name == "nvrtc":
        try:
            from cuda.bindings import nvrtc
        except ImportError as exc:
            raise BackendUnavailable(
                "cuda", f"cuda-bindings is not installed ({exc}): {install_command('cuda')}"
            ) from exc
        tc = Toolchain("nvrtc", nvrtc, "nvrtc", "CUBIN")
    else:
        raise ValueError(f"unknown toolchain {name!r} (supported: 'hiprtc', 'nvrtc')")
    try:
        tc.version()
    except Exception as exc:  # the library behind the binding is missing or broken
        backend = "hip" if name == "hiprtc" else "cuda"
        fix = (f"install ROCm's HIP runtime (Debian 12: apt install {_DEBIAN_ROCM}) or set "
               "ROCM_PATH to a ROCm install" if name == "hiprtc"
               else f"install NVRTC: {install_command('cuda')}")
        raise BackendUnavailable(backend, f"{name} cannot be loaded: {exc}; {fix}") from exc
    _CACHE[name] = tc
    return tc
