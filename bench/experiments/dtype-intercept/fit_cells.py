"""Per-cell ratios of two fit runs (bench --dtypes JSON): NEW / h us for each top-k operation
of sample() and of sample_from_logits (session 41: the logit rows too, which session 40 read
late), by rows and vocabulary, and each run's bf16 / f32. Session 40.

Usage: python fit_cells.py DIR h NEW  (reads DIR/fit_h/bench_dtypes.json, DIR/fit_NEW/...)"""
import json
import sys
from pathlib import Path

d, a, b = sys.argv[1:4]

def load(v: str) -> dict:
    rows = json.loads(Path(f"{d}/fit_{v}/bench_dtypes.json").read_text())["rows"]
    return {(r["op"], r["batch"], r["vocab"]): r for r in rows}


runs = {v: load(v) for v in (a, b)}
print(f"op rows V  f32 {a}/{b}=ratio  bf16 ...  f16 ...  bf16/f32 {a} {b}")
for k in sorted(runs[a]):
    if "top-k" not in k[0] or "softmax" in k[0] or k not in runs[b]:
        continue
    x, y = runs[a][k], runs[b][k]
    cells = " ".join(f"{t}:{x[t + '_us']:.1f}/{y[t + '_us']:.1f}={y[t + '_us'] / x[t + '_us']:.3f}"
                     for t in ("f32", "bf16", "f16"))
    print(f"{k[0]!r} {k[1]} {k[2]} {cells} {x['bf16_ratio']:.3f} {y['bf16_ratio']:.3f}")
