"""The AMDGPU metadata note: real hiprtc builds (Debian's ROCm 5.2: gfx90a wave64, gfx1030
wave32) read against their kernel descriptors, occupancy by LLVM's rules on hand-worked
cases, and malformed notes refused with a clear error."""

from __future__ import annotations

import re
import struct

import pytest

from rocsample import amdgpu_metadata as am
from rocsample import registry
from rocsample.cli import main
from rocsample.codeobject import NotACodeObject, write_bundle
from rocsample.ops import elementwise as ew
from rocsample.toolchains import get_toolchain

from .conftest import need

_BUILDS: dict[tuple[str, str], bytes] = {}


def _build(module: str, target: str) -> bytes:
    try:
        get_toolchain("hiprtc")
    except Exception as exc:
        need(False, f"hiprtc unavailable: {exc}")
    if (module, target) not in _BUILDS:
        from rocsample.compiler import compile_module

        _BUILDS[module, target] = compile_module("hiprtc", module, target).image
    return _BUILDS[module, target]


def _descriptors(elf: bytes) -> dict[str, bytes]:
    """Every ``<kernel>.kd`` kernel descriptor (64 bytes), found through the symbol table: an
    independent record of what the metadata note states."""
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shnum, = struct.unpack_from("<H", elf, 0x3C)
    secs = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * 64) for i in range(shnum)]
    out = {}
    for sh in (s for s in secs if s[1] == 2):
        strtab = secs[sh[6]]
        for i in range(sh[5] // 24):
            name_off, _, _, shndx, value, _ = struct.unpack_from("<IBBHQQ", elf, sh[4] + i * 24)
            start = strtab[4] + name_off
            name = elf[start:elf.index(b"\0", start)].decode()
            if name.endswith(".kd") and 0 < shndx < len(secs):
                at = secs[shndx][4] + value - secs[shndx][3]
                out[name[:-3]] = elf[at:at + 64]
    return out


@pytest.mark.parametrize("module", sorted(registry.MODULES))
@pytest.mark.parametrize("target,wave", [("gfx90a", 64), ("gfx1030", 32)])
def test_real_builds_state_their_resources(module, target, wave):
    elf = _build(module, target)
    kernels = {k.name: k for k in am.kernel_resources(elf)}
    assert set(registry.MODULES[module].entries) <= set(kernels)
    kds = _descriptors(elf)
    for name, k in kernels.items():
        assert k.wavefront_size == wave, (name, target)
        kd = kds[name]
        # kernel_code_properties bit 10: ENABLE_WAVEFRONT_SIZE32 (LLVM AMDHSAKernelDescriptor.h).
        assert bool(struct.unpack_from("<H", kd, 56)[0] & (1 << 10)) == (wave == 32)
        # group_segment_fixed_size and private_segment_fixed_size open the descriptor.
        assert struct.unpack_from("<II", kd, 0) == (k.lds_bytes, k.scratch_bytes), name
        assert 0 < k.vgpr_count <= 512 and 0 < k.sgpr_count <= 112
        # The block it is launched with (registry rows are keyed by name, not entry), or
        # the larger bound its family declares (Candle's grid for the elementwise kernels,
        # and for rocsample's where2 beside them).
        block = {s.entry: s.block for s in registry.KERNELS.values()}[name]
        bound = ew.LAUNCH_BOUND if name in ew.ENTRIES or name in ew.COMPANIONS else block
        assert k.max_workgroup_size == bound >= block
        # Only targets with accumulation registers (gfx90a's MFMA) report AGPRs.
        assert (k.agpr_count is not None) == (target == "gfx90a")
        occ = am.occupancy(target, k)
        assert occ.lds_ok and 0 < occ.waves_per_simd <= am.TARGET_LIMITS[target].max_waves


def test_rows_of_a_bundle_name_each_target():
    bundle = write_bundle({t: _build("topk_sampling", t) for t in ("gfx90a", "gfx1030")})
    rows = am.resource_rows(bundle, "topk_sampling")
    assert {(r["target"], r["wavefront_size"]) for r in rows} == {("gfx90a", 64), ("gfx1030", 32)}
    assert all(r["module"] == "topk_sampling" and r["limited_by"] for r in rows)


def test_inspect_resources_command(tmp_path, capsys):
    path = tmp_path / "topk_sampling.hsaco"
    path.write_bytes(_build("topk_sampling", "gfx1030"))
    assert main(["inspect", "--resources", str(path)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "topk_sampling_kernel | gfx1030" in line)
    assert row.split(" | ")[3] == "32"
    broken = tmp_path / "broken.hsaco"
    broken.write_bytes(_retype_note(_build("topk_sampling", "gfx1030")))
    assert main(["inspect", "--resources", str(broken)]) == 1
    assert "no NT_AMDGPU_METADATA note" in capsys.readouterr().err


# ---- occupancy, worked by hand from LLVM's rules -----------------------------------------


def _k(wave=64, vgpr=64, sgpr=40, agpr=None, lds=0, block=512):
    return am.KernelResources("k", wave, vgpr, sgpr, agpr, lds, 0, 0, 0, block)


@pytest.mark.parametrize("kernel,target,waves,limit", [
    (_k(vgpr=128), "gfx942", 4.0, "VGPRs (128"),          # 512 / 128
    (_k(vgpr=129), "gfx942", 2.0, "VGPRs (136"),          # 3 waves: one 8-wave group a CU
    (_k(vgpr=100, agpr=28), "gfx942", 4.0, "VGPRs (128"),  # unified file: align4(v) + a
    (_k(vgpr=32), "gfx950", 8.0, "maximum"),
    (_k(vgpr=32, sgpr=90), "gfx942", 8.0, "maximum"),     # 8 by SGPRs = the gfx9x maximum
    (_k(vgpr=32, lds=41920), "gfx942", 2.0, "LDS"),       # one group of 64 KiB
    (_k(vgpr=32, lds=41920), "gfx950", 6.0, "LDS"),       # three groups of 160 KiB
    (_k(wave=32, vgpr=96), "gfx1100", 16.0, "maximum"),   # 1536 / 96
    (_k(wave=32, vgpr=120), "gfx1030", 8.0, "VGPRs (128"),  # granule 16
    (_k(wave=32, vgpr=210), "gfx1201", 4.0, "VGPRs (216"),  # granule 24: 7 waves, 1 group
])  # fmt: skip
def test_occupancy(kernel, target, waves, limit):
    occ = am.occupancy(target, kernel)
    assert occ.waves_per_simd == waves and limit in occ.limited_by


def test_occupancy_limits_and_unknown_targets():
    assert not am.occupancy("gfx942", _k(lds=65537)).lds_ok
    assert am.occupancy("gfx950", _k(lds=65537)).lds_ok
    assert am.occupancy("gfx942:sramecc+:xnack-", _k()).waves_per_simd == 8.0
    with pytest.raises(ValueError, match="no occupancy rules for target 'gfx1151'"):
        am.occupancy("gfx1151", _k(wave=32))
    with pytest.raises(ValueError, match="wavefront size 32"):
        am.occupancy("gfx942", _k(wave=32))


# ---- malformed input ---------------------------------------------------------------------


def _pack(v) -> bytes:
    """Just enough of a MessagePack encoder for the tests (the library only decodes)."""
    if v is None:
        return b"\xc0"
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        return bytes([v]) if 0 <= v < 128 else b"\xce" + v.to_bytes(4, "big")
    if isinstance(v, str):
        raw = v.encode()
        return (bytes([0xA0 | len(raw)]) if len(raw) < 32 else b"\xd9" + bytes([len(raw)])) + raw
    if isinstance(v, list):
        return b"\xdc" + len(v).to_bytes(2, "big") + b"".join(_pack(x) for x in v)
    if isinstance(v, dict):
        return b"\xde" + len(v).to_bytes(2, "big") + b"".join(
            _pack(k) + _pack(x) for k, x in v.items())
    raise TypeError(v)


def _elf(payload: bytes, name: bytes = b"AMDGPU\0", ntype: int = 32, descsz=None) -> bytes:
    """A minimal AMDGPU ELF (gfx90a) whose one section is a note with ``payload``."""
    desc = payload + bytes(-len(payload) % 4)
    note = struct.pack("<III", len(name), len(payload) if descsz is None else descsz, ntype)
    note += name + bytes(-len(name) % 4) + desc
    shoff = 64 + len(note)
    ident = b"\x7fELF\x02\x01\x01\x40\x02" + bytes(7)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 3, 224, 1, 0, 0, shoff, 0x3F, 64, 0, 0,
                                 64, 2, 0)
    sections = bytes(64) + struct.pack("<IIQQQQIIQQ", 0, 7, 0, 0, 64, len(note), 0, 0, 4, 0)
    return header + note + sections


def _kernel(**fields):
    k = {".name": "k", ".symbol": "k.kd", ".wavefront_size": 64, ".vgpr_count": 32,
         ".sgpr_count": 20, ".group_segment_fixed_size": 0, ".private_segment_fixed_size": 0,
         ".max_flat_workgroup_size": 256}
    k.update(fields)
    return {"amdhsa.version": [1, 2], "amdhsa.kernels": [k]}


def _retype_note(elf: bytes) -> bytes:
    """``elf`` with its AMDGPU metadata note's type changed from 32 to 33."""
    m = re.search(rb"\x07\0\0\0.{4}\x20\0\0\0AMDGPU\0", elf, re.S)
    assert m, "no AMDGPU metadata note header in the build"
    return elf[:m.start() + 8] + struct.pack("<I", 33) + elf[m.start() + 12:]


def test_synthetic_note_round_trip():
    (k,) = am.kernel_resources(_elf(_pack(_kernel(**{".agpr_count": 4}))))
    assert (k.wavefront_size, k.vgpr_count, k.agpr_count, k.max_workgroup_size) == (64, 32, 4, 256)
    assert am.decode_msgpack(_pack({"a": [1, 2 ** 31, "x" * 40, True]})) == {
        "a": [1, 2 ** 31, "x" * 40, True]}


@pytest.mark.parametrize("elf,message", [
    (_elf(_pack(_kernel()), ntype=33), "no NT_AMDGPU_METADATA note"),
    (_elf(_pack(_kernel()), name=b"AMD\0"), "no NT_AMDGPU_METADATA note"),
    (_elf(_pack(_kernel()), descsz=1 << 20), "runs past its section's end"),
    (_elf(b"\xdd\xff\xff\xff\xff"), "array of 4294967295 elements"),
    (_elf(b"\xdf\x00\x00\x10\x00"), "map of 4096 elements"),
    (_elf(b"\xdb\xff\xff\xff\xf0abc"), "a string of 4294967280 elements"),
    (_elf(b"\x91" * 40 + b"\x00"), "nests deeper than 16"),
    (_elf(b"\xd4\x01\x00"), "type byte 0xd4"),
    (_elf(b"\x81\x91\x00\x00"), "map key at offset 1 is a list"),
    (_elf(b"\xa4ab"), "truncated"),
    (_elf(_pack(_kernel()) + b"\x00"), "1 stray bytes"),
    (_elf(b"\xa5\xff\xfe\xfd\xfc\xfb"), "not UTF-8"),
    (_elf(_pack({"amdhsa.version": [1, 2]})), "no amdhsa.kernels list"),
    (_elf(_pack({"amdhsa.kernels": [7]})), "not a map with a .name"),
    (_elf(_pack(_kernel(**{".vgpr_count": "many"}))), "kernel k: .vgpr_count is 'many'"),
    (_elf(_pack(_kernel(**{".wavefront_size": None}))), ".wavefront_size is None"),
    (_elf(_pack({"amdhsa.kernels": [{".name": "k"}]})), ".wavefront_size is None"),
])  # fmt: skip
def test_malformed_notes_are_clear_errors(elf, message):
    with pytest.raises(am.MetadataError, match=message.replace(".", r"\.").replace("(", r"\(")):
        am.kernel_resources(elf)


def test_not_an_amdgpu_elf():
    with pytest.raises(NotACodeObject, match="empty"):
        am.metadata_note(b"")
    cuda = bytearray(_elf(_pack(_kernel())))
    cuda[18:20] = (190).to_bytes(2, "little")
    with pytest.raises(am.MetadataError, match="cuda-elf"):
        am.metadata_note(bytes(cuda))
    with pytest.raises(am.MetadataError, match="only AMDGPU code objects"):
        am.resource_rows(bytes(cuda))
