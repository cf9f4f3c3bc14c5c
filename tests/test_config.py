"""Configuration: the README documents every variable, only config.py reads the environment,
and bad values are refused with the variable's name."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rocsample
from rocsample import config
from rocsample.backends import reset
from rocsample.errors import ConfigError, RocsampleError
from rocsample.registry import CONTRACT, KERNELS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rocsample"
README = ROOT / "README.md"

ROW = re.compile(r"^\|\s*`([A-Za-z_][A-Za-z0-9_]*)`\s*\|(.*)$")


def documented(title: str = "Configuration") -> dict[str, list[str]]:
    """Rows of the table of README.md's section ``## title`` (its Configuration table by
    default): variable -> remaining cells."""
    assert README.is_file(), "README.md is missing: it must document every variable"
    section = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", README.read_text(),
                        re.M | re.S)
    assert section, f"README.md has no '## {title}' section"
    rows = {}
    for line in section.group(1).splitlines():
        m = ROW.match(line.strip())
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} is listed twice"
            rows[m.group(1)] = [c.strip() for c in m.group(2).strip().strip("|").split("|")]
    assert rows, "the Configuration section has no table rows starting with | `NAME`"
    return rows


def all_variables() -> dict[str, str]:
    """Every variable rocsample reads, with its default (kernel overrides default to unset)."""
    names = {v.name: v.default for v in config.ENV_VARS}
    names.update({spec.env_var: "unset" for spec in KERNELS.values()})
    return names


# ---- README ----


@pytest.mark.parametrize("name", sorted(all_variables()))
def test_variable_is_documented_in_the_readme(name):
    assert name in documented(), f"{name} is missing from README.md's configuration table"


def test_readme_lists_no_unknown_variables():
    stale = set(documented()) - set(all_variables())
    assert not stale, f"README documents variables rocsample does not read: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted(all_variables()))
def test_readme_default_matches_the_code(name):
    row = documented().get(name)
    if row is None:
        pytest.fail(f"{name} is missing from README.md's configuration table")
    default = all_variables()[name]
    assert row[0].replace("`", "") == default, f"{name}: README says {row[0]}, code {default}"


def _expand(pattern: str) -> set[str]:
    """A README name pattern's names: ``{a,b}`` lists, ``{dt}`` the MLP types."""
    m = re.search(r"\{([^}]*)\}", pattern)
    if m is None:
        return {pattern}
    options = ["f32", "f16", "bf16"] if m.group(1) == "dt" else m.group(1).split(",")
    return set().union(*(_expand(pattern[:m.start()] + o + pattern[m.end():])
                         for o in options))


@pytest.mark.parametrize("name", ["SWIGLU_HSACO", "RMS_NORM_HSACO"])
def test_readme_names_every_entry_of_an_mlp_variable(name):
    """The MLP rows of the table of kernels list their entries by pattern; every entry the
    registry has is among them and every name they give is an entry (the row8 ones were
    once missing)."""
    row = documented("Kernels and where they come from")[name]
    names = [p for p in re.findall(r"`([a-z0-9_{},]+)`", row[0]) if "_" in p]  # not `dtype`
    listed = set().union(*(_expand(p) for p in names))
    entries = {n for n, spec in KERNELS.items() if spec.env_var == name}
    assert entries == listed, (sorted(entries - listed), sorted(listed - entries))


def test_kernel_variables_one_per_sampling_kernel_and_per_elementwise_module():
    sampling = [n for n in CONTRACT if KERNELS[n].family == "sampling"]
    assert len({KERNELS[n].env_var for n in sampling}) == len(sampling)
    modules_of: dict[str, set[str]] = {}
    for spec in KERNELS.values():
        modules_of.setdefault(spec.env_var, set()).add(spec.module)
    # A variable names one code object file, so it serves one module.
    assert all(len(m) == 1 for m in modules_of.values()), modules_of
    for spec in KERNELS.values():  # Candle's family: one variable per module, for every entry
        if spec.family == "elementwise":
            assert spec.env_var == f"{spec.module.upper()}_HSACO"
    for spec in KERNELS.values():  # a companion travels in its contract kernel's code object,
        if spec.companion_of is not None:  # or in a module (and variable) of its own that
            owner = KERNELS[spec.companion_of]  # holds companions of that kernel only (rise)
            if spec.module == owner.module:
                assert spec.env_var == owner.env_var, spec.name
            else:
                assert spec.env_var != owner.env_var, spec.name
                assert {k.companion_of for k in KERNELS.values() if k.module == spec.module} \
                    == {owner.name}, spec.name
    assert not {spec.env_var for spec in KERNELS.values()} & {v.name for v in config.ENV_VARS}


#: config.py's readers that take a variable's literal name as their first argument.
_READERS = {"_get", "_flag", "_directory"}


def test_config_reads_exactly_the_declared_variables():
    """Every literal name config.py reads is declared in ENV_VARS, and vice versa."""
    tree = ast.parse((PACKAGE / "config.py").read_text())
    read = {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _READERS and node.args
            and isinstance(node.args[0], ast.Constant)}
    assert read == {v.name for v in config.ENV_VARS}
    # Each reader goes through _get: the environment is read in one function.
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for name in _READERS - {"_get"}:
        calls = {c.func.id for c in ast.walk(defs[name])
                 if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
        assert "_get" in calls, name


# ---- only config.py reads the environment ----

_ENV_ATTRS = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}

# The two uses outside config.py that are not reads of rocsample settings, allowed verbatim:
ALLOWED = {
    # rocm_libs.py points hip-python at the hiprtc links it made (a write, for this process).
    ("rocm_libs.py", 'os.environ["ROCM_PATH"] = str(root)'),
    # precompile.py passes the whole environment on to its compiler child process.
    ("precompile.py",
     'env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}'),
}


def _environment_uses(path: Path) -> list[str]:
    """Source of every statement in ``path`` that touches os.environ/getenv and friends."""
    src = path.read_text()
    tree = ast.parse(src)
    os_names = {"os"}
    direct = set()  # names bound by "from os import environ" and the like
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            direct |= {a.asname or a.name for a in node.names if a.name in _ENV_ATTRS}
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    uses = []
    for node in ast.walk(tree):
        hit = (isinstance(node, ast.Attribute) and node.attr in _ENV_ATTRS
               and isinstance(node.value, ast.Name) and node.value.id in os_names) or \
              (isinstance(node, ast.Name) and node.id in direct) or \
              (isinstance(node, ast.ImportFrom) and node.module == "os"
               and any(a.name in _ENV_ATTRS for a in node.names))
        if not hit:
            continue
        stmt = node
        while not isinstance(stmt, ast.stmt):
            stmt = parents[stmt]
        uses.append(" ".join(ast.get_source_segment(src, stmt).split()))
    return uses


def test_only_config_reads_the_environment():
    offenders = []
    seen_allowed = set()
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "config.py":
            continue
        for use in _environment_uses(path):
            if (rel, use) in ALLOWED:
                seen_allowed.add((rel, use))
            else:
                offenders.append(f"{rel}: {use}")
    assert not offenders, "only rocsample/config.py may read the environment:\n" + \
        "\n".join(offenders)
    assert seen_allowed == ALLOWED  # keep the allow-list exact: drop entries no longer needed


def test_the_scan_sees_environment_reads():
    """The scanner itself: it must flag each way of reading the environment."""
    probe = PACKAGE / "config.py"
    assert any("os.environ.get(name)" in u for u in _environment_uses(probe))


def test_the_scan_sees_aliases(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os as o\nfrom os import getenv as g\nx = o.environ['A']\ny = g('B')\n"
                 "z = o.getenv('C')\n")
    uses = _environment_uses(f)
    assert "x = o.environ['A']" in uses and "y = g('B')" in uses and "z = o.getenv('C')" in uses
    assert "from os import getenv as g" in uses


# ---- values ----


@pytest.mark.parametrize("value", ["abc", "0", "-1", "-0.5", "nan", "1s", "30 seconds", "inf",
                                   "-inf", "Infinity", "1e400"])
def test_sync_timeout_bad_values(monkeypatch, value):
    # inf would wait forever on a hung kernel: the timeout exists to prevent exactly that.
    monkeypatch.setenv("ROCSAMPLE_SYNC_TIMEOUT", value)
    with pytest.raises(ConfigError, match="ROCSAMPLE_SYNC_TIMEOUT") as info:
        config.sync_timeout()
    assert repr(value) in str(info.value)
    assert "finite number of seconds > 0" in str(info.value)
    assert info.value.variable == "ROCSAMPLE_SYNC_TIMEOUT" and info.value.value == value


@pytest.mark.parametrize("value,seconds", [(None, 30.0), ("", 30.0), ("2.5", 2.5),
                                           ("1e-3", 0.001), (" 7 ", 7.0)])
def test_sync_timeout_good_values(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv("ROCSAMPLE_SYNC_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("ROCSAMPLE_SYNC_TIMEOUT", value)
    assert config.sync_timeout() == seconds


@pytest.mark.parametrize("value", ["bogus", "gpu", "rocm", "cpu,hip", "none"])
def test_backend_bad_values(monkeypatch, value):
    monkeypatch.setenv("ROCSAMPLE_BACKEND", value)
    with pytest.raises(ConfigError, match="ROCSAMPLE_BACKEND") as info:
        config.backend_choice()
    assert value in str(info.value)
    assert "'auto', 'hip', 'cuda', 'cpu'" in str(info.value)
    reset()
    try:
        with pytest.raises(ValueError, match="ROCSAMPLE_BACKEND"):
            rocsample.sample_from_logits(np.zeros((1, 2), np.float32))
    finally:
        reset()


@pytest.mark.parametrize("value,choice", [(None, "auto"), ("", "auto"), ("cpu", "cpu"),
                                          (" CPU ", "cpu"), ("Hip", "hip"), ("cuda", "cuda"),
                                          ("AUTO", "auto")])
def test_backend_good_values(monkeypatch, value, choice):
    if value is None:
        monkeypatch.delenv("ROCSAMPLE_BACKEND", raising=False)
    else:
        monkeypatch.setenv("ROCSAMPLE_BACKEND", value)
    assert config.backend_choice() == choice


SWITCHES = [(config.check_inputs, "ROCSAMPLE_CHECK_INPUTS"),
            (config.disk_cache_enabled, "ROCSAMPLE_DISK_CACHE"),
            (config.overlap_launches, "ROCSAMPLE_OVERLAP_LAUNCHES")]


@pytest.mark.parametrize("fn,var", SWITCHES)
def test_boolean_switches(monkeypatch, fn, var):
    monkeypatch.delenv(var, raising=False)
    assert fn() is True
    for off in ("0", "false", "no", "off", "OFF", " False ", "No"):
        monkeypatch.setenv(var, off)
        assert fn() is False, off
    for on in ("1", "true", "yes", "on", " TRUE ", "On"):
        monkeypatch.setenv(var, on)
        assert fn() is True, on


@pytest.mark.parametrize("value", ["maybe", "never", "sometimes", "2", "-1", "y", "n", "enable",
                                   "disabled", "0.0", "   ", "1 0", "truee"])
@pytest.mark.parametrize("fn,var", SWITCHES)
def test_boolean_switches_refuse_anything_else(monkeypatch, fn, var, value):
    """A misspelt switch used to mean "on" (anything but the four false spellings)."""
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        fn()
    msg = str(info.value)
    assert msg.startswith(f"{var}={value!r} is not a boolean")
    assert "1/0, true/false, yes/no, on/off" in msg  # the accepted spellings
    assert info.value.variable == var and isinstance(info.value, ValueError)


@pytest.mark.parametrize("var,value", [("ROCSAMPLE_DISK_CACHE", "maybe"),
                                       ("ROCSAMPLE_CHECK_INPUTS", "never"),
                                       ("ROCSAMPLE_OVERLAP_LAUNCHES", "sometimes"),
                                       ("ROCSAMPLE_SYNC_TIMEOUT", "inf"),
                                       ("ROCSAMPLE_SYNC_TIMEOUT", "-1"),
                                       ("ROCSAMPLE_CACHE_DIR", "relative/cache"),
                                       ("ROCSAMPLE_CACHE_DIR", "~nosuchuser-rocsample/c"),
                                       ("ROCSAMPLE_KERNEL_DIR", "/nonexistent/rocsample-k")])
def test_a_bad_variable_fails_the_first_call(monkeypatch, var, value):
    """Every variable is checked when the default backend is chosen, so a bad value fails
    the first call with its name even where nothing would read it until later (the sync
    timeout, the overlap switch and the cache dirs only matter on a GPU)."""
    monkeypatch.delenv("ROCSAMPLE_BACKEND", raising=False)
    monkeypatch.setenv(var, value)
    reset()
    try:
        with pytest.raises(ConfigError, match=re.escape(f"{var}={value!r}")):
            rocsample.sample(np.ones((1, 3), np.float32))
        with pytest.raises(ConfigError, match=var):
            config.check_all()
    finally:
        reset()
    monkeypatch.delenv(var)
    config.check_all()  # and nothing else here was bad


@pytest.mark.parametrize("var", ["ROCSAMPLE_CACHE_DIR", "ROCSAMPLE_KERNEL_DIR"])
@pytest.mark.parametrize("value", ["relative/dir", "./dir", "dir", "../x"])
def test_relative_directories_are_refused(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    fn = config.cache_dir if var == "ROCSAMPLE_CACHE_DIR" else config.kernel_dir
    with pytest.raises(ConfigError, match=re.escape(f"{var}={value!r} is a relative path")):
        fn()


@pytest.mark.parametrize("var", ["ROCSAMPLE_CACHE_DIR", "ROCSAMPLE_KERNEL_DIR"])
def test_unknown_home_directory_is_refused(monkeypatch, var):
    value = "~nosuchuser-rocsample/dir"
    monkeypatch.setenv(var, value)
    fn = config.cache_dir if var == "ROCSAMPLE_CACHE_DIR" else config.kernel_dir
    with pytest.raises(ConfigError) as info:
        fn()
    assert str(info.value).startswith(f"{var}={value!r} starts with ~")
    assert "nosuchuser-rocsample" in str(info.value) and "absolute path" in str(info.value)


def test_explicit_kernel_dir_must_be_a_directory(monkeypatch, tmp_path):
    """An explicit ROCSAMPLE_KERNEL_DIR that is not there used to mean "compile everything",
    silently; the default directory may be absent (nothing precompiled)."""
    missing = tmp_path / "typo"
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(missing))
    assert config.kernel_dir_is_explicit()
    with pytest.raises(ConfigError) as info:
        config.kernel_dir()
    msg = str(info.value)
    assert msg.startswith(f"ROCSAMPLE_KERNEL_DIR={str(missing)!r} does not exist")
    assert f"{config.precompile_command()} " in msg and str(missing) in msg
    assert config.compile_out_dir() == missing  # where compile builds it
    a_file = tmp_path / "file"
    a_file.write_text("x")
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(a_file))
    with pytest.raises(ConfigError, match="is not a directory"):
        config.kernel_dir()
    missing.mkdir()
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(missing))
    assert config.kernel_dir() == missing
    monkeypatch.delenv("ROCSAMPLE_KERNEL_DIR")
    assert config.kernel_dir() == config.default_kernel_dir()  # absent or not: no error


def test_config_error_is_a_value_error_with_fields():
    err = ConfigError("ROCSAMPLE_DISK_CACHE", "maybe", "is not a boolean")
    assert isinstance(err, ValueError) and isinstance(err, RocsampleError)
    assert (err.variable, err.value, err.reason) == ("ROCSAMPLE_DISK_CACHE", "maybe",
                                                     "is not a boolean")
    assert str(err) == "ROCSAMPLE_DISK_CACHE='maybe' is not a boolean"


# ---- the default kernel directory: a checkout or an installed copy ----


def _installed_copy(tmp_path: Path) -> Path:
    """rocsample laid out as its wheel installs it: the package in site-packages, the
    kernel sources as package data inside it, no pyproject.toml and no Makefile around."""
    site = tmp_path / "site-packages"
    shutil.copytree(PACKAGE, site / "rocsample",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "kernels", site / "rocsample" / "kernels")
    return site


def test_checkout_is_detected(tmp_path):
    assert config.source_checkout() == ROOT
    assert config.default_kernel_dir() == ROOT / "build" / "hsaco"
    assert config.precompile_command() == "make hsaco"
    # A directory that only looks like one half of a checkout is not one.
    fake = tmp_path / "fake"
    (fake / "rocsample").mkdir(parents=True)
    (fake / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    (fake / "kernels").mkdir()
    (fake / "kernels" / "a.hip").write_text("")
    assert config.source_checkout(fake / "rocsample") is None
    (fake / "pyproject.toml").write_text('[project]\nname = "rocsample"\n')
    assert config.source_checkout(fake / "rocsample") == fake
    (fake / "kernels" / "a.hip").unlink()
    assert config.source_checkout(fake / "other" / "rocsample") is None


def test_installed_copy_uses_the_user_data_dir(tmp_path):
    """Installed from a wheel, the default kernel directory used to be
    <site-packages>/build/hsaco (beside a `build` package), and compile wrote there."""
    site = _installed_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROCSAMPLE_")}
    env.update(PYTHONPATH=str(site), XDG_DATA_HOME=str(tmp_path / "data"))
    script = ("import json, rocsample; from rocsample import config; print(json.dumps(["
              "rocsample.__file__, str(config.default_kernel_dir()), str(config.kernel_dir()),"
              " str(config.compile_out_dir()), config.precompile_command(),"
              " config.install_command('hip')]))")
    run = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    where, default, kdir, out, command, install = json.loads(run.stdout)
    assert Path(where).is_relative_to(site)
    assert default == kdir == out == str(tmp_path / "data" / "rocsample" / "hsaco")
    assert command == "python -m rocsample compile"
    assert install == "pip install 'rocsample[hip]'"


def test_directories(monkeypatch, tmp_path):
    monkeypatch.setenv("ROCSAMPLE_CACHE_DIR", str(tmp_path / "c"))
    (tmp_path / "k").mkdir()
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(tmp_path / "k"))
    assert config.cache_dir() == tmp_path / "c"  # the cache dir is made when first used
    assert config.kernel_dir() == tmp_path / "k"
    assert config.kernel_dir_is_explicit()
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "kernels").mkdir()
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", "~/kernels")
    assert config.kernel_dir() == tmp_path / "kernels"
    monkeypatch.setenv("ROCSAMPLE_CACHE_DIR", "~/cache")
    assert config.cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("ROCSAMPLE_KERNEL_DIR")
    assert config.kernel_dir() == ROOT / "build" / "hsaco"
    assert not config.kernel_dir_is_explicit()


def test_values_are_read_when_asked_for(monkeypatch):
    for spec in KERNELS.values():
        monkeypatch.delenv(spec.env_var, raising=False)
        assert config.kernel_override(spec.env_var) is None
        monkeypatch.setenv(spec.env_var, "/x/y.hsaco")
        assert config.kernel_override(spec.env_var) == "/x/y.hsaco"
        monkeypatch.setenv(spec.env_var, "")
        assert config.kernel_override(spec.env_var) is None
