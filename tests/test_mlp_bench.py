"""``bench-mlp`` on a machine without torch, and its report from a measured result."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from rocsample import bench_mlp

from .test_cli import cli, no_traceback


def test_bench_mlp_without_torch_says_so(tmp_path):
    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here: the benchmark would run")
    run = cli("bench-mlp", "--rows", "1", "--out", str(tmp_path / "b"), tmp=tmp_path)
    no_traceback(run)
    assert run.returncode == 2 and "bench-mlp needs torch" in run.stderr
    for flag, bad in (("--rows", "0"), ("--hidden", "x"), ("--reps", "-1"), ("--rounds", "0")):
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


def test_reference_library_path_is_the_checkouts():
    """The benchmark looks for FlashInfer's reference library in the checkout's .fi/, not in
    the working directory (where anyone who can write there could plant one)."""
    root = Path(bench_mlp.__file__).resolve().parent.parent
    assert root / ".fi" / "libfi_ref.so" == bench_mlp.FI_REF


def test_run_refuses_no_rounds():
    with pytest.raises(ValueError, match="rounds and reps"):
        bench_mlp.run(rounds=0)


def test_module_entry_refuses_no_rounds(capsys):
    """``python -m rocsample.bench_mlp`` is the CLI's bench-mlp: the bad flag is named
    before anything imports torch."""
    with pytest.raises(SystemExit) as exc:
        bench_mlp.main(["--rounds", "0"])
    assert exc.value.code == 2
    assert "argument --rounds: must be a whole number >= 1; got '0'" in capsys.readouterr().err


def test_report_gives_the_per_round_spread_and_the_verdicts(tmp_path):
    rows = [_row("rms_norm", 16, 2048, 5.0, fi_us=5.2), _row("rms_norm", 128, 2048, 5.5,
                                                               fi_us=5.4),
            _row("rms_norm", 128, 4096, 5.9, fi_us=5.9)]
    for r, (lo, hi) in zip(rows, ((1.01, 1.06), (0.97, 0.99), (0.98, 1.03)), strict=True):
        r["vs_flashinfer_lo"], r["vs_flashinfer_hi"] = lo, hi
    result = {"device": "X", "backend": "cuda", "label": "", "date": "d", "l2": "flushed",
              "flashinfer": "f", "copy_bandwidth": 4e12, "rounds": 8, "rows": rows}
    lines = bench_mlp.table(result).splitlines()
    assert lines[4].endswith("| 1.04x (1.01-1.06 faster) |")
    assert lines[5].endswith("| 0.98x (0.97-0.99 slower) |")
    assert lines[6].endswith("| 1.00x (0.98-1.03 tie) |")
    assert lines[-1] == ("Against FlashInfer over 8 rounds (a cell is faster or slower when "
                         "every round says so): bfloat16: 1 faster, 1 tie, 1 slower")
    # the figure of the ratios: written beside the others when the rows have rounds
    pytest.importorskip("matplotlib")
    rows.append(_row("rms_norm", 8, 2048, 2.0))  # no FlashInfer: not in that figure
    bench_mlp.write(result, tmp_path)
    assert (tmp_path / "bench_mlp_vs_flashinfer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    del result["rows"][0:3]
    bench_mlp.write(result, tmp_path / "none")
    assert not (tmp_path / "none" / "bench_mlp_vs_flashinfer.png").exists()
