"""session 33: which min-p variant the suites run on. Reads R/sweep_other_V.jsonl and
R/minp_more_V.jsonl for p and each variant; a variant qualifies when every cell drew p's
tokens; prints the qualifying variant with the lowest geometric mean of mean-time ratios over
the 2-byte min-p cells, if that is below 0.985, else p. Usage: python pick.py R m1 m2"""
import collections
import json
import math
import sys

R, *vs = sys.argv[1:]


def load(v):
    d = collections.defaultdict(list)
    for pre in ("sweep_other", "minp_more"):
        try:
            with open(f"{R}/{pre}_{v}.jsonl") as fh:
                for line in fh:
                    j = json.loads(line)
                    d[(pre, j["V"], j["B"], j["k"], j["dtype"])].append(j)
        except FileNotFoundError:
            pass
    return d


p = load("p")
best, best_g = "p", 0.985
for v in vs:
    d = load(v)
    cells = [c for c in d if c in p]
    same = all({j["tokens"] for j in d[c]} == {j["tokens"] for j in p[c]} for c in cells)
    rs = [sum(j["us"] for j in d[c]) / len(d[c]) / (sum(j["us"] for j in p[c]) / len(p[c]))
          for c in cells if "min_p" in c[3] and c[4] != "f32"]
    g = math.exp(sum(map(math.log, rs)) / len(rs)) if rs else float("inf")
    print(f"{v}: cells {len(cells)}, tokens same {same}, min-p 2-byte geomean {g:.3f}",
          file=sys.stderr)
    if same and g < best_g:
        best, best_g = v, g
print(best)
