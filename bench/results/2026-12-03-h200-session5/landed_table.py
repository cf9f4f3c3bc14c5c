"""The landed MLP configuration's figures, taken from the experiment's run6 (exp/run6): the
kernels of commit d4d3a66 as `.exp/v4` with -DRS_RMS_FUSED_K4=0 -DRS_RMS_RSQRT=1 (the fused
four-group path and IEEE 1/sqrt removed in the landed source), with the grid rules that
landed: rms_norm from variant "a" (two blocks an SM; "b" and "c" are the same rule),
the fused add from "b" (a block a tile), SwiGLU from "c" (at most 8 blocks an SM along
the rows). Copy bandwidth: the H200's device-to-device copy measured in session 4
(4.26 TB/s; this run did not measure it). Usage: python landed_table.py > landed.md"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
COPY = 4.26e12
PICK = {"rms_norm": "a", "fused_add_rms_norm": "b", "silu_and_mul": "c"}
d = json.loads((HERE / "exp/run6/mlp_experiment.json").read_text())
print(f"{d['meta']['device']}, {d['meta']['date']}, L2 flushed, median of 25 (exp/run6)\n")
print("| op | dtype | rows | hidden | rocsample us | GB/s | of copy BW | before (cur) us "
      "| FlashInfer us | vs FI |")
print("|---|---|---|---|---|---|---|---|---|---|")
wins = losses = 0
for r in d["rows"]:
    v = PICK[r["op"]]
    us = r[v]
    gbs = r["bytes"] / (us * 1e-6) / 1e9
    fi = r.get("fi")
    ratio = f"{fi / us:.2f}x" if fi else "-"
    if fi:
        wins += fi / us >= 1.0
        losses += fi / us < 1.0
    print(f"| {r['op']} | {r['dtype']} | {r['rows']} | {r['hidden']} | {us:.1f} | {gbs:.0f} | "
          f"{gbs * 1e9 / COPY:.0%} | {r['cur']:.1f} | {fi:.1f} | {ratio} |" if fi else
          f"| {r['op']} | {r['dtype']} | {r['rows']} | {r['hidden']} | {us:.1f} | {gbs:.0f} | "
          f"{gbs * 1e9 / COPY:.0%} | {r['cur']:.1f} | - | - |")
print(f"\nbf16 shapes at or above FlashInfer's speed: {wins}; below: {losses}", file=sys.stdout)
