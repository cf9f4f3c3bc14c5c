"""Same-run A/B of two rocsample source trees on a GPU: kernel time and host time per call.

Usage on a GPU machine with torch (each tree a checkout or an exported copy holding
``rocsample/`` and ``kernels/``):

    python3 tools/ab_bench.py OLD_TREE NEW_TREE --out DIR [--rounds 2]

The trees are measured in alternation (old, new, old, new...), each in a fresh Python process
with only its own tree on ``sys.path``, so drift of the machine falls on both sides. For
every sampling operation and shape it records, per round:

* ``gpu_us``: median GPU time of one call (events around the call, a sleep queued ahead so
  that the events time the GPU alone, as ``rocsample.bench`` does);
* ``host_us``: median host time of a repeated call on the same device array (the decode
  loop: launch-plan replay);
* ``general_us``: median host time of a call that cannot replay (the input is handed over
  through a DLPack-only wrapper, so every call validates and packs).

It writes ``ab.json`` (every sample) and ``ab.md`` (medians over rounds and new/old ratios).

Host times are noisy on a shared machine, so the host figures are also taken as the minimum
over the repetitions (noise only adds time), every child is pinned to one core, and
``--control`` measures the new tree a second time as a third side: the geometric mean of
control/new over the rows is the noise floor that new/old is to be judged against.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHAPES = ((1, 128256), (32, 128256), (128, 128256), (512, 151936), (128, 32000))
OPS = {
    "plain": ("sample", {}),
    "top-k 50": ("sample", {"top_k": 50}),
    "top-p 0.9": ("sample", {"top_p": 0.9}),
    "top-k 50 + top-p 0.9": ("sample", {"top_k": 50, "top_p": 0.9}),
    "min-p 0.1": ("sample", {"min_p": 0.1}),
    "from logits T=0.7 k50": ("sample_from_logits", {"temperature": 0.7, "top_k": 50}),
    "softmax": ("softmax", {}),
    "temperature_scale": ("temperature_scale", {"temperature": 0.7}),
}


class _DLPackOnly:
    """A torch tensor seen through DLPack alone: no launch plan can key it."""

    def __init__(self, t):
        self.t = t

    def __dlpack__(self, **kw):
        return self.t.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self.t.__dlpack_device__()


def _child(reps: int) -> list[dict]:
    import torch

    import rocsample

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    b = rocsample.backend()
    stream = torch.cuda.current_stream().cuda_stream
    gen = torch.Generator(device="cuda").manual_seed(0)
    rows = []
    for bsz, v in SHAPES:
        logits = torch.randn((bsz, v), device="cuda", generator=gen) * 3
        probs = torch.softmax(logits, -1).contiguous()
        for name, (fn_name, kw) in OPS.items():
            fn = getattr(rocsample, fn_name)
            x = probs if fn_name == "sample" else logits
            wrapped = _DLPackOnly(x)

            def call(arg=x, fn=fn, kw=kw):
                return fn(arg, seed=1, stream=stream, **kw) if "sample" in fn.__name__ \
                    else fn(arg, kw.get("temperature", 1.0), stream=stream)

            def general(arg=wrapped, fn=fn, kw=kw):
                return fn(arg, seed=1, stream=stream, **kw) if "sample" in fn.__name__ \
                    else fn(arg, kw.get("temperature", 1.0), stream=stream)

            call()
            general()
            torch.cuda.synchronize()
            events = []
            for _ in range(reps):
                a, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                torch.cuda._sleep(1_000_000)
                a.record()
                call()
                e.record()
                events.append((a, e))
            torch.cuda.synchronize()
            gpu = [a.elapsed_time(e) * 1e3 for a, e in events]

            def host(f):
                out = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    f()
                    out.append((time.perf_counter() - t0) * 1e6)
                    torch.cuda.synchronize()
                return out

            h, g = host(call), host(general)
            rows.append(dict(op=name, batch=bsz, vocab=v, backend=b.name,
                             gpu_us=statistics.median(gpu), host_us=statistics.median(h),
                             general_us=statistics.median(g), host_min_us=min(h),
                             general_min_us=min(g)))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trees", nargs="*")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--out", default="ab")
    ap.add_argument("--control", action="store_true",
                    help="also measure the new tree a second time (the noise floor)")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.reps)))
        return 0
    old, new = (str(Path(t).resolve()) for t in args.trees)
    sides = (("old", old), ("new", new)) + ((("control", new),) if args.control else ())
    samples: dict[str, list[list[dict]]] = {side: [] for side, _ in sides}
    for r in range(args.rounds):
        for side, tree in sides:
            env = {**os.environ, "PYTHONPATH": tree + os.pathsep + os.environ.get("PYTHONPATH", "")}
            run = subprocess.run([sys.executable, __file__, "--child", "--reps", str(args.reps)],
                                 env=env, cwd=tree, capture_output=True, text=True, timeout=900)
            if run.returncode:
                print(run.stderr[-3000:], file=sys.stderr)
                return 1
            samples[side].append(json.loads(run.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1} {side} done", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ab.json").write_text(json.dumps({"old": old, "new": new, "samples": samples},
                                            indent=1))
    fields = ("gpu_us", "host_us", "general_us", "host_min_us", "general_min_us")
    lines = ["| op | B x V | " + " | ".join(f"{f} old / new | ratio" for f in fields) + " |",
             "|---|---|" + "---|---|" * len(fields)]

    def med(side: str, i: int, field: str) -> float:
        return statistics.median(s[i][field] for s in samples[side])

    logs: dict[tuple[str, str], list[float]] = {}
    for i, row in enumerate(samples["old"][0]):
        cells = [row["op"], f"{row['batch']} x {row['vocab']}"]
        for field in fields:
            o, n = med("old", i, field), med("new", i, field)
            cells += [f"{o:.1f} / {n:.1f}", f"{n / o:.3f}"]
            logs.setdefault(("new/old", field), []).append(math.log(n / o))
            if args.control:
                logs.setdefault(("control/new", field), []).append(
                    math.log(med("control", i, field) / n))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| ratio | field | geometric mean | rows min - max |", "|---|---|---|---|"]
    for (what, field), v in logs.items():
        lines.append(f"| {what} | {field} | {math.exp(statistics.fmean(v)):.3f} "
                     f"| {math.exp(min(v)):.2f} - {math.exp(max(v)):.2f} |")
    (out / "ab.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
