"""The hiprtc links of rocsample.rocm_libs: only where nobody else can change them.

Whatever ``ROCM_PATH`` names is loaded into the process, so a directory another user can
write must get no links and no library may be loaded from it. Tests that need another user
chown to ``nobody`` (uid 65534) when run as root and skip with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from rocsample import config, rocm_libs
from rocsample.diskcache import DiskCache, cache_key

from .conftest import need

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534
IS_ROOT = os.geteuid() == 0
KEY = cache_key({"probe": 1})


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def tree(path: Path) -> list[str]:
    """Everything below ``path`` (relative names), to show nothing was created there."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A process that has not prepared ROCM_PATH yet, on a Debian layout (a stand-in
    libamdhip64.so.5, no /opt/rocm), with temporary directories made under tmp_path."""
    lib = tmp_path / "libamdhip64.so.5"
    lib.write_bytes(b"stand-in")
    monkeypatch.setattr(rocm_libs, "_done", False)
    monkeypatch.setattr(rocm_libs, "_OPT_ROCM", tmp_path / "no-opt-rocm")
    monkeypatch.setattr(rocm_libs, "find_debian_hip", lambda: lib)
    monkeypatch.delenv("ROCM_PATH", raising=False)
    monkeypatch.delenv("ROCSAMPLE_DISK_CACHE", raising=False)
    (tmp_path / "tmp").mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("ROCSAMPLE_CACHE_DIR", str(tmp_path / "cache"))
    return lib


def assert_private_links(root: Path, lib: Path) -> None:
    for d in (root, root / "lib"):
        st = os.lstat(d)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and mode_of(d) == 0o700, d
    for name in ("libhiprtc.so", "libamdhip64.so"):
        assert os.readlink(root / "lib" / name) == str(lib)


def test_links_live_in_the_checked_cache_dir(fresh: Path, tmp_path: Path) -> None:
    path = rocm_libs.prepare_rocm_path()
    assert path == str(tmp_path / "cache" / "rocm-links") == config.rocm_path()
    assert_private_links(Path(path), fresh)
    assert mode_of(tmp_path / "cache") == 0o700
    assert rocm_libs.prepare_rocm_path() == path  # once per process
    assert os.listdir(tmp_path / "tmp") == []


def test_user_rocm_path_is_never_changed(fresh: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ROCM_PATH", "/somewhere/rocm")
    assert rocm_libs.prepare_rocm_path() == "/somewhere/rocm"
    assert not (tmp_path / "cache").exists() and os.listdir(tmp_path / "tmp") == []


def test_umask_002_first_use_works(fresh: Path, tmp_path: Path, monkeypatch) -> None:
    """The links are made first: with umask 002 they used to leave a 0775 cache root that
    the disk cache then refused, so the first use failed."""
    monkeypatch.setenv("ROCSAMPLE_CACHE_DIR", str(tmp_path / "a" / "b" / "cache"))
    old = os.umask(0o002)
    try:
        rocm_libs.prepare_rocm_path()
        cache = DiskCache(config.cache_dir())
        assert cache.put(KEY, b"x") is not None and cache.get(KEY) == b"x"
    finally:
        os.umask(old)
    root = tmp_path / "a" / "b" / "cache"
    for d in (tmp_path / "a", tmp_path / "a" / "b", root, root / "rocm-links",
              root / "rocm-links" / "lib", cache.directory):
        assert mode_of(d) == 0o700, d


def _world_writable_cache(tmp_path: Path) -> Path:
    (tmp_path / "cache").mkdir()
    os.chmod(tmp_path / "cache", 0o777)
    return tmp_path / "cache"


def _parent_without_sticky_bit(tmp_path: Path) -> Path:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    return shared


def _cache_owned_by_nobody(tmp_path: Path) -> Path:
    if not IS_ROOT:
        pytest.skip("needs root to chown a directory to another user")
    (tmp_path / "cache").mkdir(mode=0o700)
    os.chown(tmp_path / "cache", NOBODY, NOBODY)
    return tmp_path / "cache"


def _links_dir_writable_by_others(tmp_path: Path) -> Path:
    lib = tmp_path / "cache" / "rocm-links" / "lib"
    lib.mkdir(parents=True)
    os.chmod(tmp_path / "cache", 0o700)
    os.chmod(tmp_path / "cache" / "rocm-links", 0o700)
    os.chmod(lib, 0o777)
    return lib


@pytest.mark.parametrize("setup", [_world_writable_cache, _parent_without_sticky_bit,
                                   _cache_owned_by_nobody, _links_dir_writable_by_others])
def test_directory_others_can_write_gets_no_links(fresh: Path, tmp_path: Path, monkeypatch,
                                                  setup) -> None:
    bad = setup(tmp_path)
    monkeypatch.setenv("ROCSAMPLE_CACHE_DIR", str(tmp_path / "shared" / "cache")
                       if bad.name == "shared" else str(tmp_path / "cache"))
    before = tree(bad)
    path = Path(rocm_libs.prepare_rocm_path())
    assert tree(bad) == before  # refused before anything was created in it
    assert path.parent == tmp_path / "tmp" and path.name.startswith("rocsample-rocm-")
    assert_private_links(path, fresh)


@pytest.mark.parametrize("why", ["disabled", "a-file"])
def test_no_usable_cache_dir_uses_a_private_temp_dir(fresh: Path, tmp_path: Path, monkeypatch,
                                                     why: str) -> None:
    if why == "disabled":  # nothing may be written to the cache directory at all
        monkeypatch.setenv("ROCSAMPLE_DISK_CACHE", "0")
    else:
        (tmp_path / "cache").write_bytes(b"")
    path = Path(rocm_libs.prepare_rocm_path())
    assert path.parent == tmp_path / "tmp"
    assert_private_links(path, fresh)
    assert not (tmp_path / "cache").is_dir()


@pytest.mark.parametrize("setting", ["cache_dir", "disk_cache_enabled"])
def test_a_bad_cache_setting_still_gets_private_links(fresh: Path, tmp_path: Path, monkeypatch,
                                                      setting: str) -> None:
    """A value config refuses (ROCSAMPLE_CACHE_DIR=relative/path...) is reported where the
    disk cache is used; the links, made once per process, must not be lost because of it."""
    def refuse() -> None:
        raise ValueError(f"{setting}: refused")

    monkeypatch.setattr(config, setting, refuse)
    path = Path(rocm_libs.prepare_rocm_path())
    assert path.parent == tmp_path / "tmp"
    assert_private_links(path, fresh)


def test_no_private_place_means_no_links(fresh: Path, tmp_path: Path, monkeypatch,
                                         caplog) -> None:
    monkeypatch.setenv("ROCSAMPLE_DISK_CACHE", "0")
    os.chmod(tmp_path / "tmp", 0o777)  # the temp directory's parent lets others swap it
    with caplog.at_level("WARNING", logger="rocsample"):
        assert rocm_libs.prepare_rocm_path() is None
    assert config.rocm_path() is None and "no private directory" in caplog.text


# ---- the real hiprtc, in fresh processes ------------------------------------------------------

def _hiprtc_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ROCM_PATH", "ROCSAMPLE_DISK_CACHE")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests")])
    return {**env, **extra}


_CACHE_DIR_IS_A_FILE = """
from rocsample.rocm_libs import prepare_rocm_path
prepare_rocm_path()
from rocsample.kernel_cache import KernelCache
from offline_runtime import OfflineAmdRuntime
try:
    KernelCache(OfflineAmdRuntime()).get("softmax")
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_cache_dir_that_is_a_file_is_a_clear_error_not_a_dlopen_failure(tmp_path: Path) -> None:
    need(rocm_libs.find_debian_hip() is not None or rocm_libs._OPT_ROCM.exists(),
         "no HIP runtime library (Debian's libamdhip64.so.5) on this machine")
    (tmp_path / "cache").write_bytes(b"")
    run = subprocess.run([sys.executable, "-c", _CACHE_DIR_IS_A_FILE], capture_output=True,
                         text=True, timeout=300,
                         env=_hiprtc_env(ROCSAMPLE_CACHE_DIR=str(tmp_path / "cache")))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("KernelLoadError"), run.stdout + run.stderr[-2000:]
    assert "ROCSAMPLE_CACHE_DIR" in run.stdout and "not a directory" in run.stdout
    assert "dlopen" not in run.stdout


_EVIL_C = r"""
#include <stdio.h>
__attribute__((constructor)) static void pwned(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) { fputs("attacker code ran\n", f); fclose(f); }
}
"""

_ATTACKER_C = r"""
#include <stdio.h>
#include <unistd.h>
/* argv: libdir evil ready stop. Keep pointing both links at the attacker's library. */
int main(int argc, char **argv) {
    const char *names[] = {"libhiprtc.so", "libamdhip64.so"};
    char tmp[4096], dst[4096];
    int announced = 0;
    if (argc != 5) return 2;
    while (access(argv[4], F_OK) != 0) {
        for (int i = 0; i < 2; i++) {
            snprintf(tmp, sizeof tmp, "%s/.%s.evil", argv[1], names[i]);
            snprintf(dst, sizeof dst, "%s/%s", argv[1], names[i]);
            unlink(tmp);
            if (symlink(argv[2], tmp) == 0) rename(tmp, dst);
        }
        if (!announced) {
            FILE *f = fopen(argv[3], "w");
            if (f) fclose(f);
            announced = 1;
        }
        usleep(100);
    }
    return 0;
}
"""

_VICTIM = """
from rocsample.rocm_libs import prepare_rocm_path
print(prepare_rocm_path())
from rocsample.toolchains import get_toolchain
print(get_toolchain("hiprtc").version())
"""


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run the attacker as another user")
def test_attacker_library_in_a_shared_cache_dir_is_never_loaded(tmp_path: Path) -> None:
    """Issue 18 point 1, as the attacker did it: another user who can write the cache
    directory keeps planting links to their library; their constructor must never run."""
    need(rocm_libs.find_debian_hip() is not None, "no Debian libamdhip64.so.5 here")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the attacker's library")
    marker = tmp_path / "pwned"
    # nobody must reach the shared directory: tmp_path's parents are root's 0700 directories.
    base = Path(tempfile.mkdtemp(prefix="rocsample-attack-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        shared = base / "shared"
        shared.mkdir()
        evil, attack = base / "evil.so", base / "attack"
        for name, code in (("evil.c", _EVIL_C), ("attack.c", _ATTACKER_C)):
            (base / name).write_text(code)
        subprocess.run([cc, "-shared", "-fPIC", f'-DMARKER="{marker}"', "-o", str(evil),
                        str(base / "evil.c")], check=True, capture_output=True)
        subprocess.run([cc, "-o", str(attack), str(base / "attack.c")], check=True,
                       capture_output=True)
        # What the attacker prepared: the whole link tree, theirs and open to all.
        libdir = shared / "cache" / "rocm-links" / "lib"
        libdir.mkdir(parents=True)
        for d in (shared, shared / "cache", shared / "cache" / "rocm-links", libdir):
            os.chown(d, NOBODY, NOBODY)
            os.chmod(d, 0o777)
        ready, stop = shared / "ready", shared / "stop"
        for p in (evil, attack):
            os.chmod(p, 0o755)

        def as_nobody() -> None:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)

        attacker = subprocess.Popen([str(attack), str(libdir), str(evil), str(ready), str(stop)],
                                    preexec_fn=as_nobody)
        try:
            deadline = time.monotonic() + 30
            while not ready.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ready.exists(), "the attacker did not start"
            victim = subprocess.run([sys.executable, "-c", _VICTIM], capture_output=True,
                                    text=True, timeout=300,
                                    env=_hiprtc_env(ROCSAMPLE_CACHE_DIR=str(shared / "cache")))
        finally:
            stop.touch()
            attacker.wait(30)
        assert not marker.exists(), "the attacker's library ran in the sampling process"
        assert victim.returncode == 0, victim.stderr[-2000:]
        rocm_path, version = victim.stdout.splitlines()[:2]
        assert not rocm_path.startswith(str(base)) and Path(rocm_path).is_absolute(), rocm_path
        assert version.startswith("hiprtc "), victim.stdout
    finally:
        shutil.rmtree(base, ignore_errors=True)
