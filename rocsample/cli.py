"""``python -m rocsample``: info, compile, inspect, demo, bench.

Example
-------
>>> from rocsample.cli import main
>>> main(["inspect", "/nonexistent"])   # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__, codeobject, config
from .errors import RocsampleError
from .registry import CONTRACT, KERNELS, MODULES

__all__ = ["main"]


def _toolchains() -> list[str]:
    from .toolchains import get_toolchain

    lines = []
    for name in ("hiprtc", "nvrtc"):
        try:
            lines.append(f"{name}: {get_toolchain(name).version()}")
        except RocsampleError as exc:
            lines.append(f"{name}: unavailable ({exc})")
    return lines


def _kernel_sources(backend) -> list[str]:
    cache = getattr(backend, "kernels", None)
    lines = []
    for name, spec in KERNELS.items():
        if cache is not None:
            try:
                r = cache.resolve(name)
                where = f"{r.origin}: {r.reason}" + (f" ({r.path})" if r.path else "")
            except RocsampleError as exc:
                where = f"ERROR: {exc}"
        else:
            override = config.kernel_override(spec.env_var)
            if override:
                where = f"env {spec.env_var}={override} (used once a GPU backend is active)"
            else:
                pre = [p.name for p in (config.kernel_dir() / f"{spec.module}{s}"
                                        for s in (".hsaco", ".cubin")) if p.exists()]
                where = ("precompiled " + ", ".join(pre) + " present; " if pre else "") + \
                    "cpu backend runs numpy, no kernel is loaded"
        if spec.companion_of is not None:
            where += f" (optional, with {KERNELS[spec.companion_of].entry})"
        lines.append(f"  {spec.entry:28s} [{spec.env_var}] {where}")
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    from .backends import get_backend, probe

    print(f"rocsample {__version__}")
    print("backends:")
    for kind, state in probe().items():
        print(f"  {kind:5s} {state}")
    b = get_backend()
    print(f"active backend: {b.name}" + ("" if config.backend_choice() == "auto"
                                           else " (forced by ROCSAMPLE_BACKEND)"))
    d = b.describe()
    print(f"device: {d['device']}  target: {d['target']}  wave: {d['wave_size']}")
    if b.name != "cpu":
        print("later phases overlap the previous one: " + (
            "yes (programmatic dependent launch)" if d["overlap_launches"] else
            "no (HIP, a GPU before sm_90, or ROCSAMPLE_OVERLAP_LAUNCHES=0)"))
    print("toolchains:")
    for line in _toolchains():
        print(f"  {line}")
    print(f"disk cache: {config.cache_dir()} "
          f"({'enabled' if config.disk_cache_enabled() else 'disabled by ROCSAMPLE_DISK_CACHE'})")
    print(f"precompiled dir: {config.kernel_dir()}"
          f"{'' if config.kernel_dir().is_dir() else ' (absent: run make hsaco)'}")
    print("kernels:")
    for line in _kernel_sources(b):
        print(line)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            info = codeobject.inspect_file(path)
        except (OSError, codeobject.NotACodeObject) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(codeobject.describe(info, str(path)))
        if args.resources:
            from . import amdgpu_metadata

            try:
                print(amdgpu_metadata.resource_table(amdgpu_metadata.file_resources(path)))
            except codeobject.NotACodeObject as exc:  # includes MetadataError
                print(f"{path}: no resources: {exc}", file=sys.stderr)
                status = 1
    return status


def cmd_compile(args: argparse.Namespace) -> int:
    from .precompile import default_archs, precompile

    archs = args.arch or default_archs()
    out = Path(args.out)
    print(f"building {len(args.module or MODULES)} modules for {' '.join(archs)} into {out}")
    results = precompile(archs, out, args.module or None, progress=print)
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"\nFAILED {r.module} for {r.target}: {r.error}", file=sys.stderr)
    if failed:
        return 1
    print(f"\ndone. Use it with:\n  export ROCSAMPLE_KERNEL_DIR={out.resolve()}\n"
          "or point single kernels at files, e.g.:")
    built = set(args.module or MODULES)
    for spec in [KERNELS[n] for n in CONTRACT if KERNELS[n].module in built][:3]:
        suffix = ".cubin" if archs[0].startswith("sm_") else ".hsaco"
        print(f"  export {spec.env_var}={(out / (spec.module + suffix)).resolve()}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import rocsample

    rng = np.random.default_rng(args.seed)
    logits = (rng.standard_normal((args.batch, args.vocab)) * 3).astype(np.float32)
    b = rocsample.backend()
    print(f"backend: {b.name} ({b.describe()['device']}, target {b.describe()['target']})")
    t0 = time.perf_counter()
    probs = rocsample.softmax(logits)
    runs = {
        "plain": rocsample.sample(probs, seed=args.seed),
        "top-k 50": rocsample.sample(probs, top_k=50, seed=args.seed),
        "top-p 0.9": rocsample.sample(probs, top_p=0.9, seed=args.seed),
        "top-k 50 + top-p 0.9": rocsample.sample(probs, top_k=50, top_p=0.9, seed=args.seed),
        "min-p 0.1": rocsample.sample(probs, min_p=0.1, seed=args.seed),
        "greedy (T=0)": rocsample.sample_from_logits(logits, temperature=0.0, seed=args.seed),
    }
    elapsed = time.perf_counter() - t0
    for name, tokens in runs.items():
        print(f"  {name:22s} -> {np.asarray(tokens)[:8].tolist()}")
    print(f"{args.batch} x {args.vocab}: {len(runs) + 1} operations in {elapsed * 1e3:.1f} ms "
          "(first call includes compiling or loading kernels)")
    info = rocsample.cache_info()
    if info["kernels"]:
        print("kernels:")
        for name, k in info["kernels"].items():
            print(f"  {name:20s} {k['origin']:12s} {k['reason']}")
    else:
        print("kernels: none (the cpu backend runs numpy); `python -m rocsample info` says why")
    return 0


def cmd_warmup(args: argparse.Namespace) -> int:
    import rocsample

    b = rocsample.backend()
    t0 = time.perf_counter()
    origins = rocsample.warmup()
    seconds = time.perf_counter() - t0
    if not origins:
        print(f"backend {b.name}: no kernels to load")
        return 0
    for name, origin in origins.items():
        print(f"  {name:20s} {origin}")
    compiled = rocsample.cache_info()["compile_seconds"]
    detail = ", ".join(f"{m} {s:.2f} s" for m, s in compiled.items())
    print(f"{len(origins)} kernels ready on {b.describe()['device']} in {seconds:.2f} s"
          + (f" (compiled in parallel: {detail})" if compiled else ""))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    results = [bench.run(batches=args.batch or (1, 32, 128, 512),
                         vocabs=args.vocab or (32000, 128256, 151936), reps=args.reps,
                         backend=name) for name in (args.backend or [None])]
    result = bench.merge(results)
    bench.write(result, Path(args.out))
    print(bench.table(result))
    print(f"\nwrote {args.out}/bench.json, bench.md, bench.png")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rocsample", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="backend, devices, toolchains, caches, kernel sources")
    p = sub.add_parser("inspect", help="what a code object file holds")
    p.add_argument("files", nargs="+")
    p.add_argument("--resources", action="store_true",
                   help="AMDGPU: VGPRs, SGPRs, LDS, scratch, wave size, waves/SIMD per kernel")
    p = sub.add_parser("compile", help="precompile kernels (what `make hsaco` runs)")
    p.add_argument("--arch", action="append", help="target (repeatable): gfx90a, sm_90, ...")
    p.add_argument("--module", action="append", choices=sorted(MODULES))
    p.add_argument("--out", default=str(config.source_root() / "build" / "hsaco"))
    sub.add_parser("warmup", help="load (compile in parallel if needed) every kernel now")
    p = sub.add_parser("demo", help="sample a random batch and say which backend ran")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("bench", help="GPU latency vs the memory floor and torch (needs torch)")
    p.add_argument("--batch", type=int, action="append")
    p.add_argument("--vocab", type=int, action="append")
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--backend", action="append", choices=["hip", "cuda"],
                   help="backend(s) to measure (repeat to compare them in one table)")
    p.add_argument("--out", default="bench/results/latest")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s")
    handler = {"info": cmd_info, "inspect": cmd_inspect, "compile": cmd_compile,
               "demo": cmd_demo, "bench": cmd_bench, "warmup": cmd_warmup}[args.command]
    try:
        return handler(args)
    except (RocsampleError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
