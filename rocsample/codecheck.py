"""Check, with no device, the code objects the kernel cache would load.

The kernel cache validates a file only when a GPU backend loads it, so on a machine without a
device (where files are often prepared) a missing override, a directory or garbage went
unnoticed. :func:`check_configured` checks every set ``*_HSACO`` variable and every
``<module>.hsaco|.cubin`` of the precompiled directory the way loading would: a readable
regular file, a code object, each code object in it defining every entry point the registry
expects there, and declaring this rocsample's kernel ABI. With ``target`` it also checks that
the file holds code for that device. ``python -m rocsample info`` and
``python -m rocsample inspect --check`` print these verdicts.

The rules are the loader's: an override without the ABI marker loads with a warning; a file of
the precompiled directory that is unusable for its target or ABI is refused when
``ROCSAMPLE_KERNEL_DIR`` is set and skipped (compiled instead) with a warning otherwise; a
missing required entry point is always an error. Optional companion entries (softmax's two
launches) may be absent: a warning.

Example
-------
>>> from rocsample.codecheck import check_file
>>> print(check_file("/no/such.hsaco", "TOPK_SAMPLING_HSACO").line())
ERROR: file does not exist
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import codeobject, config
from .errors import KernelLoadError
from .registry import ABI_VERSION, KERNELS, MODULES

__all__ = ["KERNEL_DIR", "SUFFIXES", "FileCheck", "check_configured", "check_file",
           "check_named", "configured_files"]

log = logging.getLogger("rocsample")

#: The origin of a file found in the precompiled directory (the variable that names it).
KERNEL_DIR = "ROCSAMPLE_KERNEL_DIR"
#: File names the precompiled directory is searched for: AMD code objects, then NVIDIA's.
SUFFIXES = (".hsaco", ".cubin")
_SKIPPED = "skipped at load time, compiled instead"


@dataclass(frozen=True)
class FileCheck:
    """The verdict on one code object file.

    ``origin`` is the variable that names it (an override such as ``TOPK_SAMPLING_HSACO``, or
    ``ROCSAMPLE_KERNEL_DIR``), None for a file named some other way; ``kernels`` the registry
    kernels it was checked for; ``format`` what the file is (None when it could not be read
    as a code object); ``serves`` the targets whose code defines every required entry point
    and may be loaded; ``errors`` what makes loading fail, ``warnings`` what loads all the
    same (or, for the default precompiled directory, is skipped).
    """

    path: str
    origin: str | None
    kernels: tuple[str, ...]
    format: str | None
    serves: tuple[str, ...]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """No error: loading this file for its kernels would not fail."""
        return not self.errors

    @property
    def verdict(self) -> str:
        return "ERROR" if self.errors else ("WARNING" if self.warnings else "OK")

    def line(self) -> str:
        """One line: the verdict, then the targets served or the reasons.

        >>> FileCheck("k.hsaco", None, ("softmax",), "amdgpu-elf", ("gfx90a",), (), ()).line()
        'OK: serves gfx90a'
        """
        if self.errors:
            return "ERROR: " + "; ".join(self.errors)
        serves = f"serves {', '.join(self.serves) or 'no target'}"
        return "; ".join([f"{self.verdict}: {serves}", *self.warnings])


def _entries_of(kernels: Iterable[str]) -> tuple[list[str], list[str]]:
    """The entry points of ``kernels``: (required, optional companions), registry order."""
    required, optional = [], []
    for name in kernels:
        spec = KERNELS[name]
        (optional if spec.companion_of else required).append(spec.entry)
    return required, optional


def check_file(
    path: str | os.PathLike[str],
    origin: str | None = None,
    kernels: Sequence[str] | None = None,
    target: str | None = None,
) -> FileCheck:
    """Check one code object file as the kernel cache would load it, with no device.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    origin : str, optional
        The variable that names it: an override (``TOPK_SAMPLING_HSACO``...),
        ``ROCSAMPLE_KERNEL_DIR``, or None (a file named on the command line: the rules of an
        override).
    kernels : sequence of str, optional
        Registry kernels the file must serve (their entry points are required in every code
        object it holds; a companion's is optional). None: those whose entry points it
        defines, and it must define at least one.
    target : str, optional
        A device target (``gfx90a:sramecc+:xnack-``, ``sm_90``): only the code that would be
        loaded there is checked, and there must be some.

    Returns
    -------
    FileCheck
        The verdict; nothing is raised for a bad file.

    Example
    -------
    >>> c = check_file("/dev/null", "SAMPLING_UTILS_HSACO", ["softmax"])
    >>> c.verdict, c.errors[0].split(";")[0]
    ('ERROR', 'not a regular file but a character device')
    """
    where = os.fspath(path)
    in_dir = origin == KERNEL_DIR
    # The loader skips an unusable file of the default precompiled directory (and compiles
    # instead); a set ROCSAMPLE_KERNEL_DIR makes the same problems errors.
    skippable = in_dir and not config.kernel_dir_is_explicit()
    errors: list[str] = []
    warnings: list[str] = []

    def stale(reason: str) -> None:
        if skippable:
            warnings.append(f"{reason} ({_SKIPPED})")
        else:
            errors.append(reason)

    def verdict(fmt: str | None, names: Sequence[str], serves: Sequence[str] = ()) -> FileCheck:
        return FileCheck(where, origin, tuple(names), fmt, tuple(serves), tuple(errors),
                         tuple(warnings))

    names = tuple(kernels) if kernels is not None else ()
    try:
        info = codeobject.inspect_file(where, origin)
    except KernelLoadError as exc:
        stale(exc.reason)
        return verdict(None, names)
    except codeobject.NotACodeObject as exc:
        stale(f"not a code object: {exc.reason}")
        return verdict(None, names)
    if kernels is None:
        defined = {s for e in info.entries for s in e.symbols}
        names = tuple(k for k, spec in KERNELS.items() if spec.entry in defined)
        if not names:
            # Sampling's few entries by name; the elementwise family's 129 by module.
            ours = ", ".join(sorted({spec.entry for spec in KERNELS.values()
                                     if MODULES[spec.module].family == "sampling"}))
            many = ", ".join(f"{m.source}'s {len(m.entries)}" for m in MODULES.values()
                             if m.family != "sampling")
            errors.append(f"defines none of rocsample's entry points ({ours}; {many})")
            return verdict(info.format, names)
    entries = list(info.entries)
    if not entries:
        errors.append("holds no device code (an offload bundle with only a host entry)")
        return verdict(info.format, names)
    if target is not None:
        chosen = codeobject.select_entry(info, target)
        if chosen is None:
            held = ", ".join(e.target for e in entries)
            stale(f"no code for target {target} (file holds: {held})")
            return verdict(info.format, names)
        entries = [chosen]
    required, optional = _entries_of(names)
    serves = []
    for e in entries:
        missing = [entry for entry in required if entry not in e.symbols]
        if missing:
            noun = "entry point" if len(missing) == 1 else "entry points"
            errors.append(f"{e.target}: {noun} {', '.join(missing)} missing (its code defines: "
                          f"{', '.join(e.symbols) or 'nothing'})")
            continue
        if e.abi != ABI_VERSION:
            problem = f"{e.target}: {codeobject.abi_problem(e, ABI_VERSION)}"
            if e.abi is None and not in_dir:  # a user's own code object: loads, with a warning
                warnings.append(f"{problem}; loads as ABI {ABI_VERSION}, with a warning")
            else:
                stale(problem)
                continue
        absent = [entry for entry in optional if entry not in e.symbols]
        if absent:
            owners = sorted({KERNELS[k].companion_of or k for k in names
                             if KERNELS[k].entry in absent})
            warnings.append(f"{e.target}: optional {', '.join(absent)} absent ("
                            f"{', '.join(KERNELS[o].entry for o in owners)} runs without it)")
        serves.append(e.target)
    return verdict(info.format, names, serves)


def configured_files(suffixes: Sequence[str] = SUFFIXES) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every file the kernel cache may load: ``(path, origin, kernels)``.

    Each set override variable (with the kernels it serves), then each
    ``<module><suffix>`` present in :func:`rocsample.config.kernel_dir` (with the module's
    kernels).

    Example
    -------
    >>> all(origin for _, origin, _ in configured_files())
    True
    """
    files: list[tuple[str, str, tuple[str, ...]]] = []
    by_var: dict[str, list[str]] = {}
    for name, spec in KERNELS.items():
        by_var.setdefault(spec.env_var, []).append(name)
    for var, names in by_var.items():
        path = config.kernel_override(var)
        if path is not None:
            files.append((path, var, tuple(names)))
    directory = config.kernel_dir()
    for module in MODULES:
        for suffix in suffixes:
            path = directory / f"{module}{suffix}"
            if os.path.lexists(path):  # a dangling link is reported, not passed over
                names = tuple(k for k, spec in KERNELS.items() if spec.module == module)
                files.append((str(path), KERNEL_DIR, names))
    return files


def check_configured(target: str | None = None,
                     suffixes: Sequence[str] = SUFFIXES) -> list[FileCheck]:
    """:func:`check_file` for each of :func:`configured_files`.

    Example
    -------
    >>> [c.line() for c in check_configured() if not c.ok]   # doctest: +SKIP
    ['ERROR: file does not exist']
    """
    return [check_file(path, origin, kernels, target)
            for path, origin, kernels in configured_files(suffixes)]


def _same(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def check_named(path: str | os.PathLike[str], target: str | None = None) -> FileCheck:
    """Check a file named by the user: with the rules of whatever names it already.

    A file some override variable names is checked for that variable's kernels; a
    ``<module>.hsaco|.cubin`` for that module's kernels (with the precompiled directory's
    rules when it lies there); any other file for the kernels whose entry points it defines.

    Example
    -------
    >>> check_named("/no/topk_sampling.hsaco").kernels
    ('topk_sampling', 'topk_sampling_f16', 'topk_sampling_bf16')
    """
    overrides = [(origin, kernels) for file, origin, kernels in configured_files()
                 if origin != KERNEL_DIR and _same(file, path)]
    if overrides:  # several variables may name one file (sampling_utils serves two)
        kernels = tuple(k for _, names in overrides for k in names)
        return check_file(path, overrides[0][0], kernels, target)
    p = Path(path)
    if p.stem in MODULES and p.suffix in SUFFIXES:
        kernels = tuple(k for k, spec in KERNELS.items() if spec.module == p.stem)
        origin = KERNEL_DIR if _same(p.parent, config.kernel_dir()) else None
        return check_file(path, origin, kernels, target)
    return check_file(path, None, None, target)
