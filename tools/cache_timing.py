"""Cold-compile and warm-start times of all seven kernels on the active GPU backend.

Usage: python3 tools/cache_timing.py [--json FILE]
Runs two fresh processes on one empty cache directory: the first compiles every module
(cold), the second loads them from the disk cache (warm). Prints both, per module.
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
for name in KERNELS:
    b.kernels.get(name)
t2 = time.perf_counter()
info = b.kernels.info()
print(json.dumps({"backend": b.name, "device": info["device"], "target": info["target"],
                  "open_s": t1 - t0, "kernels_s": t2 - t1, "compiles": info["compiles"],
                  "compile_seconds": info["compile_seconds"],
                  "origins": sorted({k["origin"] for k in info["kernels"].values()})}))
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "ROCSAMPLE_CACHE_DIR": cache}
        runs = {}
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                                 text=True, check=True).stdout
            runs[label] = json.loads(out.strip().splitlines()[-1])
            runs[label]["process_s"] = time.perf_counter() - t0
    for label, r in runs.items():
        print(f"{label}: all 7 kernels in {r['kernels_s'] * 1e3:.1f} ms "
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
