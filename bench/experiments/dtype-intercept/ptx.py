"""Session 38: the PTX of a sampling module (NVRTC, the loader's own options, sm_90), to read
what a scan executes a sub-chunk. No GPU needed.

Usage: LD_LIBRARY_PATH=build/nvrtc-13.0.88/nvidia/cu13/lib \\
       .venv/bin/python bench/experiments/dtype-intercept/ptx.py topk_sampling OUT.ptx [FUNC]
With FUNC (a substring of a mangled name, e.g. rs_scan_candI7rs_bf16Lb0ELi2E), only the
bodies of the matching functions are written, each after a line with its name.
"""
import dataclasses
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
import ptxas_regs  # noqa: E402  (puts the checkout first on the path, registers the modules)

from rocsample import registry  # noqa: E402
from rocsample.toolchains import get_toolchain  # noqa: E402


def bodies(ptx: str) -> dict[str, list[str]]:
    """{mangled name: body lines} of every function defined (not declared) in ``ptx``."""
    out: dict[str, list[str]] = {}
    head, name, depth, body = "", None, 0, []
    for line in ptx.splitlines():
        if depth == 0:
            if line.startswith((".func", ".visible .entry", ".entry", ".weak .func")):
                head = line
            elif head and line.strip() == "{":
                m = re.search(r"(_Z\w+|\w+_kernel\w*)", head)
                name, depth, body = (m.group(1) if m else head), 1, []
            elif head:
                head = "" if line.strip().endswith(";") else head + line
            continue
        if line.strip() == "{":
            depth += 1
        elif line.strip() == "}":
            depth -= 1
            if depth == 0:
                out[name], head = body, ""
                continue
        body.append(line)
    return out


def main(module: str, out: str, func: str | None = None) -> None:
    tc = dataclasses.replace(get_toolchain("nvrtc"), code_getter="PTX")
    spec = registry.MODULES[module]
    source, headers = ptxas_regs.read_sources(spec)
    code, log = tc.compile(source, spec.source, headers, tc.options("sm_90", 32, calls=spec.calls))
    if code is None:
        sys.exit(f"{module}: compile failed\n{log}")
    ptx = code.rstrip(b"\0").decode()
    if func:
        ptx = "\n".join(f"// {n}\n" + "\n".join(b) for n, b in bodies(ptx).items() if func in n)
    Path(out).write_text(ptx)


if __name__ == "__main__":
    main(*sys.argv[1:4]) if len(sys.argv) >= 3 else sys.exit(__doc__)
