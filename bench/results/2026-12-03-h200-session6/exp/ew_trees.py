"""Experiment trees for the elementwise row walk (issue 20): copies of the working tree's
rocsample/ and kernels/ with the row walk's elements in flight and the strided grid changed.
Run here; the trees travel in .exp/. Not a library tool."""
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".exp" / "ew"
# name -> (bytes a thread keeps in flight on the row walk, strided per_thread rule factor)
VARIANTS = {"cur": None, "c8": (0, 1, 8), "c16": (0, 1, 16), "b8": (16, 1, 8),
            "b16": (16, 1, 16), "b32": (32, 1, 16)}

def build(name, v):
    t = OUT / name
    shutil.rmtree(t, ignore_errors=True)
    shutil.copytree(ROOT / "rocsample", t / "rocsample",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "kernels", t / "kernels")
    shutil.copy(ROOT / "pyproject.toml", t / "pyproject.toml")
    if v is None:
        return
    nbytes, factor, cap = v
    p = t / "rocsample" / "ops" / "elementwise_ops.py"
    s = p.read_text()
    old = ("    geo = ew.launch_geometry(numel, per_thread=ew.elements_per_thread(kernel, flat))"
           "\n    if geo is None:\n        return None\n")
    assert old in s
    s = s.replace(old, old + "    if not flat:\n        geo = ew.LaunchGeometry("
                  f"min(geo.grid, {cap} * 132), geo.block)\n")
    p.write_text(s)
    h = t / "kernels" / "rs_elementwise.h"
    if nbytes == 0:  # the current row walk, more tiles a block
        p = t / "rocsample" / "ops" / "elementwise.py"
        s = p.read_text()
        old = "    if not contiguous:\n        return UNROLL\n"
        assert old in s
        p.write_text(s.replace(old, f"    if not contiguous:\n        return UNROLL * {factor}\n"))
        return
    s = h.read_text()
    old = "static constexpr int U = sizeof(T) >= 8 ? 2 : RS_EW_UNROLL;"
    assert old in s
    new = (f"static constexpr int U = {nbytes} / (int)sizeof(T) > 2 ? "
           f"({nbytes} / (int)sizeof(T) < 16 ? {nbytes} / (int)sizeof(T) : 16) : 2;")
    h.write_text(s.replace(old, new))
    p = t / "rocsample" / "ops" / "elementwise.py"
    s = p.read_text()
    old = "    if not contiguous:\n        return UNROLL\n"
    assert old in s
    new = ("    if not contiguous:\n"
           "        it = DTYPES[entry.dtype].storage.itemsize\n"
           f"        u = max(2, min(16, {nbytes} // it))\n"
           f"        return max(UNROLL, u) * {factor}\n")
    s = s.replace(old, new)
    p.write_text(s)

for name, v in VARIANTS.items():
    build(name, v)
print("built", list(VARIANTS))
