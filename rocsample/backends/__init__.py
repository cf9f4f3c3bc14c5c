"""Backend selection: ``hip`` if an AMD device is usable, else ``cuda``, else ``cpu``.

``ROCSAMPLE_BACKEND`` forces one; forcing a GPU backend that cannot start raises
:class:`~rocsample.errors.BackendUnavailable` with the reason (never a silent fallback).
One backend object per (kind, device) lives for the process. The variable is read by the
first call that uses the default backend and again after :func:`reset` (reading the
environment on every call cost about half a microsecond of each ``sample()``).

Example
-------
>>> from rocsample.backends import get_backend
>>> get_backend("cpu").name
'cpu'
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .. import config
from ..errors import BackendUnavailable
from ..validation import device_index

__all__ = ["get_backend", "probe", "reset"]

log = logging.getLogger("rocsample")
_lock = threading.Lock()
_backends: dict[tuple[str, int], Any] = {}
_failures: dict[tuple[str, int], BackendUnavailable] = {}
_auto: dict[int, Any] = {}
_choice: list[str] = []  # ROCSAMPLE_BACKEND as last read (empty: read it at the next call)


def _open(kind: str, device: int) -> Any:
    key = (kind, device)
    if key in _backends:
        return _backends[key]
    if key in _failures:
        raise _failures[key]
    try:
        if kind == "cpu":
            from .cpu import CpuBackend

            backend: Any = CpuBackend()
        else:
            from .gpu import GpuBackend

            if kind == "hip":
                from .hip import HipRuntime as Rt
            else:
                from .cuda import CudaRuntime as Rt
            backend = GpuBackend(Rt(device))
    except BackendUnavailable as exc:
        _failures[key] = exc
        raise
    _backends[key] = backend
    return backend


def get_backend(name: str | None = None, device: int = 0) -> Any:
    """The backend ``name`` (``"hip"``, ``"cuda"``, ``"cpu"``; default from the environment)."""
    if name:
        choice = name
    elif _choice:
        choice = _choice[0]
    else:
        choice = config.backend_choice()  # raises for a bad value: nothing is kept
        _choice[:] = [choice]
    # Lock-free fast path for the per-call case: the backend is already open.
    hit = _auto.get(device) if choice == "auto" else _backends.get((choice, device))
    if hit is not None and type(device) is int:  # (0.0 and True would hit 0's and 1's)
        return hit
    if choice not in ("auto", "hip", "cuda", "cpu"):
        raise ValueError(f"backend must be 'auto', 'hip', 'cuda' or 'cpu'; got {choice!r}")
    device = device_index(device)
    with _lock:
        if choice != "auto":
            return _open(choice, device)
        if device in _auto:
            return _auto[device]
        reasons = []
        for kind in ("hip", "cuda"):
            try:
                backend = _open(kind, device)
            except BackendUnavailable as exc:
                reasons.append(f"{kind}: {exc.reason}")
                continue
            log.info("rocsample backend: %s (%s)", kind, backend.describe()["device"])
            _auto[device] = backend
            return backend
        log.info("rocsample backend: cpu (no usable GPU: %s)", "; ".join(reasons))
        _auto[device] = _open("cpu", 0)
        return _auto[device]


def probe() -> dict[str, str]:
    """Why each backend is or is not usable here (for ``python -m rocsample info``)."""
    out = {}
    for kind in ("hip", "cuda", "cpu"):
        try:
            with _lock:
                b = _open(kind, 0)
            d = b.describe()
            out[kind] = f"usable: {d['device']} ({d['target']})"
        except BackendUnavailable as exc:
            out[kind] = f"unavailable: {exc.reason}"
    return out


def reset() -> None:
    """Forget opened backends (tests; after changing ROCSAMPLE_BACKEND)."""
    with _lock:
        _backends.clear()
        _failures.clear()
        _auto.clear()
        _choice.clear()
