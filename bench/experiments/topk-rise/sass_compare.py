"""Whether two kernel trees compile to the same machine code, function by function (session 22).

Two steps, on the CPU:

``.venv/bin/python sass_compare.py cubin TREE MODULE OUT.cubin``
    compiles kernels/MODULE of the source tree TREE (its rocsample/, kernels/ and tools/) for
    sm_90 with NVRTC 13.0.88 (the H200 image's; ``make nvrtc-compat`` fetches it into
    build/nvrtc-13.0.88: run with LD_LIBRARY_PATH=build/nvrtc-13.0.88/nvidia/cu13/lib) and
    writes the cubin. ``nvdisasm -c OUT.cubin > OUT.sass`` (from the nvidia-cuda-nvdisasm
    wheel) disassembles it.

``python sass_compare.py compare A.sass B.sass KA:KB ...``
    for each pair, every function of kernel KA in A (its body and the device functions
    ptxas cloned into its section) against the function of the same name in kernel KB of B,
    with the labels, instruction addresses, call return addresses, the kernel's own name,
    template flags (``Lb0E``/``Lb1E``) and column widths normalised. Prints how many are
    identical and which differ.

Identical functions execute identical instructions, so a timing of one tree holds for the
other wherever the compared kernels are the same (ptxas compiles each kernel's call graph on
its own: a kernel's code does not depend on the other kernels of its module).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def cubin(tree: str, module: str, out: str) -> None:
    """Compile ``module`` of ``tree`` as tools/nvrtc_compat.py does and keep its cubin.

    ``tree`` must hold its own tools/: nvrtc_compat.py puts the checkout above it first on
    sys.path, so a tree without them would be compiled from this checkout's sources (session
    23 found a comparison made so: two "trees" that were one)."""
    if not (Path(tree) / "tools" / "nvrtc_compat.py").is_file():
        sys.exit(f"{tree} has no tools/nvrtc_compat.py: copy tools/ into it (git archive HEAD "
                 f"tools | tar -x -C {tree}), or its sources would not be the ones compiled")
    sys.path[:0] = [tree + "/tools", tree]
    import nvrtc_compat
    import ptxas_regs

    seen = ptxas_regs.local_ops

    def keep(code: bytes) -> object:
        Path(out).write_bytes(code)
        return seen(code)

    ptxas_regs.local_ops = keep
    lib = Path(tree).resolve() / "build/nvrtc-13.0.88/nvidia/cu13/lib"
    if not lib.is_dir():
        lib = Path(__file__).resolve().parents[3] / "build/nvrtc-13.0.88/nvidia/cu13/lib"
    nvrtc_compat.compile_one(lib, module, "sm_90")


def sections(path: str) -> dict[str, dict[str, list[str]]]:
    """{kernel: {function: its lines}} of an ``nvdisasm -c`` listing."""
    out: dict[str, dict[str, list[str]]] = {}
    kernel = fn = None
    for line in Path(path).read_text().splitlines():
        m = re.match(r"\s*\.section\s+\.text\.(\w+),", line)
        if m:
            kernel, fn = m.group(1), None
            out[kernel] = {}
            continue
        if kernel is None:
            continue
        m = re.match(r"^(\$?[A-Za-z_][\w$]*):\s*$", line)
        if m and not m.group(1).startswith(".L"):
            fn = m.group(1).split("$")[-1]
            out[kernel][fn] = []
        elif fn is not None:
            out[kernel][fn].append(line)
    return out


def norm(lines: list[str]) -> list[str]:
    """The instructions, with what differs between equal code in two builds made equal."""
    labels: dict[str, str] = {}
    res = []
    for line in lines:
        line = re.sub(r"/\*[0-9a-f]+\*/", "", line)
        line = re.sub(r"\.L_x_\d+", lambda m: labels.setdefault(m.group(0), f"L{len(labels)}"),
                      line)
        line = re.sub(r"\$\w+?\$", "$K$", line)
        line = re.sub(r"Lb[01]E", "", line)
        line = re.sub(r"MOV R(\d+), 0x[0-9a-f]+ ;", r"MOV R\1, RET ;", line)
        line = re.sub(r"`\(\w*_kernel\w*\)", "`(K)", line)
        line = re.sub(r"\s+", " ", line).strip()
        if line and not line.startswith((".", "//")):
            res.append(line)
    return res


def compare(a: str, b: str, pairs: list[str]) -> int:
    """Print each pair's identical and differing functions; 1 when any differs."""
    sa, sb = sections(a), sections(b)
    bad = 0
    for pair in pairs:
        ka, kb = pair.split(":")
        fa = {re.sub(r"Lb[01]E", "", k): v for k, v in sa[ka].items()}
        fb = {re.sub(r"Lb[01]E", "", k): v for k, v in sb[kb].items()}
        fa[kb] = fa.pop(ka)  # the kernel's body, under the name it has in B
        same = [k for k in fa if k in fb and norm(fa[k]) == norm(fb[k])]
        differ = [k for k in fa if k not in same]
        only_b = [k for k in fb if k not in fa]
        bad |= bool(differ or only_b)
        print(f"{ka} -> {kb}: {len(same)} of {len(fa)} functions identical; differ: {differ}; "
              f"only in {kb}: {only_b}")
    return bad


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "cubin":
        cubin(*sys.argv[2:])
    elif len(sys.argv) >= 5 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3], sys.argv[4:]))
    else:
        sys.exit(__doc__)
