"""Medians of B / A by rows x top-k, per run of B (session 37): python3 by_rows.py DIR A B
reads DIR/sweep_topk_{A,B}.jsonl (A's first run against each of B's runs) and lists the cells
of B / A above 1.02."""

import collections
import json
import statistics
import sys

R, A, B = sys.argv[1:4]


def runs(v):
    d = collections.defaultdict(list)
    with open(f"{R}/sweep_topk_{v}.jsonl") as fh:
        for line in fh:
            j = json.loads(line)
            d[(j["V"], j["B"], j["k"], j["dtype"])].append(j["us"])
    return d


a, b = runs(A), runs(B)
order = sorted({(k[1], int(k[2].split("=")[1])) for k in a})
for i in range(len(next(iter(b.values())))):
    g = collections.defaultdict(list)
    for k in a:
        g[(k[1], int(k[2].split("=")[1]))].append(b[k][i] / a[k][0])
    print(f"{B} run {i + 1} / {A}:",
          " ".join(f"{r}x{kk} {statistics.median(g[(r, kk)]):.3f}" for r, kk in order))
print(f"cells {B} / {A} above 1.02 (B's runs averaged):")
for k in sorted(a):
    r = sum(b[k]) / len(b[k]) / a[k][0]
    if r > 1.02:
        print(" ", *k, f"{r:.3f}")
