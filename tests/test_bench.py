"""rocsample.bench's table and figure of the dtype benchmark, from a result of known values
(no GPU: the timing itself runs on the device and is committed under bench/results/)."""

import pytest

from rocsample import bench


def _result():
    rows = [dict(backend="cuda", batch=b, vocab=v, op=op, f32_us=10.0 * b, bf16_us=6.0 * b,
                 f16_us=7.5 * b, bf16_ratio=0.6, f16_ratio=0.75)
            for v in (32000, 128256) for b in (1, 128) for op in ("softmax", "sample")]
    return dict(device="GPU", backend="cuda", date="2026-12-04", rows=rows)


def test_dtype_table_has_a_line_a_row_with_its_ratios():
    lines = bench.dtype_table(_result()).splitlines()
    assert lines[0] == "GPU, backend cuda, 2026-12-04"
    assert len(lines) == 4 + 8
    assert lines[4] == "| 1 | 32000 | softmax | 10.0 | 6.0 | 0.60 | 7.5 | 0.75 |"
    assert lines[-1] == "| 128 | 128256 | sample | 1280.0 | 768.0 | 0.60 | 960.0 | 0.75 |"


def test_plot_dtypes_writes_a_panel_a_vocabulary(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "r.png"
    bench.plot_dtypes(_result(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
