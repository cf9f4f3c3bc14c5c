"""``python -m rocsample``: info, compile, inspect, demo, bench, bench-elementwise, bench-mlp.

Example
-------
>>> from rocsample.cli import main
>>> main(["inspect", "/nonexistent"])   # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__, codecheck, codeobject, config
from .errors import KernelLoadError, RocsampleError
from .registry import CONTRACT, KERNELS, MODULES

__all__ = ["main"]


def _toolchains() -> list[str]:
    from .toolchains import get_toolchain

    lines = []
    for name in ("hiprtc", "nvrtc"):
        try:
            lines.append(f"{name}: {get_toolchain(name).describe()}")
        except RocsampleError as exc:
            lines.append(f"{name}: unavailable ({exc})")
    return lines


def _kernel_rows() -> list[tuple[str, str, tuple[str, ...]]]:
    """(label, kernel whose resolution stands for the row, kernels checked in its file).

    A sampling kernel is a row of its own; a module of a family of many entries (Candle's
    elementwise kernels, which share their module's variable and code object) is one row."""
    rows: list[tuple[str, str, tuple[str, ...]]] = []
    for module, mspec in MODULES.items():
        names = tuple(k for k, spec in KERNELS.items() if spec.module == module)
        if mspec.family == "sampling":
            rows.extend((KERNELS[n].entry, n, (n,)) for n in names)
        else:
            rows.append((f"{mspec.source} ({len(names)} entries)", names[0], names))
    return rows


def _kernel_sources(backend) -> tuple[list[str], set[str]]:
    """One line per kernel (per module for the elementwise family): where it comes (or would
    come) from, and the verdict on that file; and the files (or kernels) that would fail.

    Every override and precompiled file is checked (codecheck) whether or not a device is
    here, so a missing file, a directory or garbage shows as an ERROR with its reason."""
    cache = getattr(backend, "kernels", None)
    lines = []
    errors: set[str] = set()

    def check(path, origin, names, *target):
        verdict = codecheck.check_file(path, origin, names, *target)
        if not verdict.ok:
            errors.add(str(path))
        return verdict.line()
    for label, name, names in _kernel_rows():
        spec = KERNELS[name]
        if cache is not None:
            target = cache.runtime.target
            try:
                r = cache.resolve(name)
                where = f"{r.origin}: {r.reason}" + (f" ({r.path})" if r.path else "")
                origin = {"env": spec.env_var, "precompiled": codecheck.KERNEL_DIR}.get(r.origin)
                if origin is not None:
                    where += " " + check(r.path, origin, names, target)
            except RocsampleError as exc:
                where = f"ERROR: {exc}"
                errors.add(name)
        else:
            override = config.kernel_override(spec.env_var)
            if override:
                where = f"env {spec.env_var}={override}: {check(override, spec.env_var, names)}"
            else:
                found = [p for p in (config.kernel_dir() / f"{spec.module}{s}"
                                     for s in codecheck.SUFFIXES) if os.path.lexists(p)]
                where = "".join(
                    f"precompiled {p.name} present: "
                    f"{check(p, codecheck.KERNEL_DIR, names)}; "
                    for p in found) + "cpu backend runs numpy, no kernel is loaded"
        if spec.companion_of is not None:
            where += f" (optional, with {KERNELS[spec.companion_of].entry})"
        lines.append(f"  {label:28s} [{spec.env_var}] {where}")
    return lines, errors


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
    absent = f" (absent: run {config.precompile_command()})"
    print(f"precompiled dir: {config.kernel_dir()}"
          f"{'' if config.kernel_dir().is_dir() else absent}")
    print("kernels:")
    lines, errors = _kernel_sources(b)
    for line in lines:
        print(line)
    if errors:
        print(f"error: {len(errors)} kernel file(s) above would fail to load: "
              f"{', '.join(sorted(errors))}", file=sys.stderr)
        return 1
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    if args.check:
        return _check(args.files)
    if not args.files:
        print("error: inspect needs FILE... (or --check: every configured code object)",
              file=sys.stderr)
        return 2
    status = 0
    for path in args.files:
        try:
            info = codeobject.inspect_file(path)
        except KernelLoadError as exc:
            print(f"{path}: {exc.reason}", file=sys.stderr)
            status = 1
            continue
        except codeobject.NotACodeObject as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(codeobject.describe(info, str(path)))
        if args.resources:
            from . import amdgpu_metadata

            try:
                print(amdgpu_metadata.resource_table(amdgpu_metadata.file_resources(path)))
            except (codeobject.NotACodeObject, KernelLoadError) as exc:  # MetadataError too
                print(f"{path}: no resources: {exc}", file=sys.stderr)
                status = 1
    return status


def _check(files: list[str]) -> int:
    """``inspect --check``: one verdict a file; 1 when any file would fail to load."""
    if files:
        checks = [codecheck.check_named(path) for path in files]
    else:
        checks = codecheck.check_configured()
        if not checks:
            vars_ = ", ".join(sorted({spec.env_var for spec in KERNELS.values()}))
            print(f"nothing to check: none of {vars_} is set and {config.kernel_dir()} holds "
                  "no <module>.hsaco or .cubin")
            return 0
    for c in checks:
        print(f"{c.path}" + (f" ({c.origin})" if c.origin else "") + f": {c.line()}")
    failed = sum(not c.ok for c in checks)
    if failed:
        print(f"{failed} of {len(checks)} code object files would fail to load", file=sys.stderr)
    return 1 if failed else 0


def cmd_compile(args: argparse.Namespace) -> int:
    from .precompile import default_archs, precompile

    archs = args.arch or default_archs()
    out = Path(args.out).expanduser() if args.out else config.compile_out_dir()
    modules = args.module or list(MODULES)
    print(f"building {len(modules)} modules for {' '.join(archs)} into {out}")
    try:
        report = precompile(archs, out, modules, progress=print, jobs=args.jobs)
    except OSError as exc:  # the output directory cannot be made or written
        print(f"error: cannot write {out}: {exc}", file=sys.stderr)
        return 2
    by_target: dict[tuple[str, str], list[str]] = {}
    for r in report.failed:  # the same reason for every module of a target: say it once
        by_target.setdefault((r.target, r.error), []).append(r.module)
    for (target, error), failed_modules in by_target.items():
        print(f"\nFAILED {', '.join(failed_modules)} for {target}: {error}", file=sys.stderr)
    if not report.written:
        print(f"\nno file was written to {out}", file=sys.stderr)
        return 1
    print(f"\nwrote {len(report.written)} file(s) to {out.resolve()}:")
    for w in report.written:
        print(f"  {w.path.name} ({', '.join(w.targets)})")
    if report.failed:
        targets = sorted({r.target for r in report.failed})
        print(f"{len(report.failed)} of {len(report.results)} builds failed (target(s) "
              f"{', '.join(targets)}); the files above hold the targets that built",
              file=sys.stderr)
    if out.resolve() == config.compile_out_dir().resolve():
        print("\nrocsample already looks there (the ROCSAMPLE_KERNEL_DIR in effect); to use "
              "single files instead, e.g.:")
    else:
        print(f"\nUse them with:\n  export ROCSAMPLE_KERNEL_DIR={out.resolve()}\n"
              "or point single kernels at files, e.g.:")
    files = {w.module: w.path for w in report.written}
    # one line per variable (Candle's modules have one variable for all their entries)
    hints = {KERNELS[n].env_var: files[KERNELS[n].module] for n in CONTRACT
             if KERNELS[n].module in files}
    for var, path in list(hints.items())[:3]:
        print(f"  export {var}={path.resolve()}")
    return 1 if report.failed else 0


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
    # The cpu backend has no kernels to compile or load: only a GPU's first call pays that.
    first = "" if b.name == "cpu" else " (the first call includes compiling or loading kernels)"
    print(f"{args.batch} x {args.vocab}: {len(runs) + 1} operations in {elapsed * 1e3:.1f} ms"
          f"{first}")
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

    if args.dtypes:
        r = bench.run_dtypes(batches=args.batch or (1, 128, 512),
                             vocabs=args.vocab or (128256, 262144), reps=args.reps,
                             backend=(args.backend or [None])[0], out=Path(args.out),
                             rounds=args.rounds or 4, flush_l2=args.flush_l2)
        print(bench.dtype_table(r))
        print(f"\nwrote {args.out}/bench_dtypes.json, bench_dtypes.md")
        return 0
    if args.rounds is not None or args.flush_l2:
        flag = "--rounds" if args.rounds is not None else "--flush-l2"
        raise ValueError(f"{flag} applies to --dtypes only (the latency table times each "
                         "call warm and cold already)")
    results = [bench.run(batches=args.batch or (1, 32, 128, 512),
                         vocabs=args.vocab or (32000, 128256, 151936), reps=args.reps,
                         backend=name) for name in (args.backend or [None])]
    result = bench.merge(results)
    bench.write(result, Path(args.out))
    print(bench.table(result))
    print(f"\nwrote {args.out}/bench.json, bench.md, bench.png")
    return 0


def cmd_bench_elementwise(args: argparse.Namespace) -> int:
    from . import bench_elementwise as bew

    result = bew.run(sizes=args.size or bew.SIZES, reps=args.reps, label=args.label,
                     out=Path(args.out))
    print(bew.table(result))
    print(f"\nwrote {args.out}/bench_elementwise*.json, .md, .png")
    return 0


def cmd_bench_mlp(args: argparse.Namespace) -> int:
    from . import bench_mlp

    result = bench_mlp.run(rows=args.rows or bench_mlp.ROWS,
                           hidden=args.hidden or bench_mlp.HIDDEN, reps=args.reps,
                           warm=args.warm, label=args.label, out=Path(args.out),
                           rounds=args.rounds)
    print(bench_mlp.table(result))
    print(f"\nwrote {args.out}/bench_mlp*.json, .md, .png")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rocsample", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="backend, devices, toolchains, caches, kernel sources")
    p = sub.add_parser("inspect", help="what a code object file holds")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--check", action="store_true",
                   help="check FILEs (default: every *_HSACO override and precompiled file) as "
                        "loading would, without a device; exit 1 if any fails")
    p.add_argument("--resources", action="store_true",
                   help="AMDGPU: VGPRs, SGPRs, LDS, scratch, wave size, waves/SIMD per kernel")
    p = sub.add_parser("compile", help="precompile kernels (what `make hsaco` runs)")
    p.add_argument("--arch", action="append", help="target (repeatable): gfx90a, sm_90, ...")
    p.add_argument("--module", action="append", choices=sorted(MODULES))
    p.add_argument("--out", help="output directory (default: ROCSAMPLE_KERNEL_DIR if set, "
                                 "else where rocsample looks by default: build/hsaco in a "
                                 "source checkout, the user data dir when installed)")
    p.add_argument("-j", "--jobs", type=_positive_int,
                   help="compiles at a time (default: the cores available)")
    sub.add_parser("warmup", help="load (compile in parallel if needed) every kernel now")
    p = sub.add_parser("demo", help="sample a random batch and say which backend ran")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("bench", help="GPU latency vs the memory floor and torch (needs torch)")
    p.add_argument("--batch", type=_positive_int, action="append",
                   help="rows (repeatable; default 1 32 128 512, with --dtypes 1 128 512)")
    p.add_argument("--vocab", type=_positive_int, action="append",
                   help="vocabulary size (repeatable)")
    p.add_argument("--reps", type=_positive_int, default=30)
    p.add_argument("--backend", action="append", choices=["hip", "cuda"],
                   help="backend(s) to measure (repeat to compare them in one table)")
    p.add_argument("--dtypes", action="store_true",
                   help="float32 vs bfloat16/float16 inputs for the logit operations and "
                        "sample (default B 1, 128, 512 x V 128256, 262144)")
    p.add_argument("--rounds", type=_positive_int,
                   help="--dtypes: rounds, the dtypes' order turned each (default 4)")
    p.add_argument("--flush-l2", action="store_true",
                   help="--dtypes: write a buffer larger than the L2 before each call")
    p.add_argument("--out", default="bench/results/latest")
    p = sub.add_parser("bench-elementwise",
                       help="Candle's elementwise kernels vs torch and the copy bandwidth")
    p.add_argument("--size", type=_positive_int, action="append",
                   help="elements (repeatable; default 1M to 256M)")
    p.add_argument("--reps", type=_positive_int, default=20)
    p.add_argument("--label", default="", help="names the output files (e.g. old, new)")
    p.add_argument("--out", default="bench/results/latest")
    p = sub.add_parser("bench-mlp",
                       help="RMSNorm, fused-add RMSNorm, silu_and_mul vs torch and FlashInfer")
    p.add_argument("--rows", type=_positive_int, action="append",
                   help="rows (repeatable; default 1 16 128 1024 8192)")
    p.add_argument("--hidden", type=_positive_int, action="append",
                   help="hidden size (repeatable; default 2048 4096 8192 14336)")
    p.add_argument("--reps", type=_positive_int, default=30, help="calls a round (default 30)")
    p.add_argument("--rounds", type=_positive_int, default=4,
                   help="rounds, the implementations' order turned each (default 4)")
    p.add_argument("--warm", action="store_true", help="leave the L2 warm between calls")
    p.add_argument("--label", default="", help="names the output files (e.g. old, new)")
    p.add_argument("--out", default="bench/results/latest")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s")
    handler = {"info": cmd_info, "inspect": cmd_inspect, "compile": cmd_compile,
               "demo": cmd_demo, "bench": cmd_bench, "warmup": cmd_warmup,
               "bench-elementwise": cmd_bench_elementwise,
               "bench-mlp": cmd_bench_mlp}[args.command]
    try:
        code = handler(args)
        sys.stdout.flush()  # here, where a reader that left is caught, not at exit
        return code
    except BrokenPipeError:
        # `info | head`: the reader left; the rest of the output has nowhere to go. Point
        # stdout at /dev/null so that the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    except (RocsampleError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if args.command.startswith("bench") and exc.name in ("torch", "matplotlib"):
            print(f"error: {args.command} needs {exc.name} (with a GPU): {exc}", file=sys.stderr)
            return 2
        raise
