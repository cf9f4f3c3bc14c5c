"""Session 38 (issue 21): split each operation's time into a part that grows with the bytes
read and one that does not.

Reads ``bench_dtypes.json`` files of ``python -m rocsample bench --dtypes`` (one or more, the
same device) and, for every operation, row count and dtype measured at three or more
vocabularies, fits ``us = intercept + bytes / bandwidth`` by least squares, ``bytes`` the
input matrix's (rows x V x the dtype's size: what a one-read operation must read). Prints, per
operation and rows: each dtype's bandwidth (TB/s) and intercept (us), the largest residual,
and the intercept a call would need for bfloat16 <= 0.6 x float32 at the largest V measured
if both dtypes kept their bandwidths and shared one intercept:
``I <= (0.6 x bytes32 / bw32 - bytes16 / bw16) / 0.4``.

Usage: python3 fit.py bench_dtypes.json [...]
"""
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

SIZE = {"f32": 4, "bf16": 2, "f16": 2}


def fits(rows):
    """{(op, batch): {dtype: (tbps, intercept_us, max_resid_us, vocabs, us)}}."""
    cells = defaultdict(dict)
    for r in rows:
        for dt in SIZE:
            if r.get(f"{dt}_us") is not None:
                cells[(r["op"], r["batch"], dt)][r["vocab"]] = r[f"{dt}_us"]
    out = defaultdict(dict)
    for (op, batch, dt), by_v in cells.items():
        vs = sorted(by_v)
        if len(vs) < 3:
            continue
        x = np.array([batch * v * SIZE[dt] / 1e6 for v in vs])  # MB: us = MB / (TB/s)
        y = np.array([by_v[v] for v in vs])
        slope, icpt = np.polyfit(x, y, 1)
        resid = float(np.max(np.abs(y - (slope * x + icpt))))
        out[(op, batch)][dt] = (1.0 / slope, icpt, resid, vs, y)
    return out


def main(paths):
    rows, device = [], set()
    for p in paths:
        d = json.loads(Path(p).read_text())
        rows += d["rows"]
        device.add(d.get("device", "?"))
    print(f"device: {', '.join(sorted(device))}; us = intercept + bytes read / bandwidth\n")
    print("| operation | rows | V | f32 TB/s | f32 intercept us | bf16 TB/s | bf16 intercept us "
          "| max resid us | bf16/f32 at max V | intercept for 0.6 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (op, batch), f in sorted(fits(rows).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if "f32" not in f or "bf16" not in f:
            continue
        bw32, i32, r32, vs, y32 = f["f32"]
        bw16, i16, r16, _, y16 = f["bf16"]
        vmax = vs[-1]
        b32, b16 = batch * vmax * 4 / 1e6, batch * vmax * 2 / 1e6
        need = (0.6 * b32 / bw32 - b16 / bw16) / 0.4
        print(f"| {op} | {batch} | {vs[0]}-{vmax} | {bw32:.2f} | {i32:.1f} | {bw16:.2f} | "
              f"{i16:.1f} | {max(r32, r16):.1f} | {y16[-1] / y32[-1]:.2f} | {need:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:] or sys.exit(__doc__))
