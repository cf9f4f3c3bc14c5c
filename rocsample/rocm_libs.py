"""Make hip-python find the HIP runtime and hiprtc of a distribution-packaged ROCm.

hip-python resolves ``libamdhip64.so`` and ``libhiprtc.so`` lazily through ``ROCM_PATH``
(then the system loader). Debian 12's ROCm 5.2 packages ship hiprtc *inside*
``libamdhip64.so.5`` and no ``libhiprtc.so`` at all, so hiprtc calls fail there. When
``ROCM_PATH`` is unset and no ``/opt/rocm`` exists but the Debian library does, rocsample
creates a private directory of two links (``lib/libamdhip64.so`` and ``lib/libhiprtc.so``,
both to ``libamdhip64.so.5``) under its cache directory and points ``ROCM_PATH`` at it for
this process, logging what it did. A ``ROCM_PATH`` set by the user is never changed.

Example
-------
>>> from rocsample.rocm_libs import find_debian_hip
>>> find_debian_hip() is None or find_debian_hip().name.startswith("libamdhip64")
True
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from . import config

__all__ = ["find_debian_hip", "prepare_rocm_path"]

log = logging.getLogger("rocsample")
_DEBIAN_LIBDIRS = (Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib/aarch64-linux-gnu"))
_done = False


def find_debian_hip() -> Path | None:
    """The distribution's ``libamdhip64.so.5`` if there is one."""
    for d in _DEBIAN_LIBDIRS:
        lib = d / "libamdhip64.so.5"
        if lib.exists():
            return lib
    return None


def prepare_rocm_path() -> str | None:
    """Point ``ROCM_PATH`` at a link directory when only Debian's layout exists.

    Returns the ``ROCM_PATH`` in effect (``None`` when none is needed or possible).
    """
    global _done
    current = config.rocm_path()
    if _done or current:
        return current
    _done = True
    if Path("/opt/rocm/lib/libamdhip64.so").exists():
        return None
    lib = find_debian_hip()
    if lib is None:
        return None
    root = config.cache_dir() / "rocm-links"
    libdir = root / "lib"
    try:
        libdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in ("libamdhip64.so", "libhiprtc.so"):
            link = libdir / name
            if not (link.is_symlink() and os.readlink(link) == str(lib)):
                tmp = libdir / f".{name}.tmp{os.getpid()}"
                tmp.unlink(missing_ok=True)
                tmp.symlink_to(lib)
                os.replace(tmp, link)
    except OSError as exc:
        log.warning("could not create hiprtc links in %s: %s", libdir, exc)
        return None
    os.environ["ROCM_PATH"] = str(root)
    log.info("ROCM_PATH unset: using %s (links to %s, which holds hiprtc)", root, lib)
    return str(root)
