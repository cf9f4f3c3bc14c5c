"""``make hsaco``: precompile every kernel module into one code object per module.

Each (module, target) compile runs in its own Python subprocess: Debian's comgr aborts the
whole process on a target it does not know (gfx942, gfx1100 there), and isolation turns that
into a clear error for that target instead of a dead build. The subprocesses run in
parallel, as many at a time as this process may use cores. AMD targets are bundled into one
clang offload bundle per module (``<module>.hsaco``); CUDA targets (``sm_XY``) are written as
``<module>.cubin`` (one target per build).

A failed target costs only itself: every module is written with the targets that built
(a minute of good builds is never thrown away for one unknown target), and the report says
which failed, why, and which files were written.

Example
-------
>>> from rocsample.precompile import default_archs
>>> isinstance(default_archs(), list)
True
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .codeobject import write_bundle
from .errors import BackendUnavailable, ConfigError
from .registry import MODULES

__all__ = ["BuildResult", "PrecompileReport", "WrittenFile", "available_cores",
           "default_archs", "precompile"]

log = logging.getLogger("rocsample")

#: Targets Debian 12's ROCm 5.2 hiprtc is known to build (gfx940 aborts it too).
KNOWN_GOOD = ("gfx900", "gfx906", "gfx908", "gfx90a", "gfx1030")
_DEFAULT = ["gfx90a", "gfx1030"]
#: Precompiled code objects are meant to be shipped and shared: readable by everyone.
OUTPUT_MODE = 0o644


@dataclass(frozen=True)
class BuildResult:
    """One (module, target) compile: ``ok``, its wall time and, if it failed, why."""

    module: str
    target: str
    ok: bool
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class WrittenFile:
    """A code object written to the output directory and the targets it holds."""

    path: Path
    module: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class PrecompileReport:
    """Every compile's result (in module, target order) and every file written."""

    results: list[BuildResult]
    written: list[WrittenFile] = field(default_factory=list)

    @property
    def failed(self) -> list[BuildResult]:
        return [r for r in self.results if not r.ok]


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count).

    Example
    -------
    >>> from rocsample.precompile import available_cores
    >>> available_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def default_archs() -> list[str]:
    """The local AMD GPU's target if there is one, else a list this toolchain knows."""
    try:
        from .backends.hip import HipRuntime

        return [HipRuntime(0).target]
    except ConfigError:
        raise
    except Exception:  # no device, no hip-python: build the portable default
        return list(_DEFAULT)


def _toolchain_for(target: str) -> str:
    return "nvrtc" if target.startswith("sm_") else "hiprtc"


_CHILD = r"""
import sys, json
from rocsample.compiler import compile_module
from rocsample.errors import CompileError, RocsampleError
tc, module, target, out = sys.argv[1:5]
try:
    m = compile_module(tc, module, target)
except CompileError as e:
    print(json.dumps({"error": e.log[-4000:]})); sys.exit(3)
except RocsampleError as e:
    print(json.dumps({"error": str(e)[-4000:]})); sys.exit(4)
open(out, "wb").write(m.image)
print(json.dumps({"seconds": m.seconds}))
"""


def _child_error(stdout: str) -> str:
    try:
        return json.loads(stdout.strip().splitlines()[-1])["error"]
    except (ValueError, IndexError, KeyError):
        return stdout[-2000:]


def _compile_isolated(module: str, target: str, out: Path, timeout: float,
                      compiler: str) -> BuildResult:
    toolchain = _toolchain_for(target)
    t0 = time.perf_counter()
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        run = subprocess.run(
            [sys.executable, "-c", _CHILD, toolchain, module, target, str(out)],
            capture_output=True, text=True, timeout=timeout, env=env,
        )
    except subprocess.TimeoutExpired:
        return BuildResult(module, target, False, timeout, f"compile timed out after {timeout} s")
    seconds = time.perf_counter() - t0
    if run.returncode == 0:
        return BuildResult(module, target, True, seconds)
    if run.returncode == 3:
        return BuildResult(module, target, False, seconds,
                           f"compile error:\n{_child_error(run.stdout)}")
    if run.returncode == 4:
        return BuildResult(module, target, False, seconds, _child_error(run.stdout))
    if run.returncode < 0:
        why = (f"the compiler crashed (signal {-run.returncode}); {compiler} probably does "
               f"not know {target}. Debian 12's ROCm 5.2 knows {', '.join(KNOWN_GOOD)}; "
               "gfx942, gfx950, gfx1100 and gfx1201 need ROCm 6.4 or later (`make amd-check` "
               "builds one in an isolated root and uses it)")
    else:
        why = f"compiler process failed (exit {run.returncode}): {run.stderr.strip()[-2000:]}"
    return BuildResult(module, target, False, seconds, why)


def _require_toolchains(archs: Sequence[str]) -> dict[str, str]:
    """Load each toolchain ``archs`` need here, before any work: a missing package is one
    clear error naming the extra to install, not a traceback per compile. Returns each
    toolchain's description (which compiler, which ROCm)."""
    from .toolchains import get_toolchain

    found = {}
    for name in dict.fromkeys(_toolchain_for(a) for a in archs):
        try:
            found[name] = get_toolchain(name).describe()
        except BackendUnavailable as exc:
            targets = ", ".join(a for a in archs if _toolchain_for(a) == name)
            raise BackendUnavailable(exc.backend, f"compiling for {targets} needs {name}; "
                                                  f"{exc.reason}") from exc
    return found


def precompile(
    archs: Sequence[str],
    out_dir: Path,
    modules: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    timeout: float = 300.0,
    jobs: int | None = None,
) -> PrecompileReport:
    """Build ``modules`` (default: all) for ``archs`` into ``out_dir``, in parallel.

    Every module is written with the targets that built for it (files replaced atomically,
    mode 0644); a module none of whose targets built is not written (an older file there is
    left as it was). ``progress`` gets a line as each compile finishes.

    Parameters
    ----------
    archs : sequence of str
        AMD targets (``gfx90a``, ``gfx1030:xnack-``) and at most one ``sm_XY``.
    out_dir : Path
        Created if missing.
    modules : sequence of str, optional
        Names from :data:`rocsample.registry.MODULES`; default all.
    progress : callable, optional
        Called with one line of text per finished compile.
    timeout : float
        Seconds one compile may take.
    jobs : int, optional
        Compiles at a time (default: the cores this process may use).

    Returns
    -------
    PrecompileReport
        Every result and every file written.

    Raises
    ------
    ValueError
        No target, an unknown module, or more than one CUDA target.
    BackendUnavailable
        A toolchain the targets need is not installed (the message names the extra).

    Example
    -------
    >>> from pathlib import Path
    >>> from rocsample.precompile import precompile
    >>> report = precompile(["gfx90a"], Path("build/hsaco"), ["sampling_utils"])  # doctest: +SKIP
    >>> [w.path.name for w in report.written]                                      # doctest: +SKIP
    ['sampling_utils.hsaco']
    """
    archs = list(dict.fromkeys(archs))
    if not archs:
        raise ValueError("archs must name at least one target (gfx90a, sm_90, ...)")
    modules = list(dict.fromkeys(modules or MODULES))
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        raise ValueError(f"unknown module(s) {unknown}; known: {sorted(MODULES)}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be >= 1; got {jobs}")
    amd = [a for a in archs if not a.startswith("sm_")]
    cuda = [a for a in archs if a.startswith("sm_")]
    if len(cuda) > 1:
        raise ValueError(f"one CUDA target per build (a .cubin holds one); got {cuda}")
    compilers = _require_toolchains(archs)
    out_dir.mkdir(parents=True, exist_ok=True)  # fail on an unwritable place before any work
    tasks = [(m, t) for m in modules for t in [*amd, *cuda]]
    workers = min(jobs or available_cores(), len(tasks))
    if progress:
        progress(f"with {', '.join(compilers.values())}; {workers} compile(s) at a time")
    results: dict[tuple[str, str], BuildResult] = {}
    written: list[WrittenFile] = []
    with tempfile.TemporaryDirectory(prefix="rocsample-hsaco-") as tmp:
        def part(module: str, target: str) -> Path:
            return Path(tmp) / f"{module}.{target.replace(':', '_')}.o"

        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_compile_isolated, m, t, part(m, t), timeout,
                                   compilers[_toolchain_for(t)]): (m, t) for m, t in tasks}
            for done, future in enumerate(as_completed(futures), 1):
                r = future.result()
                results[futures[future]] = r
                if progress:
                    state = f"{r.seconds:5.2f} s" if r.ok else "FAILED"
                    progress(f"[{done}/{len(tasks)}] {r.module} for {r.target}: {state}")
        for module in modules:
            built = [t for t in [*amd, *cuda] if results[(module, t)].ok]
            images = {t: part(module, t).read_bytes() for t in built}
            for target in (t for t in cuda if t in images):
                path = out_dir / f"{module}.cubin"
                _atomic_write(path, images[target])
                written.append(WrittenFile(path, module, (target,)))
            amd_built = [t for t in amd if t in images]
            if amd_built:
                path = out_dir / f"{module}.hsaco"
                _atomic_write(path, write_bundle({t: images[t] for t in amd_built}))
                written.append(WrittenFile(path, module, tuple(amd_built)))
    return PrecompileReport([results[task] for task in tasks], written)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            # mkstemp makes the file 0600; a code object is meant to be shipped and shared.
            os.fchmod(f.fileno(), OUTPUT_MODE)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
