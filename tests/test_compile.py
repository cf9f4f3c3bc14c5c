"""Real compiles of every kernel module: hiprtc for gfx90a (wave64) and gfx1030 (wave32),
NVRTC for sm_90; each output inspected byte by byte (machine, target, every entry point)."""

from __future__ import annotations

import pytest

from rocsample import codeobject, registry
from rocsample.compiler import compile_module
from rocsample.errors import CompileError
from rocsample.toolchains import get_toolchain, wave_size_for

from .conftest import need

TARGETS = [("hiprtc", "gfx90a", 224), ("hiprtc", "gfx1030", 224), ("nvrtc", "sm_90", 190)]


def _toolchain(name):
    try:
        return get_toolchain(name)
    except Exception as exc:
        need(False, f"{name} unavailable: {exc}")


@pytest.mark.parametrize("module", sorted(registry.MODULES))
@pytest.mark.parametrize("toolchain,target,machine", TARGETS)
def test_module_compiles_with_every_entry(toolchain, target, machine, module):
    _toolchain(toolchain)
    mod = compile_module(toolchain, module, target)
    assert int.from_bytes(mod.image[18:20], "little") == machine
    info = codeobject.inspect_bytes(mod.image)
    (entry,) = info.entries
    assert entry.target == target
    assert set(registry.MODULES[module].entries) <= set(entry.symbols)
    assert f"-DRS_WAVE={wave_size_for(target)}" in mod.options
    # The sampling engine's modules say that their later phases may overlap the previous
    # one (they wait for it); the softmax module's two launches do not wait, so it must not.
    assert entry.grid_wait == (registry.MODULES[module].family == "sampling"
                               and module != "sampling_utils")
    print(f"compile {module} {target}: {mod.seconds:.2f} s")


def test_wave_width_reaches_the_kernels():
    # The same source built for wave64 and wave32 must differ: RS_WAVE sizes the reductions.
    _toolchain("hiprtc")
    w64 = compile_module("hiprtc", "topk_sampling", "gfx90a", wave=64).image
    w32 = compile_module("hiprtc", "topk_sampling", "gfx90a", wave=32).image
    assert w64 != w32
    assert wave_size_for("gfx90a") == 64 and wave_size_for("gfx1030") == 32
    assert wave_size_for("sm_90") == 32


def test_compile_error_carries_log_and_fields(monkeypatch, tmp_path):
    _toolchain("nvrtc")
    bad = tmp_path / "k"
    bad.mkdir()
    from rocsample import compiler

    src = registry.kernel_source_dir()
    for f in src.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "topk_sampling.hip").write_text((src / "topk_sampling.hip").read_text()
                                           + "\nthis is not C++;\n")
    monkeypatch.setattr(compiler, "kernel_source_dir", lambda: bad)
    with pytest.raises(CompileError) as err:
        compile_module("nvrtc", "topk_sampling", "sm_90")
    e = err.value
    assert e.kernel == "topk_sampling" and e.backend == "cuda" and e.target == "sm_90"
    assert "-arch=sm_90" in e.options and "error" in e.log.lower()
    assert "this is not C++" in e.dump()


def _kernel_descriptors(image: bytes) -> dict[str, bytes]:
    """The 64-byte AMDGPU kernel descriptor of every ``<kernel>.kd`` symbol of an ELF image."""
    import struct

    shoff, = struct.unpack_from("<Q", image, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", image, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", image, shoff + i * shentsize)
                for i in range(shnum)]
    found = {}
    for sh in sections:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sh[6]]
        for i in range(sh[5] // 24):
            name_off, _, _, shndx, value, _ = struct.unpack_from("<IBBHQQ", image, sh[4] + i * 24)
            start = strtab[4] + name_off
            name = image[start:image.index(b"\0", start)].decode()
            if name.endswith(".kd") and 0 < shndx < len(sections):
                sec = sections[shndx]
                at = sec[4] + value - sec[3]  # file offset = section offset + (value - address)
                found[name[:-3]] = image[at:at + 64]
    return found


@pytest.mark.parametrize("target", ["gfx90a", "gfx1030"])
def test_amd_kernels_keep_f32_denormals(target):
    # rs_mass scales floats by powers of two: a kernel that flushed f32 denormals would give
    # subnormal probabilities no mass. compute_pgm_rsrc1 (descriptor byte 48) bits 17:16 are
    # FLOAT_DENORM_MODE_32; 3 means neither inputs nor outputs are flushed.
    _toolchain("hiprtc")
    for module in sorted(registry.MODULES):
        kds = _kernel_descriptors(compile_module("hiprtc", module, target).image)
        assert set(registry.MODULES[module].entries) <= set(kds)
        for name, kd in kds.items():
            rsrc1 = int.from_bytes(kd[48:52], "little")
            assert (rsrc1 >> 16) & 3 == 3, f"{module}/{name} on {target} flushes f32 denormals"


class _FakeNvrtc:
    """An NVRTC API object answering only nvrtcVersion, as ``major.minor``."""

    def __init__(self, major: int, minor: int) -> None:
        self.version = (major, minor)

    def nvrtcVersion(self):  # noqa: N802 (the C API's name)
        return (0, *self.version)


@pytest.mark.parametrize("version, calls, split", [
    ((13, 0), True, False),  # the H200 image's NVRTC: engine modules compile whole
    ((13, 0), False, True),  # modules without device-function calls keep the option
    ((13, 5), True, True),
    ((12, 3), False, False),  # before NVRTC 12.4 there is no such option
])
def test_split_compile_only_where_it_does_not_cost_register_saves(version, calls, split):
    from rocsample.toolchains import SPLIT_COMPILE_FROM, Toolchain

    assert SPLIT_COMPILE_FROM == (13, 5)
    tc = Toolchain("nvrtc", _FakeNvrtc(*version), "nvrtc", "CUBIN")
    opts = tc.options("sm_90", 32, calls=calls)
    assert ("--split-compile=0" in opts) == split, opts


def test_only_the_sampling_modules_call_device_functions():
    # The engine's phases are __noinline__ device functions; the elementwise and MLP kernels
    # inline everything (ModuleSpec.calls decides the NVRTC options above).
    for name, spec in registry.MODULES.items():
        assert spec.calls == (spec.family == "sampling"), name
