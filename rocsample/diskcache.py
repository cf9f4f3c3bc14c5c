"""A small, safe on-disk cache of compiled GPU code objects.

Loading a cached code object runs code, so nothing is read from, or written to, a place
another user could change. :func:`open_private_dir` walks the path from ``/`` one directory
at a time (``O_NOFOLLOW``), checks each one before creating anything in it, and returns a
descriptor of the last: every entry is then opened, written and renamed relative to that
descriptor, so a directory swapped after the check is never followed. An entry must be a
regular file owned by the user; it names the key it was written for and checksums its
payload, so a file copied or renamed onto another key is a miss, not a load.

A corrupt entry (bad magic, short, wrong key, length or checksum mismatch) is a logged,
removed miss. Anything else odd (a directory, FIFO, socket or symlink under an entry's name,
a file someone else owns, an error such as "too many open files") is a logged miss that
removes nothing. A cache that cannot be written (full disk, read-only file system or
directory) is not an outage: :meth:`DiskCache.put` logs one warning and keeps the payload in
memory for the rest of the process. Temp files of writers that died (``kill -9``) are swept.

Entry format: ``b"RSCACHE2"``, the key (32 bytes), payload length (u64 LE), sha256 of the
payload (32 bytes), payload.

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
import errno
import grp
import hashlib
import logging
import os
import pwd
import re
import secrets
import socket
import stat
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rocsample.errors import KernelLoadError

__all__ = ["MAGIC", "CacheEntryInfo", "DiskCache", "cache_key", "check_trusted_file",
           "open_private_dir"]

log = logging.getLogger("rocsample")

MAGIC = b"RSCACHE2"
_HEADER = struct.Struct("<8s32sQ32s")  # magic, key, payload length, sha256(payload)
_KEY_RE = re.compile(r"[0-9a-f]{64}")
_NAMESPACE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_SUFFIX = ".bin"
_TMP_PREFIX = ".rscache-tmp-"
# A temp file names its writer (pid and host), so a sweeper can tell a dead writer's file
# from one a live put() is still filling.
_TMP_RE = re.compile(r"\.rscache-tmp-(?P<pid>\d+)-[0-9a-f]{16}-(?P<host>[A-Za-z0-9.-]*)\.part")
_HOST = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:64]
_STALE_TMP_S = 3600.0  # no write takes an hour: an older temp file is left over, whoever wrote it
_MAX_ENTRY = 256 << 20  # our largest code object is well under 1 MB; a bigger file is not ours
# The file system refuses every write, not just this one: stop trying for this process.
_UNWRITABLE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIR = os.O_DIRECTORY | os.O_NOFOLLOW | _O_CLOEXEC
# Directories passed through need search permission only (O_PATH), the last one reading.
_O_WALK = _O_DIR | getattr(os, "O_PATH", os.O_RDONLY)
# O_NONBLOCK: opening a FIFO planted under an entry's name must not wait for a writer.
_O_ENTRY = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC

# Payloads a put() could not write, by (namespace directory, key), and the directories found
# unwritable: shared by every DiskCache of the process, so a new KernelCache (after
# rocsample.backends.reset()) finds the image instead of compiling it again.
_kept: dict[tuple[str, str], bytes] = {}
_unwritable: dict[str, str] = {}
_warned: set[str] = set()
_state_lock = threading.Lock()


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


# -- private directories -----------------------------------------------------------------------


def open_private_dir(
    root: str | os.PathLike[str],
    *subdirs: str,
    create: bool,
    what: str = "cache directory",
    setting: str = "ROCSAMPLE_CACHE_DIR",
) -> tuple[int, Path] | None:
    """Open ``root/subdirs...`` as a directory only this user controls, creating it if asked.

    ``root`` is resolved once (``os.path.realpath``); then each directory from ``/`` down is
    opened relative to its parent with ``O_NOFOLLOW`` and checked before anything is created
    in it. ``root`` and ``subdirs`` must be owned by the effective user and not writable by
    group or others; every directory above ``root`` must be owned by root or the user, and
    writable by nobody else unless it has the sticky bit (as ``/tmp``), so nobody else can
    rename what lies below. A group counts as nobody else when it is the owner's own (Debian's
    user private groups, under umask 002: the rule of Debian's OpenSSH ``StrictModes``).
    Missing levels are made with ``mkdir(0700)`` and ``chmod(0700)``, whatever the umask.

    Parameters
    ----------
    root : str or os.PathLike
        The directory that must be private (e.g. ``config.cache_dir()``).
    *subdirs : str
        Single names below ``root``, each private too.
    create : bool
        Create missing levels; when False a missing level returns ``None``.
    what, setting : str
        How errors name the directory and the setting that moves it.

    Returns
    -------
    tuple[int, Path] or None
        A descriptor of the last directory (opened for reading; the caller closes it) and its
        resolved path; ``None`` when it does not exist and ``create`` is False.

    Raises
    ------
    KernelLoadError
        A level is refused (owner, mode, symlink, not a directory); ``path`` names it.
    OSError
        The file system refused (``EACCES``, ``EROFS``, ``ENOSPC``...): no refusal of ours.

    Example
    -------
    >>> import os, tempfile
    >>> fd, path = open_private_dir(tempfile.mkdtemp(), "links", create=True)
    >>> oct(os.fstat(fd).st_mode & 0o777), path.name
    ('0o700', 'links')
    >>> os.close(fd)
    """
    for name in subdirs:
        if not _NAMESPACE_RE.fullmatch(name) or name in (".", ".."):
            raise ValueError(f"invalid sub-directory name {name!r}")
    top = Path(os.path.realpath(root))
    names = [*top.parts[1:], *subdirs]
    first_private = max(len(top.parts) - 2, 0)  # index in names of root itself
    path = Path("/")
    fd = os.open("/", _O_WALK if names else _O_DIR | os.O_RDONLY)
    try:
        _check_dir(os.fstat(fd), path, len(top.parts) == 1, top, what, setting)
        for i, name in enumerate(names):
            last = i == len(names) - 1
            child = _open_child(fd, name, path / name, create, last, top, what, setting)
            if child is None:
                return None
            os.close(fd)
            fd, path = child, path / name
            _check_dir(os.fstat(fd), path, i >= first_private, top, what, setting)
        result, fd = (fd, path), -1
        return result
    finally:
        if fd >= 0:
            os.close(fd)


def check_trusted_file(path: str | os.PathLike[str], what: str = "library") -> Path:
    """The real path of ``path`` once it is known that nobody but this user (or root) wrote it
    or can swap it: for host code rocsample is about to load (``ctypes.CDLL``).

    The file must be a regular file owned by the effective user or root and not writable by
    group or others; every directory above it (after ``os.path.realpath``) must be owned by
    root or the user and writable by nobody else unless it has the sticky bit (``/tmp``), the
    rules :func:`open_private_dir` applies above its root. A group counts as nobody else when
    it is the owner's own (user private groups). Load the returned path, not ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    what : str
        How errors name it.

    Returns
    -------
    Path
        The resolved path.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    KernelLoadError
        A rule is broken; the reason names the file or directory and the fix.

    Example
    -------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "lib.so"); open(f, "wb").close()
    >>> check_trusted_file(f).name
    'lib.so'
    >>> os.chmod(f, 0o666)
    >>> try:
    ...     check_trusted_file(f)
    ... except KernelLoadError as exc:
    ...     print(exc.reason.split(";")[0].split(" is ")[1])
    writable by other users (mode 0666)
    """
    real = Path(os.path.realpath(path))
    st = os.stat(real)
    uid = os.geteuid()
    fault = fix = ""
    if not stat.S_ISREG(st.st_mode):
        fault, fix = "is not a regular file", "name the file itself"
    elif st.st_uid not in (0, uid):
        fault = f"is owned by uid {st.st_uid}, neither root nor you (uid {uid})"
        fix = "rebuild it as yourself"
    elif writers := _other_writers(st):
        fault = f"is writable by {writers} (mode {stat.S_IMODE(st.st_mode):04o})"
        fix = "chmod go-w it"
    if fault:
        raise _refused(real, real, fault, fix, what, None)
    for d in real.parents:  # the rules open_private_dir applies above its root
        _check_dir(os.stat(d), d, False, real, what, None)
    return real


def _open_child(parent: int, name: str, path: Path, create: bool, last: bool, top: Path,
                what: str, setting: str) -> int | None:
    flags = (_O_DIR | os.O_RDONLY) if last else _O_WALK
    try:
        try:
            return os.open(name, flags, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                return None
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            pass  # another process of ours made it first: the checks decide
        else:
            # The umask may have taken bits we need (0o277 leaves 0o500). Nobody else can have
            # swapped what mkdir made: the parent is checked (writable by us alone, or sticky,
            # where others cannot rename or remove what is ours).
            os.chmod(name, 0o700, dir_fd=parent)
        return os.open(name, flags, dir_fd=parent)
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        kind = "is a symbolic link" if stat.S_ISLNK(st.st_mode) else "is not a directory"
        fix = "replace it with a real directory" if stat.S_ISLNK(st.st_mode) else "remove it"
        raise _refused(path, top, kind, fix, what, setting) from None


def _check_dir(st: os.stat_result, path: Path, private: bool, top: Path, what: str,
               setting: str | None) -> None:
    uid = os.geteuid()
    mode = stat.S_IMODE(st.st_mode)
    writers = _other_writers(st)
    if not stat.S_ISDIR(st.st_mode):
        fault, fix = "is not a directory", "remove it"
    elif private and st.st_uid != uid:
        fault, fix = f"is owned by uid {st.st_uid}, not by you (uid {uid})", "remove it"
    elif st.st_uid not in (0, uid):
        fault = f"is owned by uid {st.st_uid}, neither root nor you (uid {uid}), who could swap it"
        fix = f"move the {what} elsewhere"
    elif writers and private:
        fault, fix = f"is writable by {writers} (mode {mode:04o})", "chmod 700 it"
    elif writers and not mode & stat.S_ISVTX:
        fault = (f"is writable by {writers} (mode {mode:04o}) without the sticky bit, so they "
                 f"could swap what it holds")
        fix = "chmod go-w it (or +t)"
    else:
        return
    raise _refused(path, top, fault, fix, what, setting)


def _refused(path: Path, top: Path, fault: str, fix: str, what: str,
             setting: str | None) -> KernelLoadError:
    """The refusal of ``path`` (``top``, the directory or file asked for, or one below or above
    it); ``setting``, where there is one, moves what was asked for elsewhere."""
    where = (f"{what} {path}" if path == top or top in path.parents
             else f"{path}, above {what} {top},")
    reason = (f"{where} {fault}; loading code from there would run code others wrote: {fix}"
              + (f" or set {setting}" if setting else ""))
    return KernelLoadError(str(path), None, reason)


def _other_writers(st: os.stat_result) -> str | None:
    """Who besides the owner (and root) may write to the file or directory, if anyone."""
    if st.st_mode & stat.S_IWOTH:
        return "other users"
    if st.st_mode & stat.S_IWGRP and not _owners_own_group(st.st_gid, st.st_uid):
        return "its group"
    return None


def _owners_own_group(gid: int, uid: int) -> bool:
    """Whether ``gid`` is a user private group whose one member is ``uid``."""
    try:
        group, owner = grp.getgrgid(gid), pwd.getpwuid(uid)
    except KeyError:
        return False
    if any(name != owner.pw_name for name in group.gr_mem):
        return False
    if any(p.pw_gid == gid and p.pw_uid != uid for p in pwd.getpwall()):
        return False
    return owner.pw_gid == gid or owner.pw_name in group.gr_mem


# -- the cache ---------------------------------------------------------------------------------


class DiskCache:
    """Checksummed, key-bound, atomically written entries under ``root / namespace``.

    Lazy: nothing touches the disk before the first call. Each call then opens the namespace
    directory through :func:`open_private_dir` (a refused directory raises
    :class:`~rocsample.errors.KernelLoadError`; fixing it is enough) and works relative to
    that descriptor. The first call of an instance also removes temp files left by writers
    that died.

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

    def __init__(self, root: Path, *, namespace: str = "v2") -> None:
        if not _NAMESPACE_RE.fullmatch(namespace) or namespace in (".", ".."):
            raise ValueError(f"invalid cache namespace {namespace!r}")
        self._root = Path(root)
        self._namespace = namespace
        self._dir = self._root / namespace
        self._id = os.path.abspath(self._dir)  # names this directory in the process-wide state
        self._swept = False

    @property
    def directory(self) -> Path:
        """The namespace directory, ``root / namespace``."""
        return self._dir

    def path_for(self, key: str) -> Path:
        """Return the file that holds ``key`` (``ValueError`` for a malformed key)."""
        return self._dir / (_check_key(key) + _SUFFIX)

    def _open(self, create: bool) -> int | None:
        """A descriptor of the checked namespace directory; None when absent and not created."""
        opened = open_private_dir(self._root, self._namespace, create=create)
        if opened is None:
            return None
        fd = opened[0]
        if not self._swept:
            self._swept = True
            _sweep_temp_files(fd, self._dir)
        return fd

    def get(self, key: str) -> bytes | None:
        """Return the payload stored under ``key``, or ``None`` on a miss.

        A corrupt entry (bad magic, short header, another key, length or checksum mismatch)
        is a miss: a warning names the file and the fault, and the file is removed. Anything
        else in the way (not a regular file, not yours, cannot be opened) is a miss that
        removes nothing. A payload :meth:`put` could not write is returned from memory.
        """
        _check_key(key)
        kept = _kept.get((self._id, key))
        if kept is not None:
            return kept
        try:
            fd = self._open(create=False)
        except OSError as exc:
            self._warn_once(f"read:{exc.errno}", "cannot read %s (%s): every lookup is a miss",
                            self._dir, exc.strerror or exc)
            return None
        if fd is None:
            return None
        try:
            return self._read(fd, key)
        finally:
            os.close(fd)

    def _read(self, dfd: int, key: str) -> bytes | None:
        name = key + _SUFFIX
        path = self._dir / name
        try:
            efd = os.open(name, _O_ENTRY, dir_fd=dfd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            # ELOOP (a symlink), ENXIO (a socket), EMFILE (out of descriptors): none of them
            # says the entry is bad, so nothing is removed.
            log.warning("rocsample disk cache: not using %s: it cannot be opened (%s)", path,
                        exc.strerror or exc)
            return None
        try:
            st = os.fstat(efd)
            odd = _entry_fault(st)
            if odd is not None:
                log.warning("rocsample disk cache: not using %s: it %s", path, odd)
                return None
            blob = _read_all(efd, _MAX_ENTRY + _HEADER.size)
            if blob is None:  # grew after fstat: a file someone is still writing, not ours
                log.warning("rocsample disk cache: not using %s: it keeps growing", path)
                return None
        except OSError as exc:
            log.warning("rocsample disk cache: not using %s: it cannot be read (%s)", path,
                        exc.strerror or exc)
            return None
        finally:
            os.close(efd)
        if len(blob) < _HEADER.size:
            return self._discard(dfd, name, st, f"short header ({len(blob)} of {_HEADER.size} "
                                                "bytes)")
        magic, stored_key, length, digest = _HEADER.unpack_from(blob)
        if magic != MAGIC:
            return self._discard(dfd, name, st, f"bad magic {magic!r}")
        if stored_key != bytes.fromhex(key):
            return self._discard(dfd, name, st, f"it holds the entry of another key "
                                                f"({stored_key.hex()[:16]}...)")
        payload = blob[_HEADER.size :]
        if len(payload) != length:
            reason = f"length mismatch (header says {length} bytes, file holds {len(payload)})"
            return self._discard(dfd, name, st, reason)
        if hashlib.sha256(payload).digest() != digest:
            return self._discard(dfd, name, st, "checksum mismatch")
        return payload

    def _discard(self, dfd: int, name: str, st: os.stat_result, why: str) -> None:
        log.warning("rocsample disk cache: ignoring and removing %s: %s", self._dir / name, why)
        try:
            now = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            # Do not remove a fresh entry that a concurrent put() has just renamed into place.
            if (now.st_ino, now.st_dev) == (st.st_ino, st.st_dev):
                os.unlink(name, dir_fd=dfd)
        except OSError as exc:
            log.debug("rocsample disk cache: could not remove %s: %s", self._dir / name, exc)
        return None

    def put(self, key: str, data: bytes) -> Path | None:
        """Store ``data`` under ``key`` atomically (mode 0600); return the entry's path.

        When the entry cannot be written (full disk, read-only file system or directory,
        something in the way), ``data`` is kept in memory for this process instead, one
        warning says why, and ``None`` is returned. After a failure that concerns the whole
        directory (``ENOSPC``, ``EROFS``, ``EACCES``...) no later put writes to it again.
        A refused directory still raises :class:`~rocsample.errors.KernelLoadError`.
        """
        path = self.path_for(key)
        payload = bytes(data)
        if self._id in _unwritable:
            _kept[(self._id, key)] = payload
            return None
        try:
            fd = self._open(create=True)
        except OSError as exc:
            return self._keep(key, payload, exc)
        try:
            _write_entry(fd, key + _SUFFIX, _HEADER.pack(MAGIC, bytes.fromhex(key),
                                                         len(payload),
                                                         hashlib.sha256(payload).digest()),
                         payload)
        except OSError as exc:
            return self._keep(key, payload, exc)
        finally:
            os.close(fd)
        _kept.pop((self._id, key), None)
        return path

    def _keep(self, key: str, payload: bytes, exc: OSError) -> None:
        _kept[(self._id, key)] = payload
        why = exc.strerror or str(exc)
        if exc.errno in _UNWRITABLE_ERRNOS:
            _unwritable[self._id] = why
            self._warn_once(f"write:{exc.errno}", "cannot write to %s (%s): compiled kernels "
                            "are kept in memory for this process and not written there again",
                            self._dir, why)
        else:
            log.warning("rocsample disk cache: cannot write %s (%s): the compiled kernel is "
                        "kept in memory for this process", self.path_for(key), why)
        return None

    def _warn_once(self, what: str, message: str, *args: object) -> None:
        with _state_lock:
            token = f"{self._id}\0{what}"
            if token in _warned:
                return
            _warned.add(token)
        log.warning("rocsample disk cache: " + message, *args)

    def kept(self, key: str) -> bool:
        """Whether ``key``'s payload lives in memory only (:meth:`put` could not write it)."""
        return (self._id, _check_key(key)) in _kept

    def contains(self, key: str) -> bool:
        """Whether :meth:`get` may hit: a kept payload, or a regular file under the key's name.

        The file is not read or validated; a refused directory raises like :meth:`get`.
        """
        if self.kept(key):
            return True
        try:
            fd = self._open(create=False)
        except OSError:
            return False
        if fd is None:
            return False
        try:
            st = os.stat(key + _SUFFIX, dir_fd=fd, follow_symlinks=False)
        except OSError:
            return False
        finally:
            os.close(fd)
        return stat.S_ISREG(st.st_mode)

    def entries(self) -> list[CacheEntryInfo]:
        """Return the entries on disk, sorted by key (temp files and strangers are skipped)."""
        fd = self._open(create=False)
        if fd is None:
            return []
        found = []
        try:
            with os.scandir(fd) as it:
                for item in it:
                    key = item.name[: -len(_SUFFIX)]
                    if item.name.endswith(_SUFFIX) and _KEY_RE.fullmatch(key):
                        with contextlib.suppress(FileNotFoundError):
                            st = item.stat(follow_symlinks=False)
                            if stat.S_ISREG(st.st_mode):
                                found.append(CacheEntryInfo(key, self._dir / item.name,
                                                            st.st_size, st.st_mtime))
        finally:
            os.close(fd)
        return sorted(found, key=lambda e: e.key)

    def clear(self) -> int:
        """Remove every entry, kept payloads and left-over temp files; return how many entries.

        A temp file of a live writer (this host, a running pid, under an hour old) is kept.
        """
        for kept_key in list(_kept):  # list(): other threads may add while we look
            if kept_key[0] == self._id:
                _kept.pop(kept_key, None)
        fd = self._open(create=False)
        if fd is None:
            return 0
        removed = 0
        try:
            for entry in self.entries():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path.name, dir_fd=fd)
                    removed += 1
            _sweep_temp_files(fd, self._dir)
        finally:
            os.close(fd)
        return removed



def _entry_fault(st: os.stat_result) -> str | None:
    """Why an opened entry is not one of ours (None when it may be)."""
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_uid != os.geteuid():
        return f"is owned by uid {st.st_uid}, not by you (uid {os.geteuid()})"
    if st.st_mode & 0o022:
        return f"is writable by others (mode {stat.S_IMODE(st.st_mode):04o})"
    if st.st_size > _MAX_ENTRY:
        return f"is larger than any code object ({st.st_size} bytes)"
    return None


def _read_all(fd: int, cap: int) -> bytes | None:
    """Everything up to end of file, or None past ``cap`` bytes."""
    chunks, total = [], 0
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            return None


def _write_entry(dfd: int, name: str, header: bytes, payload: bytes) -> None:
    """Write a temp file next to ``name``, flush it, rename it over ``name`` (all via ``dfd``)."""
    tmp = f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}-{_HOST}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _O_CLOEXEC, 0o600,
                 dir_fd=dfd)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(header + payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dfd)
        raise
    with contextlib.suppress(OSError):  # the rename survives a crash too
        os.fsync(dfd)


def _sweep_temp_files(dfd: int, directory: Path) -> None:
    """Remove temp files whose writer is dead (this host, no such pid) or over an hour old."""
    now = time.time()
    try:
        with os.scandir(dfd) as it:
            names = [item.name for item in it if item.name.startswith(_TMP_PREFIX)]
    except OSError as exc:
        log.debug("rocsample disk cache: cannot list %s: %s", directory, exc)
        return
    for name in names:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and _stale(name, st, now):
                os.unlink(name, dir_fd=dfd)
                log.info("rocsample disk cache: removed %s, left by a writer that died",
                         directory / name)
        except OSError as exc:
            log.debug("rocsample disk cache: could not sweep %s: %s", directory / name, exc)


def _stale(name: str, st: os.stat_result, now: float) -> bool:
    if now - st.st_mtime > _STALE_TMP_S:
        return True
    m = _TMP_RE.fullmatch(name)
    if m is None or m["host"] != _HOST:
        return False
    pid = int(m["pid"])
    return pid != os.getpid() and not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
