"""rocsample.codecheck: overrides and precompiled files checked with no device, by the
loader's rules. The code objects are small ELFs written here (tests/synthetic_elf.py), so
no toolchain is needed; the parser itself is tested on real compiler output elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rocsample import config, registry
from rocsample.codecheck import KERNEL_DIR, check_configured, check_file, check_named
from rocsample.codeobject import write_bundle

from . import synthetic_elf as syn

TOPK = registry.KERNELS["topk_sampling"]
SOFTMAX = registry.KERNELS["softmax"]
#: topk_sampling_kernel's half-precision companions (their C entries).
HALF_TOPK = (f"{TOPK.entry}_f16", f"{TOPK.entry}_bf16")
#: softmax's half-precision companions (sampling_utils.hip), in the registry's order.
HALF_SOFTMAX = tuple(f"{k}_{dt}" for dt in ("f16", "bf16")
                     for k in ("softmax", "softmax_stats", "softmax_write")) + tuple(
    f"{k}_{dt}_{dt}" for dt in ("f16", "bf16") for k in ("softmax", "softmax_write"))


def amd_bundle(entries: list[str], *, abi: int | None = registry.ABI_VERSION,
               gfx1030: list[str] | None = None,
               ) -> bytes:
    """A gfx90a + gfx1030 bundle defining ``entries`` (``gfx1030``: others there)."""
    return write_bundle({
        "gfx90a": syn.elf(syn.amd_symbols(entries, abi)),
        "gfx1030": syn.elf(syn.amd_symbols(entries if gfx1030 is None else gfx1030, abi),
                           flags=syn.GFX1030),
    })


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No override set, ROCSAMPLE_KERNEL_DIR unset and the default directory in tmp_path."""
    monkeypatch.delenv("ROCSAMPLE_KERNEL_DIR", raising=False)
    for spec in registry.KERNELS.values():
        monkeypatch.delenv(spec.env_var, raising=False)
    monkeypatch.setattr(config, "default_kernel_dir", lambda: tmp_path / "build" / "hsaco")
    return tmp_path


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_good_override_serves_every_target_it_holds(clean_env: Path) -> None:
    path = write(clean_env / "topk.co", amd_bundle([TOPK.entry]))
    c = check_file(path, TOPK.env_var, ["topk_sampling"])
    assert c.ok and c.verdict == "OK" and c.format == "offload-bundle"
    assert c.serves == ("gfx1030", "gfx90a") and c.line() == "OK: serves gfx1030, gfx90a"
    c = check_file(path, TOPK.env_var, ["topk_sampling"], target="gfx90a:sramecc+:xnack-")
    assert c.ok and c.serves == ("gfx90a",)


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "garbage"])
def test_unusable_override_files_are_errors_with_the_reason(clean_env: Path, kind: str) -> None:
    path = clean_env / "mine.hsaco"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "garbage":
        path.write_bytes(b"\x00\x13\x37" * 40)
    why = {"missing": "file does not exist", "directory": "not a regular file but a directory",
           "fifo": "not a regular file but a FIFO", "garbage": "not a code object: bad magic"}
    c = check_file(path, TOPK.env_var, ["topk_sampling"])
    assert not c.ok and c.verdict == "ERROR" and c.format is None and c.serves == ()
    assert c.errors[0].startswith(why[kind]), c.errors
    assert c.line().startswith(f"ERROR: {why[kind]}")


def test_every_code_object_must_define_the_entry_points(clean_env: Path) -> None:
    path = write(clean_env / "topk.co", amd_bundle([TOPK.entry], gfx1030=["other_kernel"]))
    c = check_file(path, TOPK.env_var, ["topk_sampling"])
    assert c.errors == (f"gfx1030: entry point {TOPK.entry} missing (its code defines: "
                        "other_kernel)",)
    assert c.serves == ("gfx90a",)
    # On a gfx90a device only that code is loaded: it is fine there.
    assert check_file(path, TOPK.env_var, ["topk_sampling"], target="gfx90a").ok
    c = check_file(path, TOPK.env_var, ["topk_sampling"], target="gfx908")
    assert c.errors == ("no code for target gfx908 (file holds: gfx1030, gfx90a)",)


def test_abi_marker_rules_follow_the_loader(clean_env: Path, monkeypatch) -> None:
    unmarked = write(clean_env / "build" / "hsaco" / f"{TOPK.module}.hsaco",
                     amd_bundle([TOPK.entry], abi=None))
    c = check_file(unmarked, TOPK.env_var, ["topk_sampling"])  # an override: loads, warned
    assert c.ok and c.verdict == "WARNING" and c.serves == ("gfx1030", "gfx90a")
    assert "declares no rocsample kernel ABI" in c.warnings[0]
    c = check_file(unmarked, KERNEL_DIR, ["topk_sampling"])  # default dir: skipped, warned
    assert c.ok and c.verdict == "WARNING" and c.serves == ()
    assert "skipped at load time, compiled instead" in c.warnings[0]
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(unmarked.parent))  # set: refused
    c = check_file(unmarked, KERNEL_DIR, ["topk_sampling"])
    assert not c.ok and "declares no rocsample kernel ABI" in c.errors[0]
    old = write(clean_env / "old.co", amd_bundle([TOPK.entry], abi=2))
    c = check_file(old, TOPK.env_var, ["topk_sampling"])
    assert not c.ok and len(c.errors) == 2
    assert all(f"built for rocsample kernel ABI 2, this rocsample implements ABI "
               f"{registry.ABI_VERSION}" in e for e in c.errors)


def test_companion_entries_are_optional(clean_env: Path) -> None:
    path = write(clean_env / "su.co", amd_bundle([SOFTMAX.entry]))
    assert check_file(path, SOFTMAX.env_var, ["softmax"]).verdict == "OK"
    c = check_file(path, SOFTMAX.env_var, ["softmax", "softmax_stats", "softmax_write"])
    assert c.ok and c.verdict == "WARNING" and c.serves == ("gfx1030", "gfx90a")
    assert c.warnings[0] == ("gfx1030: optional softmax_stats_kernel, softmax_write_kernel "
                             "absent (softmax_kernel runs without it)")


def test_check_configured_covers_overrides_and_the_kernel_dir(clean_env: Path,
                                                              monkeypatch) -> None:
    assert check_configured() == []
    good = write(clean_env / "build" / "hsaco" / f"{TOPK.module}.hsaco",
                 amd_bundle([TOPK.entry, *HALF_TOPK]))  # with its optional companions
    bad = write(clean_env / "build" / "hsaco" / "topp_sampling.cubin", b"not a cubin\n")
    monkeypatch.setenv(SOFTMAX.env_var, str(clean_env / "absent.hsaco"))
    checks = {(c.path, c.origin): c for c in check_configured()}
    assert set(checks) == {(str(clean_env / "absent.hsaco"), SOFTMAX.env_var),
                           (str(good), KERNEL_DIR), (str(bad), KERNEL_DIR)}
    override = checks[(str(clean_env / "absent.hsaco"), SOFTMAX.env_var)]
    assert override.kernels == ("softmax", "softmax_stats", "softmax_write", *HALF_SOFTMAX)
    assert override.errors == ("file does not exist",)
    assert checks[(str(good), KERNEL_DIR)].line() == "OK: serves gfx1030, gfx90a"
    # The default directory: the loader passes a bad file over, so it is a warning...
    assert checks[(str(bad), KERNEL_DIR)].verdict == "WARNING"
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(good.parent))  # ...and an error once set
    (dir_bad,) = [c for c in check_configured() if c.path == str(bad)]
    assert dir_bad.errors[0].startswith("not a code object: text")


def test_check_named_takes_the_rules_of_what_names_the_file(clean_env: Path,
                                                            monkeypatch) -> None:
    shared = write(clean_env / "su.co", amd_bundle([SOFTMAX.entry, "temperature_scale_kernel"],
                                                   abi=None))
    monkeypatch.setenv(SOFTMAX.env_var, str(shared))
    monkeypatch.setenv("TEMPERATURE_SCALE_HSACO", str(shared))
    c = check_named(shared)
    assert c.origin == SOFTMAX.env_var and c.verdict == "WARNING"  # unmarked override
    assert set(c.kernels) == {"softmax", "softmax_stats", "softmax_write", "temperature_scale",
                              *HALF_SOFTMAX, "temperature_scale_f16", "temperature_scale_bf16",
                              "temperature_scale_f16_f16", "temperature_scale_bf16_bf16"}
    loose = write(clean_env / "elsewhere" / f"{TOPK.module}.hsaco", amd_bundle(["other"]))
    c = check_named(loose)  # named after a module: that module's kernels are required
    assert c.origin is None and c.kernels == ("topk_sampling", "topk_sampling_f16",
                                              "topk_sampling_bf16")
    assert c.errors[0].startswith(f"gfx1030: entry point {TOPK.entry} missing")
    mine = write(clean_env / "mine.bin", amd_bundle([TOPK.entry, "helper"]))
    c = check_named(mine)  # any other name: the kernels it defines
    assert c.ok and c.kernels == ("topk_sampling",)
    c = check_named(write(clean_env / "k.bin", amd_bundle(["add", "scale"])))
    assert c.errors[0].startswith("defines none of rocsample's entry points")
