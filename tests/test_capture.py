"""Graph capture on the CPU: rocsample.reserve, out= and the executor on a capturing stream.

The stand-in device of tests/host_device.py simulates CUDA's global capture mode: launches on
the capturing stream are recorded with their argument values, and an allocation, free, host
copy or wait anywhere raises CaptureViolation (a real driver would invalidate the capture).
Its sampling kernels check a zero workspace prefix at every call's start and scribble on
their rows' words, so a workspace layout that lets one call's rows overlap another call's
prefix fails here. Replays are compared with eager calls, which the other test files compare
with the numpy backend.
"""

from __future__ import annotations

import numpy as np
import pytest

import rocsample
from rocsample.backends import cpu_engine
from rocsample.backends.reservation import Reservation
from rocsample.buffers import DeviceBuffer
from rocsample.errors import CaptureError
from rocsample.registry import ws_prefix_words, ws_total_words

from .host_device import HostDevice
from .kernel_device import stand_in

S = 0x5000  # the capturing stream
R, V = 8, 9000  # the reservation


@pytest.fixture(params=["twin", "kernels"])
def gpu(request, monkeypatch):
    """The stand-in device with the numpy twin, and with the kernels' own code built for
    the CPU (tests/kernel_device.py): replays then run the real kernels on the workspace the
    reservation holds, so what they leave between calls is what the next replay finds."""
    b = stand_in(request.param, monkeypatch)
    yield b
    b.rt.capturing = set()
    b.close()


def _logits(rows: int, vocab: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((rows, vocab)) * 3).astype(np.float32)


def _dev(gpu, a: np.ndarray) -> DeviceBuffer:
    return DeviceBuffer.from_numpy(gpu.rt, a)


def _capture(gpu, fn):
    """``fn()`` on the capturing stream S: (its result, the recorded graph)."""
    gpu.rt.begin_capture(S)
    try:
        result = fn()
    finally:
        graph = gpu.rt.end_capture(S)
    return result, graph


# Every operation, as an engine would call it on a stream, with out= where it needs one.
SAMPLE_CASES = [
    dict(), dict(top_k=50), dict(top_p=0.9), dict(min_p=0.05), dict(top_k=40, top_p=0.8),
    dict(top_k=20, method="topk"), dict(top_p=0.7, method="topp"),
    dict(top_k=30, top_p=0.9, method="fused"),
]


def _op(name: str, kw: dict):
    """(input maker, call(x, out, seed, offset)) of one operation."""
    if name == "sample":
        def call(x, out, seed, offset):
            return rocsample.sample(x, seed=seed, offset=offset, stream=S, out=out, **kw)
        return lambda rows, v, s: cpu_engine.softmax(_logits(rows, v, s)), call
    if name == "sample_from_logits":
        def call(x, out, seed, offset):
            return rocsample.sample_from_logits(x, temperature=0.8, seed=seed, offset=offset,
                                                stream=S, out=out, **kw)
        return _logits, call
    fn = getattr(rocsample, name)
    return _logits, lambda x, out, seed, offset: fn(x, 0.7, stream=S, out=out)


OPS = ([("sample", i) for i in range(len(SAMPLE_CASES))]
       + [("sample_from_logits", i) for i in (0, 1, 2, 4)]
       + [("softmax", 0), ("temperature_scale", 0)])


@pytest.mark.parametrize("rows", [1, 5])  # G > 1 and several phases at 1 row on 132 SMs
@pytest.mark.parametrize("name,case,given_out", [
    (name, case, given) for name, case in OPS for given in (False, True)
    if given or name not in ("softmax", "temperature_scale")])  # those need out= (below)
def test_a_captured_call_replays_as_the_eager_call(gpu, name, case, rows, given_out):
    rows_op = name in ("softmax", "temperature_scale")
    make, call = _op(name, SAMPLE_CASES[case])
    x = _dev(gpu, make(rows, V, case))
    shape, dtype = ((rows, V), np.float32) if rows_op else ((rows,), np.int32)
    # Other calls on the stream between replays (other layouts of the same workspace) and
    # another graph: made on the device before the capture, which may allocate nothing.
    others = [_dev(gpu, cpu_engine.softmax(_logits(r, v, 9))) for r, v in ((R, V), (2, 700))]
    two = _dev(gpu, cpu_engine.softmax(_logits(2, 300, 3)))
    with rocsample.reserve(R, V, stream=S) as res:
        want = call(x, None, 11, 4).numpy()  # eager, on the same stream
        out = _dev(gpu, np.full(shape, -7, dtype)) if given_out else None
        got, graph = _capture(gpu, lambda: call(x, out, 11, 4))
        assert graph and (got is out if given_out else isinstance(got, DeviceBuffer))
        if given_out:
            assert (out.numpy() == -7).all()  # recorded, not run
        gpu.rt.replay_graph(graph)
        np.testing.assert_array_equal(got.numpy(), want)
        _, small = _capture(gpu, lambda: rocsample.sample(two, top_k=5, stream=S))
        for other in others:
            rocsample.sample(other, top_p=0.5, seed=1, stream=S).numpy()
            gpu.rt.replay_graph(small)
            gpu.rt.replay_graph(graph)
            np.testing.assert_array_equal(got.numpy(), want)
        assert res.outputs_left == res.outputs - (0 if given_out else 1) - 1


@pytest.mark.parametrize("rows", [1, 300])  # softmax: stats + write, and one block a row
@pytest.mark.parametrize("name", ["softmax", "temperature_scale"])
def test_a_captured_half_result_replays_as_the_eager_call(gpu, name, rows):
    """bfloat16 logits to a bfloat16 result (``out_dtype``, the _bf16_bf16 entries) into
    the caller's matrix: recorded, not run, under capture; each replay writes the eager
    call's values."""
    from rocsample.buffers import BFLOAT16
    from rocsample.buffers.dtypes import narrow_f32

    fn = getattr(rocsample, name)
    x = _dev(gpu, narrow_f32(_logits(rows, V, 2), "bf16"))
    with rocsample.reserve(300, V, stream=S):
        want = fn(x, 0.7, out_dtype="bfloat16", stream=S).numpy().view(np.uint16)
        out = _dev(gpu, np.zeros((rows, V), BFLOAT16))
        got, graph = _capture(gpu, lambda: fn(x, 0.7, out_dtype="bfloat16", stream=S,
                                              out=out))
        assert got is out and not out.numpy().view(np.uint16).any()  # recorded, not run
        assert [k for k, *_ in graph][-1].endswith("_bf16_bf16")
        for _ in range(2):
            gpu.rt.replay_graph(graph)
            np.testing.assert_array_equal(out.numpy().view(np.uint16), want)


def test_the_workspace_layout_keeps_every_prefix_out_of_every_other_calls_rows(gpu):
    """The property the reservation's workspace rests on, for every pair of layouts."""
    with rocsample.reserve(6, 50000, stream=S) as res:
        lo, hi = res.workspace(6), res.workspace(6) + 8 * ws_total_words(6, 50000)
        base = res._ws_base
        for r1 in range(1, 7):
            for v1 in (1, 4096, 4097, 50000):
                start = res.workspace(r1)
                rows_at = start + 8 * ws_prefix_words(r1)
                assert base <= start and start + 8 * ws_total_words(r1, v1) <= hi
                for r2 in range(1, 7):
                    p2 = res.workspace(r2)
                    assert p2 + 8 * ws_prefix_words(r2) <= rows_at
                    assert p2 >= base and p2 % 8 == 0
        assert lo == base  # the largest batch starts at the allocation


_HOST = cpu_engine.softmax(_logits(4, V))


@pytest.mark.parametrize("what,reserve,call,match", [
    ("no reservation", None,
     lambda x: rocsample.sample(x, stream=S), r"no memory is reserved.*rocsample\.reserve"),
    ("too many rows", dict(max_batch=2),
     lambda x: rocsample.sample(x, stream=S), r"needs 4 rows x vocab 9000.*max_batch>=4"),
    ("too large a vocabulary", dict(vocab=100),
     lambda x: rocsample.sample(x, stream=S), r"vocab>=9000"),
    ("numpy probs", {}, lambda x: rocsample.sample(_HOST, stream=S),
     r"host \(numpy\) array.*pass a device array"),
    ("numpy per-row top_k", {},
     lambda x: rocsample.sample(x, top_k=np.array([1, 2, 3, 4]), stream=S),
     r"top_k given per row as a host \(numpy\) array"),
    ("numpy per-row temperature", {},
     lambda x: rocsample.sample_from_logits(x, temperature=np.ones(4), stream=S),
     r"temperature given per row"),
    ("softmax without out", {}, lambda x: rocsample.softmax(x, stream=S),
     r"must outlive every replay: pass out="),
    ("no scratch", dict(logits=False),
     lambda x: rocsample.sample_from_logits(x, stream=S), r"logits=True"),
    ("token outputs used up", dict(outputs=1),
     lambda x: (rocsample.sample(x, stream=S), rocsample.sample(x, stream=S)),
     r"all 1 token outputs.*pass out=.*outputs=N"),
    ("the default stream", {}, lambda x: rocsample.sample(x),
     r"legacy default stream.*pass the capturing stream"),
])
def test_what_a_capture_cannot_record_is_refused_before_the_stream(gpu, what, reserve, call,
                                                                    match):
    x = _dev(gpu, _HOST)
    fits = _dev(gpu, _logits(3, 40))
    scaled = _dev(gpu, np.zeros((3, 40), np.float32))
    if reserve is not None:
        rocsample.reserve(**{"max_batch": R, "vocab": V, "stream": S, **reserve})
    gpu.rt.begin_capture(S)
    try:
        queued = len(gpu.rt.graphs[S])

        def count(*a, **k):  # the launches the refused call itself queues (none)
            return len(gpu.rt.graphs[S]) - queued

        with pytest.raises(CaptureError, match=match) as info:
            call(x)
        # Nothing of the refused call was queued (the slot-taking call before it was).
        assert count() == (1 if what == "token outputs used up" else 0)
        assert info.value.operation and info.value.reason in str(info.value)
        # The capture goes on: a call that needs no reserved memory is recorded.
        rocsample.temperature_scale(fits, 0.5, stream=S, out=scaled)
    finally:
        graph = gpu.rt.end_capture(S)
    assert graph[-1][0] == "temperature_scale"
    gpu.rt.replay_graph(graph)
    np.testing.assert_array_equal(scaled.numpy(), _logits(3, 40) / np.float32(0.5))


def test_out_is_checked_and_written_in_place(gpu):
    probs = cpu_engine.softmax(_logits(4, 300))
    x = _dev(gpu, probs)
    want = rocsample.sample(probs, top_k=9, seed=3, backend="cpu")
    out = _dev(gpu, np.zeros(4, np.int32))
    assert rocsample.sample(x, top_k=9, seed=3, out=out) is out
    np.testing.assert_array_equal(out.numpy(), want)
    host = np.zeros(4, np.int32)
    assert rocsample.sample(probs, top_k=9, seed=3, out=host, backend="cpu") is host
    np.testing.assert_array_equal(host, want)
    p = _dev(gpu, np.zeros((4, 300), np.float32))
    assert rocsample.softmax(x, out=p) is p
    # The twin is numpy's softmax; the kernels' exp2 may differ from numpy's in the last bit.
    exact = type(gpu.rt) is HostDevice
    np.testing.assert_allclose(p.numpy(), cpu_engine.softmax(probs), rtol=0 if exact else 2e-6,
                               atol=0)
    for bad, err, match in [
        (_dev(gpu, np.zeros(5, np.int32)), ValueError, r"out must be an int32 array of shape"),
        (_dev(gpu, np.zeros(4, np.int64)), ValueError, r"out must be an int32"),
        (np.zeros(4, np.int32), ValueError, r"out is on device"),
    ]:
        with pytest.raises(err, match=match):
            rocsample.sample(x, out=bad)
    with pytest.raises(TypeError, match=r"out= takes a device array"):
        rocsample.sample(probs, out=out)
    with pytest.raises(ValueError, match=r"out must be an int32 array of shape \(4,\)"):
        rocsample.sample(probs, out=np.zeros(3, np.int32), backend="cpu")


def test_a_recorded_plan_is_not_replayed_inside_a_capture(gpu):
    x = _dev(gpu, cpu_engine.softmax(_logits(3, 500)))
    with rocsample.reserve(R, V, stream=S):
        first = rocsample.sample(x, top_k=7, seed=5, stream=S).numpy()
        rocsample.sample(x, top_k=7, seed=5, stream=S)  # records and replays its plan
        assert gpu._plans
        got, graph = _capture(gpu, lambda: rocsample.sample(x, top_k=7, seed=5, stream=S))
        gpu.rt.replay_graph(graph)
        np.testing.assert_array_equal(got.numpy(), first)


def test_the_lifetime_rule(gpu):
    x = _dev(gpu, cpu_engine.softmax(_logits(3, 500)))
    live = gpu.rt.live_allocations
    res = rocsample.reserve(R, V, stream=S)
    assert gpu.rt.live_allocations == live + 3 and res.nbytes >= 8 * ws_total_words(R, V)
    with pytest.raises(ValueError, match="already has a reservation"):
        rocsample.reserve(R, V, stream=S)
    rocsample.sample(x, seed=1, stream=S)  # a plan on the reservation's workspace
    assert any(k[2] == S for k in gpu._plans)
    live = gpu.rt.live_allocations - 3  # the eager call's output slab stays
    gpu.rt.begin_capture(S)
    with pytest.raises(CaptureError, match="end the capture first"):
        res.release()
    with pytest.raises(CaptureError, match="reserve before the capture"):
        rocsample.reserve(R, V, stream=S + 1)
    gpu.rt.end_capture(S)
    res.release()
    res.release()  # idempotent
    assert gpu.rt.live_allocations == live and not any(k[2] == S for k in gpu._plans)
    gpu.rt.begin_capture(S)
    with pytest.raises(CaptureError, match="no memory is reserved"):
        rocsample.sample(x, stream=S)
    gpu.rt.end_capture(S)
    with rocsample.reserve(R, V, stream=S):  # the stream may be reserved again
        pass


@pytest.mark.parametrize("kw,err,match", [
    (dict(max_batch=0, vocab=10), ValueError, "max_batch must be a positive int"),
    (dict(max_batch=2.0, vocab=10), TypeError, "max_batch must be an int"),
    (dict(max_batch=2, vocab=2**31), ValueError, "vocab must be < 2"),
    (dict(max_batch=2, vocab=10, outputs=-1), ValueError, "outputs must be a non-negative"),
    (dict(max_batch=2, vocab=10, logits=1), TypeError, "logits must be True or False"),
])
@pytest.mark.parametrize("backend", ["cpu", None])
def test_reserve_arguments_are_checked(gpu, kw, err, match, backend):
    with pytest.raises(err, match=match):
        rocsample.reserve(**kw, backend=backend)


def test_the_cpu_backend_reservation_holds_nothing():
    with rocsample.reserve(4, 100, backend="cpu") as res:
        assert isinstance(res, Reservation) and res.nbytes == 0 and not res.released


def test_an_elementwise_call_with_out_is_captured_once_its_layout_is_on_the_device(
        gpu, monkeypatch):
    """Elementwise kernels under capture too (no reservation needed: the caller owns the
    memory); a strided layout's info must already be on the device (an eager call first)."""
    from rocsample import api_elementwise
    from rocsample.ops import elementwise as ew

    from .test_executor import as_device

    monkeypatch.setattr(api_elementwise, "get_backend", lambda *a, **k: gpu)
    base = np.linspace(-3, 3, 60, dtype=np.float32).reshape(6, 10)
    strided = as_device(gpu, base, base[:, 1:4])
    fresh = as_device(gpu, base, base[1:, 2:7])
    out = _dev(gpu, np.zeros((6, 3), np.float32))
    out2 = _dev(gpu, np.zeros((5, 5), np.float32))
    rocsample.unary("gelu", strided, out=out, stream=S)  # its layout goes to the device
    got, graph = _capture(gpu, lambda: rocsample.unary("gelu", strided, out=out, stream=S))
    assert got is out and [g[0] for g in graph] == ["ugelu_f32"]
    out.copy_from(np.zeros((6, 3), np.float32))
    gpu.rt.replay_graph(graph)
    np.testing.assert_array_equal(out.numpy(), ew.unary("gelu", base[:, 1:4]))
    gpu.rt.begin_capture(S)
    try:
        with pytest.raises(CaptureError, match="make the same call once outside the capture"):
            rocsample.unary("gelu", fresh, out=out2, stream=S)
    finally:
        assert gpu.rt.end_capture(S) == []


@pytest.mark.parametrize("op", ["sample", "sample_from_logits", "softmax"])
def test_repeated_calls_with_out_replay_a_plan_into_that_out(gpu, op):
    """An engine's eager loop passes its own out= every step: the second call replays the
    first one's plan (no validation, no packing) into the same out; another out is another
    plan; inside a capture no plan is replayed."""
    logits = _logits(3, 600, 4)
    x = _dev(gpu, cpu_engine.softmax(logits) if op == "sample" else logits)
    shape, dtype = ((3, 600), np.float32) if op == "softmax" else ((3,), np.int32)
    a, b = _dev(gpu, np.zeros(shape, dtype)), _dev(gpu, np.zeros(shape, dtype))
    kw = {} if op == "softmax" else dict(top_k=9)

    def call(out, offset):
        if op == "softmax":
            return rocsample.softmax(x, 0.9, stream=S, out=out)
        return getattr(rocsample, op)(x, seed=2, offset=offset, stream=S, out=out, **kw)

    want = [call(None, k).numpy() for k in range(3)]
    assert call(a, 0) is a and len(gpu._plans) == 2  # the no-out plan, then a's
    general, run = [], gpu.run
    gpu.run = lambda *args, **kw: general.append(args[0]) or run(*args, **kw)
    for k in range(3):
        assert call(a, k) is a
        np.testing.assert_array_equal(a.numpy(), want[k])
    assert general == [] and len(gpu._plans) == 2  # replayed, not validated again
    assert call(b, 1) is b and len(gpu._plans) == 3 and general == [op]
    np.testing.assert_array_equal(b.numpy(), want[1])
    np.testing.assert_array_equal(a.numpy(), want[2])  # a untouched by b's call
    with rocsample.reserve(R, V, stream=S):
        got, graph = _capture(gpu, lambda: call(a, 1))
        a.copy_from(np.zeros(shape, dtype))
        gpu.rt.replay_graph(graph)
        np.testing.assert_array_equal(a.numpy(), want[1])
