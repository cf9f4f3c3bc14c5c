"""session 34 (issue 21): how many top-k candidates the scan keeps, simulated on the CPU for
softmax(3 randn) rows (sweep.py's), one block a row: the bound at the 11-bit bin edge of the
first sub-chunk's k-th largest (p), raised after rounds 1, 2, 4, 8, ... to the edge of the
highest bin with k candidates at or above it (h1), or after every round. Rounds of D
sub-chunks of 4096. Prints V, k, D and the three counts (means of 3 rows)."""
import numpy as np

rng = np.random.default_rng(0)


def cands(V, k, D, sched):
    x = rng.standard_normal(V) * 3
    p = np.exp(x - x.max())
    p = (p / p.sum()).astype(np.float32)
    keys = p.view(np.uint32)
    nc = (V + 4095) // 4096
    first = np.sort(keys[:4096])
    T = int(first[-k] >> 20) << 20 if len(first) >= k else 0
    hist = np.zeros(2048, np.int64)
    total = 0
    for rnd, s in enumerate(range(0, nc, D), 1):
        for q in range(D):
            if s + q >= nc:
                break
            c = keys[(s + q) * 4096:(s + q + 1) * 4096]
            c = c[c >= max(T, 1)]
            total += len(c)
            np.add.at(hist, c >> 20, 1)
        if sched(rnd) and s + D < nc:
            suffix = np.cumsum(hist[::-1])[::-1]
            b = np.nonzero(suffix >= k)[0]
            if len(b):
                T = max(T, int(b.max()) << 20)
    return total


schedules = (lambda r: False, lambda r: (r & (r - 1)) == 0, lambda r: True)
for V in (128256, 262144):
    for k in (20, 50, 128):
        for D in (2, 3):
            r = [np.mean([cands(V, k, D, f) for _ in range(3)]) for f in schedules]
            print(V, k, D, [int(x) for x in r])
