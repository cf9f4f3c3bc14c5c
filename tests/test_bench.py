"""rocsample.bench's timing rounds, and the table and figure of the dtype benchmark from
results of known values (no GPU: the timing itself runs on the device and is committed
under bench/results/)."""

from types import SimpleNamespace

import pytest

from rocsample import bench

from .test_cli import cli, no_traceback


def _result():
    """A result from before the rounds (session 15's JSON has this shape)."""
    rows = [dict(backend="cuda", batch=b, vocab=v, op=op, f32_us=10.0 * b, bf16_us=6.0 * b,
                 f16_us=7.5 * b, bf16_ratio=0.6, f16_ratio=0.75)
            for v in (32000, 128256) for b in (1, 128) for op in ("softmax", "sample")]
    return dict(device="GPU", backend="cuda", date="2026-12-04", rows=rows)


def test_dtype_table_has_a_line_a_row_with_its_ratios():
    lines = bench.dtype_table(_result()).splitlines()
    assert lines[0] == "GPU, backend cuda, 2026-12-04"
    assert len(lines) == 4 + 8  # no rounds: no verdicts, no closing count
    assert lines[4] == "| 1 | 32000 | softmax | 10.0 | 6.0 | 0.60 | - | 7.5 | 0.75 |"
    assert lines[-1] == "| 128 | 128256 | sample | 1280.0 | 768.0 | 0.60 | - | 960.0 | 0.75 |"


def test_plot_dtypes_writes_a_panel_a_vocabulary(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "r.png"
    bench.plot_dtypes(_result(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rounds_turn_the_order_and_keep_per_round_medians(monkeypatch):
    """Every call is timed once a round, the order turned by one each round (a drift of the
    machine falls on all alike); a call that raises is left out with its error."""
    order = []
    clock = iter(range(1, 100))

    def fake_us(torch, fn, reps, flush):
        assert (reps, flush) == (5, "F")
        order.append(fn.__name__)
        return float(next(clock))

    def bad():
        raise TypeError("FlashInfer serves float16 and bfloat16, not torch.float32")

    def a():
        pass

    def b():
        pass

    def c():
        pass

    monkeypatch.setattr(bench, "median_us", fake_us)
    torch = SimpleNamespace(cuda=SimpleNamespace(synchronize=lambda: None))
    times, errors = bench.timed_rounds(torch, {"a": a, "b": b, "fi": bad, "c": c}, 5, 4, "F")
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    assert times == {"a": [1.0, 6.0, 8.0, 10.0], "b": [2.0, 4.0, 9.0, 11.0],
                     "c": [3.0, 5.0, 7.0, 12.0]}
    assert errors == {"fi": "TypeError: FlashInfer serves float16 and bfloat16, not "
                            "torch.float32"}
    # every call raising: no rounds, nothing timed
    order.clear()
    assert bench.timed_rounds(torch, {"fi": bad}, 5, 4, "F")[0] == {}
    assert order == []


def _rounds_result():
    f32 = [10.0, 11.0, 10.0, 12.0]
    cells = {  # batch: (bf16 per round, f16 per round)
        1: ([9.0, 9.0, 9.5, 9.0], [9.0, 9.0, 9.0, 9.0]),        # under 128 rows: no verdict
        128: ([5.0, 6.0, 5.5, 7.0], [6.0, 6.5, 6.0, 7.0]),      # 0.50-0.58: meets
        512: ([6.5, 6.0, 6.5, 7.0], [6.5, 6.6, 6.5, 7.0]),      # 0.55-0.65: unclear
        1024: ([8.0, 8.0, 8.0, 9.0], [8.0, 8.0, 8.0, 9.0]),     # 0.73-0.80: misses
    }
    rows = [bench.dtype_row("cuda", b, 128256, "sample", {"float32": f32, "bfloat16": h,
                                                          "float16": f}, {})
            for b, (h, f) in cells.items()]
    rows.append(bench.dtype_row("cuda", 512, 262144, "softmax", {"float32": f32},
                                {"bfloat16": "TypeError: x", "float16": "TypeError: y"}))
    return dict(device="GPU", backend="cuda", date="d", rounds=4, reps=30, l2="warm",
                rows=rows)


def test_dtype_rows_give_ratios_ranges_and_verdicts_against_the_target():
    rows = _rounds_result()["rows"]
    assert [r.get("bf16_vs_target") for r in rows] == [None, "meets", "unclear", "misses", None]
    r = rows[1]
    assert r["f32_us"] == 10.5 and r["bf16_us"] == 5.75
    assert r["bf16_ratio"] == pytest.approx(5.75 / 10.5)
    assert (r["bf16_ratio_lo"], r["bf16_ratio_hi"]) == (0.5, 7.0 / 12.0)
    assert r["bf16_round_us"] == [5.0, 6.0, 5.5, 7.0]
    assert rows[4]["bf16_us"] is None and rows[4]["bf16_ratio"] is None
    assert rows[4]["f16_error"] == "TypeError: y"


def test_dtype_table_with_rounds_gives_ranges_verdicts_and_counts():
    lines = bench.dtype_table(_rounds_result()).splitlines()
    assert lines[0] == "GPU, backend cuda, d, 4 rounds of 30 calls, L2 warm"
    assert lines[5] == ("| 128 | 128256 | sample | 10.5 | 5.8 | 0.55 (0.50-0.58) | meets "
                        "| 6.2 | 0.60 (0.58-0.60) |")
    assert lines[4].split("|")[7].strip() == "-"  # one row: not held to the target
    assert lines[8] == "| 512 | 262144 | softmax | 10.5 | - | - | - | - | - |"
    assert lines[-1] == ("bfloat16 at B >= 128 against the 0.6 target over 4 rounds (decided "
                         "when every round agrees): 1 meets, 1 misses, 1 unclear")


def test_plot_dtypes_draws_the_ranges_and_leaves_out_what_was_not_timed(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "r.png"
    bench.plot_dtypes(_rounds_result(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_dtypes_refuses_no_rounds():
    with pytest.raises(ValueError, match="rounds and reps must be >= 1"):
        bench.run_dtypes(rounds=0)


def test_bench_rounds_and_flush_only_with_dtypes(tmp_path):
    """``--rounds``/``--flush-l2`` time the dtype table; the latency table refuses them by
    name before it imports torch, and a round count below one is refused by argparse."""
    for flags in (("--rounds", "3"), ("--flush-l2",)):
        run = cli("bench", *flags, "--out", str(tmp_path / "b"), tmp=tmp_path)
        no_traceback(run)
        assert run.returncode == 2
        assert f"{flags[0]} applies to --dtypes only" in run.stderr
    run = cli("bench", "--dtypes", "--rounds", "0", tmp=tmp_path)
    assert run.returncode == 2 and "argument --rounds" in run.stderr


class _FakeTensor:
    """What run_dtypes asks of a tensor: its dtype conversions, and a name to tell them."""

    def __init__(self, dtype):
        self.dtype = dtype

    def bfloat16(self):
        return _FakeTensor("bfloat16")

    def float(self):
        return _FakeTensor("float32")

    def half(self):
        return _FakeTensor("float16")

    def __mul__(self, other):
        return self


def _fake_torch():
    props = SimpleNamespace(L2_cache_size=1 << 20)
    cuda = SimpleNamespace(current_stream=lambda: SimpleNamespace(cuda_stream=7),
                           get_device_properties=lambda i: props,
                           get_device_name=lambda i: "Fake GPU", synchronize=lambda: None)
    return SimpleNamespace(
        cuda=cuda, __version__="0", float32="f32",
        Generator=lambda device: SimpleNamespace(manual_seed=lambda s: None),
        randn=lambda shape, device, generator: _FakeTensor("float32"),
        softmax=lambda x, dim: _FakeTensor("float32"),
        empty=lambda n, dtype, device: ("flush", n))


def test_run_dtypes_times_each_dtype_of_each_cell_in_rounds(monkeypatch, tmp_path):
    """The sweep's plumbing without a GPU: every cell times its three inputs (each call with
    its own tensor and operation), the L2 flush buffer reaches the timer only when asked,
    and the JSON, table and figure are written."""
    import importlib.util
    import json
    import sys

    import rocsample

    calls = []
    monkeypatch.setitem(sys.modules, "torch", _fake_torch())
    monkeypatch.setattr(rocsample, "backend", lambda name=None: SimpleNamespace(name="cuda"))
    monkeypatch.setattr(bench, "DTYPE_OPS", {
        "softmax": lambda rs, x, **kw: calls.append(("softmax", x.dtype, kw)),
        "sample": lambda rs, x, **kw: calls.append(("sample", x.dtype, kw))})
    speed = {"float32": 10.0, "bfloat16": 5.5, "float16": 7.0}
    seen = []

    def fake_us(torch, fn, reps, flush):
        n = len(calls)
        fn()
        op, dtype, kw = calls[n]
        seen.append(flush)
        return speed[dtype] * (2 if op == "softmax" else 1)

    monkeypatch.setattr(bench, "median_us", fake_us)
    r = bench.run_dtypes(batches=(1, 128), vocabs=(1000,), reps=3, rounds=2, out=tmp_path,
                         progress=lambda line: None)
    assert [(x["batch"], x["op"]) for x in r["rows"]] == [
        (1, "softmax"), (1, "sample"), (128, "softmax"), (128, "sample")]
    assert all(x["bf16_ratio"] == 0.55 and x["f16_ratio"] == 0.7 for x in r["rows"])
    assert [x.get("bf16_vs_target") for x in r["rows"]] == [None, None, "meets", "meets"]
    assert r["rows"][2]["f32_round_us"] == [20.0, 20.0]
    assert set(seen) == {None}  # the L2 is left warm unless asked
    # each dtype's call: once untimed, then once a round; sample gets its seed
    assert calls.count(("sample", "bfloat16", {"stream": 7, "backend": "cuda", "seed": 1})) == 6
    assert calls.count(("softmax", "float16", {"stream": 7, "backend": "cuda"})) == 6
    assert json.loads((tmp_path / "bench_dtypes.json").read_text())["rounds"] == 2
    assert "2 meets, 0 misses, 0 unclear" in (tmp_path / "bench_dtypes.md").read_text()
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "bench_dtypes.png").exists()
    seen.clear()
    bench.run_dtypes(batches=(1,), vocabs=(1000,), reps=3, rounds=1, flush_l2=True,
                     progress=lambda line: None)
    assert set(seen) == {("flush", (1 << 20) // 4 + (1 << 20))}


def test_latency_result_writes_its_table_and_figure(tmp_path):
    """``bench`` (not --dtypes): JSON, table and figure from rows of known values (session
    17's dtype rounds once broke this figure with a key only dtype rows have)."""
    pytest.importorskip("matplotlib")
    rows = [dict(backend="cuda", batch=b, vocab=v, input="normal", op=op, us=10.0 * b,
                 cold_us=12.0 * b, host_us=9.0, read_us=4.0 * b, floor_ratio=2.5,
                 gbps=100.0, torch_us=30.0 * b, speedup_vs_torch=3.0)
            for v in (32000, 128256) for b in (1, 32) for op in bench.OPS]
    result = dict(device="GPU", backend="cuda", date="d", rows=rows)
    bench.write(result, tmp_path)
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (tmp_path / "bench.md").read_text()
    assert "| cuda | 32 | 128256 | normal | softmax | 320.0 |" in table


class _Clock:
    """A fake GPU stream and host clock: the sleep takes ``sleep_us`` of GPU time, each call
    ``call_us``; the host spends ``host_us[i]`` queueing the i-th call (from the sleep's
    queueing to the closing event's). Events read the stream's time when recorded, as if the
    host never fell behind (what the guard must not trust)."""

    def __init__(self, sleep_us, call_us, host_us):
        self.sleep_us, self.call_us, self.host_us = sleep_us, call_us, list(host_us)
        self.gpu = self.host = 0.0
        self.calls = self.sleeps = 0

    def torch(self):
        clock = self

        class Event:
            def __init__(self, enable_timing):
                assert enable_timing

            def record(self):
                self.t = clock.gpu

            def elapsed_time(self, other):
                return (other.t - self.t) / 1e3  # ms, as torch's

        def sleep(cycles):
            assert cycles == bench._SLEEP_CYCLES
            clock.gpu += clock.sleep_us
            clock.sleeps += 1

        cuda = SimpleNamespace(Event=Event, _sleep=sleep, current_device=lambda: 7,
                               synchronize=lambda: None)
        return SimpleNamespace(cuda=cuda)

    def call(self):
        self.gpu += self.call_us
        self.host += self.host_us[self.calls] / 1e6 if self.calls < len(self.host_us) else 1e-5
        self.calls += 1


def test_gpu_times_times_again_a_call_the_host_fell_behind_and_warns_when_it_must_keep_one(
        monkeypatch, caplog):
    """A call whose queueing took the host 90 % of the GPU sleep or more is timed again (the
    events would time the GPU's wait for the host), at most ``reps`` times a measurement;
    past that the call is kept and a warning says its time may include the wait."""
    monkeypatch.setattr(bench, "_SLEEP_US", {})
    clock = _Clock(sleep_us=500.0, call_us=40.0, host_us=[30, 460, 449, 900, 20])
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock.host)
    caplog.set_level("INFO", logger="rocsample.bench")
    times = bench.gpu_times(clock.torch(), clock.call, 3)
    assert times == pytest.approx([40.0, 40.0, 40.0])
    assert clock.calls == 5  # 460 and 900 us (>= 450) timed again; 449 kept
    assert list(bench._SLEEP_US) == [7] and bench._SLEEP_US[7] == pytest.approx(500.0)
    assert clock.sleeps == 2 + 5
    assert "timed 2 call(s) again" in caplog.text and "WARNING" not in caplog.text

    caplog.clear()
    clock = _Clock(sleep_us=500.0, call_us=40.0, host_us=[600] * 10)
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock.host)
    times = bench.gpu_times(clock.torch(), clock.call, 2)
    assert len(times) == 2 and clock.calls == 4  # two tries again, then kept: no endless loop
    assert "may include a wait for the host" in caplog.text
