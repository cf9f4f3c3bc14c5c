"""Compile one kernel module for one target, and the disk-cache key that names the result.

Example
-------
>>> from rocsample.compiler import compile_module      # doctest: +SKIP
>>> mod = compile_module("hiprtc", "topk_sampling", "gfx90a")   # doctest: +SKIP
>>> mod.image[:4]                                       # doctest: +SKIP
b'\\x7fELF'
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import __version__
from .diskcache import cache_key
from .errors import CompileError
from .registry import ABI_VERSION, BLOCK_SIZE, MODULES, ModuleSpec, kernel_source_dir
from .toolchains import get_toolchain, wave_size_for

__all__ = ["CompiledModule", "compile_module", "module_key", "read_sources"]

log = logging.getLogger("rocsample")


@dataclass(frozen=True)
class CompiledModule:
    module: str
    toolchain: str
    target: str
    options: tuple[str, ...]
    image: bytes
    key: str
    seconds: float
    log: str


def read_sources(spec: ModuleSpec) -> tuple[bytes, dict[str, bytes]]:
    """The module's source and its headers, as bytes."""
    root = kernel_source_dir()
    source = (root / spec.source).read_bytes()
    headers = {h: (root / h).read_bytes() for h in spec.headers}
    return source, headers


def module_key(
    spec: ModuleSpec, toolchain_version: str, target: str, options: list[str]
) -> str:
    """sha256 over everything that changes the binary (Triton-style cache key)."""
    source, headers = read_sources(spec)
    parts: dict[str, str | bytes | int] = {
        "module": spec.name,
        "source": source,
        "compiler": toolchain_version,
        "target": target,
        "options": "\0".join(options),
        "abi": ABI_VERSION,
        "block": BLOCK_SIZE,
        "rocsample": __version__,
    }
    for name, body in headers.items():
        parts[f"header:{name}"] = body
    return cache_key(parts)


def compile_module(
    toolchain: str, module: str, target: str, wave: int | None = None
) -> CompiledModule:
    """Compile ``kernels/<module>.hip`` with ``toolchain`` ("hiprtc"/"nvrtc") for ``target``.

    ``target`` is a full AMD target id (``gfx90a:sramecc+:xnack-``) or ``sm_XY``; ``wave``
    defaults to the target's wavefront width. Raises :class:`CompileError` with the log.
    Only call this in-process for targets the toolchain knows: Debian's comgr aborts the
    process on an unknown gfx (``rocsample.precompile`` isolates such builds).
    """
    spec = MODULES[module]
    tc = get_toolchain(toolchain)
    wave = wave or wave_size_for(target)
    opts = tc.options(target, wave, calls=spec.calls)
    version = tc.identity()
    key = module_key(spec, version, target, opts)
    source, headers = read_sources(spec)
    t0 = time.perf_counter()
    image, text = tc.compile(source, spec.source, headers, opts)
    seconds = time.perf_counter() - t0
    backend = "hip" if toolchain == "hiprtc" else "cuda"
    if image is None:
        raise CompileError(module, backend, target, opts, text, source.decode(errors="replace"))
    log.info("compiled %s for %s with %s in %.2f s", module, target, version, seconds)
    return CompiledModule(module, toolchain, target, tuple(opts), image, key, seconds, text)
