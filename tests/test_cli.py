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

from rocsample import codeobject
from rocsample.codeobject import write_bundle
from rocsample.registry import ABI_VERSION, KERNELS, MODULES
from rocsample.toolchains import get_toolchain

from . import synthetic_elf as syn
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


def toolchain_description(name: str) -> str | None:
    try:
        return get_toolchain(name).describe()
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
        if MODULES[spec.module].family == "sampling":  # a line per kernel
            (line,) = [ln for ln in lines if ln.split()[:1] == [spec.entry]]
        else:  # a line per module of Candle's family, with its number of entries
            n = sum(k.module == spec.module for k in KERNELS.values())
            label = f"{MODULES[spec.module].source} ({n} entries)"
            (line,) = [ln for ln in lines if ln.strip().startswith(label)]
        assert f"[{spec.env_var}]" in line
    # and no line for a kernel the registry does not have (the registry says how many)
    listed = {ln.split()[0] for ln in lines if re.search(r"^  \S+ +\[\w+\] ", ln)}
    assert listed == {s.entry for s in KERNELS.values() if MODULES[s.module].family == "sampling"}


def test_info_lists_toolchain_versions(tmp_path):
    run = cli("info", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    for name in ("hiprtc", "nvrtc"):
        version, description = toolchain_version(name), toolchain_description(name)
        need(version is not None, f"{name} unavailable here")
        assert re.search(rf"^\s+{name}: {re.escape(description)}$", run.stdout, re.M), run.stdout
        assert description.startswith(version) and re.search(r"\d+\.\d+", version)
    # hiprtc's own version (9.0 on ROCm 5.2) does not say which ROCm: the HIP runtime does.
    assert re.search(r"^\s+hiprtc: hiprtc \d+\.\d+ \(HIP \d+\.\d+\.\d+, /\S*libamdhip64",
                     run.stdout, re.M), run.stdout


def test_info_shows_kernel_overrides_and_precompiled_files(tmp_path, built):
    override = tmp_path / "mine.hsaco"
    run = cli("info", tmp=tmp_path, env={"ROCSAMPLE_KERNEL_DIR": str(built.dir),
                                         "TOPP_SAMPLE_HSACO": str(override)})
    assert run.returncode == 1 and f"1 kernel file(s) above would fail to load: {override}" \
        in run.stderr, run.stderr
    assert f"precompiled dir: {built.dir}\n" in run.stdout
    lines = {ln.split()[0]: ln for ln in run.stdout.splitlines() if ln.startswith("  ")}
    if "active backend: cpu" in run.stdout:
        assert ("precompiled topk_sampling.hsaco present: OK: serves gfx90a;"
                in lines["topk_sampling_kernel"])
        assert (f"env TOPP_SAMPLE_HSACO={override}: ERROR: file does not exist"
                in lines["topp_sample_kernel"])
    assert "ERROR: file does not exist" in lines["topp_sample_kernel"]  # with a device too
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


def synthetic_module(module: str, *, abi: int | None = ABI_VERSION,
                     drop: str | None = None) -> bytes:
    """A gfx90a + gfx1030 bundle defining ``module``'s entry points (less ``drop``), written
    here: the info and inspect --check tests need no toolchain."""
    entries = [e for e in MODULES[module].entries if e != drop]
    return write_bundle({"gfx90a": syn.elf(syn.amd_symbols(entries, abi)),
                         "gfx1030": syn.elf(syn.amd_symbols(entries, abi), flags=syn.GFX1030)})


def test_info_checks_every_override_without_a_device(tmp_path):
    good = tmp_path / "sampling_utils.co"
    good.write_bytes(synthetic_module("sampling_utils"))
    garbage = tmp_path / "garbage.hsaco"
    garbage.write_bytes(b"\x00\x13\x37" * 40)
    fifo = tmp_path / "pipe.hsaco"
    os.mkfifo(fifo)
    (tmp_path / "nothing-here").mkdir()  # an explicit ROCSAMPLE_KERNEL_DIR must exist
    env = {"SAMPLING_UTILS_HSACO": str(good), "TOPK_SAMPLING_HSACO": str(tmp_path / "no.hsaco"),
           "TOPP_SAMPLE_HSACO": str(tmp_path), "FUSED_SAMPLING_HSACO": str(garbage),
           "TOPP_PREFIX_SUM_HSACO": str(fifo),
           "ROCSAMPLE_KERNEL_DIR": str(tmp_path / "nothing-here")}
    run = cli("info", tmp=tmp_path, env=env, timeout=60)
    # Every line is printed, and the exit status says that some would fail to load.
    assert run.returncode == 1, run.stderr
    assert "error: 4 kernel file(s) above would fail to load" in run.stderr
    no_traceback(run)
    lines = {ln.split()[0]: ln for ln in run.stdout.splitlines() if ln.startswith("  ")}
    assert "ERROR: file does not exist" in lines["topk_sampling_kernel"]
    assert "ERROR: not a regular file but a directory" in lines["topp_sample_kernel"]
    assert "ERROR: not a code object: bad magic" in lines["topk_topp_sampling_kernel"]
    assert "ERROR: not a regular file but a FIFO" in lines["topp_prefix_sum_kernel"]
    if "active backend: cpu" in run.stdout:  # a device would ask for its own target
        assert lines["softmax_kernel"].endswith(
            f"env SAMPLING_UTILS_HSACO={good}: OK: serves gfx1030, gfx90a")
    assert "ERROR" not in lines["softmax_kernel"] + lines["temperature_scale_kernel"]


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


def test_demo_on_cpu_claims_no_kernel_compile(tmp_path):
    """The cpu backend compiles and loads nothing: the timing line must not say it did."""
    run = cli("demo", "--batch", "2", "--vocab", "100", tmp=tmp_path,
              env={"ROCSAMPLE_BACKEND": "cpu"})
    assert run.returncode == 0, run.stderr
    (line,) = [ln for ln in run.stdout.splitlines() if "operations in" in ln]
    assert re.fullmatch(r"2 x 100: 7 operations in \d+\.\d ms", line), line
    assert "compiling" not in run.stdout and "loading kernels" not in run.stdout


def test_demo_verbose_logs_why_cpu(tmp_path):
    hip_error = hip_init_error()
    if hip_error is None:
        pytest.skip("a HIP device works here")
    run = cli("-v", "demo", "--batch", "1", "--vocab", "50", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    assert re.search(r"^rocsample: rocsample backend: cpu \(no usable GPU: .*"
                     + re.escape(hip_error), run.stderr, re.M), run.stderr


def test_no_amd_gpu_is_said_in_words(tmp_path):
    """hipInit's hipErrorInvalidDevice (ROCm 5.2 without a GPU) or hipErrorNoDevice means
    no AMD GPU is visible: the reason says so, not only the error's name."""
    hip_error = hip_init_error()
    if hip_error not in ("hipInit returned hipErrorInvalidDevice",
                         "hipInit returned hipErrorNoDevice"):
        pytest.skip(f"hipInit does not report a missing GPU here ({hip_error})")
    run = cli("-v", "demo", "--batch", "1", "--vocab", "50", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"hip: {hip_error} (no AMD GPU visible)" in run.stderr, run.stderr


@pytest.mark.parametrize("var,value", [("ROCSAMPLE_DISK_CACHE", "maybe"),
                                       ("ROCSAMPLE_SYNC_TIMEOUT", "inf"),
                                       ("ROCSAMPLE_KERNEL_DIR", "relative/dir")])
def test_demo_with_a_bad_variable_is_a_clear_error(tmp_path, var, value):
    run = cli("demo", "--batch", "1", "--vocab", "10", tmp=tmp_path, env={var: value})
    assert run.returncode == 2
    no_traceback(run)
    assert run.stderr.startswith(f"error: {var}={value!r} "), run.stderr


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
    assert f"wrote 1 file(s) to {built.dir}:\n  topk_sampling.hsaco (gfx90a)\n" in run.stdout
    assert f"export ROCSAMPLE_KERNEL_DIR={built.dir.resolve()}" in run.stdout


def test_compiled_files_are_readable_by_everyone(built):
    """Precompiled outputs were mode 0600 (mkstemp's): they are meant to be shipped."""
    assert (built.dir / "topk_sampling.hsaco").stat().st_mode & 0o777 == 0o644


def test_compile_says_which_compiler_and_rocm(built):
    assert re.search(rf"^with {re.escape(toolchain_description('hiprtc'))}; \d+ compile\(s\) "
                     "at a time$", built.run.stdout, re.M), built.run.stdout
    assert re.search(r"\(HIP \d+\.\d+\.\d+", built.run.stdout)


def test_compile_hints_only_name_files_it_wrote(built):
    hints = re.findall(r"^\s*export (\w+_HSACO)=(\S+)$", built.run.stdout, re.M)
    assert hints
    for _, path in hints:
        assert Path(path).is_file(), f"the hint names {path}, which was not built"
    names = [var for var, _ in hints]  # each variable once (a module's entries share one)
    assert len(names) == len(set(names)), names


def test_inspect_the_compiled_file(built, tmp_path):
    path = built.dir / "topk_sampling.hsaco"
    run = cli("inspect", str(path), tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    first, *rest = run.stdout.splitlines()
    assert first.startswith(f"{path}: offload-bundle, {path.stat().st_size} bytes, 1 code object")
    assert re.search(r"^\s+\[0\] amdgpu gfx90a ", run.stdout, re.M)
    assert re.search(r"kernels \(3\): topk_sampling_kernel, topk_sampling_kernel_bf16, "
                     r"topk_sampling_kernel_f16$", run.stdout, re.M)


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
    assert run.stderr == f"{tmp_path / 'absent.hsaco'}: file does not exist\n"


def test_inspect_a_fifo_or_device_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.hsaco"
    os.mkfifo(fifo)
    run = cli("inspect", str(fifo), "/dev/zero", tmp=tmp_path, timeout=30)
    assert run.returncode == 1
    no_traceback(run)
    assert f"{fifo}: not a regular file but a FIFO" in run.stderr
    assert "/dev/zero: not a regular file but a character device" in run.stderr


def test_inspect_without_files_or_check_is_a_usage_error(tmp_path):
    run = cli("inspect", tmp=tmp_path)
    assert run.returncode == 2
    assert "inspect needs FILE" in run.stderr and "--check" in run.stderr


def test_inspect_check_validates_overrides_and_kernel_dir_files(tmp_path):
    kdir = tmp_path / "kdir"
    kdir.mkdir()
    (kdir / "topk_sampling.hsaco").write_bytes(synthetic_module("topk_sampling"))
    env = {"ROCSAMPLE_KERNEL_DIR": str(kdir), "TOPP_SAMPLE_HSACO": str(tmp_path)}
    run = cli("inspect", "--check", tmp=tmp_path, env=env)
    assert run.returncode == 1
    no_traceback(run)
    assert run.stdout.splitlines() == [
        f"{tmp_path} (TOPP_SAMPLE_HSACO): ERROR: not a regular file but a directory; name a "
        "code object file (.hsaco, .cubin or an offload bundle)",
        f"{kdir / 'topk_sampling.hsaco'} (ROCSAMPLE_KERNEL_DIR): OK: serves gfx1030, gfx90a",
    ]
    assert "1 of 2 code object files would fail to load" in run.stderr
    env["TOPP_SAMPLE_HSACO"] = str(kdir / "topk_sampling.hsaco")  # exists, lacks the entry
    run = cli("inspect", "--check", tmp=tmp_path, env=env)
    assert run.returncode == 1
    assert ("(TOPP_SAMPLE_HSACO): ERROR: gfx1030: entry point topp_sample_kernel missing "
            "(its code defines: topk_sampling_kernel, topk_sampling_kernel_bf16, "
            "topk_sampling_kernel_f16)") in run.stdout
    del env["TOPP_SAMPLE_HSACO"]
    run = cli("inspect", "--check", tmp=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    run = cli("inspect", "--check", tmp=tmp_path, env={"ROCSAMPLE_KERNEL_DIR": str(tmp_path)})
    assert run.returncode == 0 and run.stdout.startswith("nothing to check: ")


def test_inspect_check_named_files(tmp_path):
    good = tmp_path / "topp_sampling.hsaco"
    good.write_bytes(synthetic_module("topp_sampling"))
    unmarked = tmp_path / "mine.co"
    unmarked.write_bytes(synthetic_module("topp_sampling", abi=None))
    partial = tmp_path / "topk_topp_sampling.hsaco"
    partial.write_bytes(synthetic_module("topp_sampling"))  # the wrong module's entries
    (tmp_path / "nothing-here").mkdir()  # an explicit ROCSAMPLE_KERNEL_DIR must exist
    run = cli("inspect", "--check", str(good), str(unmarked), tmp=tmp_path,
              env={"ROCSAMPLE_KERNEL_DIR": str(tmp_path / "nothing-here")})
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout.splitlines()
    assert out[0] == f"{good}: OK: serves gfx1030, gfx90a"
    assert out[1].startswith(f"{unmarked}: WARNING: serves gfx1030, gfx90a; gfx1030: declares "
                             "no rocsample kernel ABI")
    run = cli("inspect", "--check", str(partial), str(tmp_path / "absent.co"), tmp=tmp_path)
    assert run.returncode == 1
    topp = ", ".join(f"topp_{k}_kernel{dt}" for k in ("prefix_sum", "sample", "threshold")
                     for dt in ("", "_bf16", "_f16"))
    assert run.stdout.splitlines() == [
        f"{partial}: ERROR: gfx1030: entry point topk_topp_sampling_kernel missing (its code "
        f"defines: {topp}); gfx90a: entry point topk_topp_sampling_kernel missing (its code "
        f"defines: {topp})",
        f"{tmp_path / 'absent.co'}: ERROR: file does not exist",
    ]


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
    assert "need ROCm 6.4 or later (`make amd-check`" in run.stderr
    assert not (out / "topk_sampling.hsaco").exists()
    assert f"no file was written to {out}" in run.stderr
    assert "export ROCSAMPLE_KERNEL_DIR" not in run.stdout


def test_one_bad_target_does_not_kill_the_others(tmp_path):
    need(toolchain_version("hiprtc") is not None, "hiprtc unavailable")
    out = tmp_path / "out"
    run = cli("compile", "--arch", "gfx90a", "--arch", "gfx942", "--module", "sampling_utils",
              "--out", str(out), tmp=tmp_path, timeout=300)
    if run.returncode == 0:
        need(False, "this hiprtc builds gfx942; the abort case cannot be exercised")
    assert run.returncode == 1
    # Progress lines come as the compiles finish, in any order.
    assert re.search(r"^\[[12]/2\] sampling_utils for gfx90a: +\d+\.\d+ s$", run.stdout, re.M)
    assert re.search(r"^\[[12]/2\] sampling_utils for gfx942: FAILED$", run.stdout, re.M)
    assert "FAILED sampling_utils for gfx942" in run.stderr
    assert "for gfx90a:" not in run.stderr  # only the failing target
    # The good target is kept (it used to be all targets or nothing).
    info = codeobject.inspect_file(out / "sampling_utils.hsaco")
    assert [e.target for e in info.entries] == ["gfx90a"]
    assert "sampling_utils.hsaco (gfx90a)" in run.stdout


def test_compile_writes_to_the_kernel_dir_variable_by_default(tmp_path):
    """Without --out, compile builds where the kernel cache will look: ROCSAMPLE_KERNEL_DIR
    when set (it need not exist yet), else the default directory."""
    kdir = tmp_path / "kernels"
    run = cli("compile", "--arch", "gfx942", "--module", "sampling_utils", tmp=tmp_path,
              env={"ROCSAMPLE_KERNEL_DIR": str(kdir)}, timeout=300)
    assert f"building 1 modules for gfx942 into {kdir}\n" in run.stdout, run.stdout + run.stderr
    run = cli("compile", "--arch", "gfx942", "--module", "sampling_utils", tmp=tmp_path,
              env={"ROCSAMPLE_KERNEL_DIR": "relative/k"})
    assert run.returncode == 2
    no_traceback(run)
    assert "ROCSAMPLE_KERNEL_DIR='relative/k' is a relative path" in run.stderr


def test_unknown_subcommand_and_module(tmp_path):
    run = cli("frobnicate", tmp=tmp_path)
    assert run.returncode == 2 and "invalid choice" in run.stderr
    run = cli("compile", "--module", "nope", "--out", str(tmp_path), tmp=tmp_path)
    assert run.returncode == 2 and "invalid choice" in run.stderr


def test_bench_elementwise_without_torch_says_so(tmp_path):
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here: the benchmark would run")
    run = cli("bench-elementwise", "--size", "1024", "--out", str(tmp_path / "b"), tmp=tmp_path)
    no_traceback(run)
    assert run.returncode == 2
    assert "bench-elementwise needs torch" in run.stderr
    for bad in ("0", "x"):
        run = cli("bench-elementwise", "--size", bad, tmp=tmp_path)
        assert run.returncode == 2 and "--size" in run.stderr


def test_info_into_a_reader_that_left_is_quiet(tmp_path):
    # `rocsample info | head -1`: the reader closes its end before info writes; info must
    # neither print a traceback nor fail.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCSAMPLE_")}
    env.update({"PYTHONPATH": str(ROOT), "ROCSAMPLE_CACHE_DIR": str(tmp_path / "cache")})
    proc = subprocess.Popen([sys.executable, "-m", "rocsample", "info"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_config_error_is_public():
    import rocsample
    from rocsample.errors import ConfigError

    assert rocsample.ConfigError is ConfigError and "ConfigError" in rocsample.__all__


@pytest.mark.parametrize("flag,bad", [("--batch", "0"), ("--vocab", "-5"), ("--reps", "0"),
                                      ("--batch", "x")])
def test_bench_refuses_sizes_below_one_by_name(tmp_path, flag, bad):
    """Refused by argparse before anything imports torch or touches a GPU (a zero batch
    would otherwise reach the sampler as an empty matrix)."""
    run = cli("bench", flag, bad, "--out", str(tmp_path / "b"), tmp=tmp_path)
    no_traceback(run)
    assert run.returncode == 2 and f"argument {flag}" in run.stderr
