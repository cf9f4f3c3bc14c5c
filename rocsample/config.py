"""Every environment variable rocsample reads is read here, and only here.

The README's configuration table lists the same names; ``tests/test_config.py`` keeps the
two in step.  Values are read when asked for (not at import), so tests and long-running
processes can change them; the kernel cache snapshots what it used in ``cache_info()``.

Every value is parsed strictly: a value rocsample cannot use raises
:class:`~rocsample.errors.ConfigError` naming the variable, the value, what is wrong and
what to do, never a silent default. :func:`backend_choice` (the first read of the
configuration by the first call that uses the default backend) checks every variable, so
a misspelt value fails there, not at whichever later moment happens to read it.

Example
-------
>>> from rocsample import config
>>> config.backend_choice() in {"auto", "hip", "cuda", "cpu"}
True
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

__all__ = [
    "ENV_VARS",
    "EnvVar",
    "backend_choice",
    "cache_dir",
    "check_all",
    "check_inputs",
    "compile_out_dir",
    "default_kernel_dir",
    "disk_cache_enabled",
    "install_command",
    "kernel_dir",
    "kernel_dir_is_explicit",
    "kernel_override",
    "overlap_launches",
    "precompile_command",
    "rocm_path",
    "source_checkout",
    "source_root",
    "sync_timeout",
]

_BACKENDS = ("auto", "hip", "cuda", "cpu")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class EnvVar:
    """One documented environment variable."""

    name: str
    default: str
    meaning: str


# The kernel override variables (`*_HSACO`) are declared with their kernels in
# ``rocsample.registry``; they are read through :func:`kernel_override`.
ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("ROCSAMPLE_BACKEND", "auto", "force a backend: auto, hip, cuda or cpu"),
    EnvVar(
        "ROCSAMPLE_KERNEL_DIR",
        "<checkout>/build/hsaco, installed: <user data dir>/hsaco",
        "directory of precompiled code objects (`make hsaco` / `rocsample compile` output)",
    ),
    EnvVar("ROCSAMPLE_CACHE_DIR", "platformdirs user cache", "where the JIT disk cache lives"),
    EnvVar("ROCSAMPLE_DISK_CACHE", "1", "0 disables the on-disk JIT cache (compile every process)"),
    EnvVar("ROCSAMPLE_CHECK_INPUTS", "1", "0 skips the eager NaN/Inf/negative host check"),
    EnvVar("ROCSAMPLE_SYNC_TIMEOUT", "30", "seconds to wait for device work before KernelTimeout"),
    EnvVar(
        "ROCSAMPLE_OVERLAP_LAUNCHES",
        "1",
        "0 launches every phase of a call in plain stream order (NVIDIA sm_90+: no overlap)",
    ),
    EnvVar("ROCM_PATH", "unset", "ROCm install root used by hip-python to find libamdhip64/hiprtc"),
)


def _get(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _flag(name: str, default: bool) -> bool:
    """A boolean variable: exactly 1/0, true/false, yes/no, on/off (any case, spaces trimmed)."""
    raw = _get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    spellings = ", ".join(f"{t}/{f}" for t, f in zip(_TRUE, _FALSE, strict=True))
    raise ConfigError(name, raw, f"is not a boolean: use {spellings} (any case), or unset "
                                 f"it for the default ({int(default)})")


def _directory(name: str) -> Path | None:
    """An absolute directory path from ``name`` (``~`` and ``~user`` expanded), if set.

    A relative path would mean a different directory in every working directory, so it is
    refused rather than guessed at.
    """
    raw = _get(name)
    if raw is None:
        return None
    expanded = os.path.expanduser(raw)
    if expanded.startswith("~"):  # os.path.expanduser leaves an unknown ~user as it is
        user = expanded[1:].split("/", 1)[0] or "the current user"
        raise ConfigError(name, raw, f"starts with ~ but the home directory of {user} is "
                                     "unknown here: give an absolute path")
    if not os.path.isabs(expanded):
        raise ConfigError(name, raw, "is a relative path (it would depend on the current "
                                     f"directory): give an absolute path, e.g. "
                                     f"{os.path.abspath(expanded)}")
    return Path(expanded)


def _backend() -> str:
    raw = _get("ROCSAMPLE_BACKEND")
    value = (raw or "auto").strip().lower()
    if value not in _BACKENDS:
        raise ConfigError("ROCSAMPLE_BACKEND", raw or "",
                          f"is not one of {_BACKENDS}: use one of them, or unset it for auto")
    return value


def check_all() -> None:
    """Parse every variable now; raise :class:`ConfigError` for the first unusable one.

    Example
    -------
    >>> from rocsample import config
    >>> config.check_all()
    """
    # Only what is set is parsed: the defaults need no checking (nor platformdirs).
    _backend()
    _directory("ROCSAMPLE_CACHE_DIR")
    if kernel_dir_is_explicit():
        kernel_dir()
    disk_cache_enabled()
    check_inputs()
    overlap_launches()
    sync_timeout()


def backend_choice() -> str:
    """The backend asked for through ``ROCSAMPLE_BACKEND`` (``"auto"`` when unset).

    The backend is chosen once, by the first call that uses the default one: every other
    variable is checked here too (:func:`check_all`), so a bad value of any of them fails
    that first call with its name.

    Example
    -------
    >>> from rocsample import config
    >>> config.backend_choice() in {"auto", "hip", "cuda", "cpu"}
    True
    """
    check_all()
    return _backend()


def source_root() -> Path:
    """The directory above the package: the checkout root when running from source.

    Installed, this is ``site-packages``: ask :func:`source_checkout` whether it is a
    checkout before putting anything there.
    """
    return Path(__file__).resolve().parent.parent


def _checkout_of(package_dir: Path) -> Path | None:
    root = package_dir.parent
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_text(errors="replace") if pyproject.is_file() else ""
    except OSError:
        return None
    names_us = re.search(r"""^\s*name\s*=\s*["']rocsample["']""", text, re.M) is not None
    has_sources = any((root / "kernels").glob("*.hip"))
    return root if names_us and has_sources else None


def source_checkout(package_dir: Path | None = None) -> Path | None:
    """The root of the source checkout rocsample runs from, or None when it is installed.

    A checkout has a ``pyproject.toml`` naming rocsample and the ``kernels/*.hip`` sources
    next to the package; a wheel's ``site-packages`` has neither.

    Example
    -------
    >>> from pathlib import Path
    >>> from rocsample import config
    >>> config.source_checkout(Path("/nonexistent/rocsample")) is None
    True
    """
    return _checkout_of(package_dir or Path(__file__).resolve().parent)


def default_kernel_dir(package_dir: Path | None = None) -> Path:
    """Where precompiled code objects live unless ``ROCSAMPLE_KERNEL_DIR`` says otherwise.

    ``<checkout>/build/hsaco`` (what ``make hsaco`` writes) in a source checkout; an
    installed rocsample uses the user's data directory (``platformdirs``), never a path
    inside ``site-packages``.

    Example
    -------
    >>> from rocsample import config
    >>> config.default_kernel_dir().name
    'hsaco'
    """
    root = source_checkout(package_dir)
    if root is not None:
        return root / "build" / "hsaco"
    import platformdirs

    return Path(platformdirs.user_data_dir("rocsample", appauthor=False)) / "hsaco"


def precompile_command(package_dir: Path | None = None) -> str:
    """The command that writes the precompiled kernel directory, for messages and advice.

    ``make hsaco`` in a source checkout; ``python -m rocsample compile`` when installed
    (a wheel has no Makefile).

    Example
    -------
    >>> from rocsample import config
    >>> config.precompile_command() in ("make hsaco", "python -m rocsample compile")
    True
    """
    return "make hsaco" if source_checkout(package_dir) else "python -m rocsample compile"


def install_command(extra: str, package_dir: Path | None = None) -> str:
    """How to install one of rocsample's extras (``hip``, ``cuda``), as this copy was installed.

    Example
    -------
    >>> from pathlib import Path
    >>> from rocsample import config
    >>> config.install_command("hip", Path("/nonexistent/rocsample"))
    "pip install 'rocsample[hip]'"
    """
    if source_checkout(package_dir):
        return f"make setup, or .venv/bin/pip install -e '.[{extra}]'"
    return f"pip install 'rocsample[{extra}]'"


def kernel_dir() -> Path:
    """Directory searched for precompiled code objects.

    The default directory may be absent (nothing is precompiled); a directory named by
    ``ROCSAMPLE_KERNEL_DIR`` must exist, because a typo there would otherwise silently
    mean "compile everything".

    Example
    -------
    >>> from rocsample import config
    >>> config.kernel_dir().is_absolute()
    True
    """
    explicit = _directory("ROCSAMPLE_KERNEL_DIR")
    if explicit is None:
        return default_kernel_dir()
    if not os.path.isdir(explicit):
        build = (f"`{precompile_command()} {'OUT=' if source_checkout() else '--out '}"
                 f"{explicit}`")
        why = ("is not a directory: point it at the directory of precompiled kernels"
               if os.path.lexists(explicit) else f"does not exist: build the kernels there "
               f"with {build}")
        raise ConfigError("ROCSAMPLE_KERNEL_DIR", _get("ROCSAMPLE_KERNEL_DIR") or "",
                          f"{why}, or unset the variable to use the default "
                          f"({default_kernel_dir()})")
    return explicit


def kernel_dir_is_explicit() -> bool:
    """Whether ``ROCSAMPLE_KERNEL_DIR`` is set (then its files must be usable)."""
    return _get("ROCSAMPLE_KERNEL_DIR") is not None


def compile_out_dir() -> Path:
    """Where ``python -m rocsample compile`` writes without ``--out``: the directory the
    kernel cache searches (``ROCSAMPLE_KERNEL_DIR``, which need not exist yet, or the
    default)."""
    return _directory("ROCSAMPLE_KERNEL_DIR") or default_kernel_dir()


def cache_dir() -> Path:
    """Root of the on-disk JIT cache (created when first used)."""
    value = _directory("ROCSAMPLE_CACHE_DIR")
    if value is not None:
        return value
    import platformdirs

    return Path(platformdirs.user_cache_dir("rocsample", appauthor=False))


def disk_cache_enabled() -> bool:
    """Whether compiled modules are kept on disk (``ROCSAMPLE_DISK_CACHE``, default on)."""
    return _flag("ROCSAMPLE_DISK_CACHE", True)


def check_inputs() -> bool:
    """The default of ``check_inputs`` (``ROCSAMPLE_CHECK_INPUTS``, default on)."""
    return _flag("ROCSAMPLE_CHECK_INPUTS", True)


def overlap_launches() -> bool:
    """Whether a later phase of a sampling call may start while the previous one runs
    (programmatic dependent launch on NVIDIA sm_90+; read when a CUDA runtime starts)."""
    return _flag("ROCSAMPLE_OVERLAP_LAUNCHES", True)


def sync_timeout() -> float:
    """Seconds to wait for device work before ``KernelTimeout`` (finite, > 0; default 30)."""
    raw = _get("ROCSAMPLE_SYNC_TIMEOUT")
    if raw is None:
        return 30.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    # inf would wait forever on a hung kernel, which is what the timeout exists to prevent.
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError("ROCSAMPLE_SYNC_TIMEOUT", raw,
                          "is not a finite number of seconds > 0: give e.g. 30 or 2.5, or "
                          "unset it for the default (30)")
    return seconds


def rocm_path() -> str | None:
    """``ROCM_PATH`` as set (hip-python reads it too; rocsample never rewrites a set one)."""
    return _get("ROCM_PATH")


def kernel_override(env_var: str) -> str | None:
    """The path named by one of the kernel override variables (`*_HSACO`), if set."""
    return _get(env_var)
