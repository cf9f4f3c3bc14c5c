"""Every environment variable rocsample reads is read here, and only here.

The README's configuration table lists the same names; ``tests/test_config.py`` keeps the
two in step.  Values are read when asked for (not at import), so tests and long-running
processes can change them; the kernel cache snapshots what it used in ``cache_info()``.

Example
-------
>>> from rocsample import config
>>> config.backend_choice() in {"auto", "hip", "cuda", "cpu"}
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENV_VARS",
    "EnvVar",
    "backend_choice",
    "cache_dir",
    "check_inputs",
    "disk_cache_enabled",
    "kernel_dir",
    "kernel_override",
    "overlap_launches",
    "rocm_path",
    "sync_timeout",
]

_BACKENDS = ("auto", "hip", "cuda", "cpu")
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class EnvVar:
    """One documented environment variable."""

    name: str
    default: str
    meaning: str


# The seven kernel override variables are declared with their kernels in
# ``rocsample.registry``; they are read through :func:`kernel_override`.
ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("ROCSAMPLE_BACKEND", "auto", "force a backend: auto, hip, cuda or cpu"),
    EnvVar(
        "ROCSAMPLE_KERNEL_DIR",
        "<checkout>/build/hsaco",
        "directory of precompiled code objects (`make hsaco` output)",
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


def backend_choice() -> str:
    """The backend asked for through ``ROCSAMPLE_BACKEND`` (``"auto"`` when unset)."""
    value = (_get("ROCSAMPLE_BACKEND") or "auto").strip().lower()
    if value not in _BACKENDS:
        raise ValueError(f"ROCSAMPLE_BACKEND={value!r} is not one of {_BACKENDS}")
    return value


def source_root() -> Path:
    """The checkout root when running from source (where ``build/`` and ``kernels/`` are)."""
    return Path(__file__).resolve().parent.parent


def kernel_dir() -> Path:
    """Directory searched for precompiled code objects."""
    value = _get("ROCSAMPLE_KERNEL_DIR")
    return Path(value).expanduser() if value else source_root() / "build" / "hsaco"


def kernel_dir_is_explicit() -> bool:
    return _get("ROCSAMPLE_KERNEL_DIR") is not None


def cache_dir() -> Path:
    """Root of the on-disk JIT cache."""
    value = _get("ROCSAMPLE_CACHE_DIR")
    if value:
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("rocsample", appauthor=False))


def disk_cache_enabled() -> bool:
    return (_get("ROCSAMPLE_DISK_CACHE") or "1").strip().lower() not in _FALSE


def check_inputs() -> bool:
    return (_get("ROCSAMPLE_CHECK_INPUTS") or "1").strip().lower() not in _FALSE


def overlap_launches() -> bool:
    """Whether a later phase of a sampling call may start while the previous one runs
    (programmatic dependent launch on NVIDIA sm_90+; read when a CUDA runtime starts)."""
    return (_get("ROCSAMPLE_OVERLAP_LAUNCHES") or "1").strip().lower() not in _FALSE


def sync_timeout() -> float:
    value = _get("ROCSAMPLE_SYNC_TIMEOUT") or "30"
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"ROCSAMPLE_SYNC_TIMEOUT={value!r} is not a number of seconds") from None
    if not seconds > 0:
        raise ValueError(f"ROCSAMPLE_SYNC_TIMEOUT={value!r} must be > 0")
    return seconds


def rocm_path() -> str | None:
    return _get("ROCM_PATH")


def kernel_override(env_var: str) -> str | None:
    """The path named by one of the seven kernel override variables, if set."""
    return _get(env_var)
