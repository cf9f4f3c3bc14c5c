"""Tests of rocsample.diskcache on the real filesystem, with real threads and processes."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rocsample.diskcache import MAGIC, CacheEntryInfo, DiskCache, cache_key
from rocsample.errors import KernelLoadError

REPO = Path(__file__).resolve().parent.parent
KEY = cache_key({"kernel": "topk", "arch": "gfx942"})
HEADER = 48


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def cache(tmp_path: Path) -> DiskCache:
    return DiskCache(tmp_path / "cache")


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


def _assert_miss_and_removed(cache: DiskCache, caplog: pytest.LogCaptureFixture, why: str) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rocsample"):
        assert cache.get(KEY) is None
    assert not cache.path_for(KEY).exists()
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
    blob[10] ^= 0xFF
    path.write_bytes(bytes(blob))
    _assert_miss_and_removed(cache, caplog, "checksum mismatch")


@pytest.mark.parametrize("cut", [0, 1, 7, 8, 20, HEADER - 1, HEADER, HEADER + 1, HEADER + 99])
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


def test_wrong_magic_is_a_miss(cache: DiskCache, caplog) -> None:
    path = cache.put(KEY, b"abc")
    path.write_bytes(b"RSCACHE0" + path.read_bytes()[8:])
    _assert_miss_and_removed(cache, caplog, "bad magic")


def test_symlinked_entry_is_not_followed(cache: DiskCache, tmp_path: Path, caplog) -> None:
    cache.put(KEY, b"abc")
    target = tmp_path / "elsewhere.bin"
    target.write_bytes(cache.path_for(KEY).read_bytes())
    cache.path_for(KEY).unlink()
    cache.path_for(KEY).symlink_to(target)
    _assert_miss_and_removed(cache, caplog, "cannot be opened")
    assert target.exists()


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


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o707, 0o720])
@pytest.mark.parametrize("which", ["root", "namespace"])
def test_writable_directory_is_refused(tmp_path: Path, mode: int, which: str) -> None:
    cache = DiskCache(tmp_path / "cache")
    cache.directory.mkdir(parents=True)
    bad = cache.directory if which == "namespace" else cache.directory.parent
    os.chmod(bad, mode)
    for call in (lambda: cache.put(KEY, b"x"), lambda: cache.get(KEY), cache.entries):
        with pytest.raises(KernelLoadError) as info:
            call()
        assert "writable" in info.value.reason and f"{mode:04o}" in info.value.reason
        assert info.value.path == str(bad) and info.value.env_var is None
        assert "ROCSAMPLE_CACHE_DIR" in info.value.reason
    os.chmod(bad, 0o700)  # fixing the directory is enough; the failed check is not cached
    cache.put(KEY, b"x")
    assert cache.get(KEY) == b"x"


def test_symlinked_namespace_dir_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    (root / "v1").symlink_to(real, target_is_directory=True)
    cache = DiskCache(root)
    with pytest.raises(KernelLoadError, match="symbolic link"):
        cache.put(KEY, b"x")
    with pytest.raises(KernelLoadError, match="symbolic link"):
        cache.get(KEY)
    assert list(real.iterdir()) == []


def test_namespace_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir(mode=0o700)
    (tmp_path / "cache" / "v1").write_bytes(b"")
    with pytest.raises(KernelLoadError, match="not a directory"):
        DiskCache(tmp_path / "cache").get(KEY)


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
@pytest.mark.parametrize("which", ["root", "namespace"])
def test_directory_owned_by_another_user_is_refused(tmp_path: Path, which: str) -> None:
    cache = DiskCache(tmp_path / "cache")
    cache.directory.mkdir(parents=True, mode=0o700)
    bad = cache.directory if which == "namespace" else cache.directory.parent
    os.chown(bad, 65534, 65534)
    with pytest.raises(KernelLoadError) as info:
        cache.put(KEY, b"x")
    assert "owned by uid 65534" in info.value.reason and info.value.path == str(bad)


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
    infos = cache.entries()
    assert [e.key for e in infos] == keys
    assert all(isinstance(e, CacheEntryInfo) for e in infos)
    assert [e.size for e in infos] == [HEADER + i for i in range(5)]
    assert all(e.path == cache.path_for(e.key) and e.mtime > 0 for e in infos)
    assert cache.clear() == 5
    assert cache.entries() == [] and cache.get(keys[0]) is None
    # a fresh temp file may belong to a put() in flight in another process: it is kept
    assert sorted(os.listdir(cache.directory)) == [".rscache-tmp-inflight.part", "README"]
    os.utime(cache.directory / ".rscache-tmp-inflight.part", (1, 1))
    assert cache.clear() == 0
    assert os.listdir(cache.directory) == ["README"]


def test_failed_put_leaves_no_temp_file(cache: DiskCache) -> None:
    cache.put(KEY, b"old")
    cache.path_for(KEY).unlink()
    cache.path_for(KEY).mkdir()  # os.replace of a file onto a directory fails
    with pytest.raises(OSError):
        cache.put(KEY, b"new")
    assert os.listdir(cache.directory) == [f"{KEY}.bin"]
