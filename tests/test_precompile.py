"""``make hsaco`` / ``python -m rocsample compile``: partial builds, parallel compiles, where
the files go in a checkout and when installed, and what a missing toolchain says.

Compiles are real (hiprtc through hip-python on Debian's ROCm 5.2) and use the smallest
module, sampling_utils (about a second for one target). gfx942 is a target that toolchain's
comgr aborts on; the tests that rely on it skip where the toolchain builds it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rocsample import precompile as pc
from rocsample.codeobject import inspect_file
from rocsample.errors import BackendUnavailable
from rocsample.toolchains import get_toolchain

from .conftest import need

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rocsample"


def hiprtc() -> None:
    try:
        get_toolchain("hiprtc")
    except Exception as exc:
        need(False, f"hiprtc unavailable: {exc}")


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """This environment without ROCSAMPLE_* settings, with a private cache directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCSAMPLE_")}
    env.update(ROCSAMPLE_CACHE_DIR=str(tmp / "cache"), **extra)
    return env


def no_traceback(run: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in run.stdout + run.stderr, run.stderr[-2000:]


def installed_copy(tmp_path: Path) -> Path:
    """rocsample laid out as its wheel installs it: the package in site-packages with the
    kernel sources inside it as package data, no pyproject.toml, no Makefile."""
    site = tmp_path / "site-packages"
    shutil.copytree(PACKAGE, site / "rocsample", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "kernels", site / "rocsample" / "kernels")
    return site


def without(tmp_path: Path, package: str) -> Path:
    """A directory that, first on PYTHONPATH, makes ``import <package>`` fail as if it were
    not installed."""
    d = tmp_path / f"no-{package}"
    (d / package).mkdir(parents=True)
    (d / package / "__init__.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{package}'\", name={package!r})\n")
    return d


# ---- one bad target costs only itself ----


def test_make_hsaco_keeps_the_good_builds_when_one_target_is_unknown(tmp_path):
    """`make hsaco ARCHS="gfx90a gfx1030 gfx942"` used to write nothing at all, without
    saying so: the good builds are kept, the failure is named, the exit status is non-zero."""
    hiprtc()
    out = tmp_path / "hsaco"
    run = subprocess.run(["make", "-s", "-o", "setup", "hsaco", f"OUT={out}",
                          "ARCHS=gfx90a gfx1030 gfx942", "MODULES=sampling_utils",
                          f"PY={sys.executable}"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env=clean_env(tmp_path, PYTHONPATH=str(ROOT)))
    if run.returncode == 0:
        need(False, "this hiprtc builds gfx942; the unknown-target case cannot be exercised")
    assert run.returncode != 0
    no_traceback(run)
    info = inspect_file(out / "sampling_utils.hsaco")
    assert sorted(e.target for e in info.entries) == ["gfx1030", "gfx90a"]
    assert re.search(r"^FAILED sampling_utils for gfx942: the compiler crashed", run.stderr,
                     re.M), run.stderr
    assert f"wrote 1 file(s) to {out}:\n  sampling_utils.hsaco (gfx90a, gfx1030)\n" in run.stdout
    assert "1 of 3 builds failed (target(s) gfx942)" in run.stderr
    assert f"export ROCSAMPLE_KERNEL_DIR={out}" in run.stdout  # the good files are usable


def test_outputs_are_readable_by_everyone(tmp_path):
    """Precompiled outputs were mode 0600 (mkstemp's): they are meant to be shipped."""
    hiprtc()
    report = pc.precompile(["gfx90a"], tmp_path, ["sampling_utils"])
    assert not report.failed
    (written,) = report.written
    assert written.path == tmp_path / "sampling_utils.hsaco" and written.targets == ("gfx90a",)
    assert written.path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["sampling_utils.hsaco"]  # no temp files


def test_nothing_built_writes_nothing_and_says_so(tmp_path):
    hiprtc()
    out = tmp_path / "out"
    old = out / "sampling_utils.hsaco"
    out.mkdir()
    old.write_bytes(b"an older build")
    run = subprocess.run([sys.executable, "-m", "rocsample", "compile", "--arch", "gfx942",
                          "--module", "sampling_utils", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300,
                         env=clean_env(tmp_path, PYTHONPATH=str(ROOT)))
    if run.returncode == 0:
        need(False, "this hiprtc builds gfx942; the unknown-target case cannot be exercised")
    assert run.returncode == 1
    no_traceback(run)
    assert f"no file was written to {out}" in run.stderr
    assert old.read_bytes() == b"an older build"  # left as it was


# ---- compiles run in parallel ----


def test_compiles_run_in_parallel_up_to_jobs(tmp_path, monkeypatch):
    """Each (module, target) compile is its own subprocess; they used to run one after the
    other. Here the compile step is a stand-in that records how many run at once."""
    running, most = [0], [0]
    lock = threading.Lock()

    def compile_stand_in(module, target, out, timeout, compiler):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return pc.BuildResult(module, target, False, 0.2, "stand-in")

    monkeypatch.setattr(pc, "_compile_isolated", compile_stand_in)
    monkeypatch.setattr(pc, "_require_toolchains", lambda archs: {"hiprtc": "hiprtc x"})
    lines: list[str] = []
    report = pc.precompile(["gfx90a", "gfx1030"], tmp_path, ["sampling_utils", "topk_sampling"],
                           progress=lines.append, jobs=3)
    assert most[0] == 3
    assert [(r.module, r.target) for r in report.results] == [
        ("sampling_utils", "gfx90a"), ("sampling_utils", "gfx1030"),
        ("topk_sampling", "gfx90a"), ("topk_sampling", "gfx1030")]
    assert lines[0] == "with hiprtc x; 3 compile(s) at a time"
    assert sorted(int(ln[1]) for ln in lines[1:]) == [1, 2, 3, 4]  # "[n/4] ..." as they finish
    assert report.written == [] and list(tmp_path.iterdir()) == []
    most[0] = 0
    pc.precompile(["gfx90a"], tmp_path, ["sampling_utils", "topk_sampling", "topp_sampling"])
    assert most[0] == min(3, pc.available_cores())  # default: the cores available


@pytest.mark.parametrize("kw,message", [
    ({"archs": []}, "at least one target"),
    ({"modules": ["nope"]}, "unknown module(s) ['nope']"),
    ({"jobs": 0}, "jobs must be >= 1"),
    ({"archs": ["sm_80", "sm_90"]}, "one CUDA target per build"),
])
def test_bad_arguments_are_refused_before_any_work(tmp_path, kw, message):
    args = {"archs": ["gfx90a"], "modules": ["sampling_utils"], **kw}
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=re.escape(message)):
        pc.precompile(args["archs"], out, args["modules"], jobs=kw.get("jobs"))
    assert not out.exists()


# ---- installed from a wheel ----


def test_installed_compile_writes_to_the_user_data_dir(tmp_path):
    """Installed, `rocsample compile` used to write <site-packages>/build/hsaco."""
    hiprtc()
    site = installed_copy(tmp_path)
    data = tmp_path / "data"
    run = subprocess.run([sys.executable, "-m", "rocsample", "compile", "--arch", "gfx90a",
                          "--module", "sampling_utils"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300,
                         env=clean_env(tmp_path, PYTHONPATH=str(site), XDG_DATA_HOME=str(data)))
    assert run.returncode == 0, run.stderr
    expected = data / "rocsample" / "hsaco"
    assert (expected / "sampling_utils.hsaco").is_file()
    assert not (site / "build").exists()
    assert f"into {expected}\n" in run.stdout
    assert "rocsample already looks there (the ROCSAMPLE_KERNEL_DIR in effect)" in run.stdout
    assert "export ROCSAMPLE_KERNEL_DIR" not in run.stdout


@pytest.mark.parametrize("layout", ["checkout", "installed"])
@pytest.mark.parametrize("package,arch,extra", [("hip", "gfx90a", "hip"),
                                                ("cuda", "sm_90", "cuda")])
def test_missing_toolchain_package_names_the_extra(tmp_path, layout, package, arch, extra):
    """`rocsample compile` without hip-python printed a raw traceback per compile."""
    site = ROOT if layout == "checkout" else installed_copy(tmp_path)
    out = tmp_path / "out"
    path = os.pathsep.join([str(without(tmp_path, package)), str(site)])
    run = subprocess.run([sys.executable, "-m", "rocsample", "compile", "--arch", arch,
                          "--out", str(out)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env=clean_env(tmp_path, PYTHONPATH=path))
    assert run.returncode == 2
    no_traceback(run)
    (line,) = run.stderr.splitlines()
    assert line.startswith("error: ") and f"compiling for {arch} needs " in line
    assert "is not installed" in line
    if layout == "installed":
        assert line.endswith(f"pip install 'rocsample[{extra}]'")
    else:
        assert line.endswith(f".venv/bin/pip install -e '.[{extra}]'")
    assert not out.exists()


def test_missing_toolchain_is_a_backend_unavailable(tmp_path, monkeypatch):
    def missing(name):
        raise BackendUnavailable("hip", "hip-python is not installed (test)")

    monkeypatch.setattr("rocsample.toolchains.get_toolchain", missing)
    with pytest.raises(BackendUnavailable, match="compiling for gfx90a, gfx1030 needs hiprtc"):
        pc.precompile(["gfx90a", "gfx1030"], tmp_path / "out", ["sampling_utils"])
    assert not (tmp_path / "out").exists()
