"""Cold-compile and warm-start times of every registered kernel on the active GPU backend.

Usage: python3 tools/cache_timing.py [--json FILE]
Runs two fresh processes on one empty cache directory: the first compiles every module
(cold, one module at a time as kernels are first asked for), the second loads them from the
disk cache (warm); a third process on another empty cache runs ``rocsample.warmup()``, which
compiles the modules in parallel (cold-warmup). Prints all three, per module.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, time
t0 = time.perf_counter()
import rocsample
from rocsample.registry import KERNELS
b = rocsample.backend()
t1 = time.perf_counter()
if MODE == "warmup":
    rocsample.warmup()
else:
    for name in KERNELS:
        b.kernels.companion(name) if KERNELS[name].companion_of else b.kernels.get(name)
t2 = time.perf_counter()
info = b.kernels.info()
print(json.dumps({"backend": b.name, "device": info["device"], "target": info["target"],
                  "open_s": t1 - t0, "kernels_s": t2 - t1, "compiles": info["compiles"],
                  "compile_seconds": info["compile_seconds"],
                  "origins": sorted({k["origin"] for k in info["kernels"].values()})}))
"""


def _child(env: dict[str, str], mode: str) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", f"MODE = {mode!r}\n" + CHILD], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{mode} run failed ({proc.returncode}):\n{proc.stderr}")
    out = proc.stdout
    run = json.loads(out.strip().splitlines()[-1])
    run["process_s"] = time.perf_counter() - t0
    run["mode"] = mode
    return run


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    # NVRTC 13 keeps its own cache of compiled code in the CUDA compute cache (~/.nv): a
    # cold run gets an empty one of its own, or it would time cache reads, not compiles.
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as nv:
        env = {**os.environ, "ROCSAMPLE_CACHE_DIR": cache, "CUDA_CACHE_PATH": nv}
        runs = {}
        for label, mode in (("cold", "lazy"), ("warm", "lazy")):
            runs[label] = _child(env, mode)
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as nv:
        env = {**os.environ, "ROCSAMPLE_CACHE_DIR": cache, "CUDA_CACHE_PATH": nv}
        runs["cold-warmup"] = _child(env, "warmup")  # empty caches: parallel compile
    for label, r in runs.items():
        print(f"{label} ({r['mode']}): all 7 kernels in {r['kernels_s'] * 1e3:.1f} ms "
              f"(backend open {r['open_s'] * 1e3:.1f} ms; {r['compiles']} compiles; "
              f"origins {r['origins']}) on {r['device']} {r['target']}")
    for module, s in runs["cold"]["compile_seconds"].items():
        print(f"  compile {module}: {s:.2f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
