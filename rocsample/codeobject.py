"""Read GPU code objects (AMDGPU HSACO, CUDA cubin, clang offload bundles) with ``struct``.

A code object named by an environment variable or found in the kernel directory is checked
here before it reaches ``hipModuleLoadData``/``cuModuleLoadData``, so a wrong file fails with
a :class:`~rocsample.errors.KernelLoadError` that says what is wrong instead of a bare driver
status.  Facts used (all little-endian ELF64):

* AMDGPU (``e_machine`` 224): processor in ``e_flags & 0xff`` (``EF_AMDGPU_MACH``, values from
  LLVM ``BinaryFormat/ELF.h``); code object v4+ (``EI_ABIVERSION`` >= 2) keeps xnack in
  ``0x300`` and sramecc in ``0xc00`` (unsupported/any/off/on = 0/1/2/3 of the field).
  Kernels are the symbols that have a ``<name>.kd`` kernel descriptor.
* CUDA (``e_machine`` 190): the SM number is ``e_flags & 0xff`` for ``EI_ABIVERSION`` 7 and
  ``(e_flags >> 8) & 0xff`` for version 8 (CUDA 13); the ``a`` variant is ``0x800``/``0x8``
  respectively, or the ``-arch sm_NNa`` that ptxas records in ``.note.nv.tkinfo`` (NVRTC 13
  writes identical ``e_flags`` for sm_90 and sm_90a).  Kernels carry ``STO_CUDA_ENTRY``
  (``0x10``) in ``st_other``.
* Offload bundle: ``__CLANG_OFFLOAD_BUNDLE__``, u64 count, then per entry u64 offset, u64
  size, u64 triple length and the triple; entry data aligned to 4096 as ``hipcc`` writes it.

Files are read by :func:`read_code_object` only: a regular file under a size cap, never a
FIFO or a device. The parsers index the one buffer (no copies of sub-ranges), parse an ELF
that several bundle entries name once, and cap entries, sections and symbols, so that any
input costs time linear in its size.

Example
-------
>>> from rocsample.codeobject import target_matches
>>> target_matches("gfx90a", "gfx90a:sramecc+:xnack-")
True
>>> target_matches("gfx90a:xnack+", "gfx90a:sramecc+:xnack-")
False
"""

from __future__ import annotations

import logging
import os
import re
import stat
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import KernelLoadError, RocsampleError

__all__ = [
    "CodeObjectEntry", "CodeObjectInfo", "NotACodeObject", "abi_problem", "check_entry", "describe",
    "extract",
    "MAX_BUNDLE_ENTRIES", "MAX_FILE_BYTES", "MAX_SECTIONS", "MAX_SYMBOLS", "inspect_bytes",
    "inspect_file", "read_code_object", "read_entry", "select_entry", "target_matches",
    "validate_code_object", "write_bundle",
]  # fmt: skip

log = logging.getLogger("rocsample")

EM_CUDA = 190
EM_AMDGPU = 224
BUNDLE_MAGIC = b"__CLANG_OFFLOAD_BUNDLE__"
BUNDLE_ALIGN = 4096
HOST_TRIPLE = "host-x86_64-unknown-linux-gnu-"
HIP_TRIPLE_PREFIX = "hipv4-amdgcn-amd-amdhsa--"
_STO_CUDA_ENTRY = 0x10
_STT_AMDGPU_HSA_KERNEL = 10  # code object v2 kernels
_SHT_SYMTAB, _SHT_NOBITS, _SHT_DYNSYM = 2, 8, 11

# EF_AMDGPU_MACH_AMDGCN_* (LLVM llvm/include/llvm/BinaryFormat/ELF.h).
_AMDGPU_MACH = {
    0x20: "gfx600", 0x21: "gfx601", 0x22: "gfx700", 0x23: "gfx701", 0x24: "gfx702",
    0x25: "gfx703", 0x26: "gfx704", 0x28: "gfx801", 0x29: "gfx802", 0x2A: "gfx803",
    0x2B: "gfx810", 0x2C: "gfx900", 0x2D: "gfx902", 0x2E: "gfx904", 0x2F: "gfx906",
    0x30: "gfx908", 0x31: "gfx909", 0x32: "gfx90c", 0x33: "gfx1010", 0x34: "gfx1011",
    0x35: "gfx1012", 0x36: "gfx1030", 0x37: "gfx1031", 0x38: "gfx1032", 0x39: "gfx1033",
    0x3A: "gfx602", 0x3B: "gfx705", 0x3C: "gfx805", 0x3D: "gfx1035", 0x3E: "gfx1034",
    0x3F: "gfx90a", 0x40: "gfx940", 0x41: "gfx1100", 0x42: "gfx1013", 0x43: "gfx1150",
    0x44: "gfx1103", 0x45: "gfx1036", 0x46: "gfx1101", 0x47: "gfx1102", 0x48: "gfx1200",
    0x49: "gfx1250", 0x4A: "gfx1151", 0x4B: "gfx941", 0x4C: "gfx942", 0x4E: "gfx1201",
    0x4F: "gfx950", 0x51: "gfx9-generic", 0x52: "gfx10-1-generic", 0x53: "gfx10-3-generic",
    0x54: "gfx11-generic", 0x55: "gfx1152", 0x58: "gfx1153", 0x59: "gfx12-generic",
    0x5F: "gfx9-4-generic",
}  # fmt: skip

_ELF_HDR = struct.Struct("<HHIQQQIHHHHHH")  # e_type .. e_shstrndx, at offset 16
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_CUDA_RE = re.compile(r"sm_(\d+)([af]?)")
_TKINFO_ARCH = re.compile(rb"-arch\s+sm_(\d+)([af]?)\b")
_ABI_SYMBOL = re.compile(rb"rocsample_abi_v(\d+)")  # rs_common.h's marker
_GRID_WAIT_SYMBOL = b"rocsample_grid_wait"  # rs_engine.h's: later phases may overlap

#: Largest file read as a code object. ``make hsaco`` writes about 300 KB per module for two
#: targets (a few MB for every module and many targets); the cap stops a wrong path (a disk
#: image, a 2 GB sparse file) from being read into memory before it can be refused.
MAX_FILE_BYTES = 64 << 20
#: Most entries an offload bundle may declare: hipcc writes one per target plus the host's.
MAX_BUNDLE_ENTRIES = 1024
#: Most ELF sections and symbols read from one file, all its code objects together.
MAX_SECTIONS = 1 << 16
MAX_SYMBOLS = 1 << 16
_MAX_NAME = 1024  # bytes of a symbol name looked at; ours are under 40


class NotACodeObject(RocsampleError, ValueError):
    """The bytes are not a GPU code object this module understands; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class CodeObjectEntry:
    """One device ELF: ``kind`` ("amdgpu"/"cuda"), ``target`` id, kernel ``symbols``, where
    it lies (``offset``, ``size``) in the inspected data, the rocsample kernel ``abi``
    it declares (the N of a defined ``rocsample_abi_vN`` symbol; None: no marker), and
    ``grid_wait``: it defines ``rocsample_grid_wait`` (rs_engine.h), so its entries wait for
    the previous grid before reading what it wrote and a later phase may overlap it."""

    kind: str
    target: str
    symbols: tuple[str, ...]
    offset: int
    size: int
    abi: int | None = None
    grid_wait: bool = False


@dataclass(frozen=True)
class CodeObjectInfo:
    """What a file holds: ``format`` ("amdgpu-elf", "cuda-elf", "offload-bundle"), its
    ``entries`` and total ``size`` in bytes."""

    format: str
    entries: tuple[CodeObjectEntry, ...]
    size: int


class _Budget:
    """What parsing one file may cost, all its code objects together.

    Every count a file declares is checked against its size, but a crafted file can still make
    a parser repeat work: bundle entries that overlap, so that many ELFs share one section or
    symbol table.  These caps (far above what compilers write: one of our modules holds 13
    sections and under 50 symbols per target), with the bound on the bytes of a name that
    are read, keep the work linear in the file size; a refusal says which cap was crossed.
    """

    def __init__(self) -> None:
        self.left = {"sections": MAX_SECTIONS, "symbols": MAX_SYMBOLS}

    def take(self, what: str, count: int) -> None:
        """Spend ``count`` of ``what`` ("sections" or "symbols"), or refuse the file."""
        if count > self.left[what]:
            cap = MAX_SECTIONS if what == "sections" else MAX_SYMBOLS
            raise NotACodeObject(
                f"more than {cap} {what} in all its code objects (compilers write a few hundred "
                f"at most): a damaged or crafted file"
            )
        self.left[what] -= count


def _cstr(data: bytes, start: int, end: int) -> bytes:
    """The NUL-terminated name at ``start`` (at most ``_MAX_NAME`` bytes are looked at, so a
    table without NULs costs each symbol a bounded scan); a cut name ends in ``b"..."``."""
    if start >= end:
        return b""
    limit = min(end, start + _MAX_NAME)
    stop = data.find(b"\0", start, limit)
    if stop >= 0:
        return data[start:stop]
    return data[start:limit] + (b"..." if limit < end else b"")


def _amdgpu_target(abi: int, flags: int) -> str:
    mach = flags & 0xFF
    target = _AMDGPU_MACH.get(mach, f"amdgcn-mach-{mach:#04x}")
    if abi >= 2:  # code object v4+: 2-bit fields, 0 unsupported, 1 any, 2 off, 3 on
        modes = {2: "-", 3: "+"}
        sramecc, xnack = modes.get((flags >> 10) & 3), modes.get((flags >> 8) & 3)
    else:  # v3 has on-bits only (xnack 0x100, sramecc 0x200); v2 has xnack 0x01
        sramecc = "+" if abi == 1 and flags & 0x200 else None
        xnack = "+" if flags & (0x100 if abi == 1 else 0x01) else None
    if sramecc:
        target += f":sramecc{sramecc}"
    if xnack:
        target += f":xnack{xnack}"
    return target


def _parse_elf(data: bytes, base: int, n: int, budget: _Budget) -> CodeObjectEntry:
    """Parse the ELF image ``data[base : base + n]`` in place (no copy of the image)."""
    if n == 0:
        raise NotACodeObject("empty (0 bytes)")
    if not data.startswith(b"\x7fELF", base):
        head = data[base : base + min(n, 4)]
        raise NotACodeObject(f"bad magic {head.hex(' ')} (expected 7f 45 4c 46, ELF)")
    if n < 64:
        raise NotACodeObject(f"too short: {n} bytes, an ELF64 header alone needs 64")
    if data[base + 4] != 2 or data[base + 5] != 1:
        raise NotACodeObject("not a little-endian 64-bit ELF (EI_CLASS/EI_DATA)")
    (_, machine, _, _, phoff, shoff, flags, _, phentsize, phnum, shentsize, shnum,
     shstrndx) = _ELF_HDR.unpack_from(data, base + 16)  # fmt: skip
    if machine not in (EM_AMDGPU, EM_CUDA):
        raise NotACodeObject(
            f"unknown e_machine {machine} (expected {EM_AMDGPU} AMDGPU or {EM_CUDA} CUDA)"
        )
    if shnum and shentsize != _SHDR.size:
        raise NotACodeObject(f"bad section header size {shentsize} (expected {_SHDR.size})")
    need = max(64, shoff + shnum * shentsize, phoff + phnum * phentsize)
    if need > n:
        raise NotACodeObject(f"truncated: header/section table needs {need} bytes, have {n}")
    budget.take("sections", shnum)
    sections = [_SHDR.unpack_from(data, base + shoff + i * _SHDR.size) for i in range(shnum)]
    for sh in sections:
        if sh[1] != _SHT_NOBITS and sh[4] + sh[5] > n:
            raise NotACodeObject(f"truncated: a section ends at {sh[4] + sh[5]}, have {n}")

    def table(index: int, what: str) -> tuple[int, int]:
        """Where string table ``index`` lies in ``data``; it must lie inside this image."""
        if index >= len(sections):
            raise NotACodeObject(f"{what} links to a missing string table")
        sh = sections[index]
        if sh[1] == _SHT_NOBITS:  # no bytes in the file: its range is unchecked above
            raise NotACodeObject(f"{what} links to a string table with no data (SHT_NOBITS)")
        return base + sh[4], base + sh[4] + sh[5]

    symtabs = [s for s in sections if s[1] == _SHT_SYMTAB]
    symtabs = symtabs or [s for s in sections if s[1] == _SHT_DYNSYM]  # stripped objects
    kabi, waits = None, False
    marks: set[int] = set()
    kernels: set[bytes] = set()
    kds: set[bytes] = set()
    for sh in symtabs[:1]:
        str_start, str_end = table(sh[6], "symbol table")
        count = sh[5] // _SYM.size
        budget.take("symbols", count)
        for i in range(count):
            name_off, info, other, shndx, _, _ = _SYM.unpack_from(data,
                                                                  base + sh[4] + i * _SYM.size)
            if not shndx:  # undefined: not something this code object provides
                continue
            name = _cstr(data, str_start + name_off, str_end)
            if not name:
                continue
            if machine == EM_AMDGPU:
                if name.endswith(b".kd"):
                    kds.add(name[:-3])
                elif info & 0xF == _STT_AMDGPU_HSA_KERNEL:
                    kernels.add(name)
            elif other & _STO_CUDA_ENTRY:
                kernels.add(name)
            if name.startswith(b"rocsample_"):
                if m := _ABI_SYMBOL.fullmatch(name):
                    marks.add(int(m.group(1)))
                waits = waits or name == _GRID_WAIT_SYMBOL
    if marks:
        kabi = max(marks) if len(marks) == 1 else -1  # -1: contradictory
    symbols = tuple(sorted(k.decode("utf-8", "replace") for k in kernels | kds))
    abi = data[base + 8]
    if machine == EM_AMDGPU:
        return CodeObjectEntry("amdgpu", _amdgpu_target(abi, flags), symbols, base, n, kabi,
                               waits)
    sm, accel = (flags & 0xFF, flags & 0x800) if abi <= 7 else ((flags >> 8) & 0xFF, flags & 0x8)
    suffix = "a" if accel else ""
    if not suffix and shstrndx < len(sections):
        names_start, names_end = table(shstrndx, "section header")
        for sh in sections:
            if _cstr(data, names_start + sh[0], names_end) == b".note.nv.tkinfo":
                if sh[1] != _SHT_NOBITS:
                    m = _TKINFO_ARCH.search(data, base + sh[4], base + sh[4] + sh[5])
                    if m and int(m.group(1)) == sm:
                        suffix = m.group(2).decode()
                break  # ptxas writes one; searching every copy would cost sections x size
    return CodeObjectEntry("cuda", f"sm_{sm}{suffix}", symbols, base, n, kabi, waits)


def _parse_bundle(data: bytes, budget: _Budget) -> CodeObjectInfo:
    n = len(data)
    if n < 32:
        raise NotACodeObject(f"truncated bundle header: {n} bytes, the entry count needs 32")
    (count,) = struct.unpack_from("<Q", data, 24)
    if count > (n - 32) // 24:
        raise NotACodeObject(
            f"truncated bundle header: {count} entries need over {32 + 24 * count} bytes, have {n}"
        )
    if count > MAX_BUNDLE_ENTRIES:
        raise NotACodeObject(
            f"bundle declares {count} entries, more than the {MAX_BUNDLE_ENTRIES} allowed (a "
            f"bundle holds one per target and one for the host): a damaged or crafted file"
        )
    pos, entries = 32, []
    # Entries that name the same bytes are parsed once: repeats must not multiply the work.
    parsed: dict[tuple[int, int], CodeObjectEntry] = {}
    for i in range(count):
        if pos + 24 > n:
            raise NotACodeObject(f"truncated bundle header: entry {i} is cut off at byte {n}")
        off, size, tlen = struct.unpack_from("<QQQ", data, pos)
        if pos + 24 + tlen > n:
            raise NotACodeObject(f"truncated bundle header: triple of entry {i} is cut off")
        triple = data[pos + 24 : pos + 24 + tlen].decode("utf-8", "replace")
        pos += 24 + tlen
        if off + size > n:
            raise NotACodeObject(
                f"bundle entry {i} ({triple}) spans bytes {off}..{off + size}, "
                f"past the end of the {n}-byte data"
            )
        if size == 0 or triple.startswith("host-"):
            continue
        entry = parsed.get((off, size))
        if entry is None:
            try:
                entry = _parse_elf(data, off, size, budget)
            except NotACodeObject as exc:
                raise NotACodeObject(f"bundle entry {i} ({triple}): {exc.reason}") from None
            parsed[(off, size)] = entry
        declared = triple.partition("--")[2]
        if entry.kind == "amdgpu" and declared and declared != entry.target:
            log.warning("bundle entry %s holds code for %s", triple, entry.target)
        entries.append(entry)
    return CodeObjectInfo("offload-bundle", tuple(entries), n)


def inspect_bytes(data: bytes) -> CodeObjectInfo:
    """Describe an in-memory code object.

    Parameters
    ----------
    data : bytes
        An AMDGPU ELF (HSACO), a CUDA cubin or a clang offload bundle.

    Raises
    ------
    NotACodeObject
        With the reason: empty, too short, bad magic, truncated, unknown ``e_machine``...

    Example
    -------
    >>> inspect_bytes(b"")
    Traceback (most recent call last):
    rocsample.codeobject.NotACodeObject: empty (0 bytes)
    """
    data = bytes(data)  # no copy of bytes; the parsers index this one buffer, never slice it
    if data.startswith(BUNDLE_MAGIC):
        return _parse_bundle(data, _Budget())
    if data.startswith(b"\x7fELF"):
        entry = _parse_elf(data, 0, len(data), _Budget())
        return CodeObjectInfo(f"{entry.kind}-elf", (entry,), len(data))
    if not data:
        raise NotACodeObject("empty (0 bytes)")
    if data.startswith(b"CCOB"):
        raise NotACodeObject("compressed offload bundle (CCOB); unbundle it first")
    if data.startswith(b"\x50\xed\x55\xba"):
        raise NotACodeObject("CUDA fatbinary; give a cubin (ELF) instead")
    head = data[:64]
    if all(32 <= b < 127 or b in b"\t\n\r" for b in head):
        raise NotACodeObject(f"text, not a compiled code object (starts {head[:24]!r})")
    if len(data) < 4:
        raise NotACodeObject(f"too short: {len(data)} bytes")
    raise NotACodeObject(f"bad magic {head[:8].hex(' ')} (expected ELF or offload bundle)")


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "some other kind of file")
    return (f"not a regular file but {kind}; name a code object file (.hsaco, .cubin or an "
            f"offload bundle)")


def read_code_object(path: str | os.PathLike[str], env_var: str | None = None) -> bytes:
    """Read the whole code object file ``path``, refusing at once what cannot be one.

    Only a regular file of at most :data:`MAX_FILE_BYTES` is read, and exactly the size it
    had when opened: a FIFO, a directory or a device (``/dev/zero``) is refused before any
    byte is read, a huge or sparse file by its size, and a file that grows or shrinks
    meanwhile is an error, so no path can hang the caller or exhaust its memory.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    env_var : str, optional
        The variable that named it, for the error (``None``: named some other way).

    Returns
    -------
    bytes
        The file's contents.

    Raises
    ------
    KernelLoadError
        ``reason`` is one of: "file does not exist", "not readable: <errno text>", "not a
        regular file but <a FIFO, a directory, a character device...>", "<n> bytes, over the
        <cap> limit...", "changed size while being read...".

    Example
    -------
    >>> from rocsample.errors import KernelLoadError
    >>> try:
    ...     read_code_object("/dev/zero", "TOPK_SAMPLING_HSACO")
    ... except KernelLoadError as exc:
    ...     print(exc.env_var, exc.path, exc.reason.split(";")[0], sep=" | ")
    TOPK_SAMPLING_HSACO | /dev/zero | not a regular file but a character device
    """
    where = os.fspath(path)

    def fail(reason: str) -> KernelLoadError:
        log.debug("rejecting code object %s: %s", where, reason)
        return KernelLoadError(where, env_var, reason)

    # stat before open: opening a device can have effects of its own (a watchdog starts,
    # a tape rewinds), so only what is a regular file now is ever opened.
    try:
        before = os.stat(where)
    except FileNotFoundError:
        raise fail("file does not exist") from None
    except OSError as exc:
        raise fail(f"not readable: {exc.strerror or exc}") from exc
    if (why := _not_regular(before.st_mode)) is not None:
        raise fail(why)
    try:
        # O_NONBLOCK: should the path become a FIFO between stat and open, open returns at
        # once instead of waiting for a writer; fstat below then refuses it.
        fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise fail("file does not exist") from None
    except OSError as exc:
        raise fail(f"not readable: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if (why := _not_regular(st.st_mode)) is not None:
            raise fail(why)
        size = st.st_size
        if size > MAX_FILE_BYTES:
            raise fail(f"{size} bytes, over the {MAX_FILE_BYTES >> 20} MiB limit for a code "
                       f"object (a bundle of every rocsample module for many targets is a few "
                       f"MB): not a code object, or not the file meant")
        chunks, got = [], 0
        while got < size:
            chunk = os.read(fd, size - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got < size or os.read(fd, 1):
            grew = "shrank" if got < size else "grew"
            raise fail(f"changed size while being read ({size} bytes when opened, then it "
                       f"{grew}): read it again once whatever writes it has finished")
    except OSError as exc:
        raise fail(f"not readable: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    return b"".join(chunks)


def inspect_file(path: str | os.PathLike[str], env_var: str | None = None) -> CodeObjectInfo:
    """Read ``path`` with :func:`read_code_object` and :func:`inspect_bytes` it.

    Raises
    ------
    KernelLoadError
        The file cannot be read as a code object file (missing, a FIFO, too large...);
        ``env_var`` is the variable named in it.
    NotACodeObject
        Its bytes are not a code object.

    Example
    -------
    >>> info = inspect_file("build/hsaco/topk.hsaco")  # doctest: +SKIP
    """
    return inspect_bytes(read_code_object(path, env_var))


def _parse_target(target: str) -> tuple[str, dict[str, str]]:
    target = target.strip().removeprefix("amdgcn-amd-amdhsa--")
    proc, *feats = target.split(":")
    return proc.lower(), {f[:-1]: f[-1] for f in feats if f[-1:] in ("+", "-")}


def target_matches(code_target: str, device_target: str) -> bool:
    """Whether code built for ``code_target`` runs on a device ``device_target``.

    AMD target ids: processors must be equal; a feature the code leaves 'any' (absent)
    matches either setting, a feature the code sets (``xnack-``, ``sramecc+``...) must equal
    the device's (a device id that omits the feature does not match it).  CUDA follows the
    cubin rule of the CUDA programming guide: ``sm_XY`` runs on devices of the same major
    ``X`` and minor ``>= Y``; architecture-specific ``sm_XYa`` code only on compute
    capability ``X.Y`` exactly (device written ``sm_XY`` or ``sm_XYa``).  AMD never matches
    CUDA.

    Example
    -------
    >>> target_matches("sm_80", "sm_86"), target_matches("sm_90a", "sm_90")
    (True, True)
    >>> target_matches("sm_90", "sm_100"), target_matches("sm_86", "sm_80")
    (False, False)
    """
    code_cuda, dev_cuda = _CUDA_RE.fullmatch(code_target), _CUDA_RE.fullmatch(device_target)
    if code_cuda or dev_cuda:
        if not (code_cuda and dev_cuda):
            return False
        code, dev = int(code_cuda.group(1)), int(dev_cuda.group(1))
        if code_cuda.group(2) == "a":
            return code == dev
        return code // 10 == dev // 10 and dev % 10 >= code % 10
    code_proc, code_feats = _parse_target(code_target)
    dev_proc, dev_feats = _parse_target(device_target)
    if code_proc != dev_proc:
        return False
    return all(dev_feats.get(name) == sign for name, sign in code_feats.items())


def _specificity(entry: CodeObjectEntry) -> tuple[int, int]:
    if entry.kind == "cuda":
        m = _CUDA_RE.fullmatch(entry.target)
        return (int(m.group(1)), m.group(2) == "a") if m else (0, 0)
    return (len(_parse_target(entry.target)[1]), 0)


def select_entry(info: CodeObjectInfo, device_target: str) -> CodeObjectEntry | None:
    """The entry to load on ``device_target``: the most specific match, or ``None``.

    Example
    -------
    >>> e = CodeObjectEntry("amdgpu", "gfx90a", ("k",), 0, 64)
    >>> select_entry(CodeObjectInfo("amdgpu-elf", (e,), 64), "gfx1030") is None
    True
    """
    matches = [e for e in info.entries if target_matches(e.target, device_target)]
    return max(matches, key=_specificity, default=None)


def extract(data: bytes, entry: CodeObjectEntry) -> bytes:
    """The bytes of ``entry`` inside ``data`` (the whole input for a plain ELF).

    Example
    -------
    >>> e = CodeObjectEntry("amdgpu", "gfx90a", (), 2, 3)
    >>> extract(b"..abc..", e)
    b'abc'
    """
    if entry.offset < 0 or entry.offset + entry.size > len(data):
        raise NotACodeObject(
            f"entry {entry.target} at {entry.offset}+{entry.size} lies outside {len(data)} bytes"
        )
    return bytes(data[entry.offset : entry.offset + entry.size])


def write_bundle(images: Mapping[str, bytes]) -> bytes:
    """Build a clang offload bundle from AMDGPU code objects keyed by their target id.

    The layout is what ``hipcc --genco`` writes: an empty host entry, then one
    ``hipv4-amdgcn-amd-amdhsa--<target id>`` entry per image, sorted by triple, with every
    entry's data aligned to 4096 bytes.  Each image must be an AMDGPU ELF for its key.

    Example
    -------
    >>> write_bundle({})
    Traceback (most recent call last):
    ValueError: write_bundle needs at least one image
    """
    if not images:
        raise ValueError("write_bundle needs at least one image")
    for key, image in images.items():
        info = inspect_bytes(image)
        if info.format != "amdgpu-elf" or info.entries[0].target != key:
            held = ", ".join(e.target for e in info.entries)
            raise ValueError(f"image for {key} is {info.format} with code for {held}")
    items = [(HOST_TRIPLE, b"")] + sorted(
        (HIP_TRIPLE_PREFIX + key, bytes(img)) for key, img in images.items()
    )
    header_size = len(BUNDLE_MAGIC) + 8 + sum(24 + len(t.encode()) for t, _ in items)
    pos, offsets = header_size, []
    for _, blob in items:
        pos = -(-pos // BUNDLE_ALIGN) * BUNDLE_ALIGN
        offsets.append(pos)
        pos += len(blob)
    out = bytearray(BUNDLE_MAGIC + struct.pack("<Q", len(items)))
    for (triple, blob), off in zip(items, offsets, strict=True):
        raw = triple.encode()
        out += struct.pack("<QQQ", off, len(blob), len(raw)) + raw
    for (_, blob), off in zip(items, offsets, strict=True):
        out += bytes(off - len(out)) + blob
    return bytes(out)


def validate_code_object(
    path: str | os.PathLike[str],
    env_var: str | None,
    device_target: str,
    entry_points: Sequence[str],
    abi: int | None = None,
    allow_unmarked: bool = True,
) -> bytes:
    """Check that ``path`` can be loaded on ``device_target`` and defines ``entry_points``.

    With ``abi``, the code for the target must also declare that rocsample kernel ABI
    (rs_common.h's ``rocsample_abi_vN`` symbol): another version is refused, and so is no
    marker at all unless ``allow_unmarked`` (then it is loaded with a warning: a code object
    a user wrote from scratch).

    Returns
    -------
    bytes
        The whole file, ready for ``hipModuleLoadData``/``cuModuleLoadData``.

    Raises
    ------
    KernelLoadError
        ``reason`` is one of those of :func:`read_code_object` ("file does not exist",
        "not a regular file but a FIFO"...), "not a code object: <why>", "no code for
        target <t> (file holds: ...)",
        "entry point <name> missing (file defines: ...)", "built for rocsample kernel ABI
        <n>, ...", "declares no rocsample kernel ABI ...".

    Example
    -------
    >>> validate_code_object("/no/k.hsaco", None, "gfx90a", ["k"])
    Traceback (most recent call last):
    rocsample.errors.KernelLoadError: cannot load code object /no/k.hsaco: file does not exist
    """
    data, entry = read_entry(path, env_var, device_target)
    check_entry(path, env_var, entry, entry_points, abi, allow_unmarked)
    return data


def read_entry(path: str | os.PathLike[str], env_var: str | None,
               device_target: str) -> tuple[bytes, CodeObjectEntry]:
    """The bytes of ``path`` and the code object in it that a ``device_target`` would load:
    the first half of :func:`validate_code_object` (one read, one parse), for a loader that
    takes several entry points from one file.

    Example
    -------
    >>> read_entry("/no/k.hsaco", None, "gfx90a")
    Traceback (most recent call last):
    rocsample.errors.KernelLoadError: cannot load code object /no/k.hsaco: file does not exist
    """
    where = os.fspath(path)
    data = read_code_object(where, env_var)
    try:
        info = inspect_bytes(data)
    except NotACodeObject as exc:
        raise _reject(where, env_var, f"not a code object: {exc.reason}") from None
    entry = select_entry(info, device_target)
    if entry is None:
        held = ", ".join(e.target for e in info.entries) or "nothing"
        raise _reject(where, env_var, f"no code for target {device_target} (file holds: {held})")
    log.debug("code object %s: %s for %s", where, info.format, entry.target)
    return data, entry


def check_entry(path: str | os.PathLike[str], env_var: str | None, entry: CodeObjectEntry,
                entry_points: Sequence[str], abi: int | None = None,
                allow_unmarked: bool = True) -> None:
    """The second half of :func:`validate_code_object`: ``entry`` (from :func:`read_entry`)
    defines ``entry_points`` and declares kernel ABI ``abi``; KernelLoadError otherwise."""
    where = os.fspath(path)
    missing = [name for name in entry_points if name not in entry.symbols]
    if missing:
        noun = "entry point" if len(missing) == 1 else "entry points"
        defined = ", ".join(entry.symbols) or "nothing"
        raise _reject(where, env_var,
                      f"{noun} {', '.join(missing)} missing (file defines: {defined})")
    if abi is not None and entry.abi != abi:
        problem = abi_problem(entry, abi)
        if entry.abi is not None or not allow_unmarked:
            raise _reject(where, env_var, problem)
        log.warning("code object %s %s; loading it as ABI %d", where, problem, abi)


def _reject(where: str, env_var: str | None, reason: str) -> KernelLoadError:
    log.debug("rejecting code object %s: %s", where, reason)
    return KernelLoadError(where, env_var, reason)


def abi_problem(entry: CodeObjectEntry, abi: int) -> str:
    """Why ``entry`` does not declare kernel ABI ``abi`` (for errors and warnings).

    >>> print(abi_problem(CodeObjectEntry("cuda", "sm_90", ("k",), 0, 1, 2), 3)[:63])
    was built for rocsample kernel ABI 2, this rocsample implements
    """
    rebuild = "rebuild it: make hsaco, or python -m rocsample compile"
    if entry.abi is None:
        return (f"declares no rocsample kernel ABI (no rocsample_abi_v{abi} symbol: built "
                f"before ABI markers or from other sources; {rebuild})")
    if entry.abi < 0:
        return f"declares several rocsample kernel ABIs ({rebuild})"
    return (f"was built for rocsample kernel ABI {entry.abi}, this rocsample implements ABI "
            f"{abi} ({rebuild})")


def describe(info: CodeObjectInfo, path: str | None = None) -> str:
    """Human-readable multi-line text, as ``python -m rocsample inspect FILE`` prints it.

    Example
    -------
    >>> e = CodeObjectEntry("amdgpu", "gfx90a", ("add", "scale"), 0, 6008, 3)
    >>> print(describe(CodeObjectInfo("amdgpu-elf", (e,), 6008), "k.hsaco"))
    k.hsaco: amdgpu-elf, 6008 bytes, 1 code object
      [0] amdgpu gfx90a  offset 0  size 6008  kernel ABI 3
          kernels (2): add, scale
    >>> w = CodeObjectEntry("cuda", "sm_90", ("k",), 0, 9, 3, grid_wait=True)
    >>> print(describe(CodeObjectInfo("cuda-elf", (w,), 9)).splitlines()[1])
      [0] cuda sm_90  offset 0  size 9  kernel ABI 3  waits for the previous phase
    """
    count = len(info.entries)
    head = f"{info.format}, {info.size} bytes, {count} code object{'' if count == 1 else 's'}"
    lines = [f"{path}: {head}" if path else head]
    for i, e in enumerate(info.entries):
        abi = "-" if e.abi is None else ("several" if e.abi < 0 else str(e.abi))
        lines.append(f"  [{i}] {e.kind} {e.target}  offset {e.offset}  size {e.size}  "
                     f"kernel ABI {abi}" + ("  waits for the previous phase" if e.grid_wait
                                            else ""))
        lines.append(f"      kernels ({len(e.symbols)}): {', '.join(e.symbols) or '-'}")
    return "\n".join(lines)
