"""Per-kernel resources of AMDGPU code objects, read from their ``NT_AMDGPU_METADATA`` note.

An AMDGPU code object v3+ carries a note (name ``"AMDGPU"``, type 32) whose payload is a
MessagePack map: ``amdhsa.target``, ``amdhsa.version`` and ``amdhsa.kernels``, a list with
one map per kernel (``.name``, ``.wavefront_size``, ``.vgpr_count``, ``.sgpr_count``,
``.agpr_count`` on targets with accumulation registers, ``.group_segment_fixed_size`` (LDS
bytes), ``.private_segment_fixed_size`` (scratch bytes a lane), ``.vgpr_spill_count``...; the
LLVM AMDGPUUsage document lists them). The note is decoded here with a small bounded
MessagePack reader (every length checked against the bytes left, nesting limited) so that a
malformed file is a :class:`MetadataError` naming what is wrong, never a hang or a crash;
the ELF and offload-bundle layers are :mod:`rocsample.codeobject`'s.

:func:`occupancy` turns a kernel's registers and LDS into waves per SIMD with LLVM's rules
(``AMDGPUBaseInfo.cpp``, ``GCNSubtarget::getOccupancyWithNumSGPRs``), for the targets in
:data:`TARGET_LIMITS`.

Example
-------
>>> from rocsample.amdgpu_metadata import occupancy, KernelResources
>>> k = KernelResources("k", 64, vgpr_count=128, sgpr_count=40, agpr_count=0, lds_bytes=4096,
...                     scratch_bytes=0, vgpr_spill_count=0, sgpr_spill_count=0,
...                     max_workgroup_size=512)
>>> occupancy("gfx942", k).waves_per_simd    # 512 VGPRs a lane per SIMD / 128 a wave
4.0
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import codeobject
from .codeobject import NotACodeObject

__all__ = [
    "TARGET_LIMITS", "KernelResources", "MetadataError", "Occupancy", "TargetLimits",
    "decode_msgpack", "file_resources", "kernel_resources", "metadata_note", "occupancy",
    "resource_rows", "resource_table",
]  # fmt: skip

NT_AMDGPU_METADATA = 32  # LLVM BinaryFormat/ELF.h, code object v3 and later
_SHT_NOTE = 7
_MAX_DEPTH = 16  # the real note nests 4 deep (map > kernels > kernel > args > arg)
_SHDR = struct.Struct("<IIQQQQIIQQ")


class MetadataError(NotACodeObject):
    """The AMDGPU metadata note is missing or malformed; ``reason`` says which and where."""


# ---- MessagePack, bounded -------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise MetadataError(f"metadata note truncated: {what} needs {n} bytes at offset "
                                f"{self.pos}, {len(self.data) - self.pos} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def count(self, size: int, per_item: int, what: str) -> int:
        # Every element takes at least one byte: a count the remaining bytes cannot hold is
        # refused before anything is allocated or looped over.
        n = self.uint(size, what)
        if n * per_item > len(self.data) - self.pos:
            raise MetadataError(f"metadata note: {what} of {n} elements at offset {self.pos} "
                                f"cannot fit in the {len(self.data) - self.pos} bytes left")
        return n

    def value(self, depth: int = 0) -> Any:  # noqa: C901 - one branch per MessagePack format
        if depth > _MAX_DEPTH:
            raise MetadataError(f"metadata note nests deeper than {_MAX_DEPTH} levels")
        at = self.pos
        t = self.take(1, "a type byte")[0]
        if t <= 0x7F:
            return t
        if t >= 0xE0:
            return t - 0x100
        if 0x80 <= t <= 0x8F:
            return self.map(t & 0x0F, depth)
        if 0x90 <= t <= 0x9F:
            return self.array(t & 0x0F, depth)
        if 0xA0 <= t <= 0xBF:
            return self.text(t & 0x1F)
        if t == 0xC0:
            return None
        if t in (0xC2, 0xC3):
            return t == 0xC3
        if t in (0xC4, 0xC5, 0xC6):  # bin 8/16/32
            return self.take(self.count(1 << (t - 0xC4), 1, "a bin"), "bin data")
        if t in (0xCA, 0xCB):
            fmt, size = (">f", 4) if t == 0xCA else (">d", 8)
            return struct.unpack(fmt, self.take(size, "a float"))[0]
        if 0xCC <= t <= 0xCF:
            return self.uint(1 << (t - 0xCC), "an unsigned int")
        if 0xD0 <= t <= 0xD3:
            size = 1 << (t - 0xD0)
            return int.from_bytes(self.take(size, "a signed int"), "big", signed=True)
        if t in (0xD9, 0xDA, 0xDB):  # str 8/16/32
            return self.text(self.count(1 << (t - 0xD9), 1, "a string"))
        if t in (0xDC, 0xDD):
            return self.array(self.count(2 << (t - 0xDC), 1, "an array"), depth)
        if t in (0xDE, 0xDF):
            return self.map(self.count(2 << (t - 0xDE), 2, "a map"), depth)
        raise MetadataError(f"metadata note: MessagePack type byte {t:#04x} at offset {at} is "
                            "not used by AMDGPU metadata (ext types and 0xc1 are refused)")

    def text(self, n: int) -> str:
        raw = self.take(n, "a string")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MetadataError(f"metadata note: string at offset {self.pos - n} is not "
                                "UTF-8") from None

    def array(self, n: int, depth: int) -> list[Any]:
        if n > len(self.data) - self.pos:
            raise MetadataError(f"metadata note: array of {n} elements at offset {self.pos} "
                                f"cannot fit in the {len(self.data) - self.pos} bytes left")
        return [self.value(depth + 1) for _ in range(n)]

    def map(self, n: int, depth: int) -> dict[Any, Any]:
        if 2 * n > len(self.data) - self.pos:
            raise MetadataError(f"metadata note: map of {n} entries at offset {self.pos} "
                                f"cannot fit in the {len(self.data) - self.pos} bytes left")
        out: dict[Any, Any] = {}
        for _ in range(n):
            at = self.pos
            key = self.value(depth + 1)
            if isinstance(key, list | dict):
                raise MetadataError(f"metadata note: map key at offset {at} is a "
                                    f"{type(key).__name__}, not a name")
            out[key] = self.value(depth + 1)
        return out


def decode_msgpack(data: bytes) -> Any:
    """Decode one MessagePack value that fills ``data`` exactly.

    Raises
    ------
    MetadataError
        Truncated data, a length larger than the bytes left, nesting deeper than 16, an
        ext type, a container as a map key, bytes after the value.

    Example
    -------
    >>> decode_msgpack(bytes.fromhex("81a47761766540"))
    {'wave': 64}
    >>> decode_msgpack(bytes.fromhex("dd ffffffff"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    rocsample.amdgpu_metadata.MetadataError: ...an array of 4294967295 elements at offset 5 ...
    """
    reader = _Reader(bytes(data))
    value = reader.value()
    if reader.pos != len(reader.data):
        raise MetadataError(f"metadata note: {len(reader.data) - reader.pos} stray bytes after "
                            f"the value (ends at offset {reader.pos})")
    return value


# ---- the note inside an ELF -----------------------------------------------------------------


def metadata_note(elf: bytes) -> dict[str, Any]:
    """The decoded ``NT_AMDGPU_METADATA`` map of one AMDGPU ELF (not a bundle).

    Raises
    ------
    NotACodeObject
        ``elf`` is not an AMDGPU ELF (:func:`rocsample.codeobject.inspect_bytes` says why).
    MetadataError
        No such note (code object v2 and earlier keep YAML in another note), or a note
        whose headers or payload are malformed.

    Example
    -------
    >>> metadata_note(b"\\x7fELF")
    Traceback (most recent call last):
    rocsample.codeobject.NotACodeObject: too short: 4 bytes, an ELF64 header alone needs 64
    """
    elf = bytes(elf)
    info = codeobject.inspect_bytes(elf)  # magic, machine, section table in bounds
    if info.format != "amdgpu-elf":
        raise MetadataError(f"{info.format}: resources are read from one AMDGPU ELF; give a "
                            "bundle to file_resources/resource_rows instead")
    shoff = int.from_bytes(elf[0x28:0x30], "little")
    shnum = int.from_bytes(elf[0x3C:0x3E], "little")
    for i in range(shnum):
        _, kind, _, _, off, size, _, _, _, _ = _SHDR.unpack_from(elf, shoff + i * _SHDR.size)
        if kind != _SHT_NOTE:
            continue
        pos, end = off, off + size
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name_end = pos + 12 + namesz
            desc_at = pos + 12 + (-(-namesz // 4) * 4)
            desc_end = desc_at + descsz
            if desc_end > end:
                raise MetadataError(f"note at offset {pos} ({namesz}-byte name, {descsz}-byte "
                                    f"payload) runs past its section's end at {end}")
            name = elf[pos + 12 : name_end].rstrip(b"\0")
            if name == b"AMDGPU" and ntype == NT_AMDGPU_METADATA:
                meta = decode_msgpack(elf[desc_at:desc_end])
                if not isinstance(meta, dict) or not isinstance(meta.get("amdhsa.kernels"), list):
                    raise MetadataError("metadata note has no amdhsa.kernels list")
                return meta
            pos = desc_at + (-(-descsz // 4) * 4)
    raise MetadataError("no NT_AMDGPU_METADATA note (AMDGPU, type 32): code object v2 or "
                        "older, or a stripped file; rebuild it with a ROCm of 4.0 or later")


@dataclass(frozen=True)
class KernelResources:
    """What one kernel uses, as the compiler recorded it. ``agpr_count`` is None on targets
    without accumulation registers; ``lds_bytes`` is the static LDS of a workgroup,
    ``scratch_bytes`` the private memory of a lane."""

    name: str
    wavefront_size: int
    vgpr_count: int
    sgpr_count: int
    agpr_count: int | None
    lds_bytes: int
    scratch_bytes: int
    vgpr_spill_count: int
    sgpr_spill_count: int
    max_workgroup_size: int
    dynamic_stack: bool = False


def _field(kernel: dict[Any, Any], key: str, default: int | None = None) -> int:
    value = kernel.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        name = kernel.get(".name", "?")
        raise MetadataError(f"kernel {name}: {key} is {value!r}, expected a count >= 0")
    return value


def kernel_resources(elf: bytes) -> tuple[KernelResources, ...]:
    """Resources of every kernel of one AMDGPU ELF, sorted by name.

    Example
    -------
    >>> kernel_resources(open("k.hsaco", "rb").read())[0].wavefront_size  # doctest: +SKIP
    64
    """
    out = []
    for k in metadata_note(elf)["amdhsa.kernels"]:
        if not isinstance(k, dict) or not isinstance(k.get(".name"), str):
            raise MetadataError("an amdhsa.kernels entry is not a map with a .name")
        agpr = k.get(".agpr_count")
        out.append(KernelResources(
            name=k[".name"],
            wavefront_size=_field(k, ".wavefront_size"),
            vgpr_count=_field(k, ".vgpr_count"),
            sgpr_count=_field(k, ".sgpr_count"),
            agpr_count=None if agpr is None else _field(k, ".agpr_count"),
            lds_bytes=_field(k, ".group_segment_fixed_size"),
            scratch_bytes=_field(k, ".private_segment_fixed_size"),
            vgpr_spill_count=_field(k, ".vgpr_spill_count", 0),
            sgpr_spill_count=_field(k, ".sgpr_spill_count", 0),
            max_workgroup_size=_field(k, ".max_flat_workgroup_size"),
            dynamic_stack=bool(k.get(".uses_dynamic_stack", False)),
        ))  # fmt: skip
    return tuple(sorted(out, key=lambda r: r.name))


# ---- occupancy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetLimits:
    """What one processor offers a kernel (per SIMD unless said otherwise)."""

    max_waves: int  # waves a SIMD can hold (LLVM getMaxWavesPerEU)
    vgprs: dict[int, int]  # wave size -> VGPRs a lane of one SIMD's file (getTotalNumVGPRs)
    granule: dict[int, int]  # wave size -> VGPR allocation granule (getVGPRAllocGranule)
    lds_workgroup: int  # bytes of LDS one workgroup may allocate
    lds_pool: int  # bytes of LDS shared by the workgroups of one CU (CDNA) or WGP (RDNA)
    simds: int  # SIMDs sharing that pool
    cdna: bool  # SGPRs limit occupancy (gfx9); on gfx10+ every wave has its own SGPRs


# Sources: LLVM lib/Target/AMDGPU/Utils/AMDGPUBaseInfo.cpp (getMaxWavesPerEU,
# getTotalNumVGPRs, getVGPRAllocGranule; "1.5x VGPRs" targets gfx1100/1101/1151/1200/1201),
# and the ISA guides: CDNA2/CDNA3 have one unified 512-register file a lane (arch VGPRs and
# AGPRs) per SIMD, granule 8, at most 8 waves a SIMD, 4 SIMDs and 64 KiB LDS a CU (CDNA4
# gfx950: 160 KiB). RDNA compiles wave32 here; a WGP has 4 SIMD32 and 128 KiB of LDS, a
# workgroup up to 64 KiB, at most 16 waves a SIMD; RDNA2 has 1024 VGPRs a lane in wave32
# (granule 16), RDNA3 gfx1100 and RDNA4 gfx120x 1536 (granule 24).
_CDNA = dict(max_waves=8, vgprs={64: 512}, granule={64: 8}, lds_workgroup=65536,
             lds_pool=65536, simds=4, cdna=True)  # fmt: skip
TARGET_LIMITS: dict[str, TargetLimits] = {
    "gfx90a": TargetLimits(**_CDNA),
    "gfx942": TargetLimits(**_CDNA),
    "gfx950": TargetLimits(**{**_CDNA, "lds_workgroup": 163840, "lds_pool": 163840}),
    "gfx1030": TargetLimits(16, {32: 1024, 64: 512}, {32: 16, 64: 8}, 65536, 131072, 4, False),
    "gfx1100": TargetLimits(16, {32: 1536, 64: 768}, {32: 24, 64: 12}, 65536, 131072, 4, False),
    "gfx1201": TargetLimits(16, {32: 1536, 64: 768}, {32: 24, 64: 12}, 65536, 131072, 4, False),
}


@dataclass(frozen=True)
class Occupancy:
    """Waves a SIMD can hold for one kernel, each limit, and which one binds."""

    waves_per_simd: float
    by_vgprs: int
    by_sgprs: int
    by_lds: float
    limited_by: str
    vgprs_allocated: int
    lds_ok: bool


def _align(n: int, granule: int) -> int:
    return -(-n // granule) * granule


def occupancy(target: str, k: KernelResources) -> Occupancy:
    """Waves per SIMD of kernel ``k`` on ``target`` (processor name; features are ignored).

    VGPRs: a wave allocates ``align(v, 4) + a`` registers on gfx90a-class targets when it uses
    AGPRs (unified file), ``max(v, a)`` otherwise, rounded up to the target's granule; waves
    = min(max waves, file / allocation). SGPRs bind on CDNA only (<= 80: 10, <= 88: 9,
    <= 100: 8, else 7, LLVM ``getOccupancyWithNumSGPRs``). LDS: whole workgroups of
    ``ceil(max_workgroup_size / wave)`` waves share the CU/WGP pool across its SIMDs. The
    result counts whole workgroups, so it may be a fraction of a wave a SIMD.

    Example
    -------
    >>> k = KernelResources("k", 32, 96, 30, None, 0, 0, 0, 0, 512)
    >>> occupancy("gfx1100", k).by_vgprs          # 1536 / 96
    16
    """
    proc = target.split(":")[0]
    if proc not in TARGET_LIMITS:
        raise ValueError(f"no occupancy rules for target {target!r} "
                         f"(known: {', '.join(sorted(TARGET_LIMITS))})")
    lim = TARGET_LIMITS[proc]
    wave = k.wavefront_size
    if wave not in lim.vgprs:
        raise ValueError(f"{k.name}: wavefront size {wave} is not one {proc} runs")
    agpr = k.agpr_count or 0
    used = _align(k.vgpr_count, 4) + agpr if lim.cdna and agpr else max(k.vgpr_count, agpr)
    alloc = _align(max(used, 1), lim.granule[wave])
    by_vgprs = min(lim.max_waves, max(lim.vgprs[wave] // alloc, 1))
    if not lim.cdna:
        by_sgprs = lim.max_waves
    else:
        s = k.sgpr_count
        by_sgprs = min(lim.max_waves, 10 if s <= 80 else 9 if s <= 88 else 8 if s <= 100 else 7)
    waves_per_group = -(-max(k.max_workgroup_size, 1) // wave)
    # Workgroups one CU (CDNA) or WGP (RDNA) holds under each limit; the smallest binds.
    groups = {
        f"VGPRs ({alloc} allocated of {lim.vgprs[wave]} a lane)":
            (lim.simds * by_vgprs) // waves_per_group,
        f"SGPRs ({k.sgpr_count})": (lim.simds * by_sgprs) // waves_per_group,
        f"LDS ({k.lds_bytes} B a workgroup of {lim.lds_pool} B)":
            lim.lds_pool // k.lds_bytes if k.lds_bytes else math.inf,
        f"the SIMD's maximum ({lim.max_waves} waves)":
            (lim.simds * lim.max_waves) // waves_per_group,
    }  # fmt: skip
    fit = min(groups.values())
    waves = fit * waves_per_group / lim.simds
    binding = [name for name, n in groups.items() if n == fit]
    # A register count that allows the SIMD's maximum is not what limits the kernel.
    limited_by = binding[-1] if binding[-1].startswith("the SIMD") else " and ".join(binding)
    if not fit:
        limited_by = f"one workgroup ({waves_per_group} waves) does not fit: " + " and ".join(
            name for name, n in groups.items() if n == 0)
    lds_groups = groups[f"LDS ({k.lds_bytes} B a workgroup of {lim.lds_pool} B)"]
    by_lds = math.inf if lds_groups == math.inf else lds_groups * waves_per_group / lim.simds
    return Occupancy(float(waves), by_vgprs, by_sgprs, by_lds, limited_by, alloc,
                     k.lds_bytes <= lim.lds_workgroup)


# ---- files and tables -----------------------------------------------------------------------


def resource_rows(data: bytes, module: str = "") -> list[dict[str, Any]]:
    """One row per (code object entry, kernel) of an AMDGPU ELF or offload bundle: the
    target, the kernel's :class:`KernelResources` fields and, for targets in
    :data:`TARGET_LIMITS`, its :class:`Occupancy` fields.

    Example
    -------
    >>> resource_rows(b"")
    Traceback (most recent call last):
    rocsample.codeobject.NotACodeObject: empty (0 bytes)
    """
    data = bytes(data)
    rows = []
    info = codeobject.inspect_bytes(data)
    for entry in info.entries:
        if entry.kind != "amdgpu":
            raise MetadataError(f"{entry.kind} code for {entry.target}: only AMDGPU code "
                                "objects carry AMDGPU metadata")
        for k in kernel_resources(codeobject.extract(data, entry)):
            row: dict[str, Any] = {"module": module, "target": entry.target, **asdict(k)}
            if entry.target.split(":")[0] in TARGET_LIMITS:
                occ = occupancy(entry.target, k)
                row.update(asdict(occ))
                if row["by_lds"] == math.inf:
                    row["by_lds"] = None  # JSON has no infinity
            rows.append(row)
    return rows


def file_resources(path: str | os.PathLike[str], module: str = "") -> list[dict[str, Any]]:
    """:func:`resource_rows` of a file, read as every code object file is (regular files
    only, bounded size: :func:`rocsample.codeobject.read_code_object`).

    Example
    -------
    >>> rows = file_resources("build/hsaco/topk_sampling.hsaco")  # doctest: +SKIP
    """
    from .codeobject import read_code_object

    return resource_rows(read_code_object(path), module or Path(path).stem)


def resource_table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of :func:`resource_rows` output.

    Example
    -------
    >>> resource_table([]).splitlines()[0].split(" | ")[:4]
    ['| module', 'kernel', 'target', 'wave']
    """
    head = ("| module | kernel | target | wave | VGPR | AGPR | SGPR | LDS B | scratch B/lane "
            "| spills v/s | waves/SIMD | limited by |")
    lines = [head, "|" + " --- |" * head.count(" | ") + " --- |"]
    for r in rows:
        agpr = "-" if r["agpr_count"] is None else str(r["agpr_count"])
        waves = f"{r['waves_per_simd']:g}" if "waves_per_simd" in r else "?"
        lines.append(
            f"| {r['module']} | {r['name']} | {r['target']} | {r['wavefront_size']} "
            f"| {r['vgpr_count']} | {agpr} | {r['sgpr_count']} | {r['lds_bytes']} "
            f"| {r['scratch_bytes']} | {r['vgpr_spill_count']}/{r['sgpr_spill_count']} "
            f"| {waves} | {r.get('limited_by', 'no rules for this target')} |"
        )
    return "\n".join(lines)
