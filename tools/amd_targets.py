"""The current-ROCm check of tools/rocm-current.sh (``make amd-check``), run inside its root.

``hipcc --archs "A B" --out DIR``
    ``hipcc --genco`` of every kernel module for every target, with the loader's own options
    (``Toolchain.options``: the same ``-D`` defines, RS_WAVE from the target); one offload
    bundle per (module, target) in DIR.
``check --archs "A B" --out DIR BUILD...``
    Every ``.hsaco`` of each BUILD directory must hold code for every target (the exact
    target id asked for, e_machine AMDGPU), every entry of its module, the rocsample ABI
    marker, kernels built for the target's wave size (``.wavefront_size`` of the metadata
    note), no VGPR spills, no dynamic stack and LDS within the target's limit; writes
    ``resources.md`` and ``resources.json`` to DIR and exits 1 listing every problem.

Example
-------
    python tools/amd_targets.py check --archs "gfx942 gfx1100" --out build/x build/x/hiprtc
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from rocsample import amdgpu_metadata, codeobject
from rocsample.registry import ABI_VERSION, MODULES, kernel_source_dir
from rocsample.toolchains import Toolchain, wave_size_for


def _file_name(module: str, target: str) -> str:
    return f"{module}@{target.replace(':', '_')}.hsaco"


def build_hipcc(archs: list[str], out: Path) -> int:
    """hipcc --genco of each (module, target); the -D options come from the loader."""
    loader = Toolchain("hiprtc", None, "hiprtc", "Code")  # options() needs no library
    src = kernel_source_dir()
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for module, spec in sorted(MODULES.items()):
        for target in archs:
            opts = loader.options(target, wave_size_for(target))
            # hiprtc compiles with the HIP runtime header already in scope (the kernels
            # include nothing); clang's HIP mode does not, so hipcc gets it explicitly.
            cmd = ["hipcc", "--genco", *opts, f"-I{src}", "-include", "hip/hip_runtime.h",
                   "-o", str(out / _file_name(module, target)), str(src / spec.source)]
            t0 = time.perf_counter()
            run = subprocess.run(cmd, capture_output=True, text=True)
            took = time.perf_counter() - t0
            if run.returncode:
                failed += 1
                print(f"FAILED {module} for {target} ({' '.join(cmd)}):\n{run.stderr[-3000:]}")
            else:
                print(f"{module} for {target}: {took:5.2f} s")
    return 1 if failed else 0


def _module_of(path: Path) -> str:
    return path.name.split("@")[0].removesuffix(".hsaco")


def check(archs: list[str], out: Path, builds: list[Path]) -> int:
    problems: list[str] = []
    rows: list[dict] = []
    for build in builds:
        files = sorted(build.glob("*.hsaco"))
        found: dict[tuple[str, str], bool] = {}
        for path in files:
            module = _module_of(path)
            data = path.read_bytes()
            where = f"{build.name}/{path.name}"
            try:
                info = codeobject.inspect_bytes(data)
                file_rows = amdgpu_metadata.resource_rows(data, module)
            except codeobject.NotACodeObject as exc:
                problems.append(f"{where}: {exc}")
                continue
            entries = set(MODULES[module].entries)
            for e in info.entries:
                found[(module, e.target)] = True
                if e.kind != "amdgpu":
                    problems.append(f"{where}: {e.target} is {e.kind} code, not AMDGPU")
                if not entries <= set(e.symbols):
                    lost = sorted(entries - set(e.symbols))
                    problems.append(f"{where} {e.target}: missing {lost}")
                if e.abi != ABI_VERSION:
                    problems.append(f"{where} {e.target}: ABI marker {e.abi}, want {ABI_VERSION}")
            for r in file_rows:
                r["build"] = build.name
                tag = f"{where} {r['target']} {r['name']}"
                if r["wavefront_size"] != wave_size_for(r["target"]):
                    problems.append(f"{tag}: wave{r['wavefront_size']}, the target runs "
                                    f"wave{wave_size_for(r['target'])}")
                if r["vgpr_spill_count"]:
                    problems.append(f"{tag}: {r['vgpr_spill_count']} VGPRs spilled to scratch")
                # The engine's __noinline__ phases use scratch for their call frames (return
                # addresses, callee-saved VGPRs): fine while its size is known at build time.
                if r["dynamic_stack"]:
                    problems.append(f"{tag}: a dynamic stack (recursion or a variable frame)")
                if not r.get("lds_ok", False):
                    problems.append(f"{tag}: {r['lds_bytes']} B of LDS is over the target's limit")
            rows += file_rows
        for module in sorted(MODULES):
            for target in archs:
                if (module, target) not in found:
                    problems.append(f"{build.name}: no code for {module} on {target}")
    rows.sort(key=lambda r: (r["build"], r["module"], r["name"], r["target"]))
    out.mkdir(parents=True, exist_ok=True)
    (out / "resources.json").write_text(json.dumps(rows, indent=1) + "\n")
    parts = []
    for build in builds:
        mine = [r for r in rows if r["build"] == build.name]
        parts.append(f"## {build.name}\n\n{amdgpu_metadata.resource_table(mine)}\n")
    (out / "resources.md").write_text("\n".join(parts))
    kernels = {(r["build"], r["module"], r["name"], r["target"]) for r in rows}
    print(f"checked {len(kernels)} kernel builds ({len(builds)} builds x {len(MODULES)} modules "
          f"x {len(archs)} targets): {len(problems)} problems")
    for p in problems:
        print(f"  PROBLEM {p}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["hipcc", "check"])
    parser.add_argument("--archs", required=True, help="space-separated target ids")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("builds", nargs="*", type=Path)
    args = parser.parse_args(argv)
    archs = args.archs.split()
    if args.command == "hipcc":
        return build_hipcc(archs, args.out)
    return check(archs, args.out, args.builds)


if __name__ == "__main__":
    sys.exit(main())
