"""session 33 (issue 21): where top-k's time goes, from sweep.py MODE=topk lines of trees that
stop the kernel earlier (tokens differ by design). Usage: python attr.py DIR p ns [t1 t2 nc]:
reads DIR/sweep_topk_V.jsonl for each tree, prints per cell (top_k 50) the mean us of each
tree and the differences of neighbours: p - ns is the last block's selection and draw (the
tail); with t1 (the candidates' shared-memory copy only) and t2 (the copy and one radix
level), ns..t1 is the copy, t1..t2 the radix level, t2..p the rest."""
import collections
import json
import statistics
import sys

R, *trees = sys.argv[1:]
d = collections.defaultdict(lambda: collections.defaultdict(list))
for v in trees:
    with open(f"{R}/sweep_topk_{v}.jsonl") as fh:
        for line in fh:
            j = json.loads(line)
            d[(j["V"], j["B"], j["k"], j["dtype"])][v].append(j["us"])
order = [v for v in ("p", "t2", "t1", "ns", "nc") if v in trees]
print("V B filter dtype " + " ".join(order) + " | " +
      " ".join(f"{a}-{b}" for a, b in zip(order, order[1:], strict=False)))
for c, x in d.items():
    if c[2] != "top_k=50" or any(v not in x for v in order):
        continue
    m = {v: statistics.mean(x[v]) for v in order}
    print(*c, " ".join(f"{m[v]:.1f}" for v in order), "|",
          " ".join(f"{m[a] - m[b]:.1f}" for a, b in zip(order, order[1:], strict=False)))
