"""A small, safe on-disk cache of compiled GPU code objects.

Loading a cached code object runs code, so the cache refuses a directory anyone but its owner
could write to, checksums every entry and writes it atomically (temp file in the same
directory, ``fsync``, ``os.replace``).  A corrupt or truncated entry is a logged, removed miss.
Entry format: ``b"RSCACHE1"``, sha256 of the payload (32 bytes), payload length (u64 LE),
payload.

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> cache = DiskCache(Path(tempfile.mkdtemp()) / "cache")
>>> key = cache_key({"kernel": "topk", "arch": "gfx942", "abi": 3})
>>> cache.get(key) is None
True
>>> _ = cache.put(key, b"\\x7fELF...")
>>> cache.get(key)
b'\\x7fELF...'
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rocsample.errors import KernelLoadError

__all__ = ["MAGIC", "CacheEntryInfo", "DiskCache", "cache_key"]

log = logging.getLogger("rocsample")

MAGIC = b"RSCACHE1"
_HEADER = struct.Struct("<8s32sQ")  # magic, sha256(payload), payload length
_KEY_RE = re.compile(r"[0-9a-f]{64}")
_NAMESPACE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_SUFFIX = ".bin"
_TMP_PREFIX = ".rscache-tmp-"
_STALE_TMP_S = 3600.0


def cache_key(parts: Mapping[str, str | bytes | int]) -> str:
    """Return the sha256 hex digest (64 lowercase hex) of an unambiguous encoding of ``parts``.

    Parts are sorted by name; names and values are length-prefixed and values type-tagged, so
    ``{"a": "1"}``, ``{"a": b"1"}`` and ``{"a": 1}`` differ and no two mappings collide.

    Parameters
    ----------
    parts : Mapping[str, str | bytes | int]
        What determines the cached object (source hash, target, options, versions...).

    Example
    -------
    >>> cache_key({"a": "1"}) == cache_key({"a": b"1"})
    False
    """
    h = hashlib.sha256(b"rocsample.cache_key.v1\0")
    h.update(struct.pack("<Q", len(parts)))
    for name in sorted(parts):
        if not isinstance(name, str):
            raise TypeError(f"cache_key part names must be str, not {type(name).__name__}")
        value = parts[name]
        if isinstance(value, str):
            tag, raw = b"s", value.encode("utf-8")
        elif isinstance(value, (bytes, bytearray, memoryview)):
            tag, raw = b"b", bytes(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            tag, raw = b"i", str(value).encode("ascii")
        else:
            raise TypeError(f"cache_key part {name!r} has unsupported type {type(value).__name__}")
        h.update(_prefixed(name.encode("utf-8")) + tag + _prefixed(raw))
    return h.hexdigest()


@dataclass(frozen=True)
class CacheEntryInfo:
    """One entry on disk: its key, path, file size in bytes (header included) and mtime."""

    key: str
    path: Path
    size: int
    mtime: float


def _prefixed(raw: bytes) -> bytes:
    return struct.pack("<Q", len(raw)) + raw


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise ValueError(f"invalid cache key {key!r}: expected 64 lowercase hex characters")
    return key


class DiskCache:
    """Checksummed, atomically written entries under ``root / namespace``.

    Lazy: nothing touches the disk before the first call.  Then, once per instance, the root
    and namespace directories must be owned by the user, not group/other-writable, and the
    namespace not a symlink, or :class:`~rocsample.errors.KernelLoadError` is raised (a failed
    check is not cached, so fixing the directory is enough).

    Parameters
    ----------
    root : Path
        Cache root (typically ``config.cache_dir()``); created with mode 0700 if missing.
    namespace : str
        Sub-directory name, bumped when the entry format or key recipe changes.

    Example
    -------
    See the module docstring.
    """

    def __init__(self, root: Path, *, namespace: str = "v1") -> None:
        if not _NAMESPACE_RE.fullmatch(namespace):
            raise ValueError(f"invalid cache namespace {namespace!r}")
        self._root = Path(root)
        self._dir = self._root / namespace
        self._checked = False
        self._lock = threading.Lock()

    @property
    def directory(self) -> Path:
        """The namespace directory, ``root / namespace``."""
        return self._dir

    def path_for(self, key: str) -> Path:
        """Return the file that holds ``key`` (``ValueError`` for a malformed key)."""
        return self._dir / (_check_key(key) + _SUFFIX)

    def _ready(self, create: bool) -> bool:
        """Create (if asked) and check the directories; False when absent and not created."""
        if self._checked:
            return True
        with self._lock:
            if self._checked:
                return True
            if not create and not os.path.lexists(self._dir):
                return False
            _makedirs_private(self._dir)
            _check_dir(self._root, follow=True)
            _check_dir(self._dir, follow=False)
            self._checked = True
            return True

    def get(self, key: str) -> bytes | None:
        """Return the payload stored under ``key``, or ``None`` on a miss.

        A corrupt entry (bad magic, short header, length or checksum mismatch) is a miss: a
        warning names the file and the fault, and the file is removed (best effort).
        """
        path = self.path_for(key)
        if not self._ready(create=False):
            return None
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._discard(path, None, f"cannot be opened ({exc.strerror})")
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return self._discard(path, st, "is not a regular file")
            blob = f.read()
        if len(blob) < _HEADER.size:
            return self._discard(path, st, f"short header ({len(blob)} of {_HEADER.size} bytes)")
        magic, digest, length = _HEADER.unpack_from(blob)
        if magic != MAGIC:
            return self._discard(path, st, f"bad magic {magic!r}")
        payload = blob[_HEADER.size :]
        if len(payload) != length:
            reason = f"length mismatch (header says {length} bytes, file holds {len(payload)})"
            return self._discard(path, st, reason)
        if hashlib.sha256(payload).digest() != digest:
            return self._discard(path, st, "checksum mismatch")
        return payload

    def _discard(self, path: Path, st: os.stat_result | None, why: str) -> None:
        log.warning("rocsample disk cache: ignoring and removing %s: %s", path, why)
        try:
            now = os.lstat(path)
            # Do not remove a fresh entry that a concurrent put() has just renamed into place.
            if st is None or (now.st_ino, now.st_dev) == (st.st_ino, st.st_dev):
                os.unlink(path)
        except OSError as exc:
            log.debug("rocsample disk cache: could not remove %s: %s", path, exc)
        return None

    def put(self, key: str, data: bytes) -> Path:
        """Store ``data`` under ``key`` atomically (mode 0600) and return the entry's path."""
        path = self.path_for(key)
        payload = bytes(data)
        self._ready(create=True)
        header = _HEADER.pack(MAGIC, hashlib.sha256(payload).digest(), len(payload))
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=".part", dir=self._dir)
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(header)
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path

    def entries(self) -> list[CacheEntryInfo]:
        """Return the entries on disk, sorted by key (temp files and strangers are skipped)."""
        if not self._ready(create=False):
            return []
        found = []
        with os.scandir(self._dir) as it:
            for item in it:
                key = item.name[: -len(_SUFFIX)]
                if item.name.endswith(_SUFFIX) and _KEY_RE.fullmatch(key):
                    with contextlib.suppress(FileNotFoundError):
                        st = item.stat(follow_symlinks=False)
                        if stat.S_ISREG(st.st_mode):
                            info = CacheEntryInfo(key, Path(item.path), st.st_size, st.st_mtime)
                            found.append(info)
        return sorted(found, key=lambda e: e.key)

    def clear(self) -> int:
        """Remove every entry (and temp files over an hour old); return how many entries."""
        removed = 0
        for entry in self.entries():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed += 1
        if self._checked:
            cutoff = time.time() - _STALE_TMP_S
            for tmp in self._dir.glob(_TMP_PREFIX + "*"):
                with contextlib.suppress(OSError):
                    if tmp.lstat().st_mtime < cutoff:
                        tmp.unlink()
        return removed


def _makedirs_private(path: Path) -> None:
    """Create ``path`` and missing parents with mode 0700, whatever the umask."""
    if os.path.lexists(path) or path == path.parent:
        return
    _makedirs_private(path.parent)
    with contextlib.suppress(FileExistsError):  # lost a race: the check decides
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)


def _check_dir(path: Path, *, follow: bool) -> None:
    st = os.stat(path) if follow else os.lstat(path)
    mode, uid = stat.S_IMODE(st.st_mode), getattr(os, "getuid", lambda: st.st_uid)()
    if stat.S_ISLNK(st.st_mode):
        fault, fix = "is a symbolic link", "replace it with a real directory"
    elif not stat.S_ISDIR(st.st_mode):
        fault, fix = "is not a directory", "remove it"
    elif st.st_uid != uid:
        fault, fix = f"is owned by uid {st.st_uid}, not by you (uid {uid})", "remove it"
    elif mode & 0o022:
        who = "other users" if mode & 0o002 else "its group"
        fault, fix = f"is writable by {who} (mode {mode:04o})", "chmod 700 it"
    else:
        return
    reason = (
        f"cache directory {path} {fault}; loading code from it would run code others wrote: "
        f"{fix} or set ROCSAMPLE_CACHE_DIR"
    )
    raise KernelLoadError(str(path), None, reason)
