"""The per-device kernel cache: find, validate, compile, load and keep each kernel module.

For each kernel the cache resolves, in order (first that applies wins):

1. its environment variable (``TOPK_SAMPLING_HSACO=/path``...): that file, validated;
2. the precompiled directory (``ROCSAMPLE_KERNEL_DIR``, default the ``make hsaco`` output):
   ``<module>.hsaco`` (AMD) or ``<module>.cubin`` (NVIDIA), if it holds code for this device
   built for this kernel ABI (the ``rocsample_abi_vN`` symbol of rs_common.h);
3. the on-disk JIT cache (``ROCSAMPLE_CACHE_DIR``), keyed by a sha256 over source, headers,
   options, compiler, target, ABI and rocsample versions;
4. compile now with hiprtc/NVRTC, store in the disk cache (kept in memory for the process
   when the disk cache cannot be written).

The cache is created lazily and guarded by one lock per device, checked twice (a lookup that
hits never takes the lock), so 32 threads asking for one cold module cause one compile.

Example
-------
>>> from rocsample import cache_info      # doctest: +SKIP
>>> cache_info()["kernels"]["topk_sampling"]["origin"]   # doctest: +SKIP
'jit-cache'
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import codeobject, config
from .compiler import CompiledModule, compile_module, module_key
from .diskcache import DiskCache
from .errors import KernelLoadError
from .registry import ABI_VERSION, KERNELS, MODULES, KernelSpec
from .toolchains import get_toolchain

__all__ = ["KernelCache", "LoadedKernel", "Resolution"]

log = logging.getLogger("rocsample")


@dataclass(frozen=True)
class Resolution:
    """Where a kernel comes (or would come) from, and why."""

    kernel: str
    origin: str  # "env", "precompiled", "jit-cache", "compile"
    path: str | None
    reason: str


@dataclass
class LoadedKernel:
    spec: KernelSpec
    function: Any
    resolution: Resolution
    load_seconds: float
    #: Its code object defines ``rocsample_grid_wait``: a later phase of a call may be
    #: launched to overlap the previous one (see rocsample.backends.runtime.Runtime.launch).
    grid_wait: bool = False


@dataclass
class _Stats:
    compiles: int = 0
    disk_hits: int = 0
    disk_misses: int = 0
    compile_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Source:
    """The code object a module's entries are loaded from, resolved once.

    ``entry`` is the parsed code object of an explicit file (an override or the precompiled
    directory), whose symbols each kernel's entry point is checked against; None for our own
    build (disk cache or compile), which has every entry of its module.
    """

    key: str
    module: Any
    resolution: Resolution
    entry: codeobject.CodeObjectEntry | None
    env_var: str | None


class KernelCache:
    """Kernels of one device, resolved on first use and kept for the process."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._kernels: dict[str, LoadedKernel] = {}
        self._modules: dict[str, Any] = {}  # origin key -> loaded module handle
        self._waits: dict[str, bool] = {}  # origin key -> its code defines rocsample_grid_wait
        self._module_origin: dict[str, Resolution] = {}
        self.stats = _Stats()
        self._disk: DiskCache | None = None
        self._fresh: dict[str, CompiledModule] = {}  # compiled by load_all, not yet loaded
        self._absent: set[str] = set()  # companions the contract kernel's code object lacks
        # One resolution per (module, variable, its value): the entries of a module (129 in
        # the elementwise family) share the read, the parse, the key and the loaded module.
        self._sources: dict[tuple[str, str, str | None], _Source] = {}
        self._keys: dict[str, str] = {}  # module -> disk-cache key (hashes every source)

    # -- public -------------------------------------------------------------------------
    def get(self, kernel: str) -> LoadedKernel:
        """The loaded kernel ``kernel`` (a key of ``registry.KERNELS``)."""
        hit = self._kernels.get(kernel)  # lock-free fast path: dict reads are atomic
        if hit is not None:
            return hit
        with self._lock:
            hit = self._kernels.get(kernel)
            if hit is None:
                hit = self._load(KERNELS[kernel])
                self._kernels[kernel] = hit
            return hit

    def companion(self, kernel: str) -> LoadedKernel | None:
        """The optional kernel ``kernel``, or None when its code object does not have it.

        A companion (``KernelSpec.companion_of``) comes from the same place as its contract
        kernel. A user's code object (an environment variable or a precompiled file) that was
        built without it still serves the contract kernel: the host takes the path that does
        not need the companion. Any other failure (a bad file, a compile error) raises.
        A companion in a module of its own (the sampling kernels' ``*_rise`` entries) is
        resolved through its own variable, precompiled file or build, when it is first
        needed; while the user overrides its contract kernel and not it, it is absent (the
        user's kernel serves every row).

        >>> from rocsample import backend      # doctest: +SKIP
        >>> backend().kernels.companion("softmax_stats").resolution.origin   # doctest: +SKIP
        'jit-cache'
        """
        spec = KERNELS[kernel]
        if spec.companion_of is None:
            raise ValueError(f"{kernel} is a contract kernel, not a companion")
        if kernel in self._absent:
            return None
        hit = self._kernels.get(kernel)
        if hit is not None:
            return hit
        owner = self.get(spec.companion_of)  # raises for a bad override file
        if spec.module != owner.spec.module:  # a module of its own (the rise entries)
            if self._left_to_owner(spec):
                log.info("%s: %s is set and %s is not; %s serves every row", kernel,
                         owner.spec.env_var, spec.env_var, owner.spec.entry)
                self._absent.add(kernel)
                return None
            return self.get(kernel)  # its own variable, precompiled file or build
        if owner.resolution.origin not in ("env", "precompiled"):
            return self.get(kernel)  # our own build has every entry
        try:
            return self.get(kernel)
        except KernelLoadError as exc:
            log.info("%s: %s has no %s (%s); using %s alone", kernel, owner.resolution.path,
                     spec.entry, exc.reason, owner.spec.entry)
            self._absent.add(kernel)
            return None

    @staticmethod
    def _left_to_owner(spec: KernelSpec) -> bool:
        """Whether companion ``spec``, in a module of its own, is left out because the user
        overrides its contract kernel (whose code then serves every row) and not it: our
        build of the companion would run where the user asked for theirs."""
        owner = KERNELS[spec.companion_of] if spec.companion_of else None
        return (owner is not None and owner.module != spec.module
                and config.kernel_override(owner.env_var) is not None
                and config.kernel_override(spec.env_var) is None)

    def load_all(self, kernels: Iterable[str] | None = None) -> dict[str, LoadedKernel]:
        """Load ``kernels`` (default: every registered kernel) now; returns them by name.

        Modules that must be compiled are compiled at the same time, one thread each (NVRTC
        releases the GIL while it compiles), so a cold start takes about as long as its
        slowest module instead of the sum; hiprtc compiles take turns (ROCm 5's aborts the
        process when two overlap). What ``python -m rocsample warmup`` runs.

        >>> from rocsample import backend      # doctest: +SKIP
        >>> sorted(backend().kernels.load_all())[:2]   # doctest: +SKIP
        ['softmax', 'temperature_scale']
        """
        names = list(kernels if kernels is not None else KERNELS)
        with self._lock:
            todo: dict[str, str] = {}  # module -> key, for modules compiled now
            for name in names:
                spec = KERNELS[name]
                if name in self._kernels or spec.module in todo or self._left_to_owner(spec):
                    continue
                key = self._key(spec)
                if key in self._modules or key in self._fresh:
                    continue
                if self.resolve(name).origin == "compile":  # no override, file or cache entry
                    todo[spec.module] = key
            if len(todo) > 1:
                rt = self.runtime
                workers = min(len(todo), os.cpu_count() or 1)
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    done = pool.map(lambda m: compile_module(rt.toolchain, m, rt.target,
                                                             rt.wave_size), list(todo))
                    for module, compiled in zip(list(todo), done, strict=True):
                        self._fresh[todo[module]] = compiled
        loaded = {}
        for name in names:
            k = self.companion(name) if KERNELS[name].companion_of else self.get(name)
            if k is not None:
                loaded[name] = k
        return loaded

    def resolve(self, kernel: str) -> Resolution:
        """Where ``kernel`` would come from now, without compiling or loading anything."""
        spec = KERNELS[kernel]
        found = self._explicit_file(spec)
        if found is not None:
            return found[0]
        key = self._key(spec)
        disk = self._disk_cache()
        if disk is not None and disk.contains(key):  # refuses an unsafe directory, like get()
            return self._cached(spec, disk, key, "cached compile")
        why = "no override, no precompiled file for this target, not in the disk cache"
        return Resolution(spec.name, "compile", None, why)

    def info(self) -> dict[str, Any]:
        return {
            "device": self.runtime.device_name,
            "target": self.runtime.target,
            "wave_size": self.runtime.wave_size,
            "kernels": {
                name: {"origin": k.resolution.origin, "path": k.resolution.path,
                       "reason": k.resolution.reason, "load_seconds": k.load_seconds}
                for name, k in self._kernels.items()
            },
            "compiles": self.stats.compiles,
            "disk_hits": self.stats.disk_hits,
            "disk_misses": self.stats.disk_misses,
            "compile_seconds": dict(self.stats.compile_seconds),
        }

    # -- resolution ---------------------------------------------------------------------
    def _explicit_file(self, spec: KernelSpec) -> tuple[Resolution, bytes | None,
                                                       codeobject.CodeObjectEntry | None] | None:
        """Env override or precompiled file; validation errors raise KernelLoadError.

        A precompiled file is read and parsed here, once: its bytes and the code object for
        this device come back with it (an override's are read when it is loaded).
        """
        rt = self.runtime
        path = config.kernel_override(spec.env_var)
        if path is not None:
            res = Resolution(spec.name, "env", path, f"{spec.env_var} is set")
            return res, None, None
        directory = config.kernel_dir()
        candidate = directory / f"{spec.module}{rt.code_suffix}"
        if not os.path.lexists(candidate):  # a dangling link is reported below, not passed over
            return None
        # The bounded reader: a FIFO, a directory or a device there is refused at once (a
        # plain read would wait for a writer or read forever), a huge file by its size.
        try:
            image = codeobject.read_code_object(candidate, "ROCSAMPLE_KERNEL_DIR")
            info = codeobject.inspect_bytes(image)
        except codeobject.NotACodeObject as exc:
            unusable = f"not a code object: {exc.reason}"
        except KernelLoadError as exc:
            unusable = exc.reason
        else:
            unusable = None
        if unusable is not None:
            if config.kernel_dir_is_explicit():
                raise KernelLoadError(str(candidate), "ROCSAMPLE_KERNEL_DIR", unusable)
            log.warning("%s: precompiled %s is unusable (%s); JIT instead", spec.name,
                        candidate, unusable)
            return None
        entry = codeobject.select_entry(info, rt.target)
        if entry is None:
            held = ", ".join(e.target for e in info.entries) or "nothing"
            if config.kernel_dir_is_explicit():
                raise KernelLoadError(str(candidate), "ROCSAMPLE_KERNEL_DIR",
                                      f"no code for target {rt.target} (file holds: {held})")
            log.info("%s: precompiled %s has no code for %s (holds %s); JIT instead",
                     spec.name, candidate, rt.target, held)
            return None
        if entry.abi != ABI_VERSION:  # a stale build: never run on this workspace layout
            problem = codeobject.abi_problem(entry, ABI_VERSION)
            if config.kernel_dir_is_explicit():
                raise KernelLoadError(str(candidate), "ROCSAMPLE_KERNEL_DIR", problem)
            log.warning("%s: precompiled %s %s; JIT instead", spec.name, candidate, problem)
            return None
        res = Resolution(spec.name, "precompiled", str(candidate), f"{directory} has it")
        return res, image, entry

    def _key(self, spec: KernelSpec) -> str:
        """The disk-cache key of ``spec``'s module, computed once per module (it reads and
        hashes every source and header)."""
        key = self._keys.get(spec.module)
        if key is None:
            rt = self.runtime
            tc = get_toolchain(rt.toolchain)
            mod = MODULES[spec.module]
            opts = tc.options(rt.target, rt.wave_size, calls=mod.calls)
            key = self._keys[spec.module] = module_key(mod, tc.identity(), rt.target, opts)
        return key

    def _disk_cache(self) -> DiskCache | None:
        if not config.disk_cache_enabled():
            return None
        if self._disk is None:
            self._disk = DiskCache(config.cache_dir())
        return self._disk

    def _load(self, spec: KernelSpec) -> LoadedKernel:
        t0 = time.perf_counter()
        override = config.kernel_override(spec.env_var)
        ident = (spec.module, spec.env_var, override)
        src = self._sources.get(ident)
        if src is None:
            src = self._open(spec)
            self._sources[ident] = src
        elif src.entry is not None:  # the file was checked for another of its entries
            codeobject.check_entry(src.resolution.path, src.env_var, src.entry, [spec.entry])
        first = src.resolution
        res = first if first.kernel == spec.name else Resolution(spec.name, first.origin,
                                                                 first.path, first.reason)
        function = self.runtime.get_function(src.module, spec.entry)
        seconds = time.perf_counter() - t0
        log.debug("kernel %s from %s (%s) in %.3f s", spec.name, res.origin, res.path, seconds)
        return LoadedKernel(spec, function, res, seconds, self._waits.get(src.key, False))

    def _open(self, spec: KernelSpec) -> _Source:
        """Resolve, validate and load the code object of ``spec``'s module: one read, one
        parse and one cache key, whatever the number of entries taken from it later."""
        rt = self.runtime
        explicit = self._explicit_file(spec)
        if explicit is not None:
            res, image, entry = explicit
            env_var = spec.env_var if res.origin == "env" else "ROCSAMPLE_KERNEL_DIR"
            if image is None:  # an override: read here
                image, entry = codeobject.read_entry(res.path, env_var, rt.target)
            assert entry is not None
            # An override may be a user's own code object without the ABI marker (loaded
            # with a warning); the precompiled directory's files come from our sources.
            codeobject.check_entry(res.path, env_var, entry, [spec.entry], abi=ABI_VERSION,
                                   allow_unmarked=res.origin == "env")
            key = f"file:{Path(res.path).resolve()}"
            module = self._module_for(key, image, entry)
            return _Source(key, module, res, entry, env_var)
        key = self._key(spec)
        module = self._modules.get(key)
        if module is None:
            image, res, entry = self._image_from_cache_or_compile(spec, key)
            module = self._module_for(key, image, entry)
            self._module_origin[key] = res
        else:  # another variable of the same module: same origin, nothing new loaded
            res = self._module_origin[key]
        return _Source(key, module, res, None, None)

    def _image_from_cache_or_compile(
            self, spec: KernelSpec, key: str,
    ) -> tuple[bytes, Resolution, codeobject.CodeObjectEntry | None]:
        """The module's image, where it came from and (a disk hit) its parsed code."""
        disk = self._disk_cache()
        rt = self.runtime
        if disk is not None:
            image = disk.get(key)
            entry = self._usable(image, spec) if image is not None else None
            if entry is not None:
                self.stats.disk_hits += 1
                return image, self._cached(spec, disk, key, "found in the disk cache"), entry
            self.stats.disk_misses += 1
        compiled = self._fresh.pop(key, None) or compile_module(rt.toolchain, spec.module,
                                                                rt.target, rt.wave_size)
        self.stats.compiles += 1
        self.stats.compile_seconds[spec.module] = compiled.seconds
        reason = f"compiled with {rt.toolchain} in {compiled.seconds:.2f} s"
        stored = disk.put(key, compiled.image) if disk is not None else None
        if disk is not None and stored is None:  # put() said why, once
            reason += "; kept in memory for this process, the disk cache could not store it"
        path = str(stored) if stored is not None else None
        return compiled.image, Resolution(spec.name, "compile", path, reason), None

    @staticmethod
    def _cached(spec: KernelSpec, disk: DiskCache, key: str, reason: str) -> Resolution:
        if disk.kept(key):
            return Resolution(spec.name, "jit-cache", None, "compiled earlier in this process "
                              "(the disk cache could not store it)")
        return Resolution(spec.name, "jit-cache", str(disk.path_for(key)), reason)

    def _usable(self, image: bytes, spec: KernelSpec) -> codeobject.CodeObjectEntry | None:
        """A cache entry passed its checksum and key; still check, as for an override file, that
        it is code for this target, built for this kernel ABI, with the module's entries: its
        code for this device, or None (then it is compiled again)."""
        where = f"disk cache entry for {spec.module}"
        try:
            info = codeobject.inspect_bytes(image)
        except codeobject.NotACodeObject as exc:
            log.warning("%s is not a code object (%s): recompiling", where, exc)
            return None
        entry = codeobject.select_entry(info, self.runtime.target)
        if entry is None:
            held = ", ".join(e.target for e in info.entries) or "nothing"
            log.warning("%s has no code for %s (holds %s): recompiling", where,
                        self.runtime.target, held)
            return None
        if entry.abi != ABI_VERSION:  # our builds always carry the marker: this one is not ours
            log.warning("%s %s: recompiling", where, codeobject.abi_problem(entry, ABI_VERSION))
            return None
        missing = sorted(set(MODULES[spec.module].entries) - set(entry.symbols))
        if missing:
            log.warning("%s lacks %s: recompiling", where, ", ".join(missing))
            return None
        return entry

    def _module_for(self, key: str, image: bytes,
                    entry: codeobject.CodeObjectEntry | None = None) -> Any:
        """Load ``image`` once per ``key``; ``entry``: its code for this device, when the
        caller has parsed it already."""
        module = self._modules.get(key)
        if module is None:
            module = self.runtime.load_module(image)
            self._modules[key] = module
            if entry is None:
                try:
                    entry = codeobject.select_entry(codeobject.inspect_bytes(image),
                                                    self.runtime.target)
                except codeobject.NotACodeObject:  # loaded all the same: the driver took it
                    entry = None
            self._waits[key] = entry is not None and entry.grid_wait
        return module
