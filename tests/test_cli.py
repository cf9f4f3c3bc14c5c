"""``python -m rocsample`` run as a real subprocess: info, demo, compile, inspect.

Every run gets a private ROCSAMPLE_CACHE_DIR and no other ROCSAMPLE_* variables unless the
test sets them. compile needs hiprtc (skips without it, fails in CI). The gfx942 case relies
on Debian 12's ROCm 5.2 comgr, which aborts the process on targets it does not know: the CLI
must turn that into a clear per-target failure instead of dying.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rocsample.registry import KERNELS
from rocsample.toolchains import get_toolchain

from .conftest import need

ROOT = Path(__file__).resolve().parent.parent


def hip_init_error() -> str | None:
    """What hipInit says here, asked of hip-python directly (None: it succeeds)."""
    try:
        from hip import hip
    except ImportError:
        return "hip-python is not installed"
    try:
        (err,) = hip.hipInit(0)
    except Exception:
        return "the HIP runtime cannot be loaded"
    return None if int(err) == 0 else f"hipInit returned {err.name}"


def toolchain_version(name: str) -> str | None:
    try:
        return get_toolchain(name).version()
    except Exception:
        return None


def cli(*args: str, env: dict[str, str] | None = None, tmp: Path,
        timeout: float = 120) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROCSAMPLE_")}
    base.update({"PYTHONPATH": str(ROOT), "ROCSAMPLE_CACHE_DIR": str(tmp / "cache")})
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "rocsample", *args], cwd=ROOT, env=base,
                          capture_output=True, text=True, timeout=timeout)


def no_traceback(run: subprocess.CompletedProcess) -> None:
    if "Traceback" in run.stderr + run.stdout:
        last = (run.stderr.strip().splitlines() or [""])[-1]
        pytest.fail(f"a traceback instead of a message: {last}")


# ---- info ----


def test_info(tmp_path):
    run = cli("info", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert run.stderr == ""
    lines = out.splitlines()
    assert lines[0].startswith("rocsample ")
    assert "active backend: cpu" in lines
    backends = {line.split()[0]: line for line in lines if line.startswith("  ")
                and line.split()[0] in ("hip", "cuda", "cpu")}
    assert backends["cpu"].split(None, 1)[1].startswith("usable")
    hip_error = hip_init_error()
    if hip_error is not None:
        assert "unavailable" in backends["hip"]
        assert hip_error in backends["hip"]
    assert f"disk cache: {tmp_path / 'cache'} (enabled)" in out
    assert "precompiled dir: " in out
    for spec in KERNELS.values():
        (line,) = [ln for ln in lines if ln.split()[:1] == [spec.entry]]
        assert f"[{spec.env_var}]" in line
    # and no line for a kernel the registry does not have (the registry says how many)
    listed = {ln.split()[0] for ln in lines if re.search(r"^  \S+ +\[\w+\] ", ln)}
    assert listed == {spec.entry for spec in KERNELS.values()}


def test_info_lists_toolchain_versions(tmp_path):
    run = cli("info", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    for name in ("hiprtc", "nvrtc"):
        version = toolchain_version(name)
        need(version is not None, f"{name} unavailable here")
        assert re.search(rf"^\s+{name}: {re.escape(version)}$", run.stdout, re.M), run.stdout
        assert re.search(r"\d+\.\d+", version)


def test_info_shows_kernel_overrides_and_precompiled_files(tmp_path, built):
    override = tmp_path / "mine.hsaco"
    run = cli("info", tmp=tmp_path, env={"ROCSAMPLE_KERNEL_DIR": str(built.dir),
                                         "TOPP_SAMPLE_HSACO": str(override)})
    assert run.returncode == 0, run.stderr
    assert f"precompiled dir: {built.dir}\n" in run.stdout
    lines = {ln.split()[0]: ln for ln in run.stdout.splitlines() if ln.startswith("  ")}
    assert "precompiled topk_sampling.hsaco present" in lines["topk_sampling_kernel"]
    assert f"env TOPP_SAMPLE_HSACO={override}" in lines["topp_sample_kernel"]
    assert "present" not in lines["softmax_kernel"]


def test_info_with_forced_unavailable_backend(tmp_path):
    hip_error = hip_init_error()
    if hip_error is None:
        pytest.skip("a HIP device works here")
    run = cli("info", tmp=tmp_path, env={"ROCSAMPLE_BACKEND": "hip"})
    assert run.returncode == 2
    no_traceback(run)
    assert "error: backend 'hip' is unavailable" in run.stderr
    assert hip_error in run.stderr


def test_info_with_a_bad_backend_variable_is_a_clear_error(tmp_path):
    run = cli("info", tmp=tmp_path, env={"ROCSAMPLE_BACKEND": "bogus"})
    assert run.returncode != 0
    no_traceback(run)
    assert "ROCSAMPLE_BACKEND" in run.stderr and "bogus" in run.stderr


# ---- demo ----


def test_demo(tmp_path):
    run = cli("demo", "--batch", "2", "--vocab", "1000", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    out = run.stdout
    assert out.splitlines()[0].startswith("backend: cpu ")
    for name in ("plain", "top-k 50", "top-p 0.9", "top-k 50 + top-p 0.9", "min-p 0.1",
                 "greedy (T=0)"):
        m = re.search(rf"^  {re.escape(name)}\s+-> \[(\d+), (\d+)\]$", out, re.M)
        assert m, f"{name} missing in:\n{out}"
        assert all(0 <= int(t) < 1000 for t in m.groups())
    assert "2 x 1000: 7 operations" in out
    assert "kernels: none (the cpu backend runs numpy)" in out


def test_demo_verbose_logs_why_cpu(tmp_path):
    hip_error = hip_init_error()
    if hip_error is None:
        pytest.skip("a HIP device works here")
    run = cli("-v", "demo", "--batch", "1", "--vocab", "50", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    assert re.search(r"^rocsample: rocsample backend: cpu \(no usable GPU: .*"
                     + re.escape(hip_error), run.stderr, re.M), run.stderr


def test_demo_forced_cpu(tmp_path):
    run = cli("demo", "--batch", "3", "--vocab", "10", tmp=tmp_path,
              env={"ROCSAMPLE_BACKEND": "cpu"})
    assert run.returncode == 0, run.stderr
    assert "backend: cpu" in run.stdout


def test_demo_with_an_empty_batch_is_a_clear_error(tmp_path):
    run = cli("demo", "--batch", "0", "--vocab", "10", tmp=tmp_path)
    assert run.returncode != 0
    no_traceback(run)
    assert "empty" in run.stderr or "batch" in run.stderr


# ---- compile and inspect ----


@dataclass(frozen=True)
class Built:
    dir: Path
    run: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    need(toolchain_version("hiprtc") is not None, "hiprtc unavailable")
    tmp = tmp_path_factory.mktemp("compile")
    out = tmp / "hsaco"
    run = cli("compile", "--arch", "gfx90a", "--module", "topk_sampling", "--out", str(out),
              tmp=tmp, timeout=300)
    assert run.returncode == 0, run.stderr
    return Built(out, run)


def test_compile_writes_the_module_and_says_how_to_use_it(built):
    run = built.run
    assert (built.dir / "topk_sampling.hsaco").is_file()
    assert sorted(p.name for p in built.dir.iterdir()) == ["topk_sampling.hsaco"]
    assert f"building 1 modules for gfx90a into {built.dir}" in run.stdout
    assert re.search(r"^\[1/1\] topk_sampling for gfx90a: +\d+\.\d+ s$", run.stdout, re.M)
    assert f"export ROCSAMPLE_KERNEL_DIR={built.dir.resolve()}" in run.stdout


def test_compile_hints_only_name_files_it_wrote(built):
    for path in re.findall(r"^\s*export \w+_HSACO=(\S+)$", built.run.stdout, re.M):
        assert Path(path).is_file(), f"the hint names {path}, which was not built"


def test_inspect_the_compiled_file(built, tmp_path):
    path = built.dir / "topk_sampling.hsaco"
    run = cli("inspect", str(path), tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    first, *rest = run.stdout.splitlines()
    assert first.startswith(f"{path}: offload-bundle, {path.stat().st_size} bytes, 1 code object")
    assert re.search(r"^\s+\[0\] amdgpu gfx90a ", run.stdout, re.M)
    assert re.search(r"kernels \(1\): topk_sampling_kernel$", run.stdout, re.M)


def test_inspect_reports_each_file(built, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some text, no code here\n")
    run = cli("inspect", str(text), str(built.dir / "topk_sampling.hsaco"), tmp=tmp_path)
    assert run.returncode == 1
    assert "topk_sampling_kernel" in run.stdout  # the good file is still described


def test_inspect_a_text_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some text, no code here\n")
    run = cli("inspect", str(text), tmp=tmp_path)
    assert run.returncode == 1
    no_traceback(run)
    assert run.stdout == ""
    assert run.stderr.startswith(f"{text}: ")
    assert re.search(r"not a (compiled )?code object", run.stderr), run.stderr


def test_inspect_a_missing_file(tmp_path):
    run = cli("inspect", str(tmp_path / "absent.hsaco"), tmp=tmp_path)
    assert run.returncode == 1
    no_traceback(run)
    assert "absent.hsaco" in run.stderr and "No such file" in run.stderr


def test_compile_for_a_target_the_compiler_aborts_on(tmp_path):
    need(toolchain_version("hiprtc") is not None, "hiprtc unavailable")
    out = tmp_path / "out"
    run = cli("compile", "--arch", "gfx942", "--module", "topk_sampling", "--out", str(out),
              tmp=tmp_path, timeout=300)
    if run.returncode == 0:
        need(False, "this hiprtc builds gfx942; the abort case cannot be exercised")
    assert run.returncode == 1
    no_traceback(run)
    assert "[1/1] topk_sampling for gfx942: FAILED" in run.stdout
    assert "FAILED topk_sampling for gfx942" in run.stderr
    assert "the compiler crashed" in run.stderr
    assert "does not know gfx942" in run.stderr
    assert not (out / "topk_sampling.hsaco").exists()
    assert "export ROCSAMPLE_KERNEL_DIR" not in run.stdout


def test_one_bad_target_does_not_kill_the_others(tmp_path):
    need(toolchain_version("hiprtc") is not None, "hiprtc unavailable")
    out = tmp_path / "out"
    run = cli("compile", "--arch", "gfx90a", "--arch", "gfx942", "--module", "topk_sampling",
              "--out", str(out), tmp=tmp_path, timeout=300)
    if run.returncode == 0:
        need(False, "this hiprtc builds gfx942; the abort case cannot be exercised")
    assert run.returncode == 1
    assert re.search(r"^\[1/2\] topk_sampling for gfx90a: +\d+\.\d+ s$", run.stdout, re.M)
    assert "[2/2] topk_sampling for gfx942: FAILED" in run.stdout
    assert "FAILED topk_sampling for gfx90a" not in run.stderr  # only the failing target
    assert not (out / "topk_sampling.hsaco").exists()  # all targets or nothing


def test_unknown_subcommand_and_module(tmp_path):
    run = cli("frobnicate", tmp=tmp_path)
    assert run.returncode == 2 and "invalid choice" in run.stderr
    run = cli("compile", "--module", "nope", "--out", str(tmp_path), tmp=tmp_path)
    assert run.returncode == 2 and "invalid choice" in run.stderr
