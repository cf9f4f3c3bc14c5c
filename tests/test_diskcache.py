"""Tests of rocsample.diskcache on the real filesystem, with real threads and processes.

Tests that need another user's files chown them to ``nobody`` (uid 65534) when run as root,
and skip with the reason otherwise; tests that need a full or read-only file system mount a
small tmpfs (or a read-only bind mount) under ``tmp_path`` when root and unmount it.
"""

from __future__ import annotations

import errno
import grp
import logging
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rocsample import diskcache
from rocsample.diskcache import MAGIC, CacheEntryInfo, DiskCache, cache_key, open_private_dir
from rocsample.errors import KernelLoadError

REPO = Path(__file__).resolve().parent.parent
KEY = cache_key({"kernel": "topk", "arch": "gfx942"})
HEADER = 80  # magic, key, length, sha256
NOBODY = 65534
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root to chown a file to another user")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def cache(tmp_path: Path) -> DiskCache:
    return DiskCache(tmp_path / "cache")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "rocsample" and r.levelno == logging.WARNING]


def own_group_is_private() -> bool:
    """Whether this user's group has no member but this user (a Debian user private group)."""
    gid, me = os.getegid(), pwd.getpwuid(os.geteuid())
    return (set(grp.getgrgid(gid).gr_mem) <= {me.pw_name}
            and all(p.pw_uid == me.pw_uid for p in pwd.getpwall() if p.pw_gid == gid))


def give_shared_group(path: Path) -> None:
    """Make ``path``'s group one that other users are in (root only), or skip."""
    if not IS_ROOT:
        pytest.skip("needs root to give a directory a group shared with other users")
    others = [p.pw_name for p in pwd.getpwall() if p.pw_gid == NOBODY and p.pw_uid != 0]
    if not others:
        pytest.skip("no user other than root has group 65534 here")
    os.chown(path, -1, NOBODY)


def call_with_deadline(fn: Callable[[], object], unblock: Callable[[], None],
                       seconds: float = 10.0) -> object:
    """fn() in a thread; if it is still running after ``seconds``, unblock it and fail."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # re-raised in the test thread
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        unblock()
        thread.join(seconds)
        pytest.fail(f"call still blocked after {seconds} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]
# -- cache_key ---------------------------------------------------------------------------------


def test_cache_key_is_stable_hex_and_order_independent() -> None:
    key = cache_key({"a": "1", "b": b"2", "c": 3})
    assert len(key) == 64 and int(key, 16) >= 0 and key == key.lower()
    assert key == cache_key({"c": 3, "b": b"2", "a": "1"})


@pytest.mark.parametrize(
    "other",
    [
        {"a": "1", "b": b"2", "c": 4},  # value
        {"a": "1", "b": b"2", "d": 3},  # name
        {"a": b"1", "b": b"2", "c": 3},  # str vs bytes
        {"a": 1, "b": b"2", "c": 3},  # str vs int
        {"a": "1", "b": b"2"},  # part removed
        {"a": "1", "b": b"2", "c": 3, "d": ""},  # empty part added
    ],
)
def test_cache_key_changes_when_any_part_changes(other: dict) -> None:
    assert cache_key(other) != cache_key({"a": "1", "b": b"2", "c": 3})


def test_cache_key_is_unambiguous() -> None:
    assert cache_key({"ab": "c"}) != cache_key({"a": "bc"})
    assert cache_key({"a": "b", "c": "d"}) != cache_key({"a": "b\0c\0d"})
    assert cache_key({"a": "1,2"}) != cache_key({"a": "1", "2": ""})
    with pytest.raises(TypeError):
        cache_key({"a": 1.5})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        cache_key({"a": True})


@pytest.mark.parametrize(
    "bad", ["", "abc", KEY.upper(), KEY[:-1], KEY + "0", "../" + KEY[3:], KEY[:-1] + "/", 12]
)
def test_bad_keys_are_rejected(cache: DiskCache, bad: object) -> None:
    for call in (cache.path_for, cache.get, lambda k: cache.put(k, b"x")):
        with pytest.raises(ValueError):
            call(bad)  # type: ignore[operator]
    assert not cache.directory.parent.exists()


def test_bad_namespace_is_rejected(tmp_path: Path) -> None:
    for bad in ("", ".", "..", "a/b", "../x"):
        with pytest.raises(ValueError):
            DiskCache(tmp_path, namespace=bad)


# -- get / put ---------------------------------------------------------------------------------


def test_lazy_miss_hit_overwrite(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "root", namespace="v9")
    assert cache.directory == tmp_path / "root" / "v9"
    assert not (tmp_path / "root").exists()
    assert cache.get(KEY) is None
    assert not (tmp_path / "root").exists()  # a miss creates nothing
    path = cache.put(KEY, b"payload-1")
    assert path == cache.path_for(KEY) == cache.directory / f"{KEY}.bin"
    assert mode_of(path) == 0o600
    assert path.read_bytes()[:8] == MAGIC and len(path.read_bytes()) == HEADER + 9
    assert cache.get(KEY) == b"payload-1"
    cache.put(KEY, bytearray(b"payload-2 longer"))
    assert cache.get(KEY) == b"payload-2 longer"
    cache.put(KEY, b"")
    assert cache.get(KEY) == b""
    assert DiskCache(tmp_path / "root", namespace="v9").get(KEY) == b""
    assert DiskCache(tmp_path / "root", namespace="v1").get(KEY) is None
    assert DiskCache(tmp_path / "root").directory.name == "v2"  # the format of RSCACHE2


def _assert_miss_and_removed(cache: DiskCache, caplog: pytest.LogCaptureFixture, why: str) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rocsample"):
        assert cache.get(KEY) is None
    assert not os.path.lexists(cache.path_for(KEY))
    assert any(str(cache.path_for(KEY)) in r.getMessage() for r in caplog.records)
    assert any(why in r.getMessage() for r in caplog.records), caplog.text


def test_corrupt_payload_byte_is_a_miss(cache: DiskCache, caplog) -> None:
    path = cache.put(KEY, b"A" * 100)
    blob = bytearray(path.read_bytes())
    blob[HEADER + 50] ^= 0x01
    path.write_bytes(bytes(blob))
    _assert_miss_and_removed(cache, caplog, "checksum mismatch")
    cache.put(KEY, b"fresh")
    assert cache.get(KEY) == b"fresh"


def test_corrupt_checksum_field_is_a_miss(cache: DiskCache, caplog) -> None:
    path = cache.put(KEY, b"A" * 100)
    blob = bytearray(path.read_bytes())
    blob[HEADER - 5] ^= 0xFF
    path.write_bytes(bytes(blob))
    _assert_miss_and_removed(cache, caplog, "checksum mismatch")


@pytest.mark.parametrize("cut", [0, 1, 7, 8, 20, 47, HEADER - 1, HEADER, HEADER + 1, HEADER + 99])
def test_truncated_entry_is_a_miss(cache: DiskCache, caplog, cut: int) -> None:
    path = cache.put(KEY, bytes(range(100)))
    os.truncate(path, cut)
    why = "short header" if cut < HEADER else "length mismatch"
    _assert_miss_and_removed(cache, caplog, why)


def test_trailing_garbage_is_a_miss(cache: DiskCache, caplog) -> None:
    path = cache.put(KEY, b"abc")
    with open(path, "ab") as f:
        f.write(b"x")
    _assert_miss_and_removed(cache, caplog, "length mismatch")


@pytest.mark.parametrize("magic", [b"RSCACHE0", b"RSCACHE1"])
def test_wrong_magic_is_a_miss(cache: DiskCache, caplog, magic: bytes) -> None:
    path = cache.put(KEY, b"abc")
    path.write_bytes(magic + path.read_bytes()[8:])
    _assert_miss_and_removed(cache, caplog, "bad magic")


# -- entries are bound to their key -------------------------------------------------------------


def test_entry_renamed_onto_another_key_is_a_miss(cache: DiskCache, caplog) -> None:
    """Two valid entries swapped (a wave32 build under a wave64 key) must not load."""
    other = cache_key({"kernel": "topk", "arch": "gfx942", "wave": 32})
    cache.put(KEY, b"wave64 build")
    cache.put(other, b"wave32 build")
    os.replace(cache.path_for(other), cache.path_for(KEY))
    _assert_miss_and_removed(cache, caplog, "another key")
    assert cache.get(other) is None


def test_key_field_edited_is_a_miss(cache: DiskCache, caplog) -> None:
    path = cache.put(KEY, b"abc")
    blob = bytearray(path.read_bytes())
    blob[8] ^= 0x01  # first byte of the stored key
    path.write_bytes(bytes(blob))
    _assert_miss_and_removed(cache, caplog, "another key")


# -- odd entries: a miss that removes nothing and never blocks ---------------------------------


def _plant(kind: str, path: Path, tmp_path: Path, monkeypatch) -> Callable[[], None]:
    """Put a ``kind`` under the entry's name; return what unblocks a reader stuck on it."""
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)

        def unblock() -> None:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

        return unblock
    elif kind == "socket":
        monkeypatch.chdir(path.parent)  # AF_UNIX paths are limited to 108 bytes
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(path.name)  # the socket file stays after the socket is closed
    else:
        target = tmp_path / "elsewhere.bin"
        target.write_bytes(path.read_bytes())
        path.unlink()
        path.symlink_to(target)
    return lambda: None


@pytest.mark.parametrize("kind", ["directory", "fifo", "socket", "symlink"])
def test_odd_entry_is_a_miss_that_removes_nothing(cache: DiskCache, tmp_path: Path, monkeypatch,
                                                  caplog, kind: str) -> None:
    path = cache.put(KEY, b"real entry")
    if kind != "symlink":
        path.unlink()
    unblock = _plant(kind, path, tmp_path, monkeypatch)
    before = os.lstat(path)
    with caplog.at_level(logging.WARNING, logger="rocsample"):
        assert call_with_deadline(lambda: cache.get(KEY), unblock) is None
    assert any(str(path) in m for m in warnings_of(caplog)), caplog.text
    assert os.lstat(path).st_ino == before.st_ino  # still there, untouched
    assert call_with_deadline(lambda: cache.contains(KEY), unblock) is False
    if kind == "symlink":
        assert (tmp_path / "elsewhere.bin").exists()
    # A new entry replaces what is in the way; a directory cannot be replaced, so the
    # payload is kept in memory for this process instead.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rocsample"):
        stored = cache.put(KEY, b"new")
    assert cache.get(KEY) == b"new"
    if kind == "directory":
        assert stored is None and len(warnings_of(caplog)) == 1, caplog.text
        assert path.is_dir() and cache.kept(KEY)
    else:
        assert stored == path and stat.S_ISREG(os.lstat(path).st_mode)
        assert DiskCache(cache.directory.parent).get(KEY) == b"new"


def test_open_error_removes_nothing(cache: DiskCache, monkeypatch, caplog) -> None:
    """A transient error (too many open files) is a miss; only a bad checksum deletes."""
    path = cache.put(KEY, b"valid")
    real_open = os.open

    def out_of_descriptors(name, flags, *args, **kwargs):
        if os.fspath(name).endswith(".bin"):
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", out_of_descriptors)
    with caplog.at_level(logging.WARNING, logger="rocsample"):
        assert cache.get(KEY) is None
    monkeypatch.undo()
    assert "Too many open files" in caplog.text
    assert path.exists() and cache.get(KEY) == b"valid"


def test_entry_writable_by_others_is_a_miss(cache: DiskCache, caplog) -> None:
    path = cache.put(KEY, b"abc")
    os.chmod(path, 0o666)
    with caplog.at_level(logging.WARNING, logger="rocsample"):
        assert cache.get(KEY) is None
    assert "writable by others (mode 0666)" in caplog.text and path.exists()


@needs_root
def test_entry_owned_by_another_user_is_a_miss(cache: DiskCache, caplog) -> None:
    path = cache.put(KEY, b"abc")
    os.chown(path, NOBODY, NOBODY)
    with caplog.at_level(logging.WARNING, logger="rocsample"):
        assert cache.get(KEY) is None
    assert f"owned by uid {NOBODY}" in caplog.text and path.exists()


# -- directory safety --------------------------------------------------------------------------


def test_directories_created_0700_even_with_umask_000(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "cache"
    old = os.umask(0)
    try:
        cache = DiskCache(root)
        cache.put(KEY, b"x")
        tmp_file = tmp_path / "probe"
        tmp_file.write_bytes(b"")
        assert mode_of(tmp_file) == 0o666  # the umask really was 000
    finally:
        os.umask(old)
    for d in (tmp_path / "a", tmp_path / "a" / "b", root, cache.directory):
        assert mode_of(d) == 0o700, d
    assert mode_of(cache.path_for(KEY)) == 0o600


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o277])
def test_directories_created_0700_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    root = tmp_path / "a" / "cache"
    old = os.umask(umask)
    try:
        cache = DiskCache(root)
        assert cache.put(KEY, b"x") == cache.path_for(KEY)
        assert cache.get(KEY) == b"x"
    finally:
        os.umask(old)
    for d in (tmp_path / "a", root, cache.directory):
        assert mode_of(d) == 0o700, d


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o707, 0o720, 0o1777])
@pytest.mark.parametrize("which", ["root", "namespace"])
def test_writable_directory_is_refused(tmp_path: Path, mode: int, which: str) -> None:
    cache = DiskCache(tmp_path / "cache")
    cache.directory.mkdir(parents=True)
    bad = cache.directory if which == "namespace" else cache.directory.parent
    if not mode & 0o002:
        give_shared_group(bad)  # a group of the owner alone would not be "others"
    os.chmod(bad, mode)
    for call in (lambda: cache.put(KEY, b"x"), lambda: cache.get(KEY), cache.entries,
                 lambda: cache.contains(KEY)):
        with pytest.raises(KernelLoadError) as info:
            call()
        assert "writable" in info.value.reason and f"{mode:04o}" in info.value.reason
        assert info.value.path == str(bad) and info.value.env_var is None
        assert "ROCSAMPLE_CACHE_DIR" in info.value.reason
    os.chmod(bad, 0o700)  # fixing the directory is enough; the failed check is not cached
    cache.put(KEY, b"x")
    assert cache.get(KEY) == b"x"


@pytest.mark.skipif(not own_group_is_private(), reason="this user's group has other members")
def test_group_writable_by_the_owners_private_group_is_accepted(tmp_path: Path) -> None:
    """Under umask 002 (Debian's user private groups) ~/.cache is 0775: nobody else is in
    its group, so it must not lock the user out."""
    parent = tmp_path / "dot-cache"
    parent.mkdir()
    os.chmod(parent, 0o775)
    cache = DiskCache(parent / "rocsample")
    assert cache.put(KEY, b"x") and cache.get(KEY) == b"x"
    assert mode_of(parent / "rocsample") == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_parent_others_can_write_without_sticky_bit_is_refused(tmp_path: Path, mode: int) -> None:
    """Whoever may write the parent may rename the cache directory and put theirs there."""
    shared = tmp_path / "shared"
    shared.mkdir()
    if not mode & 0o002:
        give_shared_group(shared)
    os.chmod(shared, mode)
    cache = DiskCache(shared / "cache")
    for call in (lambda: cache.put(KEY, b"x"), lambda: cache.get(KEY)):
        with pytest.raises(KernelLoadError) as info:
            call()
        assert info.value.path == str(shared)
        assert "without the sticky bit" in info.value.reason
        assert "ROCSAMPLE_CACHE_DIR" in info.value.reason
    assert os.listdir(shared) == []  # refused before anything was created in it
    os.chmod(shared, mode | stat.S_ISVTX)  # as /tmp: others cannot rename what is ours
    assert cache.put(KEY, b"x") and cache.get(KEY) == b"x"


@needs_root
def test_parent_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    (theirs / "cache").mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(KernelLoadError, match="neither root nor you") as info:
        DiskCache(theirs / "cache").get(KEY)
    assert info.value.path == str(theirs)


@needs_root
def test_swapped_namespace_directory_is_not_followed(tmp_path: Path) -> None:
    """A directory checked once and swapped afterwards must not be trusted: each use is
    checked again, and the other user's directory is refused."""
    cache = DiskCache(tmp_path / "cache")
    cache.put(KEY, b"mine")
    evil = DiskCache(tmp_path / "evil")
    evil.put(KEY, b"theirs")  # a valid entry, checksum and key included
    for p in (evil.directory, evil.path_for(KEY)):
        os.chown(p, NOBODY, NOBODY)
    os.rename(cache.directory, tmp_path / "moved-away")
    os.rename(evil.directory, cache.directory)
    with pytest.raises(KernelLoadError, match=f"owned by uid {NOBODY}") as info:
        cache.get(KEY)
    assert info.value.path == str(cache.directory)


def test_symlinked_namespace_dir_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    (root / "v2").symlink_to(real, target_is_directory=True)
    cache = DiskCache(root)
    with pytest.raises(KernelLoadError, match="symbolic link"):
        cache.put(KEY, b"x")
    with pytest.raises(KernelLoadError, match="symbolic link"):
        cache.get(KEY)
    assert list(real.iterdir()) == []


def test_symlinked_root_is_resolved_and_checked(tmp_path: Path) -> None:
    real = tmp_path / "real-cache"
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    cache = DiskCache(tmp_path / "link")
    cache.put(KEY, b"x")
    assert (real / "v2" / f"{KEY}.bin").is_file() and cache.get(KEY) == b"x"
    os.chmod(real, 0o777)
    with pytest.raises(KernelLoadError, match="writable by other users") as info:
        cache.get(KEY)
    assert info.value.path == str(real)


@pytest.mark.parametrize("where", ["namespace", "root", "parent"])
def test_a_file_in_place_of_a_directory_is_refused(tmp_path: Path, where: str) -> None:
    (tmp_path / "cache").mkdir(mode=0o700)
    if where == "namespace":
        root, bad = tmp_path / "cache", tmp_path / "cache" / "v2"
    elif where == "root":
        root = bad = tmp_path / "cache" / "file"
    else:
        bad, root = tmp_path / "cache" / "file", tmp_path / "cache" / "file" / "below"
    bad.write_bytes(b"")
    for call in (lambda: DiskCache(root).get(KEY), lambda: DiskCache(root).put(KEY, b"x")):
        with pytest.raises(KernelLoadError, match="not a directory") as info:
            call()
        assert info.value.path == str(bad) and "ROCSAMPLE_CACHE_DIR" in info.value.reason


@needs_root
@pytest.mark.parametrize("which", ["root", "namespace"])
def test_directory_owned_by_another_user_is_refused(tmp_path: Path, which: str) -> None:
    cache = DiskCache(tmp_path / "cache")
    cache.directory.mkdir(parents=True, mode=0o700)
    bad = cache.directory if which == "namespace" else cache.directory.parent
    os.chown(bad, NOBODY, NOBODY)
    with pytest.raises(KernelLoadError) as info:
        cache.put(KEY, b"x")
    assert f"owned by uid {NOBODY}" in info.value.reason and info.value.path == str(bad)


def test_open_private_dir_checks_before_creating(tmp_path: Path) -> None:
    assert open_private_dir(tmp_path / "a", "b", create=False) is None
    assert not (tmp_path / "a").exists()
    fd, path = open_private_dir(tmp_path / "a", "b", create=True)
    try:
        assert path == tmp_path / "a" / "b" and os.path.samestat(os.fstat(fd), os.stat(path))
    finally:
        os.close(fd)
    os.chmod(tmp_path / "a", 0o777)
    with pytest.raises(KernelLoadError, match="writable by other users"):
        open_private_dir(tmp_path / "a", "c", create=True)
    assert sorted(os.listdir(tmp_path / "a")) == ["b"]
    with pytest.raises(ValueError):
        open_private_dir(tmp_path, "..", create=True)


# -- a cache that cannot be written is not an outage --------------------------------------------


def _assert_kept_in_memory(cache: DiskCache, caplog, why: str) -> None:
    """put() fails softly: one warning, nothing half-written, the payload served from memory."""
    other = cache_key({"another": "module"})
    with caplog.at_level(logging.WARNING, logger="rocsample"):
        assert cache.put(KEY, b"k" * (1 << 20)) is None
        assert cache.put(other, b"second") is None  # not tried again, not warned again
        assert cache.put(KEY, b"k" * (1 << 20)) is None
    warned = warnings_of(caplog)
    assert len(warned) == 1 and why in warned[0] and str(cache.directory) in warned[0], warned
    assert cache.get(KEY) == b"k" * (1 << 20) and cache.kept(KEY) and cache.contains(other)
    # Process-wide: a new cache object (a new KernelCache after reset()) finds it too.
    assert DiskCache(cache.directory.parent).get(other) == b"second"
    if cache.directory.exists():
        assert not [n for n in os.listdir(cache.directory) if n.startswith(".")]


def test_full_disk_keeps_the_payload_in_memory(tmp_path: Path, mount, caplog) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir(mode=0o700)
    mount("-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt), target=mnt)
    cache = DiskCache(mnt / "cache")
    _assert_kept_in_memory(cache, caplog, "No space left on device")


@pytest.mark.parametrize("exists", [False, True])
def test_read_only_file_system_keeps_the_payload_in_memory(tmp_path: Path, mount, caplog,
                                                           exists: bool) -> None:
    mnt = tmp_path / "ro"
    mnt.mkdir(mode=0o700)
    mount("-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt), target=mnt)
    cache = DiskCache(mnt / "cache")
    if exists:
        cache.put(cache_key({"earlier": 1}), b"old")
    mount("-o", "remount,ro", str(mnt))
    assert cache.get(KEY) is None
    _assert_kept_in_memory(cache, caplog, "Read-only file system")
    if exists:
        assert cache.get(cache_key({"earlier": 1})) == b"old"


def test_read_only_cache_directory_keeps_the_payload_in_memory(tmp_path: Path, caplog,
                                                               request) -> None:
    cache = DiskCache(tmp_path / "cache")
    cache.put(cache_key({"earlier": 1}), b"old")
    if IS_ROOT:  # root ignores mode bits: make the directory itself a read-only mount
        mount = request.getfixturevalue("mount")
        mount("--bind", str(cache.directory), str(cache.directory), target=cache.directory)
        mount("-o", "remount,bind,ro", str(cache.directory))
        why = "Read-only file system"
    else:
        os.chmod(cache.directory, 0o500)
        request.addfinalizer(lambda: os.chmod(cache.directory, 0o700))
        why = "Permission denied"
    _assert_kept_in_memory(cache, caplog, why)
    assert cache.get(cache_key({"earlier": 1})) == b"old"


# -- temp files of writers that died ------------------------------------------------------------

_KILLED_WRITER = """
import os, sys, time
from pathlib import Path
from rocsample.diskcache import DiskCache
os.fsync = lambda fd: time.sleep(3600)  # hold the write here: the test kills us now
DiskCache(Path(sys.argv[1])).put(sys.argv[2], b"x" * (1 << 20))
"""


def test_temp_file_of_a_killed_writer_is_swept(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                     os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(root), KEY], env=env)
    directory = DiskCache(root).directory
    deadline = time.monotonic() + 60
    leftovers: list[str] = []
    while not leftovers and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
        if directory.is_dir():
            leftovers = [n for n in os.listdir(directory) if n.startswith(".rscache-tmp-")]
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    assert leftovers, "the writer never got to its temp file"
    assert DiskCache(root).get(KEY) is None  # first use of the cache sweeps
    assert os.listdir(directory) == []


def test_sweep_keeps_live_writers_files(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache")
    cache.put(KEY, b"x")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = diskcache._HOST
        names = {
            "dead": f".rscache-tmp-{dead.pid}-{'a' * 16}-{host}.part",
            "live": f".rscache-tmp-{live.pid}-{'b' * 16}-{host}.part",
            "mine": f".rscache-tmp-{os.getpid()}-{'c' * 16}-{host}.part",
            "other-host": f".rscache-tmp-{dead.pid}-{'d' * 16}-not-{host}.part",
            "unknown": ".rscache-tmp-abc123.part",
            "old": f".rscache-tmp-{live.pid}-{'e' * 16}-{host}.part",
        }
        for name in names.values():
            (cache.directory / name).write_bytes(b"partial")
        os.utime(cache.directory / names["old"], (1, 1))
        DiskCache(tmp_path / "cache").get(KEY)
        left = set(os.listdir(cache.directory)) - {f"{KEY}.bin"}
        assert left == {names[k] for k in ("live", "mine", "other-host", "unknown")}
    finally:
        live.kill()
        live.wait()


# -- concurrency -------------------------------------------------------------------------------

_CHILD = """
import os, sys, time
from pathlib import Path
from rocsample.diskcache import DiskCache
root, key, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
payload = bytes(range(256)) * 4096
cache = DiskCache(root)
while not go.exists():
    time.sleep(0.001)
for _ in range(20):
    cache.put(key, payload)
    got = cache.get(key)
    assert got == payload, "reader saw a partial or foreign entry"
"""


def test_processes_put_same_key_concurrently(tmp_path: Path) -> None:
    root, go = tmp_path / "cache", tmp_path / "go"
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(root), KEY, str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(8)
    ]
    go.touch()
    outputs = [p.communicate(timeout=60)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outputs
    cache = DiskCache(root)
    assert sorted(os.listdir(cache.directory)) == [f"{KEY}.bin"]
    assert cache.get(KEY) == bytes(range(256)) * 4096


def test_threads_put_and_get_concurrently(cache: DiskCache) -> None:
    shared = cache_key({"shared": 1})
    payloads = {i: bytes([i]) * (1000 + 997 * i) for i in range(32)}
    barrier = threading.Barrier(32)

    def work(i: int) -> None:
        own = cache_key({"thread": i})
        barrier.wait()
        for _ in range(25):
            cache.put(own, payloads[i])
            cache.put(shared, payloads[i])
            assert cache.get(own) == payloads[i]
            got = cache.get(shared)
            assert got in payloads.values(), "torn or corrupt shared entry"

    with ThreadPoolExecutor(32) as pool:
        for future in [pool.submit(work, i) for i in range(32)]:
            future.result()
    names = os.listdir(cache.directory)
    assert len(names) == 33 and all(n.endswith(".bin") for n in names)


# -- entries / clear ---------------------------------------------------------------------------


def test_entries_and_clear(cache: DiskCache) -> None:
    assert cache.entries() == [] and cache.clear() == 0
    assert not cache.directory.parent.exists()
    keys = sorted(cache_key({"n": i}) for i in range(5))
    for i, key in enumerate(keys):
        cache.put(key, b"x" * i)
    (cache.directory / "README").write_text("not an entry")
    (cache.directory / ".rscache-tmp-inflight.part").write_bytes(b"")
    (cache.directory / (cache_key({"n": 9}) + ".bin")).mkdir()  # odd: not an entry
    infos = cache.entries()
    assert [e.key for e in infos] == keys
    assert all(isinstance(e, CacheEntryInfo) for e in infos)
    assert [e.size for e in infos] == [HEADER + i for i in range(5)]
    assert all(e.path == cache.path_for(e.key) and e.mtime > 0 for e in infos)
    assert cache.clear() == 5
    assert cache.entries() == [] and cache.get(keys[0]) is None
    # a fresh temp file may belong to a put() in flight in another process: it is kept
    assert sorted(os.listdir(cache.directory)) == sorted(
        [".rscache-tmp-inflight.part", "README", cache_key({"n": 9}) + ".bin"])
    os.utime(cache.directory / ".rscache-tmp-inflight.part", (1, 1))
    assert cache.clear() == 0
    assert sorted(os.listdir(cache.directory)) == sorted(["README", cache_key({"n": 9}) + ".bin"])


def test_clear_forgets_payloads_kept_in_memory(cache: DiskCache) -> None:
    cache.put(KEY, b"x")
    cache.path_for(KEY).unlink()
    cache.path_for(KEY).mkdir()  # os.replace of a file onto a directory fails
    assert cache.put(KEY, b"y") is None and cache.get(KEY) == b"y"
    assert cache.clear() == 0
    assert cache.get(KEY) is None and not cache.kept(KEY)


# -- check_trusted_file: host code rocsample loads (FlashInfer's reference library) -----------


def private_lib(tmp_path: Path) -> Path:
    d = tmp_path / "lib"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    f = d / "libx.so"
    f.write_bytes(b"\x7fELF")
    os.chmod(f, 0o644)
    return f


def test_trusted_file_is_accepted_and_resolved(tmp_path):
    f = private_lib(tmp_path)
    link = tmp_path / "link.so"
    link.symlink_to(f)
    assert diskcache.check_trusted_file(link) == Path(os.path.realpath(f))


def test_trusted_file_refuses_a_world_writable_file(tmp_path):
    f = private_lib(tmp_path)
    os.chmod(f, 0o666)
    with pytest.raises(KernelLoadError, match=r"writable by other users \(mode 0666\).*chmod go-w"):
        diskcache.check_trusted_file(f, "test library")


def test_trusted_file_refuses_a_directory_others_can_write(tmp_path):
    """A directory others may write without the sticky bit: they could swap the file."""
    f = private_lib(tmp_path)
    os.chmod(f.parent, 0o777)
    with pytest.raises(KernelLoadError, match=r"lib, above test library .*without the sticky"):
        diskcache.check_trusted_file(f, "test library")


def test_trusted_file_accepts_a_sticky_directory(tmp_path):
    """As /tmp: others may write there but not rename or remove what is ours."""
    f = private_lib(tmp_path)
    os.chmod(f.parent, 0o1777)
    assert diskcache.check_trusted_file(f) == Path(os.path.realpath(f))


def test_trusted_file_refuses_what_is_not_a_file(tmp_path):
    with pytest.raises(KernelLoadError, match="not a regular file"):
        diskcache.check_trusted_file(tmp_path)
    with pytest.raises(FileNotFoundError):
        diskcache.check_trusted_file(tmp_path / "absent.so")


@needs_root
def test_trusted_file_refuses_another_users_file(tmp_path):
    f = private_lib(tmp_path)
    os.chown(f, NOBODY, -1)
    with pytest.raises(KernelLoadError, match=f"owned by uid {NOBODY}"):
        diskcache.check_trusted_file(f)
