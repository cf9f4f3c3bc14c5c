"""Make hip-python find the HIP runtime and hiprtc of a distribution-packaged ROCm.

hip-python resolves ``libamdhip64.so`` and ``libhiprtc.so`` lazily through ``ROCM_PATH``
(then the system loader). Debian 12's ROCm 5.2 packages ship hiprtc *inside*
``libamdhip64.so.5`` and no ``libhiprtc.so`` at all, so hiprtc calls fail there. When
``ROCM_PATH`` is unset and no ``/opt/rocm`` exists but the Debian library does, rocsample
makes a directory of two links (``lib/libamdhip64.so`` and ``lib/libhiprtc.so``, both to
``libamdhip64.so.5``) and points ``ROCM_PATH`` at it for this process, logging what it did.
A ``ROCM_PATH`` set by the user is never changed.

Whatever ``ROCM_PATH`` names is loaded into the process, so the links live only where
nobody else can change them: ``<cache dir>/rocm-links`` when the disk cache is on and its
directory passes :func:`rocsample.diskcache.open_private_dir` (checked before anything is
created in it), else a fresh ``tempfile.mkdtemp()`` directory (0700, removed at exit).

Example
-------
>>> from rocsample.rocm_libs import find_debian_hip
>>> find_debian_hip() is None or find_debian_hip().name.startswith("libamdhip64")
True
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from . import config
from .diskcache import open_private_dir
from .errors import KernelLoadError, RocsampleError

__all__ = ["find_debian_hip", "prepare_rocm_path"]

log = logging.getLogger("rocsample")
_DEBIAN_LIBDIRS = (Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib/aarch64-linux-gnu"))
_OPT_ROCM = Path("/opt/rocm/lib/libamdhip64.so")
_LINKS = ("libamdhip64.so", "libhiprtc.so")
_lock = threading.Lock()
_done = False


def find_debian_hip() -> Path | None:
    """The distribution's ``libamdhip64.so.5`` if there is one."""
    for d in _DEBIAN_LIBDIRS:
        lib = d / "libamdhip64.so.5"
        if lib.exists():
            return lib
    return None


def prepare_rocm_path() -> str | None:
    """Point ``ROCM_PATH`` at a private link directory when only Debian's layout exists.

    Returns the ``ROCM_PATH`` in effect (``None`` when none is needed or possible). Runs
    once per process; later calls return what the first decided.

    Example
    -------
    >>> from rocsample.rocm_libs import prepare_rocm_path
    >>> path = prepare_rocm_path()
    >>> path is None or path == prepare_rocm_path()
    True
    """
    global _done
    with _lock:
        current = config.rocm_path()
        if _done or current:
            return current
        _done = True
        if _OPT_ROCM.exists():
            return None
        lib = find_debian_hip()
        if lib is None:
            return None
        root = _make_links(lib)
        if root is None:
            return None
        os.environ["ROCM_PATH"] = str(root)
        log.info("ROCM_PATH unset: using %s (links to %s, which holds hiprtc)", root, lib)
        return str(root)


def _make_links(lib: Path) -> Path | None:
    """The first candidate directory that is private and now holds both links."""
    for root, subdirs, what, setting in _candidates():
        try:
            opened = open_private_dir(root, *subdirs, "lib", create=True, what=what,
                                      setting=setting)
            if opened is None:  # only without create
                continue
            fd, libdir = opened
            try:
                _link_all(fd, lib)
            finally:
                os.close(fd)
            return libdir.parent
        except (KernelLoadError, OSError) as exc:
            reason = exc.reason if isinstance(exc, KernelLoadError) else str(exc)
            log.info("hiprtc links: not in %s: %s", Path(root, *subdirs), reason)
    log.warning("hiprtc links: no private directory could hold them; hiprtc will not load "
                "unless ROCM_PATH names a ROCm install")
    return None


def _candidates() -> Iterator[tuple[Path, tuple[str, ...], str, str]]:
    """(root, sub-directories, what, setting) to try, best first."""
    # A bad setting is reported where the disk cache is used; hiprtc must load regardless.
    try:
        cache = config.cache_dir() if config.disk_cache_enabled() else None
    except (ImportError, ValueError, RocsampleError) as exc:
        log.info("hiprtc links: the cache directory is unusable (%s)", exc)
        cache = None
    if cache is not None:
        yield cache, ("rocm-links",), "cache directory", "ROCSAMPLE_CACHE_DIR"
    # Only this process knows the name, and it is made 0700 with O_EXCL: nobody else's.
    private = Path(tempfile.mkdtemp(prefix="rocsample-rocm-"))
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    yield private, (), "temporary directory", "TMPDIR"


def _link_all(dfd: int, lib: Path) -> None:
    """Make each link in the directory ``dfd`` point at ``lib`` (atomically replaced)."""
    for name in _LINKS:
        with contextlib.suppress(OSError):  # absent or not a link: replaced below
            if os.readlink(name, dir_fd=dfd) == str(lib):
                continue
        tmp = f".{name}.tmp{os.getpid()}-{secrets.token_hex(4)}"
        os.symlink(lib, tmp, dir_fd=dfd)
        try:
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise
