"""Which functions of a kernel changed between two builds, register names aside (session 27).

Usage::

    python regnorm.py [--any-imm] A.sass B.sass KERNEL ...

A and B are ``nvdisasm -c`` listings of cubins that ``../topk-rise/sass_compare.py cubin``
built. For each KERNEL: how many of its functions are the same instruction for instruction
once register and predicate numbers, local-memory offsets and NOPs are ignored, and for the
others (name, instructions in A, in B, local-memory instructions B - A). ``sass_compare.py
compare`` counts a function as changed when only its registers were renamed; this tells a
renaming from new code or new spills. ``--any-imm`` (session 28) takes every hexadecimal
immediate out as well: for two builds whose shared-memory layout differs (a field added), so
that the same code addressing moved fields still compares the same.
"""

from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "topk-rise"))
from sass_compare import norm, sections  # noqa: E402

LOCAL = re.compile(r"\b(STL|LDL)")


def renamed(lines: list[str], any_imm: bool = False) -> list[str]:
    """The normalised listing with register numbers, local offsets and NOPs taken out (and,
    with ``any_imm``, every hexadecimal immediate)."""
    out = []
    for line in norm(lines):
        line = re.sub(r"\bU?R\d+\b", "R", line)
        line = re.sub(r"\bU?P\d\b", "P", line)
        line = re.sub(r"\[R1\+0x[0-9a-f]+\]", "[R1+x]", line)
        if any_imm:
            line = re.sub(r"-?0x[0-9a-f]+", "x", line)
        if line.strip().rstrip(";").strip() != "NOP":
            out.append(line)
    return out


def main(argv: list[str]) -> int:
    any_imm = bool(argv) and argv[0] == "--any-imm"
    if any_imm:
        argv = argv[1:]
    a, b, kernels = argv[0], argv[1], argv[2:]
    sa, sb = sections(a), sections(b)
    for k in kernels:
        fa, fb = sa[k], sb[k]
        same, diff = 0, []
        for f in sorted(set(fa) | set(fb)):
            x, y = renamed(fa.get(f, []), any_imm), renamed(fb.get(f, []), any_imm)
            if x == y:
                same += 1
                continue
            locals_b = sum(1 for line in y if LOCAL.search(line))
            locals_a = sum(1 for line in x if LOCAL.search(line))
            diff.append((f, len(x), len(y), locals_b - locals_a))
        print(f"{k}: {same} the same up to registers; differ:")
        for f, na, nb, dl in diff:
            print(f"  {f}  {na} -> {nb} instructions, local {dl:+d}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
