"""The rocsample error hierarchy.

Every error the library raises on purpose derives from :class:`RocsampleError` and carries
the facts needed to act on it as attributes, not only in its message.

Example
-------
>>> from rocsample.errors import KernelLoadError
>>> err = KernelLoadError("/x.hsaco", "TOPK_SAMPLING_HSACO", "file does not exist")
>>> err.env_var
'TOPK_SAMPLING_HSACO'
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BackendUnavailable",
    "CaptureError",
    "CompileError",
    "ConfigError",
    "KernelLoadError",
    "KernelTimeout",
    "LaunchError",
    "RocsampleError",
]


class RocsampleError(Exception):
    """Base class of every error raised by rocsample."""


class BackendUnavailable(RocsampleError):
    """A backend cannot start here (missing package, no device, driver error).

    Attributes: ``backend`` (``"hip"``, ``"cuda"``, ``"cpu"``) and ``reason``.
    """

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason
        super().__init__(f"backend {backend!r} is unavailable: {reason}")


class ConfigError(RocsampleError, ValueError):
    """An environment variable holds a value rocsample cannot use.

    Attributes: ``variable`` (its name), ``value`` (as set) and ``reason`` (what is wrong
    and what to do). A ``ValueError`` too, so code that caught the plain ``ValueError`` of
    earlier versions still does.
    """

    def __init__(self, variable: str, value: str, reason: str) -> None:
        self.variable = variable
        self.value = value
        self.reason = reason
        super().__init__(f"{variable}={value!r} {reason}")


class CompileError(RocsampleError):
    """A kernel module failed to compile; ``log`` holds the compiler's full output."""

    def __init__(
        self,
        kernel: str,
        backend: str,
        target: str,
        options: Sequence[str],
        log: str,
        source: str | None = None,
    ) -> None:
        self.kernel = kernel
        self.backend = backend
        self.target = target
        self.options = tuple(options)
        self.log = log
        self.source = source
        super().__init__(
            f"compiling kernel module {kernel!r} for {target} with {backend} failed "
            f"(options: {' '.join(self.options)}):\n{log.strip()}"
        )

    def dump(self) -> str:
        """Return the source with numbered lines followed by the log, for bug reports."""
        lines = (self.source or "").splitlines()
        numbered = "\n".join(f"{i + 1:5d}  {line}" for i, line in enumerate(lines))
        return f"{numbered}\n---- compiler log ----\n{self.log}"


class KernelLoadError(RocsampleError):
    """A code object named by an env var or found on disk cannot be used.

    Attributes: ``path``, ``env_var`` (``None`` when the file did not come from one) and
    ``reason``.
    """

    def __init__(self, path: str, env_var: str | None, reason: str) -> None:
        self.path = str(path)
        self.env_var = env_var
        self.reason = reason
        where = f"{env_var}={self.path}" if env_var else self.path
        super().__init__(f"cannot load code object {where}: {reason}")


class LaunchError(RocsampleError):
    """A kernel launch, copy or synchronisation failed on the device."""

    def __init__(self, kernel: str, backend: str, reason: str) -> None:
        self.kernel = kernel
        self.backend = backend
        self.reason = reason
        super().__init__(f"{backend}: {kernel}: {reason}")


class KernelTimeout(LaunchError):
    """Device work did not finish before its deadline (a hung kernel is never waited on)."""

    def __init__(self, kernel: str, backend: str, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(kernel, backend, f"did not finish within {seconds:g} s")


class CaptureError(RocsampleError):
    """A call on a stream that is capturing a graph would need what a capture cannot record
    (an allocation, a host upload or copy, a synchronisation, more memory than
    :func:`rocsample.reserve` set aside). Raised before anything is queued on the stream, so
    the capture stays valid.

    Attributes: ``operation`` (``"sample"``, ``"softmax"``, ...), ``stream`` and ``reason``
    (what was missing and what to do).
    """

    def __init__(self, operation: str, stream: int, reason: str) -> None:
        self.operation = operation
        self.stream = stream
        self.reason = reason
        super().__init__(f"{operation} on capturing stream {stream:#x}: {reason}")
