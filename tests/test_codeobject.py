"""Tests of rocsample.codeobject against code objects compiled here by hiprtc, NVRTC and hipcc."""

from __future__ import annotations

import logging
import os
import shutil
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from rocsample import codeobject, config, registry
from rocsample.codeobject import (
    BUNDLE_ALIGN,
    HIP_TRIPLE_PREFIX,
    HOST_TRIPLE,
    MAX_BUNDLE_ENTRIES,
    MAX_FILE_BYTES,
    MAX_SECTIONS,
    MAX_SYMBOLS,
    CodeObjectEntry,
    CodeObjectInfo,
    NotACodeObject,
    describe,
    extract,
    inspect_bytes,
    inspect_file,
    read_code_object,
    select_entry,
    target_matches,
    validate_code_object,
    write_bundle,
)
from rocsample.errors import KernelLoadError
from rocsample.kernel_cache import KernelCache
from rocsample.toolchains import get_toolchain

from . import synthetic_elf as syn
from .conftest import need
from .offline_runtime import OfflineAmdRuntime

SOURCE = """
__device__ __attribute__((noinline)) float twice(float v) { return 2.0f * v; }
extern "C" __global__ void scale(float* x, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = twice(x[i]) * a;
}
extern "C" __global__ void add(float* x, const float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] += y[i];
}
"""
KERNELS = ("add", "scale")
AMD_ARCHS = ("gfx90a", "gfx1030", "gfx90a:xnack+")  # never gfx94x/gfx1100 in-process
CUDA_ARCHS = ("sm_80", "sm_90", "sm_90a")
DEVICE_90A = "gfx90a:sramecc+:xnack-"
BUNDLER = shutil.which("clang-offload-bundler-15") or shutil.which("clang-offload-bundler")


def e_machine(image: bytes) -> int:
    return struct.unpack_from("<H", image, 18)[0]


def e_flags(image: bytes) -> int:
    return struct.unpack_from("<I", image, 48)[0]


@pytest.fixture(scope="module")
def hsaco() -> dict[str, bytes]:
    """Code objects from hip-python's hiprtc, keyed by the --offload-arch they were built for."""
    try:
        from hip import hiprtc

        hiprtc.hiprtcVersion()
    except Exception as exc:  # ImportError, or RuntimeError when libhiprtc cannot be dlopened
        pytest.skip(f"hiprtc unavailable (set LD_LIBRARY_PATH to libhiprtc's directory): {exc}")
    ok = hiprtc.hiprtcResult.HIPRTC_SUCCESS
    out = {}
    for arch in AMD_ARCHS:
        err, prog = hiprtc.hiprtcCreateProgram(SOURCE.encode(), b"k.hip", 0, [], [])
        assert err == ok
        opts = [f"--offload-arch={arch}".encode(), b"-O3"]
        (err,) = hiprtc.hiprtcCompileProgram(prog, len(opts), opts)
        if err != ok:
            _, size = hiprtc.hiprtcGetProgramLogSize(prog)
            log = bytearray(size)
            hiprtc.hiprtcGetProgramLog(prog, log)
            pytest.fail(f"hiprtc failed for {arch}: {log.decode(errors='replace')}")
        err, size = hiprtc.hiprtcGetCodeSize(prog)
        code = bytearray(size)
        hiprtc.hiprtcGetCode(prog, code)
        hiprtc.hiprtcDestroyProgram(prog.createRef())
        out[arch] = bytes(code)
    return out


@pytest.fixture(scope="module")
def cubin() -> dict[str, bytes]:
    """CUBINs from NVRTC (cuda-bindings), keyed by -arch."""
    try:
        from cuda.bindings import nvrtc

        nvrtc.nvrtcVersion()
    except Exception as exc:
        pytest.skip(f"NVRTC unavailable: {exc}")
    ok = nvrtc.nvrtcResult.NVRTC_SUCCESS
    out = {}
    for arch in CUDA_ARCHS:
        err, prog = nvrtc.nvrtcCreateProgram(SOURCE.encode(), b"k.cu", 0, [], [])
        assert err == ok
        (err,) = nvrtc.nvrtcCompileProgram(prog, 1, [f"-arch={arch}".encode()])
        assert err == ok, f"NVRTC failed for {arch}"
        err, size = nvrtc.nvrtcGetCUBINSize(prog)
        code = b" " * size
        (err,) = nvrtc.nvrtcGetCUBIN(prog, code)
        assert err == ok
        nvrtc.nvrtcDestroyProgram(prog)
        out[arch] = code
    return out


def hipcc_env() -> dict[str, str]:
    """hipcc finds clang through ROCM_PATH: drop rocsample's hiprtc-only link directory."""
    env = {**os.environ, "HIP_PLATFORM": "amd"}
    if env.get("ROCM_PATH", "").endswith("rocm-links"):
        del env["ROCM_PATH"]
    return env


@pytest.fixture(scope="module")
def hipcc_bundle(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A two-target offload bundle written by ``hipcc --genco``."""
    hipcc = shutil.which("hipcc")
    if hipcc is None:
        pytest.skip("hipcc is not installed")
    tmp = tmp_path_factory.mktemp("hipcc")
    (tmp / "k.hip").write_text("#include <hip/hip_runtime.h>\n" + SOURCE)
    cmd = [
        hipcc,
        "--genco",
        "--offload-arch=gfx90a",
        "--offload-arch=gfx1030",
        "-O3",
        str(tmp / "k.hip"),
        "-o",
        str(tmp / "k.co"),
    ]
    run = subprocess.run(
        cmd, capture_output=True, text=True, env=hipcc_env(), timeout=300
    )
    if run.returncode != 0:
        pytest.skip(f"hipcc cannot build here: {run.stderr.strip()[-500:]}")
    return (tmp / "k.co").read_bytes()


def load_error(
    path: Path,
    device: str = DEVICE_90A,
    env: str | None = "TOPK_HSACO",
    entry_points: tuple[str, ...] = KERNELS,
) -> KernelLoadError:
    with pytest.raises(KernelLoadError) as info:
        validate_code_object(path, env, device, entry_points)
    err = info.value
    assert err.env_var == env and err.path == str(path)
    return err


# -- single ELF images -------------------------------------------------------------------------


@pytest.mark.hiprtc
@pytest.mark.parametrize("arch", AMD_ARCHS)
def test_hiprtc_hsaco_is_read(hsaco: dict[str, bytes], arch: str) -> None:
    image = hsaco[arch]
    assert e_machine(image) == 224
    info = inspect_bytes(image)
    assert info.format == "amdgpu-elf" and info.size == len(image)
    assert info.entries == (CodeObjectEntry("amdgpu", arch, KERNELS, 0, len(image)),)


@pytest.mark.hiprtc
def test_hsaco_e_flags_match_llvm_values(hsaco: dict[str, bytes]) -> None:
    # EF_AMDGPU_MACH gfx90a 0x3f / gfx1030 0x36; xnack field 0x300, sramecc field 0xc00.
    assert e_flags(hsaco["gfx90a"]) & 0xFF == 0x3F
    assert e_flags(hsaco["gfx90a"]) & 0xF00 == 0x500  # xnack any, sramecc any
    assert e_flags(hsaco["gfx1030"]) == 0x36  # neither feature supported
    assert e_flags(hsaco["gfx90a:xnack+"]) & 0x300 == 0x300


@pytest.mark.nvrtc
@pytest.mark.parametrize("arch", CUDA_ARCHS)
def test_nvrtc_cubin_is_read(cubin: dict[str, bytes], arch: str) -> None:
    image = cubin[arch]
    assert e_machine(image) == 190
    info = inspect_bytes(image)
    assert info.format == "cuda-elf"
    assert info.entries == (CodeObjectEntry("cuda", arch, KERNELS, 0, len(image)),)


@pytest.mark.nvrtc
def test_cubin_sm_number_in_the_layout_its_abi_version_says(cubin: dict[str, bytes]) -> None:
    for arch in CUDA_ARCHS:
        image, sm = cubin[arch], int(arch[3:5])
        field = e_flags(image) & 0xFF if image[8] <= 7 else (e_flags(image) >> 8) & 0xFF
        assert field == sm, (arch, hex(e_flags(image)), image[8])


def test_inspect_file_names_the_file_problem_or_the_content_problem(tmp_path: Path) -> None:
    with pytest.raises(KernelLoadError) as err:
        inspect_file(tmp_path / "absent.hsaco", "TOPK_SAMPLING_HSACO")
    assert err.value.reason == "file does not exist"
    assert err.value.env_var == "TOPK_SAMPLING_HSACO"
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(NotACodeObject, match="text"):
        inspect_file(tmp_path / "t.txt")


# -- reading files: bounded, refused at once ---------------------------------------------------

T = TypeVar("T")
TOPK = registry.KERNELS["topk_sampling"]


def within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``, which must return or raise within ``seconds``: a bound on behaviour (a hang,
    a read of gigabytes, work quadratic in a count), not a benchmark. It runs in a daemon
    thread, so a hang fails the test instead of stopping the run."""
    done: dict[str, object] = {}

    def run() -> None:
        try:
            done["value"] = call()
        except BaseException as exc:  # handed to the test below
            done["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    start = time.perf_counter()
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still running after {seconds} s")
    if "error" in done:
        raise done["error"]  # type: ignore[misc]
    assert time.perf_counter() - start <= seconds
    return done["value"]  # type: ignore[return-value]


def repeated_bundle(entries: int) -> bytes:
    """A bundle of ``entries`` entries that all name one gfx90a ELF of 2,000 symbols."""
    image = syn.elf(syn.amd_symbols([TOPK.entry]) + [
        (f"helper_{i}", syn.STT_FUNC_GLOBAL, 0) for i in range(2000)])
    return syn.bundle([("hip--gfx90a", 0, len(image))] * entries, image)


def make_bad_file(path: Path, kind: str) -> str:
    """Put a file of ``kind`` at ``path``; return what its refusal must say."""
    if kind == "directory":
        path.mkdir()
        return "not a regular file but a directory"
    if kind == "fifo":
        os.mkfifo(path)
        return "not a regular file but a FIFO"
    if kind == "/dev/zero":
        path.symlink_to("/dev/zero")
        return "not a regular file but a character device"
    if kind == "sparse 2 GB":
        path.touch()
        os.truncate(path, 2 << 30)
        return f"{2 << 30} bytes, over the {MAX_FILE_BYTES >> 20} MiB limit"
    assert kind == "10,000-entry bundle"
    data = repeated_bundle(10_000)
    assert len(data) < 500_000
    path.write_bytes(data)
    return f"not a code object: bundle declares 10000 entries, more than the {MAX_BUNDLE_ENTRIES}"


BAD_KINDS = ["directory", "fifo", "/dev/zero", "sparse 2 GB", "10,000-entry bundle"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_validate_refuses_bad_files_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "k.hsaco"
    why = make_bad_file(path, kind)
    with pytest.raises(KernelLoadError) as err:
        within(1.0, lambda: validate_code_object(path, TOPK.env_var, DEVICE_90A, [TOPK.entry]))
    assert err.value.env_var == TOPK.env_var and err.value.path == str(path)
    assert err.value.reason.startswith(why), err.value.reason
    assert f"{TOPK.env_var}={path}: {why}" in str(err.value)


@pytest.fixture
def no_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROCSAMPLE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ROCSAMPLE_DISK_CACHE", "0")
    monkeypatch.delenv("ROCSAMPLE_KERNEL_DIR", raising=False)
    for spec in registry.KERNELS.values():
        monkeypatch.delenv(spec.env_var, raising=False)
    return tmp_path


@pytest.mark.parametrize("kind", BAD_KINDS)
@pytest.mark.parametrize("named_by", ["override", "kernel dir"])
def test_kernel_cache_refuses_bad_files_at_once(no_overrides: Path, monkeypatch, kind: str,
                                                named_by: str) -> None:
    if named_by == "override":
        path, var = no_overrides / "mine.hsaco", TOPK.env_var
        monkeypatch.setenv(var, str(path))
    else:
        path, var = no_overrides / "dir" / f"{TOPK.module}.hsaco", "ROCSAMPLE_KERNEL_DIR"
        path.parent.mkdir()
        monkeypatch.setenv(var, str(path.parent))
    why = make_bad_file(path, kind)
    cache = KernelCache(OfflineAmdRuntime("gfx90a"))
    with pytest.raises(KernelLoadError) as err:
        within(1.0, lambda: cache.get("topk_sampling"))
    assert (err.value.env_var, err.value.path) == (var, str(path))
    assert err.value.reason.startswith(why), err.value.reason


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "10,000-entry bundle"])
def test_default_kernel_dir_skips_bad_files_with_a_warning(no_overrides: Path, monkeypatch,
                                                           caplog, kind: str) -> None:
    """Without ROCSAMPLE_KERNEL_DIR, an unusable file of the default directory is passed over
    (the kernel is compiled instead), as a stale build there is; it never hangs."""
    try:
        get_toolchain("hiprtc").version()  # resolve() keys the disk cache by it
    except Exception as exc:
        need(False, f"hiprtc unavailable: {exc}")
    monkeypatch.setattr(config, "default_kernel_dir", lambda: no_overrides / "build" / "hsaco")
    path = no_overrides / "build" / "hsaco" / f"{TOPK.module}.hsaco"
    path.parent.mkdir(parents=True)
    why = make_bad_file(path, kind)
    cache = KernelCache(OfflineAmdRuntime("gfx90a"))
    with caplog.at_level(logging.WARNING, logger="rocsample"):
        res = within(1.0, lambda: cache.resolve("topk_sampling"))
    assert res.origin == "compile"
    assert f"precompiled {path} is unusable ({why}" in caplog.text


def test_read_code_object_reads_exactly_the_size_it_opened(tmp_path: Path, monkeypatch) -> None:
    # /proc files say 0 bytes and then deliver more: a reader that trusts EOF alone would
    # take whatever a changing file holds.
    with pytest.raises(KernelLoadError, match=r"changed size while being read \(0 bytes when "
                       r"opened, then it grew\)"):
        within(1.0, lambda: read_code_object("/proc/self/status"))
    path = tmp_path / "k.hsaco"
    path.write_bytes(b"\x7fELF" * 100)
    real_fstat = os.fstat

    def fstat_before_a_truncation(fd: int) -> os.stat_result:
        st = list(real_fstat(fd))
        st[6] += 1000  # st_size: the size it had an instant before someone cut it
        return os.stat_result(st)

    monkeypatch.setattr(codeobject.os, "fstat", fstat_before_a_truncation)
    with pytest.raises(KernelLoadError, match="1400 bytes when opened, then it shrank"):
        read_code_object(path, TOPK.env_var)
    monkeypatch.undo()
    assert read_code_object(path) == b"\x7fELF" * 100


def test_repeated_bundle_entries_parse_their_elf_once() -> None:
    data = repeated_bundle(MAX_BUNDLE_ENTRIES)
    info = within(1.0, lambda: inspect_bytes(data))
    assert len(info.entries) == MAX_BUNDLE_ENTRIES
    assert len(set(info.entries)) == 1 and info.entries[0].symbols == (TOPK.entry,)
    with pytest.raises(NotACodeObject, match=f"declares {MAX_BUNDLE_ENTRIES + 1} entries"):
        inspect_bytes(repeated_bundle(MAX_BUNDLE_ENTRIES + 1))


def test_symbol_and_section_counts_are_capped_per_file() -> None:
    many = [(f"s{i}", syn.STT_FUNC_GLOBAL, 0) for i in range(MAX_SYMBOLS)]  # + the null symbol
    image = syn.elf(many)
    with pytest.raises(NotACodeObject, match=f"more than {MAX_SYMBOLS} symbols"):
        within(1.0, lambda: inspect_bytes(image))
    # Two ELFs under the cap each (one image at two offsets), over it together: the cap is
    # the file's, else distinct entries could multiply the work as repeated ones did.
    half = syn.elf(many[: MAX_SYMBOLS // 2])
    assert len(inspect_bytes(half).entries) == 1
    data = syn.bundle([("a--gfx90a", 0, len(half)), ("b--gfx90a", len(half), len(half))],
                      half * 2)
    with pytest.raises(NotACodeObject, match=f"more than {MAX_SYMBOLS} symbols"):
        within(1.0, lambda: inspect_bytes(data))
    extra = [(0, 1, 0, 0, 64, 0, 0, 0, 1, 0)] * (MAX_SECTIONS // 2)
    big = syn.elf(extra_sections=extra)
    data = syn.bundle([("a--gfx90a", 0, len(big)), ("b--gfx90a", len(big), len(big))], big * 2)
    with pytest.raises(NotACodeObject, match=f"more than {MAX_SECTIONS} sections"):
        within(1.0, lambda: inspect_bytes(data))


def test_symbol_names_without_nul_cost_a_bounded_scan() -> None:
    """Symbols that all point into one string table with no NUL: each name is read up to a
    bound, not to the end of the table (that is quadratic in the table's size)."""
    strtab = b"\0" + b"x" * 256_000
    raw = [(0, 0, 0, 0)] + [(1 + i * 10, syn.STT_FUNC_GLOBAL, 0, 1) for i in range(20_000)]
    info = within(1.0, lambda: inspect_bytes(syn.elf(strtab=strtab, raw_symbols=raw)))
    assert info.entries[0].symbols == ()
    long_name = "k" * 5000  # a CUDA entry: its name is listed, cut and marked
    cut = inspect_bytes(syn.elf([(long_name, syn.STT_FUNC_GLOBAL, syn.STO_CUDA_ENTRY)],
                                machine=syn.EM_CUDA, flags=90, abi_version=7))
    (name,) = cut.entries[0].symbols
    assert name.endswith("...") and long_name.startswith(name[:-3]) and len(name) < 2000


def test_cuda_tkinfo_is_searched_once() -> None:
    """Many sections named .note.nv.tkinfo over one large range are not each searched."""
    strtab_len, nsyms = 1, 1
    tail = b"-arch sm_" * 50_000  # every position starts a match, none completes
    at = syn.tail_offset(strtab_len, nsyms)
    note = (syn.TKINFO_NAME, syn.SHT_NOTE, 0, 0, at, len(tail), 0, 0, 1, 0)
    image = syn.elf(strtab=b"\0", raw_symbols=[(0, 0, 0, 0)], machine=syn.EM_CUDA, flags=90,
                    abi_version=7, extra_sections=[note] * 20_000, tail=tail)
    info = within(1.0, lambda: inspect_bytes(image))
    assert info.entries[0].target == "sm_90"
    tail = b"ptxas -arch sm_90a -m64"
    note = (syn.TKINFO_NAME, syn.SHT_NOTE, 0, 0, at, len(tail), 0, 0, 1, 0)
    image = syn.elf(strtab=b"\0", raw_symbols=[(0, 0, 0, 0)], machine=syn.EM_CUDA, flags=90,
                    abi_version=7, extra_sections=[note], tail=tail)
    assert inspect_bytes(image).entries[0].target == "sm_90a"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\x7fEL", "too short"),
        (b"\x7fELF\x02\x01\x01", "too short"),
        (b"\x00\x01\x02\x03\xff" * 20, "bad magic"),
        (b"//\n// Generated by NVIDIA NVVM Compiler\n.version 9.0\n", "text"),
        (b"CCOB" + bytes(60), "compressed"),
        (b"\x50\xed\x55\xba" + bytes(60), "fatbinary"),
    ],
)
def test_not_a_code_object_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(NotACodeObject, match=reason) as info:
        inspect_bytes(data)
    assert isinstance(info.value, ValueError) and reason in info.value.reason


@pytest.mark.hiprtc
def test_bad_elf_headers_are_named(hsaco: dict[str, bytes]) -> None:
    image = bytearray(hsaco["gfx90a"])
    with pytest.raises(NotACodeObject, match="truncated"):
        inspect_bytes(bytes(image[: len(image) // 2]))
    with pytest.raises(NotACodeObject, match="truncated"):
        inspect_bytes(bytes(image[:100]))
    bad = bytearray(image)
    bad[18:20] = struct.pack("<H", 62)  # EM_X86_64
    with pytest.raises(NotACodeObject, match="unknown e_machine 62"):
        inspect_bytes(bytes(bad))
    bad = bytearray(image)
    bad[4] = 1  # ELFCLASS32
    with pytest.raises(NotACodeObject, match="64-bit"):
        inspect_bytes(bytes(bad))


# -- offload bundles ---------------------------------------------------------------------------


def test_hipcc_bundle_is_read(hipcc_bundle: bytes) -> None:
    info = inspect_bytes(hipcc_bundle)
    assert info.format == "offload-bundle" and info.size == len(hipcc_bundle)
    assert sorted(e.target for e in info.entries) == ["gfx1030", "gfx90a"]
    for entry in info.entries:
        assert entry.kind == "amdgpu" and entry.symbols == KERNELS
        assert entry.offset % BUNDLE_ALIGN == 0  # hipcc aligns entries to 4096
        assert inspect_bytes(extract(hipcc_bundle, entry)).entries[0].target == entry.target
    assert select_entry(info, DEVICE_90A).target == "gfx90a"
    assert select_entry(info, "gfx1030").target == "gfx1030"
    assert select_entry(info, "gfx1100") is None


@pytest.mark.hiprtc
def test_write_bundle_round_trips(hsaco: dict[str, bytes], tmp_path: Path) -> None:
    images = {"gfx90a": hsaco["gfx90a"], "gfx1030": hsaco["gfx1030"]}
    bundle = write_bundle(images)
    info = inspect_bytes(bundle)
    assert info.format == "offload-bundle"
    assert [e.target for e in info.entries] == ["gfx1030", "gfx90a"]  # sorted by triple
    for entry in info.entries:
        assert entry.offset % BUNDLE_ALIGN == 0 and entry.symbols == KERNELS
        assert extract(bundle, entry) == images[entry.target]
    assert len(bundle) == max(e.offset + e.size for e in info.entries)  # no tail padding


@pytest.mark.hiprtc
@pytest.mark.skipif(BUNDLER is None, reason="clang-offload-bundler is not installed")
def test_write_bundle_agrees_with_clang_offload_bundler(
    hsaco: dict[str, bytes], tmp_path: Path
) -> None:
    images = {"gfx90a": hsaco["gfx90a"], "gfx1030": hsaco["gfx1030"]}
    path = tmp_path / "k.co"
    path.write_bytes(write_bundle(images))
    listed = subprocess.run(
        [BUNDLER, "-list", "-type=o", f"-input={path}"], check=True, capture_output=True, text=True
    ).stdout.split()
    ours = [HOST_TRIPLE] + [HIP_TRIPLE_PREFIX + k for k in images]
    assert sorted(listed) == sorted(ours)  # the tool lists in its own (hash) order
    for key, image in images.items():
        out = tmp_path / f"{key}.elf"
        subprocess.run(
            [
                BUNDLER,
                "-unbundle",
                "-type=o",
                f"-input={path}",
                f"-output={out}",
                f"-targets={HIP_TRIPLE_PREFIX}{key}",
            ],
            check=True,
        )
        assert out.read_bytes() == image


@pytest.mark.hiprtc
@pytest.mark.nvrtc
def test_write_bundle_refuses_wrong_images(hsaco: dict[str, bytes], cubin: dict) -> None:
    with pytest.raises(ValueError, match="at least one"):
        write_bundle({})
    with pytest.raises(ValueError, match="gfx1030"):
        write_bundle({"gfx90a": hsaco["gfx1030"]})
    with pytest.raises(ValueError, match="cuda-elf"):
        write_bundle({"sm_90": cubin["sm_90"]})


@pytest.mark.hiprtc
def test_corrupt_bundle_headers(hsaco: dict[str, bytes]) -> None:
    bundle = bytearray(write_bundle({"gfx90a": hsaco["gfx90a"]}))
    # Entry 1 is the gfx90a image: its offset field sits after the host entry.
    host_len = 24 + len(HOST_TRIPLE)
    bad = bytearray(bundle)
    struct.pack_into("<Q", bad, 32 + host_len, len(bundle) + 8)
    with pytest.raises(NotACodeObject, match="past the end"):
        inspect_bytes(bytes(bad))
    with pytest.raises(NotACodeObject, match="truncated bundle header"):
        inspect_bytes(bytes(bundle[:40]))
    bad = bytearray(bundle)
    struct.pack_into("<Q", bad, 24, 1 << 40)
    with pytest.raises(NotACodeObject, match="entries"):
        inspect_bytes(bytes(bad))
    bad = bytearray(bundle)
    off = struct.unpack_from("<Q", bad, 32 + host_len)[0]
    bad[off : off + 4] = b"JUNK"
    with pytest.raises(NotACodeObject, match="bundle entry 1"):
        inspect_bytes(bytes(bad))


def test_extract_checks_bounds() -> None:
    with pytest.raises(NotACodeObject, match="outside"):
        extract(b"abc", CodeObjectEntry("amdgpu", "gfx90a", (), 2, 5))


# -- target matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "device", "expected"),
    [
        ("gfx90a", "gfx90a:sramecc+:xnack-", True),
        ("gfx90a", "gfx90a", True),
        ("gfx90a:xnack-", "gfx90a:sramecc+:xnack-", True),
        ("gfx90a:xnack+", "gfx90a:sramecc+:xnack-", False),
        ("gfx90a:sramecc+:xnack-", "gfx90a:sramecc+:xnack-", True),
        ("gfx90a:sramecc-", "gfx90a:sramecc+:xnack-", False),
        ("gfx90a:xnack-", "gfx90a", False),  # the device's setting is unknown
        ("gfx90a", "gfx908:sramecc+:xnack-", False),
        ("gfx1030", "gfx1030", True),
        ("gfx1030", "gfx1031", False),
        ("gfx942:sramecc+", "gfx942:sramecc+:xnack-", True),
        ("sm_90", "sm_90", True),
        ("sm_90", "sm_90a", True),
        ("sm_90a", "sm_90", True),
        ("sm_90a", "sm_90a", True),
        ("sm_80", "sm_86", True),  # same major, higher minor
        ("sm_86", "sm_80", False),
        ("sm_80a", "sm_86", False),  # arch-specific code: exact capability only
        ("sm_90", "sm_100", False),
        ("sm_100", "sm_103", True),
        ("sm_120", "sm_121", True),
        ("sm_90", "gfx90a", False),
        ("gfx90a", "sm_90", False),
    ],
)
def test_target_matches(code: str, device: str, expected: bool) -> None:
    assert target_matches(code, device) is expected


def test_select_entry_prefers_the_most_specific_match() -> None:
    def entry(kind: str, target: str) -> CodeObjectEntry:
        return CodeObjectEntry(kind, target, (), 0, 0)

    amd = CodeObjectInfo(
        "offload-bundle",
        (
            entry("amdgpu", "gfx90a"),
            entry("amdgpu", "gfx90a:xnack-"),
            entry("amdgpu", "gfx90a:xnack+"),
        ),
        0,
    )
    assert select_entry(amd, DEVICE_90A).target == "gfx90a:xnack-"
    assert select_entry(amd, "gfx90a:sramecc+:xnack+").target == "gfx90a:xnack+"
    cuda = CodeObjectInfo(
        "cuda-elf", (entry("cuda", "sm_80"), entry("cuda", "sm_86"), entry("cuda", "sm_90")), 0
    )
    assert select_entry(cuda, "sm_89").target == "sm_86"
    assert select_entry(cuda, "sm_90").target == "sm_90"
    assert select_entry(cuda, "sm_75") is None


# -- validate_code_object ----------------------------------------------------------------------


def test_validate_missing_file(tmp_path: Path) -> None:
    err = load_error(tmp_path / "absent.hsaco")
    assert err.reason == "file does not exist"
    assert "TOPK_HSACO=" in str(err)


def test_validate_directory_is_not_a_code_object_file(tmp_path: Path) -> None:
    err = load_error(tmp_path, env=None)
    assert err.reason.startswith("not a regular file but a directory; name a code object file")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_validate_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "k.hsaco"
    path.write_bytes(b"\x7fELF")
    path.chmod(0)
    try:
        assert load_error(path).reason == "not readable: Permission denied"
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"", "empty"), (b"__global__ void k() {}\n", "text"), (b"\x7fELF" + bytes(12), "short")],
)
def test_validate_rejects_non_code_objects(tmp_path: Path, data: bytes, why: str) -> None:
    path = tmp_path / "k.hsaco"
    path.write_bytes(data)
    reason = load_error(path).reason
    assert reason.startswith("not a code object: ") and why in reason


@pytest.mark.hiprtc
def test_validate_truncated_elf(hsaco: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "k.hsaco"
    path.write_bytes(hsaco["gfx90a"][:3000])
    assert load_error(path).reason.startswith("not a code object: truncated")


@pytest.mark.nvrtc
def test_validate_cubin_for_amd_target(cubin: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "k.cubin"
    path.write_bytes(cubin["sm_90"])
    err = load_error(path, env="TOPK_CUBIN")
    assert err.reason == f"no code for target {DEVICE_90A} (file holds: sm_90)"
    assert validate_code_object(path, None, "sm_90", KERNELS) == cubin["sm_90"]


@pytest.mark.hiprtc
def test_validate_hsaco_for_another_gfx(hsaco: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "k.hsaco"
    path.write_bytes(hsaco["gfx1030"])
    assert load_error(path).reason == f"no code for target {DEVICE_90A} (file holds: gfx1030)"
    path.write_bytes(hsaco["gfx90a:xnack+"])
    assert load_error(path).reason.endswith("(file holds: gfx90a:xnack+)")


@pytest.mark.hiprtc
def test_validate_bundle_lists_what_it_holds(hsaco: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "k.co"
    data = write_bundle({"gfx90a:xnack+": hsaco["gfx90a:xnack+"], "gfx1030": hsaco["gfx1030"]})
    path.write_bytes(data)
    err = load_error(path)
    assert err.reason == f"no code for target {DEVICE_90A} (file holds: gfx1030, gfx90a:xnack+)"
    assert validate_code_object(path, "TOPK_HSACO", "gfx1030", KERNELS) == data


@pytest.mark.hiprtc
def test_validate_missing_entry_point(hsaco: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "k.hsaco"
    path.write_bytes(hsaco["gfx90a"])
    err = load_error(path, entry_points=("add", "topk_sample"))
    assert err.reason == "entry point topk_sample missing (file defines: add, scale)"
    err = load_error(path, entry_points=("twice",))  # a device function is not an entry point
    assert err.reason.startswith("entry point twice missing")
    assert validate_code_object(str(path), None, DEVICE_90A, ["scale"]) == hsaco["gfx90a"]


@pytest.mark.hiprtc
def test_describe(hsaco: dict[str, bytes]) -> None:
    bundle = write_bundle({"gfx90a": hsaco["gfx90a"], "gfx1030": hsaco["gfx1030"]})
    text = describe(inspect_bytes(bundle), "k.co")
    lines = text.splitlines()
    assert lines[0] == f"k.co: offload-bundle, {len(bundle)} bytes, 2 code objects"
    assert "amdgpu gfx1030" in lines[1] and "amdgpu gfx90a" in lines[3]
    assert lines[2].strip() == "kernels (2): add, scale"
    assert describe(inspect_bytes(hsaco["gfx90a"])).startswith("amdgpu-elf, ")
