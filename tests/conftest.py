"""Shared test set-up.

hiprtc on Debian needs rocsample's ROCM_PATH links (see rocsample.rocm_libs); make them
before any test imports hip-python. Tests that need a toolchain skip with the reason on a
developer machine without it, but under CI (CI=true) a missing toolchain is a failure: the
compile tests must never be silently skipped there.
"""

from __future__ import annotations

import os

import pytest

from rocsample.rocm_libs import prepare_rocm_path

prepare_rocm_path()

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip (or, in CI, fail) when a required toolchain is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
