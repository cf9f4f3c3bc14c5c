"""Shared test set-up.

hiprtc on Debian needs rocsample's ROCM_PATH links (see rocsample.rocm_libs); make them
before any test imports hip-python. Tests that need a toolchain skip with the reason on a
developer machine without it, but under CI (CI=true) a missing toolchain is a failure: the
compile tests must never be silently skipped there.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from rocsample.rocm_libs import prepare_rocm_path

prepare_rocm_path()

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def load_tool(name: str) -> ModuleType:
    """tools/<name>.py as a module (tools/ is a folder of scripts, not a package)."""
    path = Path(__file__).resolve().parent.parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def need(condition: bool, reason: str) -> None:
    """Skip (or, in CI, fail) when a required toolchain is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def mount() -> Iterator[Callable[..., None]]:
    """``mount(*args, target=DIR)`` runs mount(8); each ``target`` is unmounted afterwards.

    For a full or read-only file system under ``tmp_path`` (a small tmpfs, a read-only bind
    mount): root only, so the test skips with the reason otherwise, or when mount is refused.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs or a read-only bind mount")
    targets: list[str] = []

    def run(*args: str, target: Path | None = None) -> None:
        done = subprocess.run(["mount", *args], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"mount {' '.join(args)} was refused: {done.stderr.strip()}")
        if target is not None:
            targets.append(str(target))

    yield run
    for target in reversed(targets):
        if subprocess.run(["umount", target]).returncode != 0:
            subprocess.run(["umount", "-l", target])
