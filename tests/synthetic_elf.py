"""Small ELF64 code objects written byte by byte, for tests that need a file of a given shape.

Real code objects come from hiprtc, NVRTC and hipcc in the tests that have them; these are for
what no compiler writes (damaged and crafted files: symbol tables that share one string
table, thousands of sections, bundles whose entries repeat) and for CLI tests that should not
need a toolchain. The layout is what ``rocsample.codeobject`` reads: the ELF header, then
``.strtab``, ``.symtab`` and ``.shstrtab``, then the section headers (null, those three, and
any ``extra`` ones).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from rocsample.registry import ABI_VERSION

EM_AMDGPU, EM_CUDA = 224, 190
GFX90A, GFX1030 = 0x3F, 0x36  # EF_AMDGPU_MACH values
STT_OBJECT_GLOBAL, STT_FUNC_GLOBAL = 0x11, 0x12
STO_CUDA_ENTRY = 0x10
SHT_STRTAB, SHT_SYMTAB, SHT_NOTE = 3, 2, 7
SHSTRTAB = b"\0.strtab\0.symtab\0.shstrtab\0.note.nv.tkinfo\0"
TKINFO_NAME = SHSTRTAB.index(b".note.nv.tkinfo")
_SYM = struct.Struct("<IBBHQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")


def amd_symbols(kernels: Iterable[str],
                abi: int | None = ABI_VERSION) -> list[tuple[str, int, int]]:
    """Symbols of an AMDGPU code object v4 defining ``kernels`` (each with its ``.kd``) and,
    unless ``abi`` is None, rs_common.h's ``rocsample_abi_v<abi>`` marker."""
    syms = []
    for k in kernels:
        syms += [(k, STT_FUNC_GLOBAL, 0), (f"{k}.kd", STT_OBJECT_GLOBAL, 0)]
    if abi is not None:
        syms.append((f"rocsample_abi_v{abi}", STT_OBJECT_GLOBAL, 0))
    return syms


def elf(
    symbols: Iterable[tuple[str, int, int]] = (),
    *,
    machine: int = EM_AMDGPU,
    flags: int = GFX90A,
    abi_version: int = 2,
    strtab: bytes | None = None,
    raw_symbols: Sequence[tuple[int, int, int, int]] | None = None,
    extra_sections: Sequence[tuple[int, ...]] = (),
    tail: bytes = b"",
) -> bytes:
    """An ELF64 image.

    ``symbols`` are (name, st_info, st_other), all defined in section 1. For crafted tables
    give ``strtab`` and ``raw_symbols`` (st_name, st_info, st_other, st_shndx) instead.
    ``extra_sections`` are section header tuples (name, type, flags, addr, offset, size, link,
    info, align, entsize) with offsets into the image; ``tail`` is appended after the
    tables (at :func:`tail_offset`), for extra sections to point into.
    """
    if strtab is None:
        names, raw, at = [b"\0"], [(0, 0, 0, 0)], 1
        for name, info, other in symbols:
            raw.append((at, info, other, 1))
            names.append(name.encode() + b"\0")
            at += len(names[-1])
        strtab = b"".join(names)
    else:
        raw = list(raw_symbols or [])
    symtab = b"".join(_SYM.pack(name, info, other, shndx, 0, 0)
                      for name, info, other, shndx in raw)
    off_str = 64
    off_sym = off_str + len(strtab)
    off_shs = off_sym + len(symtab)
    off_tail = off_shs + len(SHSTRTAB)
    shoff = off_tail + len(tail)
    shoff += -shoff % 8
    sections = [
        (0,) * 10,
        (1, SHT_STRTAB, 0, 0, off_str, len(strtab), 0, 0, 1, 0),
        (9, SHT_SYMTAB, 0, 0, off_sym, len(symtab), 1, 1, 8, _SYM.size),
        (17, SHT_STRTAB, 0, 0, off_shs, len(SHSTRTAB), 0, 0, 1, 0),
        *extra_sections,
    ]
    ident = b"\x7fELF" + bytes([2, 1, 1, 64 if machine == EM_AMDGPU else 51, abi_version])
    header = ident.ljust(16, b"\0") + struct.pack(
        "<HHIQQQIHHHHHH", 1, machine, 1, 0, 0, shoff, flags, 64, 0, 0, _SHDR.size,
        len(sections), 3)
    body = header + strtab + symtab + SHSTRTAB + tail
    body = body.ljust(shoff, b"\0")
    return body + b"".join(_SHDR.pack(*sh) for sh in sections)


def tail_offset(strtab_len: int, nsyms: int) -> int:
    """Where :func:`elf`'s ``tail`` starts, for a string table and symbol count of these
    sizes (the symbol count includes the null symbol)."""
    return 64 + strtab_len + nsyms * _SYM.size + len(SHSTRTAB)


def bundle(entries: Sequence[tuple[str, int, int]], payload: bytes) -> bytes:
    """A clang offload bundle whose entries are (triple, offset into ``payload``, size);
    ``payload`` follows the header."""
    header_len = 24 + 8 + sum(24 + len(t.encode()) for t, _, _ in entries)
    out = bytearray(b"__CLANG_OFFLOAD_BUNDLE__" + struct.pack("<Q", len(entries)))
    for triple, off, size in entries:
        raw = triple.encode()
        out += struct.pack("<QQQ", header_len + off, size, len(raw)) + raw
    return bytes(out) + payload
