"""session 34: does a top-k variant go into the suites' tree? Reads R/sweep_topk_V.jsonl for p
and V; prints V when every cell drew p's tokens and the geometric mean of mean-time ratios
over the cells is below 0.99, else nothing. Usage: python pickr.py R r1"""
import collections
import json
import math
import sys

R, v = sys.argv[1:]


def load(v):
    d = collections.defaultdict(list)
    try:
        with open(f"{R}/sweep_topk_{v}.jsonl") as fh:
            for line in fh:
                j = json.loads(line)
                d[(j["V"], j["B"], j["k"], j["dtype"])].append(j)
    except FileNotFoundError:
        pass
    return d


p, d = load("p"), load(v)
cells = [c for c in d if c in p]
same = bool(cells) and all({j["tokens"] for j in d[c]} == {j["tokens"] for j in p[c]}
                           for c in cells)
rs = [sum(j["us"] for j in d[c]) / len(d[c]) / (sum(j["us"] for j in p[c]) / len(p[c]))
      for c in cells]
g = math.exp(sum(map(math.log, rs)) / len(rs)) if rs else float("inf")
print(f"{v}: cells {len(cells)}, tokens same {same}, top-k geomean {g:.3f}", file=sys.stderr)
if same and g < 0.99:
    print(v)
