"""tools/ab_dtypes_table.py: the A/B table of bench --dtypes runs (the smallest median of a
tree's rounds, the bf16 / float32 ratio of each tree)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import load_tool


def _tool():
    return load_tool("ab_dtypes_table")


def _run(root: Path, name: str, f32: float, bf16: float) -> None:
    (root / name).mkdir()
    row = {"batch": 128, "vocab": 128256, "op": "sample", "f32_us": f32, "bf16_us": bf16,
           "f16_us": bf16 + 1}
    (root / name / "bench_dtypes.json").write_text(json.dumps({"rows": [row]}))


def test_smallest_median_of_the_rounds_and_ratio_per_tree(tmp_path):
    _run(tmp_path, "v0-1", 40.0, 30.0)
    _run(tmp_path, "v0-2", 42.0, 29.0)
    _run(tmp_path, "v1-1", 40.0, 20.0)
    lines = _tool().table(tmp_path, ["v0", "v1"]).splitlines()
    assert lines[0].startswith("| B x V | op | f32 v0 / v1 |")
    assert lines[2] == ("| 128 x 128256 | sample | 40.0 / 40.0 | 29.0 / 20.0 | 30.0 / 21.0 "
                        "| 0.72 / 0.50 |")


def test_a_tree_without_runs_is_named(tmp_path):
    _run(tmp_path, "v0-1", 40.0, 30.0)
    with pytest.raises(SystemExit, match="no v9-<round>"):
        _tool().table(tmp_path, ["v0", "v9"])


def test_a_dtype_that_raised_shows_a_dash(tmp_path):
    """bench --dtypes with rounds keeps a cell whose dtype raised, with None for its time."""
    _run(tmp_path, "v0-1", 40.0, 30.0)
    _run(tmp_path, "v1-1", 40.0, 20.0)
    (tmp_path / "v0-1" / "bench_dtypes.json").write_text(json.dumps({"rows": [
        {"batch": 128, "vocab": 128256, "op": "sample", "f32_us": 40.0, "bf16_us": None,
         "f16_us": 31.0}]}))
    lines = _tool().table(tmp_path, ["v0", "v1"]).splitlines()
    assert lines[2] == ("| 128 x 128256 | sample | 40.0 / 40.0 | - / 20.0 | 31.0 / 21.0 "
                        "| - / 0.50 |")


def test_a_cell_one_tree_lacks_shows_a_dash(tmp_path):
    """A newer tree timing an operation the older one did not: its row, a dash for the other
    tree, whichever tree comes first."""
    _run(tmp_path, "v0-1", 40.0, 30.0)
    _run(tmp_path, "v1-1", 40.0, 20.0)
    (tmp_path / "v1-1" / "bench_dtypes.json").write_text(json.dumps({"rows": [
        {"batch": 128, "vocab": 128256, "op": "sample", "f32_us": 40.0, "bf16_us": 20.0,
         "f16_us": 21.0},
        {"batch": 128, "vocab": 128256, "op": "new", "f32_us": 10.0, "bf16_us": 5.0,
         "f16_us": 6.0}]}))
    for order in (["v0", "v1"], ["v1", "v0"]):
        lines = _tool().table(tmp_path, order).splitlines()
        assert len(lines) == 4
        new = "- / 10.0" if order[0] == "v0" else "10.0 / -"
        assert lines[3].startswith(f"| 128 x 128256 | new | {new} |"), lines[3]
