"""``bench-mlp`` on a machine without torch, and its report from a measured result."""

from __future__ import annotations

import importlib.util
import json

import pytest

from rocsample import bench_mlp

from .test_cli import cli, no_traceback


def test_bench_mlp_without_torch_says_so(tmp_path):
    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here: the benchmark would run")
    run = cli("bench-mlp", "--rows", "1", "--out", str(tmp_path / "b"), tmp=tmp_path)
    no_traceback(run)
    assert run.returncode == 2 and "bench-mlp needs torch" in run.stderr
    for flag, bad in (("--rows", "0"), ("--hidden", "x"), ("--reps", "-1")):
        run = cli("bench-mlp", flag, bad, tmp=tmp_path)
        assert run.returncode == 2 and flag in run.stderr


def _row(op, rows, hidden, us, fi_us=None, copy_us=None):
    nbytes = (2 * rows + 1) * hidden * 2
    r = {"op": op, "dtype": "bfloat16", "rows": rows, "hidden": hidden, "bytes": nbytes,
         "rocsample_us": us, "rocsample_gbps": nbytes / us / 1e3,
         "rocsample_of_copy": nbytes / (us * 1e-6) / 4e12, "torch_us": 3 * us}
    if fi_us is not None:
        r.update(flashinfer_us=fi_us, flashinfer_gbps=nbytes / fi_us / 1e3)
    if copy_us is not None:
        r["copy_us"] = copy_us
    return r


def test_report_with_and_without_flashinfer(tmp_path):
    result = {"device": "X", "backend": "cuda", "label": "", "date": "d", "l2": "flushed",
              "flashinfer": "flashinfer not measured: ImportError", "copy_bandwidth": 4e12,
              "rows": [_row("rms_norm", 1024, 4096, 5.0, fi_us=6.0, copy_us=4.0),
                       _row("rms_norm", 1, 4096, 2.0)]}
    text = bench_mlp.table(result)
    lines = text.splitlines()
    assert "| rms_norm | bfloat16 | 1024 | 4096 | 5.0 |" in lines[4]
    fi_gbps = (2 * 1024 + 1) * 4096 * 2 / 6.0 / 1e3
    assert lines[4].endswith(f"| 6.0 | {fi_gbps:.0f} | 1.20x |")  # FlashInfer's time / ours
    assert lines[5].endswith("| - | - | - |")
    # the same bytes copied by torch: its time, and its time over ours (0.80: 80 % of a copy's
    # speed at that size); a row measured without it (an older result) shows dashes
    assert "| 5.0 | 3357 | 84% | 4.0 | 0.80 | 15.0 |" in lines[4]
    assert "| - | - | 6.0 |" in lines[5]
    bench_mlp.write(result, tmp_path)
    assert json.loads((tmp_path / "bench_mlp.json").read_text())["rows"][1]["rows"] == 1
    assert (tmp_path / "bench_mlp.md").read_text() == text + "\n"


def test_flashinfer_baseline_absent_is_said(tmp_path):
    """Without the package and without the reference library the note names both."""
    from rocsample import bench_mlp

    fi, note = bench_mlp._flashinfer(tmp_path / "libfi_ref.so")
    assert fi is None
    assert "not measured" in note and "libfi_ref.so" in note
