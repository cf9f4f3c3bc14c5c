"""A/B table of two trees' JSON lines (session 27): python table.py DIR A B PREFIX reads
DIR/PREFIX_A.jsonl and DIR/PREFIX_B.jsonl (one line a cell and run: V, B, k, dtype, us,
tokens) and prints each cell's runs, the ratio of the means B / A, whether every run drew the
same tokens, and per dtype the median and range of the ratios."""

import collections
import json
import statistics
import sys

R, A, B, P = sys.argv[1:5]
d = {}
for v in (A, B):
    d[v] = collections.defaultdict(list)
    with open(f"{R}/{P}_{v}.jsonl") as fh:
        for line in fh:
            j = json.loads(line)
            d[v][(j["V"], j["B"], j["k"], j["dtype"])].append(j)
print(f"V B filter dtype {A}_us {B}_us {B}/{A} tokens  (runs joined by /; ratio of the means)")
rs = collections.defaultdict(list)
diff = 0
for key in d[A]:
    a, b = d[A][key], d[B].get(key, [])
    if not b:
        continue
    ma, mb = (sum(j["us"] for j in x) / len(x) for x in (a, b))
    same = len({j["tokens"] for j in a + b}) == 1
    diff += not same
    rs[key[3]].append(mb / ma)
    print(*key, "/".join(str(j["us"]) for j in a), "/".join(str(j["us"]) for j in b),
          "%.3f" % (mb / ma), "same" if same else "DIFF")
for dt, r in rs.items():
    print(f"{dt}: {len(r)} cells, {B}/{A} median {statistics.median(r):.3f} "
          f"range {min(r):.3f}-{max(r):.3f}")
print("cells with different tokens:", diff)
