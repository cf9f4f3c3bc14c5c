"""session 34: which min-p variant (float rows' candidate write) the suites run on. Reads
R/sweep_other_V.jsonl and R/minp_more_V.jsonl for p and each variant. A variant qualifies when
every cell drew p's tokens, its flat float32 cells average below 0.98 of p's, and the geometric
mean of its mean-time ratios over the other min-p cells is at most 1.005; of those, the lowest
geometric mean over all min-p cells wins, else p. Usage: python pick34.py R m3 m4"""
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


def gm(xs):
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("inf")


p = load("p")
best, best_g = "p", float("inf")
for v in vs:
    d = load(v)
    cells = [c for c in d if c in p]
    same = bool(cells) and all({j["tokens"] for j in d[c]} == {j["tokens"] for j in p[c]}
                               for c in cells)
    r = {c: sum(j["us"] for j in d[c]) / len(d[c]) / (sum(j["us"] for j in p[c]) / len(p[c]))
         for c in cells if "min_p" in c[3]}
    flat = [x for c, x in r.items() if c[3].startswith("flat") and c[4] == "f32"]
    rest = [x for c, x in r.items() if not c[3].startswith("flat")]
    g_flat, g_rest, g_all = gm(flat), gm(rest), gm(list(r.values()))
    ok = same and g_flat < 0.98 and g_rest <= 1.005
    print(f"{v}: cells {len(cells)}, tokens same {same}, flat f32 {g_flat:.3f}, other min-p "
          f"{g_rest:.3f}, all min-p {g_all:.3f}, qualifies {ok}", file=sys.stderr)
    if ok and g_all < best_g:
        best, best_g = v, g_all
print(best)
