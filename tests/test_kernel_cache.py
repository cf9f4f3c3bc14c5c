"""The kernel cache: resolution order, disk cache, key inputs, races, overrides.

Compiles are real (hiprtc through hip-python, Debian's ROCm 5.2); only the AMD driver's
module loader is replaced by tests/offline_runtime.py because no AMD device exists here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rocsample import compiler, config, registry
from rocsample.codeobject import inspect_bytes, inspect_file
from rocsample.diskcache import DiskCache
from rocsample.errors import KernelLoadError
from rocsample.kernel_cache import KernelCache
from rocsample.toolchains import get_toolchain

from .conftest import need
from .offline_runtime import OfflineAmdRuntime

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.hiprtc


@pytest.fixture(autouse=True)
def _hiprtc():
    try:
        get_toolchain("hiprtc")
    except Exception as exc:
        need(False, f"hiprtc unavailable: {exc}")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private cold cache dir, an empty precompiled dir, no overrides."""
    monkeypatch.setenv("ROCSAMPLE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "nothing-here").mkdir()  # an explicit ROCSAMPLE_KERNEL_DIR must exist
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(tmp_path / "nothing-here"))
    for spec in registry.KERNELS.values():
        monkeypatch.delenv(spec.env_var, raising=False)
    monkeypatch.delenv("ROCSAMPLE_DISK_CACHE", raising=False)
    return tmp_path


def test_cold_compiles_then_disk_hit(env):
    a = KernelCache(OfflineAmdRuntime())
    k = a.get("topp_threshold")
    assert k.resolution.origin == "compile" and a.stats.compiles == 1
    assert k.grid_wait  # the engine's modules define rocsample_grid_wait (later phases overlap)
    a.get("topp_sample")  # same module: no second compile, no second load
    assert a.stats.compiles == 1 and a.runtime.loads == 1
    b = KernelCache(OfflineAmdRuntime())  # a new process would see the same disk cache
    assert b.resolve("topp_prefix_sum").origin == "jit-cache"
    assert b.get("topp_prefix_sum").resolution.origin == "jit-cache"
    assert b.get("topp_prefix_sum").grid_wait
    assert b.stats.compiles == 0 and b.stats.disk_hits == 1
    assert (env / "cache").stat().st_mode & 0o777 == 0o700


def test_disk_cache_can_be_disabled(env, monkeypatch):
    monkeypatch.setenv("ROCSAMPLE_DISK_CACHE", "0")
    KernelCache(OfflineAmdRuntime()).get("topk_sampling")
    c = KernelCache(OfflineAmdRuntime())
    c.get("topk_sampling")
    assert c.stats.compiles == 1 and not (env / "cache").exists()


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_corrupt_entry_is_recompiled_not_loaded(env, damage):
    KernelCache(OfflineAmdRuntime()).get("topk_sampling")
    disk = DiskCache(config.cache_dir())
    (entry,) = disk.entries()
    raw = bytearray(entry.path.read_bytes())
    if damage == "flip":
        raw[-100] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw = bytearray()
    entry.path.write_bytes(bytes(raw))
    c = KernelCache(OfflineAmdRuntime())
    assert c.get("topk_sampling").resolution.origin == "compile"
    assert c.stats.compiles == 1 and c.stats.disk_misses == 1
    assert disk.get(entry.key) is not None  # rewritten valid


def test_world_writable_cache_dir_is_refused(env):
    (env / "cache").mkdir(mode=0o700)
    os.chmod(env / "cache", 0o777)
    with pytest.raises(KernelLoadError, match="writable by other users"):
        KernelCache(OfflineAmdRuntime()).get("topk_sampling")


def test_entries_swapped_between_wave32_and_wave64_are_not_loaded(env, caplog):
    """Two valid entries swapped on disk: a wave32 build must not load for a wave64 device."""
    disk = DiskCache(config.cache_dir())
    KernelCache(OfflineAmdRuntime("gfx1030", wave_size=32)).get("softmax")
    (wave32,) = disk.entries()
    KernelCache(OfflineAmdRuntime("gfx1030", wave_size=64)).get("softmax")
    (wave64,) = [e for e in disk.entries() if e.key != wave32.key]
    swap = wave32.path.with_name("swap")
    os.rename(wave32.path, swap)
    os.rename(wave64.path, wave32.path)
    os.rename(swap, wave64.path)
    c = KernelCache(OfflineAmdRuntime("gfx1030", wave_size=64))
    with caplog.at_level("WARNING", logger="rocsample"):
        assert c.get("softmax").resolution.origin == "compile"
    assert c.stats.compiles == 1 and "another key" in caplog.text


@pytest.mark.parametrize("marker,problem", [
    (b"rocsample_abi_v2", "built for rocsample kernel ABI 2"),
    (b"rocsample_xyz_v3", "declares no rocsample kernel ABI"),
])
def test_cache_entry_of_another_abi_or_none_is_recompiled(env, caplog, marker, problem):
    """The ABI check of the override paths holds for the disk cache too: an entry patched to
    another marker, or to none, with a valid checksum and key, is compiled again."""
    KernelCache(OfflineAmdRuntime()).get("softmax")
    disk = DiskCache(config.cache_dir())
    (entry,) = disk.entries()
    image = disk.get(entry.key)
    mark = f"rocsample_abi_v{registry.ABI_VERSION}".encode()
    patched = image.replace(mark, marker)
    assert patched != image and inspect_bytes(patched).entries[0].abi != registry.ABI_VERSION
    disk.put(entry.key, patched)
    c = KernelCache(OfflineAmdRuntime())
    with caplog.at_level("WARNING", logger="rocsample"):
        assert c.get("softmax").resolution.origin == "compile"
    assert problem in caplog.text and c.stats.compiles == 1
    assert disk.get(entry.key) == image  # the recompile replaced it


def test_unwritable_disk_cache_compiles_once_per_process(env, monkeypatch, mount, caplog):
    """A read-only cache is not an outage: the kernel is used, one warning says why, and a
    new KernelCache (as after rocsample.backends.reset()) does not compile it again."""
    ro = env / "ro"
    ro.mkdir(mode=0o700)
    mount("-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(ro), target=ro)
    mount("-o", "remount,ro", str(ro))
    monkeypatch.setenv("ROCSAMPLE_CACHE_DIR", str(ro / "cache"))
    first = KernelCache(OfflineAmdRuntime())
    with caplog.at_level("WARNING", logger="rocsample"):
        k = first.get("softmax")
        first.get("softmax_stats")
    assert k.resolution.origin == "compile" and k.resolution.path is None
    assert "kept in memory" in k.resolution.reason
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "Read-only file system" in warned[0], warned
    again = KernelCache(OfflineAmdRuntime())
    assert again.resolve("softmax").origin == "jit-cache"
    assert again.get("softmax").resolution.origin == "jit-cache"
    assert again.stats.compiles == 0


def test_odd_thing_in_place_of_an_entry_is_compiled_around(env, caplog):
    """A directory where the entry should be: no crash, a compile, and no compile per call."""
    KernelCache(OfflineAmdRuntime()).get("softmax")
    disk = DiskCache(config.cache_dir())
    (entry,) = disk.entries()
    entry.path.unlink()
    entry.path.mkdir()
    c = KernelCache(OfflineAmdRuntime())
    with caplog.at_level("WARNING", logger="rocsample"):
        assert c.get("softmax").resolution.origin == "compile"
    assert str(entry.path) in caplog.text and entry.path.is_dir()
    again = KernelCache(OfflineAmdRuntime())
    assert again.get("softmax").resolution.origin == "jit-cache" and again.stats.compiles == 0


def test_key_changes_with_every_input(monkeypatch, tmp_path):
    spec = registry.MODULES["topk_sampling"]
    base = dict(toolchain_version="hiprtc 9.0", target="gfx90a", options=["-O3"])
    k0 = compiler.module_key(spec, **base)
    assert compiler.module_key(spec, **base) == k0
    for change in (dict(toolchain_version="hiprtc 9.1"), dict(target="gfx90a:xnack+"),
                   dict(options=["-O2"])):
        assert compiler.module_key(spec, **{**base, **change}) != k0
    monkeypatch.setattr(compiler, "ABI_VERSION", registry.ABI_VERSION + 1)
    assert compiler.module_key(spec, **base) != k0
    monkeypatch.undo()
    monkeypatch.setattr(compiler, "__version__", "9.9.9")
    assert compiler.module_key(spec, **base) != k0
    monkeypatch.undo()
    # source and header contents: a copy of kernels/ with one byte changed in each
    for name in (spec.source, *spec.headers):
        copy = tmp_path / name.replace(".", "_")
        copy.mkdir()
        for f in (ROOT / "kernels").iterdir():
            (copy / f.name).write_bytes(f.read_bytes())
        (copy / name).write_bytes((copy / name).read_bytes() + b"\n")
        monkeypatch.setattr(compiler, "kernel_source_dir", lambda c=copy: c)
        assert compiler.module_key(spec, **base) != k0
        monkeypatch.undo()


def test_32_threads_cold_cache_compile_once(env):
    cache = KernelCache(OfflineAmdRuntime())
    barrier = threading.Barrier(32)
    got, errors = [], []

    def ask():
        try:
            barrier.wait()
            got.append(cache.get("topk_topp_sampling").function)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors and len(got) == 32 and len(set(got)) == 1
    assert cache.stats.compiles == 1 and cache.runtime.loads == 1


CHILD = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from rocsample.rocm_libs import prepare_rocm_path
prepare_rocm_path()
from rocsample.kernel_cache import KernelCache
from offline_runtime import OfflineAmdRuntime
k = KernelCache(OfflineAmdRuntime()).get("softmax")
print(k.resolution.origin)
"""


def test_8_processes_one_cold_disk_cache(env):
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT), str(ROOT / "tests")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ})
             for _ in range(8)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    assert {o[0].strip() for o in outs} <= {"compile", "jit-cache"}
    disk = DiskCache(config.cache_dir())
    entries = disk.entries()
    assert len(entries) == 1 and disk.get(entries[0].key) is not None
    assert not [p for p in disk.directory.iterdir() if p.name.startswith(".")]


# ---- precompiled code objects and env overrides (make hsaco output) -------------------

@pytest.fixture(scope="module")
def hsaco_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("hsaco")
    run = subprocess.run(["make", "-s", "hsaco", f"OUT={out}", "ARCHS=gfx90a gfx1030",
                          f"PY={sys.executable}"], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    builds = 2 * len(registry.MODULES)  # every module, for both targets
    assert "ROCSAMPLE_KERNEL_DIR" in run.stdout and f"[{builds}/{builds}]" in run.stdout
    return out


def test_make_hsaco_bundles_every_module(hsaco_dir):
    for module in registry.MODULES.values():
        info = inspect_file(hsaco_dir / f"{module.name}.hsaco")
        assert info.format == "offload-bundle"
        assert sorted(e.target for e in info.entries) == ["gfx1030", "gfx90a"]
        # Its entries and no other module's (the rise entries stay out of their kernel's
        # module, which would compile them at every cold start).
        others = {x for m in registry.MODULES.values() if m is not module for x in m.entries}
        for e in info.entries:
            assert set(module.entries) <= set(e.symbols)
            assert not others & set(e.symbols), module.name
            assert e.abi == registry.ABI_VERSION  # rs_common.h's marker, read from the symtab


@pytest.mark.parametrize("target", ["gfx90a:sramecc+:xnack-", "gfx1030"])
def test_env_vars_and_kernel_dir_pass_validation(hsaco_dir, env, monkeypatch, target):
    for spec in registry.KERNELS.values():
        monkeypatch.setenv(spec.env_var, str(hsaco_dir / f"{spec.module}.hsaco"))
    c = KernelCache(OfflineAmdRuntime(target))
    for name, spec in registry.KERNELS.items():
        assert c.get(name).resolution.origin == "env"
        # Read from the file's symbols: the engine's modules wait for the previous phase,
        # the softmax module (its two launches do not) must not say so.
        assert c.get(name).grid_wait == (spec.family == "sampling"
                                         and spec.module != "sampling_utils"), name
    # One load per module file; a module's entries share one read and one parse of it.
    assert c.stats.compiles == 0 and c.runtime.loads == len(registry.MODULES)
    for var in {spec.env_var for spec in registry.KERNELS.values()}:
        monkeypatch.delenv(var)
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(hsaco_dir))
    c = KernelCache(OfflineAmdRuntime(target))
    assert all(c.get(n).resolution.origin == "precompiled" for n in registry.KERNELS)
    assert c.get("topk_topp_sampling").grid_wait and not c.get("softmax").grid_wait
    assert c.stats.compiles == 0


@pytest.fixture(scope="module")
def cubin(tmp_path_factory):
    try:
        get_toolchain("nvrtc")
    except Exception as exc:
        need(False, f"nvrtc unavailable: {exc}")
    path = tmp_path_factory.mktemp("cubin") / "topk_topp_sampling.cubin"
    path.write_bytes(compiler.compile_module("nvrtc", "topk_topp_sampling", "sm_90").image)
    assert inspect_file(path).entries[0].abi == registry.ABI_VERSION  # NVRTC keeps the marker
    return path


#: One kernel per variable family: the fused sampler, and Candle's three modules (whose many
#: entries share their module's variable).
_OVERRIDDEN = ["topk_topp_sampling", "ugelu_bf16", "affine_i16", "where_i64_bf16"]


@pytest.mark.parametrize("kernel", _OVERRIDDEN)
@pytest.mark.parametrize("case,reason", [
    ("missing", "file does not exist"),
    ("text", "not a code object"),
    ("truncated", "not a code object"),
    ("cubin", "no code for target gfx90a"),
    ("other-target", "no code for target gfx90a"),
    ("no-entry", "entry point {entry} missing"),
])
def test_bad_override_fails_with_var_path_reason(hsaco_dir, cubin, env, monkeypatch, tmp_path,
                                                  case, reason, kernel):
    spec = registry.KERNELS[kernel]
    if case == "missing":
        path = tmp_path / "nope.hsaco"
    elif case == "text":
        path = tmp_path / "notes.txt"
        path.write_text("this is not a code object\n")
    elif case == "truncated":
        path = tmp_path / "cut.hsaco"
        path.write_bytes((hsaco_dir / f"{spec.module}.hsaco").read_bytes()[:3000])
    elif case == "cubin":
        path = cubin
    elif case == "other-target":
        path = tmp_path / "gfx1030-only.hsaco"
        subprocess.run([sys.executable, "-m", "rocsample", "compile", "--arch", "gfx1030",
                        "--module", spec.module, "--out", str(tmp_path)], check=True,
                       capture_output=True, cwd=ROOT)
        (tmp_path / f"{spec.module}.hsaco").rename(path)
    else:
        path = hsaco_dir / "topk_sampling.hsaco"
    monkeypatch.setenv(spec.env_var, str(path))
    with pytest.raises(KernelLoadError) as err:
        KernelCache(OfflineAmdRuntime("gfx90a")).get(kernel)
    assert err.value.env_var == spec.env_var
    assert err.value.path == str(path)
    assert reason.format(entry=spec.entry) in err.value.reason
    assert spec.env_var in str(err.value)


def test_module_is_read_parsed_and_keyed_once(hsaco_dir, env, monkeypatch):
    """Every entry of a module comes from one read and one parse of its code object (an
    override or a cache entry), and its disk-cache key is computed once."""
    import rocsample.kernel_cache as kc

    calls = {"read": 0, "parse": 0, "key": 0}

    def counted(name, real):
        def wrapper(*args, **kwargs):
            # The loader's own calls (and codeobject's on its behalf), not the stand-in
            # driver's parse in load_module.
            if sys._getframe(1).f_globals["__name__"].startswith("rocsample."):
                calls[name] += 1
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(kc.codeobject, "read_code_object",
                        counted("read", kc.codeobject.read_code_object))
    monkeypatch.setattr(kc.codeobject, "inspect_bytes",
                        counted("parse", kc.codeobject.inspect_bytes))
    monkeypatch.setattr(kc, "module_key", counted("key", kc.module_key))
    entries = [k for k, spec in registry.KERNELS.items() if spec.module == "affine"]
    assert len(entries) > 1
    monkeypatch.setenv("AFFINE_HSACO", str(hsaco_dir / "affine.hsaco"))
    c = KernelCache(OfflineAmdRuntime("gfx90a"))
    assert {c.get(k).resolution.origin for k in entries} == {"env"}
    assert calls == {"read": 1, "parse": 1, "key": 0}
    monkeypatch.delenv("AFFINE_HSACO")
    calls.update(read=0, parse=0)
    c = KernelCache(OfflineAmdRuntime("gfx90a"))
    assert {c.get(k).resolution.origin for k in entries} == {"compile"}
    assert calls == {"read": 0, "parse": 1, "key": 1}
    c = KernelCache(OfflineAmdRuntime("gfx90a"))  # the disk cache: one parse, as it loads
    calls.update(parse=0, key=0)
    assert {c.get(k).resolution.origin for k in entries} == {"jit-cache"}
    assert calls == {"read": 0, "parse": 1, "key": 1}


def test_override_without_companions_serves_the_contract_kernel(hsaco_dir, env, monkeypatch,
                                                                 tmp_path):
    """A sampling_utils code object built without softmax's two companion entries (as one
    built before they existed) still serves softmax_kernel; the companions are reported
    absent instead of failing the load, and a bad file still fails with its reason."""
    tc = get_toolchain("hiprtc")
    source, headers = compiler.read_sources(registry.MODULES["sampling_utils"])
    source = source.replace(b"softmax_stats_kernel", b"other_stats").replace(
        b"softmax_write_kernel", b"other_write")
    image, log_text = tc.compile(source, "sampling_utils.hip", headers,
                                 tc.options("gfx90a", 64))
    assert image is not None, log_text
    old = tmp_path / "old_sampling_utils.hsaco"
    old.write_bytes(image)
    monkeypatch.setenv("SAMPLING_UTILS_HSACO", str(old))
    c = KernelCache(OfflineAmdRuntime("gfx90a"))
    assert c.companion("softmax_stats") is None and c.companion("softmax_write") is None
    assert c.get("softmax").resolution.origin == "env"
    loaded = c.load_all()
    assert "softmax" in loaded and "softmax_stats" not in loaded and "softmax_write" not in loaded
    with pytest.raises(KernelLoadError, match="softmax_stats_kernel missing"):
        c.get("softmax_stats")  # asked for directly, its absence is still an error

    monkeypatch.setenv("SAMPLING_UTILS_HSACO", str(hsaco_dir / "sampling_utils.hsaco"))
    c = KernelCache(OfflineAmdRuntime("gfx90a"))
    assert c.companion("softmax_write").resolution.origin == "env"  # the full module has them

    monkeypatch.setenv("SAMPLING_UTILS_HSACO", str(tmp_path / "nope.hsaco"))
    with pytest.raises(KernelLoadError, match="file does not exist"):
        KernelCache(OfflineAmdRuntime("gfx90a")).companion("softmax_stats")
    with pytest.raises(ValueError, match="contract kernel"):
        c.companion("softmax")


def test_rise_companions_come_from_their_own_module_and_variable(hsaco_dir, env, monkeypatch,
                                                                 caplog):
    """The rise entries are companions in modules of their own: compiled only when asked for
    (not with their kernel), resolved through their own variable or precompiled file, and
    absent while the user overrides their kernel and not them (the user's code then serves
    every row); a bad file named by their variable fails with that variable."""
    c = KernelCache(OfflineAmdRuntime("gfx90a"))
    assert c.get("topk_sampling").resolution.origin == "compile" and c.stats.compiles == 1
    assert c.runtime.loads == 1
    rise = c.companion("topk_sampling_rise_bf16")
    assert rise.resolution.origin == "compile" and rise.spec.module == "topk_sampling_rise"
    assert c.stats.compiles == 2 and set(c.stats.compile_seconds) == {"topk_sampling",
                                                                       "topk_sampling_rise"}
    assert c.companion("topk_sampling_rise").resolution.origin == "compile"  # same module
    assert c.stats.compiles == 2 and c.runtime.loads == 2

    monkeypatch.setenv("TOPK_SAMPLING_HSACO", str(hsaco_dir / "topk_sampling.hsaco"))
    c = KernelCache(OfflineAmdRuntime("gfx90a"))
    with caplog.at_level("INFO", logger="rocsample"):
        assert c.companion("topk_sampling_rise") is None
    assert "TOPK_SAMPLING_HSACO is set and TOPK_SAMPLING_RISE_HSACO is not" in caplog.text
    assert set(c.load_all(["topk_sampling", "topk_sampling_rise", "topk_sampling_rise_f16"])) \
        == {"topk_sampling"}
    assert c.stats.compiles == 0  # nothing of ours was built for the rows the user serves
    # FUSED_SAMPLING_HSACO is not set: the fused kernel's rise module is ours, built now
    assert c.companion("topk_topp_sampling_rise").resolution.origin == "compile"

    monkeypatch.setenv("TOPK_SAMPLING_RISE_HSACO", str(hsaco_dir / "topk_sampling_rise.hsaco"))
    c = KernelCache(OfflineAmdRuntime("gfx90a"))
    assert c.companion("topk_sampling_rise_f16").resolution.origin == "env"
    monkeypatch.setenv("TOPK_SAMPLING_RISE_HSACO", str(hsaco_dir / "nope.hsaco"))
    with pytest.raises(KernelLoadError, match="file does not exist") as err:
        KernelCache(OfflineAmdRuntime("gfx90a")).companion("topk_sampling_rise")
    assert err.value.env_var == "TOPK_SAMPLING_RISE_HSACO"

    for var in ("TOPK_SAMPLING_HSACO", "TOPK_SAMPLING_RISE_HSACO"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(hsaco_dir))
    c = KernelCache(OfflineAmdRuntime("gfx90a"))
    assert c.companion("logits_sampling_rise").resolution.origin == "precompiled"
    assert c.stats.compiles == 0


def _sampling_utils_with_marker(tmp_path, marker: bytes) -> Path:
    """sampling_utils for gfx90a, compiled with rs_common.h's ABI marker line replaced."""
    tc = get_toolchain("hiprtc")
    source, headers = compiler.read_sources(registry.MODULES["sampling_utils"])
    # The marker's declaration, wherever rs_common.h breaks its line (the name is pasted
    # from RS_ABI_VERSION, so the number is not spelled there).
    (line,) = re.findall(rb"extern \"C\" __device__[^;]*rocsample_abi_v[^;]*;",
                         headers["rs_common.h"])
    headers = {**headers, "rs_common.h": headers["rs_common.h"].replace(line, marker)}
    image, log_text = tc.compile(source, "sampling_utils.hip", headers,
                                 tc.options("gfx90a", 64))
    assert image is not None, log_text
    path = tmp_path / "marked" / "sampling_utils.hsaco"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(image)
    return path


def test_code_object_of_another_abi_is_refused(env, monkeypatch, tmp_path, caplog):
    """A code object declaring another kernel ABI never runs on this workspace layout, from an
    override or the precompiled directory; one without a marker (a user's own) loads from an
    override with a warning, but not from the precompiled directory (our sources have it)."""
    old = _sampling_utils_with_marker(
        tmp_path, b'extern "C" __device__ __attribute__((used)) const unsigned int '
                  b"rocsample_abi_v2 = 2;")
    assert inspect_file(old).entries[0].abi == 2
    monkeypatch.setenv("SAMPLING_UTILS_HSACO", str(old))
    with pytest.raises(KernelLoadError, match="built for rocsample kernel ABI 2, this "
                       f"rocsample implements ABI {registry.ABI_VERSION}") as err:
        KernelCache(OfflineAmdRuntime("gfx90a")).get("softmax")
    assert err.value.env_var == "SAMPLING_UTILS_HSACO"
    monkeypatch.delenv("SAMPLING_UTILS_HSACO")
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(old.parent))
    with pytest.raises(KernelLoadError, match="ROCSAMPLE_KERNEL_DIR.*kernel ABI 2"):
        KernelCache(OfflineAmdRuntime("gfx90a")).get("softmax")

    bare = _sampling_utils_with_marker(tmp_path, b"")
    assert inspect_file(bare).entries[0].abi is None
    with pytest.raises(KernelLoadError, match="declares no rocsample kernel ABI"):
        KernelCache(OfflineAmdRuntime("gfx90a")).get("softmax")
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("SAMPLING_UTILS_HSACO", str(bare))
    with caplog.at_level("WARNING", logger="rocsample"):
        k = KernelCache(OfflineAmdRuntime("gfx90a")).get("softmax")
    assert k.resolution.origin == "env"
    assert "declares no rocsample kernel ABI" in caplog.text


def test_explicit_kernel_dir_without_target_is_an_error(hsaco_dir, env, monkeypatch):
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(hsaco_dir))
    with pytest.raises(KernelLoadError, match="ROCSAMPLE_KERNEL_DIR.*no code for target gfx908"):
        KernelCache(OfflineAmdRuntime("gfx908")).get("softmax")


def test_load_all_compiles_each_module_once_in_parallel(env, monkeypatch):
    # hiprtc (ROCm 5) aborts the process when two programs compile at once: its compiles
    # must take turns even when load_all runs them from a thread pool.
    tc = get_toolchain("hiprtc")
    real = type(tc)._compile
    state = {"now": 0, "most": 0}
    guard = threading.Lock()

    def counting(self, *args):
        with guard:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            return real(self, *args)
        finally:
            with guard:
                state["now"] -= 1

    monkeypatch.setattr(type(tc), "_compile", counting)
    cache = KernelCache(OfflineAmdRuntime())
    loaded = cache.load_all()
    assert set(loaded) == set(registry.KERNELS)
    assert {k.resolution.origin for k in loaded.values()} == {"compile"}
    # One compile per module (the parallel compiles are handed to the loads, not redone),
    # one module load per module, each image stored in the disk cache.
    assert cache.stats.compiles == len(registry.MODULES)
    assert set(cache.stats.compile_seconds) == set(registry.MODULES)
    assert cache.runtime.loads == len(registry.MODULES)
    assert state["most"] == 1, "hiprtc compiles overlapped"
    again = KernelCache(OfflineAmdRuntime())
    assert {k.resolution.origin for k in again.load_all().values()} == {"jit-cache"}
    assert again.stats.compiles == 0
    # A subset loads only what it names, and what is loaded is not compiled again.
    part = KernelCache(OfflineAmdRuntime())
    assert set(part.load_all(["softmax"])) == {"softmax"}
    assert part.runtime.loads == 1


def test_hiprtc_identity_names_the_rocm_release(monkeypatch):
    # hiprtc's API version is 9.0 on several ROCm releases whose code differs: the disk-cache
    # key must change with the HIP runtime, or an upgraded ROCm would load the old build.
    try:
        tc = get_toolchain("hiprtc")
    except Exception as exc:
        need(False, f"hiprtc unavailable: {exc}")
    ident = tc.identity()
    assert ident.startswith(tc.version() + " (HIP ")
    assert "/" not in ident  # the version, not a path that changes with the links' place
    from rocsample import toolchains

    fresh = toolchains.Toolchain(tc.name, tc.api, tc.prefix, tc.code_getter)
    monkeypatch.setattr(toolchains, "hip_runtime", lambda: "HIP 6.4.0, /opt/rocm/lib/x.so")
    assert fresh.identity() == tc.version() + " (HIP 6.4.0)" != ident


def test_nvrtc_identity_names_the_release(monkeypatch):
    # nvrtcVersion says 13.0 for every 13.0.x: the disk-cache key must change with the
    # release, or an upgraded NVRTC (another ptxas) would load the old build.
    try:
        tc = get_toolchain("nvrtc")
    except Exception as exc:
        need(False, f"nvrtc unavailable: {exc}")
    ident = tc.identity()
    assert ident.startswith(tc.version() + " (") and ident != tc.version()
    from rocsample import toolchains

    fresh = toolchains.Toolchain(tc.name, tc.api, tc.prefix, tc.code_getter)
    monkeypatch.setattr(toolchains, "nvrtc_release", lambda: "nvidia-cuda-nvrtc 13.0.99")
    assert fresh.identity() == tc.version() + " (nvidia-cuda-nvrtc 13.0.99)" != ident
