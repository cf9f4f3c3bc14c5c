"""Tests of rocsample.codeobject against code objects compiled here by hiprtc, NVRTC and hipcc."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from rocsample.codeobject import (
    BUNDLE_ALIGN,
    HIP_TRIPLE_PREFIX,
    HOST_TRIPLE,
    CodeObjectEntry,
    CodeObjectInfo,
    NotACodeObject,
    describe,
    extract,
    inspect_bytes,
    inspect_file,
    select_entry,
    target_matches,
    validate_code_object,
    write_bundle,
)
from rocsample.errors import KernelLoadError

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


def test_inspect_file_reads_and_propagates_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        inspect_file(tmp_path / "absent.hsaco")
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(NotACodeObject, match="text"):
        inspect_file(tmp_path / "t.txt")


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


def test_validate_directory_is_not_readable(tmp_path: Path) -> None:
    err = load_error(tmp_path, env=None)
    assert err.reason.startswith("not readable: ") and "directory" in err.reason


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
