"""What the wheel ships: every Python package of the source tree is listed for setuptools."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parent.parent


def test_every_subpackage_is_listed_in_pyproject():
    """pyproject lists packages explicitly, so a new subpackage (rocsample/buffers/ when
    buffers.py became a package) is left out of the wheel unless it is added there, and the
    installed rocsample then fails at ``import rocsample``, while a checkout works."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "rocsample").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert "rocsample" in on_disk and "rocsample.buffers" in on_disk
    missing = sorted(on_disk - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"
