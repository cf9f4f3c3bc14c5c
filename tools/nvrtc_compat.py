"""Compile every kernel module with another NVRTC than the one installed (no GPU needed).

Usage: python tools/nvrtc_compat.py [--version 13.0.88] [--lib DIR] [--target sm_90]

NVRTC versions differ in what they accept: in session 6 the H200 image's (CUDA 13.0)
segfaulted in nvrtcCompileProgram on a kernel that the installed 13.5 compiled
(bench/results/2026-12-03-h200-session6/run5-crash). This tool fetches the
``nvidia-cuda-nvrtc`` wheel of ``--version`` with pip (into build/nvrtc-<version>, once) or
takes the library directory ``--lib``, and compiles each module with rocsample's own sources
and options in a child process each (LD_LIBRARY_PATH set to the directory, where NVRTC finds
its builtins library by name), so a crash is reported as one, with its module. Exit status 1
when any module fails or crashes. For an sm_ target each compiled module's line also gives
the largest count of local-memory instructions in one of its entries (tools/ptxas_regs.py's
column, with this NVRTC: 13.0's split compile once put ~300 in the last bf16 engine entry).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's rocsample, not an installed copy


def fetch(version: str) -> Path:
    """The lib directory of nvidia-cuda-nvrtc==version, downloaded and unpacked once."""
    dest = ROOT / "build" / f"nvrtc-{version}"
    lib = dest / "nvidia" / "cu13" / "lib"
    if not (lib / "libnvrtc.so.13").exists():
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64",
                        "--platform", "manylinux2014_x86_64", "--python-version", "3.12",
                        "-d", str(dest), f"nvidia-cuda-nvrtc=={version}"], check=True)
        (wheel,) = dest.glob("nvidia_cuda_nvrtc-*.whl")
        with zipfile.ZipFile(wheel) as z:
            z.extractall(dest)
    return lib


def compile_one(lib: Path, module: str, target: str) -> int:
    """Compile one module with lib's NVRTC; prints the log's tail; 0 on success."""
    from rocsample import registry
    from rocsample.compiler import read_sources
    from rocsample.toolchains import get_toolchain

    nvrtc = ctypes.CDLL(str(lib / "libnvrtc.so.13"))
    spec = registry.MODULES[module]
    src, headers = read_sources(spec)
    opts = get_toolchain("nvrtc").options(target, 32, calls=spec.calls)
    names = list(headers)

    def strings(xs: list) -> ctypes.Array:
        return (ctypes.c_char_p * len(xs))(*[x if isinstance(x, bytes) else x.encode()
                                             for x in xs])

    prog = ctypes.c_void_p()
    rc = nvrtc.nvrtcCreateProgram(ctypes.byref(prog),
                                  src if isinstance(src, bytes) else src.encode(),
                                  spec.source.encode(), len(names),
                                  strings([headers[n] for n in names]), strings(names))
    if rc == 0:
        rc = nvrtc.nvrtcCompileProgram(prog, len(opts), strings(opts))
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(prog, log)
    if rc != 0:
        print(log.value.decode(errors="replace")[-1500:])
    elif target.startswith("sm_"):
        from ptxas_regs import local_ops  # tools/ is this script's directory

        nvrtc.nvrtcGetCUBINSize(prog, ctypes.byref(size))
        cubin = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetCUBIN(prog, cubin)
        local = local_ops(cubin.raw)
        worst = max(spec.entries, key=lambda e: local.get(e, -1))
        print(f"local-memory instructions: at most {local.get(worst, -1)} ({worst})")
    return rc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="13.0.88", help="nvidia-cuda-nvrtc version to fetch")
    ap.add_argument("--lib", type=Path, help="a directory holding libnvrtc.so.13 instead")
    ap.add_argument("--target", default="sm_90")
    ap.add_argument("--module", help=argparse.SUPPRESS)  # the child's one module
    args = ap.parse_args(argv)
    lib = args.lib or fetch(args.version)
    if args.module:
        return 0 if compile_one(lib, args.module, args.target) == 0 else 1
    from rocsample import registry

    bad = 0
    for module in sorted(registry.MODULES):
        run = subprocess.run([sys.executable, __file__, "--lib", str(lib), "--target",
                              args.target, "--module", module], capture_output=True, text=True,
                             timeout=1800, env={**os.environ, "LD_LIBRARY_PATH": str(lib)})
        status = ("ok" if run.returncode == 0 else
                  f"CRASHED (signal {-run.returncode})" if run.returncode < 0 else "FAILED")
        local = [line for line in run.stdout.splitlines() if line.startswith("local-memory")]
        print(f"{module:22s} {status}{'; ' + local[0] if local else ''}", flush=True)
        if run.returncode != 0:
            bad += 1
            print(run.stdout[-1500:], run.stderr[-1500:])
    print(f"{len(registry.MODULES)} modules with {lib}: {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
