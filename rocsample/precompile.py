"""``make hsaco``: precompile every kernel module into one code object per module.

Each (module, target) compile runs in its own Python subprocess: Debian's comgr aborts the
whole process on a target it does not know (gfx942, gfx1100 there), and isolation turns that
into a clear error for that target instead of a dead build. AMD targets are bundled into one
clang offload bundle per module (``<module>.hsaco``); CUDA targets (``sm_XY``) are written as
``<module>.cubin`` (one target per build).

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
from dataclasses import dataclass
from pathlib import Path

from .codeobject import write_bundle
from .registry import MODULES

__all__ = ["BuildResult", "default_archs", "precompile"]

log = logging.getLogger("rocsample")

#: Targets Debian 12's ROCm 5.2 hiprtc is known to build (gfx940 aborts it too).
KNOWN_GOOD = ("gfx900", "gfx906", "gfx908", "gfx90a", "gfx1030")
_DEFAULT = ["gfx90a", "gfx1030"]


@dataclass(frozen=True)
class BuildResult:
    module: str
    target: str
    ok: bool
    seconds: float
    error: str = ""


def default_archs() -> list[str]:
    """The local AMD GPU's target if there is one, else a list this toolchain knows."""
    try:
        from .backends.hip import HipRuntime

        return [HipRuntime(0).target]
    except Exception:  # no device, no hip-python: build the portable default
        return list(_DEFAULT)


_CHILD = r"""
import sys, json
from rocsample.compiler import compile_module
from rocsample.errors import CompileError
tc, module, target, out = sys.argv[1:5]
try:
    m = compile_module(tc, module, target)
except CompileError as e:
    print(json.dumps({"error": e.log[-4000:]})); sys.exit(3)
open(out, "wb").write(m.image)
print(json.dumps({"seconds": m.seconds}))
"""


def _compile_isolated(module: str, target: str, out: Path, timeout: float) -> BuildResult:
    toolchain = "nvrtc" if target.startswith("sm_") else "hiprtc"
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
        try:
            err = json.loads(run.stdout.strip().splitlines()[-1])["error"]
        except (ValueError, IndexError, KeyError):
            err = run.stdout[-2000:]
        return BuildResult(module, target, False, seconds, f"compile error:\n{err}")
    if run.returncode < 0:
        why = (f"the compiler crashed (signal {-run.returncode}); {toolchain} on this machine "
               f"probably does not know {target}. Known to work with Debian's ROCm 5.2: "
               f"{', '.join(KNOWN_GOOD)}; gfx942, gfx950, gfx1100 and gfx1201 need ROCm 6.4 "
               "or later (`make amd-check` builds one in an isolated root and uses it)")
    else:
        why = f"compiler process failed (exit {run.returncode}): {run.stderr.strip()[-2000:]}"
    return BuildResult(module, target, False, seconds, why)


def precompile(
    archs: Sequence[str],
    out_dir: Path,
    modules: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    timeout: float = 300.0,
) -> list[BuildResult]:
    """Build ``modules`` (default: all) for ``archs`` into ``out_dir``; return every result.

    Files are replaced atomically; a module is written only if every target built.
    """
    modules = list(modules or MODULES)
    amd = [a for a in archs if not a.startswith("sm_")]
    cuda = [a for a in archs if a.startswith("sm_")]
    if len(cuda) > 1:
        raise ValueError(f"one CUDA target per build (a .cubin holds one); got {cuda}")
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[BuildResult] = []
    total = len(modules) * len(archs)
    done = 0
    with tempfile.TemporaryDirectory(prefix="rocsample-hsaco-") as tmp:
        for module in modules:
            images: dict[str, bytes] = {}
            for target in [*amd, *cuda]:
                part = Path(tmp) / f"{module}.{target.replace(':', '_')}.o"
                r = _compile_isolated(module, target, part, timeout)
                results.append(r)
                done += 1
                if progress:
                    state = f"{r.seconds:5.2f} s" if r.ok else "FAILED"
                    progress(f"[{done}/{total}] {module} for {target}: {state}")
                if r.ok:
                    images[target] = part.read_bytes()
            if any(not r.ok for r in results if r.module == module):
                continue
            for target in cuda:
                _atomic_write(out_dir / f"{module}.cubin", images[target])
            if amd:
                bundle = write_bundle({t: images[t] for t in amd})
                _atomic_write(out_dir / f"{module}.hsaco", bundle)
    return results


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
