"""Registers, spills, stack and local-memory instructions of every kernel entry on sm_90
(NVRTC's ptxas).

Usage: python tools/ptxas_regs.py [--module NAME] [--match SUBSTRING] [--target sm_90]
                                  [--hash]

Compiles each kernel module (every family: sampling, Candle's elementwise kernels, MLP;
``--module`` repeatable, default all) with the loader's own options plus
``--ptxas-options=-v`` (NVRTC on CPU, no GPU needed) and prints one row per entry:
registers a thread, spill stores/loads in bytes, stack frame, and the blocks of 256 and of
1024 threads an SM of compute capability 9.0 holds with that many registers (65536
registers, 2048 threads, registers allocated per warp in units of 256). A register count is
what decides occupancy for the elementwise and MLP kernels (little or no shared memory), so
it is the figure to watch when a kernel changes; the sampling engine's entries are bounded
to 64 registers, so for them the spills are.

The local column counts the entry's local-memory instructions in its machine code (STL and
LDL, read from the cubin's ``.text`` section of the entry, its device functions included):
ptxas's spill figures leave out the registers a device function saves and restores around
its body, which cost as much when the function runs once per warp on a streaming path
(NVRTC 13.0's split compile: ``topk_topp_sampling_kernel_bf16`` 297 stores against 26 for
``_f16``; rocsample.toolchains.SPLIT_COMPILE_FROM).

``--hash`` adds the first 12 hex digits of the SHA-256 of each entry's ``.text`` section, and
after each module one line hashing all of its ``.text`` sections by name. An entry's section
holds the device functions it calls (NVRTC gave those no sections of their own in every
module tried, ``__noinline__`` ones included). A cubin file changes with a comment in the
source (it carries line information); these hashes change only with the machine code, so
they tell whether a kernel change touched an entry that should not have changed.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import re
import struct
import sys
from pathlib import Path

# This checkout's rocsample and kernels, not an installed copy (python puts tools/ on the
# path, not the repository root).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rocsample import registry  # noqa: E402
from rocsample.compiler import read_sources  # noqa: E402
from rocsample.ops import elementwise, mlp, sampling  # noqa: E402, F401 (they register)
from rocsample.toolchains import get_toolchain  # noqa: E402

_FUNC = re.compile(r"Compiling entry function '(\w+)'")
_SPILL = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_REGS = re.compile(r"Used (\d+) registers")


def blocks_per_sm(regs: int, block: int) -> int:
    """Resident blocks of ``block`` threads on an sm_90 SM at ``regs`` registers a thread."""
    per_warp = -(-max(regs, 1) * 32 // 256) * 256
    warps = block // 32
    by_regs = (65536 // per_warp) // warps
    return min(by_regs, 2048 // block, 32)


# sm_90 opcodes (the low 12 bits of each 16-byte instruction) of STL and LDL: checked against
# ncu's SASS listing of the same cubin (297 and 295 of them in the entry above).
_STL, _LDL = 0x387, 0x983


def text_sections(cubin: bytes) -> dict[str, bytes]:
    """{name: machine code} of each ``.text.<name>`` section of an ELF64 cubin."""
    shoff = struct.unpack_from("<Q", cubin, 0x28)[0]
    size, count, names = struct.unpack_from("<HHH", cubin, 0x3A)
    heads = [struct.unpack_from("<IIQQQQIIQQ", cubin, shoff + i * size) for i in range(count)]
    strings = heads[names][4]
    out = {}
    for h in heads:
        end = cubin.index(b"\0", strings + h[0])
        name = cubin[strings + h[0]:end].decode()
        if name.startswith(".text."):
            out[name[len(".text."):]] = cubin[h[4]:h[4] + h[5]]
    return out


def local_ops(cubin: bytes) -> dict[str, int]:
    """{entry: STL + LDL instructions in its ``.text.<entry>`` section} of an sm_90 cubin."""
    out = {}
    for name, text in text_sections(cubin).items():
        ops = collections.Counter(struct.unpack_from("<Q", text, i)[0] & 0xFFF
                                  for i in range(0, len(text) - 15, 16))
        out[name] = ops[_STL] + ops[_LDL]
    return out


def text_hashes(cubin: bytes) -> tuple[dict[str, str], str]:
    """({section name: SHA-256 of its code, 12 hex digits}, the same over all ``.text``
    sections in name order) of a cubin: equal exactly when the machine code is."""
    texts = text_sections(cubin)
    whole = hashlib.sha256()
    for name in sorted(texts):
        whole.update(name.encode() + b"\0" + texts[name])
    return ({n: hashlib.sha256(t).hexdigest()[:12] for n, t in texts.items()},
            whole.hexdigest()[:12])


def report(module: str, target: str) -> tuple[dict[str, tuple[int, int, int, int, int]], bytes]:
    """({entry: (registers, stack bytes, spill stores, spill loads, local instructions)}, the
    code object) of one module."""
    tc = get_toolchain("nvrtc")
    spec = registry.MODULES[module]
    source, headers = read_sources(spec)
    options = tc.options(target, 32, calls=spec.calls) + ["--ptxas-options=-v"]
    code, log = tc.compile(source, spec.source, headers, options)
    if code is None:
        raise SystemExit(f"{module}: compile failed\n{log}")
    local = local_ops(bytes(code)) if target.startswith("sm_") else {}
    out: dict[str, tuple[int, int, int, int, int]] = {}
    name, spill = None, (0, 0, 0)
    for line in log.splitlines():
        if m := _FUNC.search(line):
            name = m.group(1)
        elif (m := _SPILL.search(line)) and name:
            spill = tuple(int(g) for g in m.groups())  # type: ignore[assignment]
        elif (m := _REGS.search(line)) and name:
            out[name] = (int(m.group(1)), *spill, local.get(name, -1))
            name = None
    return out, bytes(code)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    entries = {m: spec.entries for m, spec in registry.MODULES.items()}
    ap.add_argument("--module", choices=sorted(entries), action="append")
    ap.add_argument("--match", default="")
    ap.add_argument("--target", default="sm_90")
    ap.add_argument("--hash", action="store_true",
                    help="add the SHA-256 of each entry's machine code (.text), and of the "
                         "module's")
    args = ap.parse_args(argv)
    if args.hash and not args.target.startswith("sm_"):
        ap.error("--hash reads a cubin's .text sections: --target must be sm_XX")
    print(f"{'entry':24} {'regs':>4} {'stack':>5} {'spill st':>8} {'spill ld':>8} "
          f"{'local':>5} {'blk256/SM':>9} {'blk1024/SM':>10}" + ("  text sha256" * args.hash))
    for module in args.module or sorted(entries):
        rows, code = report(module, args.target)
        hashes, whole = text_hashes(code) if args.hash else ({}, "")
        for entry in entries[module]:
            if args.match not in entry:
                continue
            regs, stack, st, ld, loc = rows[entry]
            print(f"{entry:24} {regs:4d} {stack:5d} {st:8d} {ld:8d} {loc:5d} "
                  f"{blocks_per_sm(regs, 256):9d} {blocks_per_sm(regs, 1024):10d}"
                  + (f"  {hashes.get(entry, '-')}" if args.hash else ""))
        if args.hash:
            print(f"{module + ' (all .text)':24} {'':>55}  {whole}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
