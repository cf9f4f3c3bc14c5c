"""Session 6 run 3 trees: copies of the working tree with text patches. Not a library tool."""
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".exp" / "t4"
P_SCAN = ("kernels/rs_engine_plain.h", "constexpr int D = sizeof(T) == 2 ? 3 : 2;",
          "constexpr int D = 2;")
P_PM2 = ("rocsample/ops/sampling.py", "    return 2 if kcand and nchunks(vocab) >= 12 else 1\n",
         "    return 2\n")
P_W = ("rocsample/ops/elementwise.py", "    if not contiguous:\n        return UNROLL\n",
       "    if not contiguous:\n        return {}\n")
VARIANTS = {
    "new": [],
    "w2": [(P_W[0], P_W[1], P_W[2].format(2))],
    "w1": [(P_W[0], P_W[1], P_W[2].format(1))],
}

for name, patches in VARIANTS.items():
    t = OUT / name
    shutil.rmtree(t, ignore_errors=True)
    shutil.copytree(ROOT / "rocsample", t / "rocsample",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "kernels", t / "kernels")
    shutil.copy(ROOT / "pyproject.toml", t / "pyproject.toml")
    for f, old, new in patches:
        p = t / f
        s = p.read_text()
        assert s.count(old) == 1, (name, f, old)
        p.write_text(s.replace(old, new))
print("built", list(VARIANTS))
