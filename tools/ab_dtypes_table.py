"""Table of an A/B of ``python -m rocsample bench --dtypes`` runs: one column per tree.

Usage: python tools/ab_dtypes_table.py DIR v0,v1[,...] > ab.md

DIR holds ``<tree>-<round>/bench_dtypes.json`` for each tree and round (the device scripts
under ``bench/results/*/`` write them so: each tree's rounds alternate with the other trees'
in one loan). For every (B x V, operation) the table gives, per element type, the smallest
median over the rounds of each tree, and the bf16 / float32 ratio of each tree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _load(path: Path) -> dict:
    rows = json.loads(path.read_text())["rows"]
    return {(r["batch"], r["vocab"], r["op"]): r for r in rows}


def table(root: Path, trees: list[str]) -> str:
    runs = {t: [_load(p / "bench_dtypes.json") for p in sorted(root.glob(f"{t}-*"))]
            for t in trees}
    for t, r in runs.items():
        if not r:
            raise SystemExit(f"no {t}-<round>/bench_dtypes.json under {root}")
    names = " / ".join(trees)
    out = [f"| B x V | op | f32 {names} | bf16 {names} | f16 {names} | bf16/f32 {names} |",
           "|---|---|---|---|---|---|"]
    # every cell of any run, in the order they first appear (a newer tree may time more
    # operations than an older one: those show a dash for the tree without them)
    keys = dict.fromkeys(k for t in trees for r in runs[t] for k in r)
    for k in keys:
        def best(t: str, col: str, k=k) -> float | None:
            got = [r[k][col] if k in r else None for r in runs[t]]
            return None if None in got else min(got)  # None: not timed, or the dtype raised

        def us(t: str, col: str) -> str:
            v = best(t, col)
            return "-" if v is None else f"{v:.1f}"

        def ratio_of(t: str) -> str:
            h, f = best(t, "bf16_us"), best(t, "f32_us")
            return "-" if h is None or f is None else f"{h / f:.2f}"
        cells = [" / ".join(us(t, c) for t in trees) for c in ("f32_us", "bf16_us", "f16_us")]
        ratio = " / ".join(ratio_of(t) for t in trees)
        out.append(f"| {k[0]} x {k[1]} | {k[2]} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(table(Path(sys.argv[1]), sys.argv[2].split(",")))
