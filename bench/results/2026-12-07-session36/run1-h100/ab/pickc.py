"""session 35: the suites' tree of call A. Reads R/sweep_topk_V.jsonl and R/sweep_topp_V.jsonl
for p and each variant (mean of the runs a cell). A variant qualifies when every cell drew p's
tokens, the geometric mean of its time ratios over the top-k cells is below 0.99, and no filter
(top_k 20, 50, 128, top_p, top_k + top_p) has a median ratio above 1.005: a win at top-k 50
bought with a loss at top-k 20 does not qualify (session 34's r1). The qualifying variant with
the lowest geometric mean wins (a later one only if at least 0.5 % below the best so far), else
p. Usage: python pickc.py R VARIANT..."""
import collections
import json
import math
import statistics
import sys

R, *vs = sys.argv[1:]


def load(v):
    d = collections.defaultdict(list)
    for pre in ("sweep_topk", "sweep_topp"):
        try:
            with open(f"{R}/{pre}_{v}.jsonl") as fh:
                for line in fh:
                    j = json.loads(line)
                    d[(pre, j["V"], j["B"], j["k"], j["dtype"])].append(j)
        except FileNotFoundError:
            pass
    return d


def mean_us(js):
    return sum(j["us"] for j in js) / len(js)


p = load("p")
best, best_g = "p", 0.99
for v in vs:
    d = load(v)
    cells = [c for c in d if c in p]
    same = bool(cells) and all({j["tokens"] for j in d[c]} == {j["tokens"] for j in p[c]}
                               for c in cells)
    r = {c: mean_us(d[c]) / mean_us(p[c]) for c in cells}
    rs = [x for c, x in r.items() if c[0] == "sweep_topk"]
    g = math.exp(sum(map(math.log, rs)) / len(rs)) if rs else float("inf")
    by = collections.defaultdict(list)
    for c, x in r.items():
        by[c[3]].append(x)
    med = {k: statistics.median(x) for k, x in by.items()}
    worst = max(med.values()) if med else float("inf")
    ok = same and worst <= 1.005
    print(f"{v}: cells {len(cells)}, tokens same {same}, top-k geomean {g:.3f}, medians "
          + ", ".join(f"{k} {m:.3f}" for k, m in sorted(med.items()))
          + f", max cell {max(r.values(), default=0):.3f}, qualifies {ok and g < 0.99}",
          file=sys.stderr)
    if ok and g < (best_g - 0.005 if best != "p" else best_g):
        best, best_g = v, g
print(best)
