"""Where a kernel's time goes, function by function (session 25): ncu's SASS source page
(``ncu --import R --page source --csv --print-source sass``, collected with the
SourceCounters and WarpStateStats sections) joined with the function boundaries of the same
kernel's machine code, disassembled on the CPU.

Usage::

    python ncu_functions.py SASS KERNEL CSV            # one row a device function
    python ncu_functions.py SASS KERNEL CSV FUNC MIN   # FUNC's instructions run >= MIN times

SASS is ``nvdisasm -c`` of the cubin that ``bench/experiments/topk-rise/sass_compare.py
cubin TREE MODULE OUT`` builds from the tree that ran (NVRTC 13.0.88, the device's); the
first CSV row's address is the kernel's offset 0, and every row's opcode is checked against
the listing's at the same offset ("mismatched opcodes" must be 0, or the listing is of
another build). A row: the share of the kernel's warp-state samples and of its executed warp
instructions in the function, and its four largest stall reasons (share of its samples).
"""

from __future__ import annotations

import collections
import csv
import re
import sys


def functions(sass: str, kernel: str) -> tuple[dict[int, str], dict[int, str]]:
    """{offset: function} and {offset: opcode} of ``kernel``'s section of an nvdisasm listing."""
    where: dict[int, str] = {}
    opcode: dict[int, str] = {}
    cur = None
    inside = False
    with open(sass) as f:
        lines = f.read().splitlines()
    for line in lines:
        m = re.match(r"\s*\.section\s+\.text\.(\w+),", line)
        if m:
            inside = m.group(1) == kernel
            cur = kernel if inside else None
            continue
        if not inside:
            continue
        m = re.match(r"^(\$?[A-Za-z_][\w$]*):\s*$", line)
        if m and not m.group(1).startswith(".L"):
            cur = m.group(1).split("$")[-1]
            continue
        m = re.search(r"/\*([0-9a-f]{4,})\*/\s+(.*?);", line)
        if m and cur is not None:
            at = int(m.group(1), 16)
            where[at] = cur
            opcode[at] = bare(m.group(2))
    return where, opcode


def bare(ins: str) -> str:
    """An instruction's opcode without its predicate and modifiers."""
    words = [w for w in ins.split() if not w.startswith("@")]
    return words[0].split(".")[0] if words else ""


def rows(path: str) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    return table[1], [r for r in table[2:] if r and r[0].startswith("0x")]


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 5):
        sys.exit(__doc__)
    sass, kernel, path = argv[:3]
    where, opcode = functions(sass, kernel)
    hdr, data = rows(path)
    ia, isrc = hdr.index("Address"), hdr.index("Source")
    iss, iex = hdr.index("Warp Stall Sampling (All Samples)"), hdr.index("Instructions Executed")
    stalls = [(i, h) for i, h in enumerate(hdr) if h.startswith("stall_") and "Not Issued" not in h]
    base = int(data[0][ia], 16)
    if len(argv) == 5:
        fn, least = argv[3], float(argv[4])
        for r in data:
            at = int(r[ia], 16) - base
            if fn in where.get(at, "") and float(r[iex] or 0) >= least:
                print(f"{at:06x} {int(float(r[iex] or 0)):9d} {r[iss]:>5s} {r[isrc].strip()}")
        return 0
    agg: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    total: collections.Counter = collections.Counter()
    mismatched = 0
    for r in data:
        at = int(r[ia], 16) - base
        fn = where.get(at, "?")
        if fn != "?" and bare(r[isrc]) != opcode[at]:
            mismatched += 1
        c = agg[fn]
        for key, col in (("samples", iss), ("instr", iex)):
            v = float(r[col] or 0)
            c[key] += v
            total[key] += v
        for i, h in stalls:
            c[h] += float(r[i] or 0)
    print(f"mismatched opcodes: {mismatched} of {len(data)} rows")
    print(f"{'function':64s} {'samples%':>8s} {'instr%':>7s}  largest stall reasons")
    for fn, c in sorted(agg.items(), key=lambda kv: -kv[1]["samples"]):
        if c["samples"] < 0.005 * total["samples"]:
            continue
        top = sorted(((c[h], h) for _, h in stalls), reverse=True)[:4]
        why = " ".join(f"{h[6:]}={100 * v / c['samples']:.0f}%" for v, h in top if v)
        print(f"{fn[:64]:64s} {100 * c['samples'] / total['samples']:8.1f} "
              f"{100 * c['instr'] / total['instr']:7.1f}  {why}")
    print(f"samples {total['samples']:.0f}, warp instructions executed {total['instr']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
