"""Per-request randomness (issue 21, point 2): ``seed`` and ``offset`` as one value per row.

A row's token must depend on its own (seed, offset) only: not its batch slot, the batch size,
the other rows or the kernel path. Checked on the numpy backend (permuted, split and padded
batches against each row sampled alone) and through the GPU executor on the host stand-in
(tests/host_device.py: the launches' packed seeds/offsets pointers are read as the kernels read
them), with numpy and device arrays; and every bad seed/offset argument is refused with a
message naming it.
"""

from __future__ import annotations

import numpy as np
import pytest

import rocsample
from rocsample.backends import cpu_engine
from rocsample.buffers import DeviceBuffer
from rocsample.philox import draws_u64, row_draws_u64

from .kernel_device import stand_in

FILTERS = [
    {},
    dict(top_k=20),
    dict(top_p=0.8),
    dict(min_p=0.05),
    dict(top_k=30, top_p=0.9, min_p=0.01),
]


def _probs(rows: int, vocab: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cpu_engine.softmax(rng.standard_normal((rows, vocab)).astype(np.float32) * 3)


def _requests(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**64, rows, dtype=np.uint64, endpoint=False)
    offsets = rng.integers(0, 2**64, rows, dtype=np.uint64, endpoint=False)
    return seeds, offsets


def _alone(probs, seeds, offsets, **kw):
    """Each row sampled in a batch of its own, with its seed and offset as scalars: a single
    row's counter is (offset, 0, 0), the per-row rule's counter for every row."""
    return np.array([rocsample.sample(probs[r:r + 1], seed=int(seeds[r]),
                                      offset=int(offsets[r]), backend="cpu", **kw)[0]
                     for r in range(probs.shape[0])], dtype=np.int32)


# ---- the numpy backend -----------------------------------------------------------------


@pytest.mark.parametrize("kw", FILTERS)
def test_a_row_draws_as_it_does_alone(kw):
    probs = _probs(9, 5000, 1)
    seeds, offsets = _requests(9, 2)
    got = rocsample.sample(probs, seed=seeds, offset=offsets, backend="cpu", **kw)
    np.testing.assert_array_equal(got, _alone(probs, seeds, offsets, **kw))


@pytest.mark.parametrize("kw", FILTERS)
def test_permuted_split_and_padded_batches_give_each_row_its_token(kw):
    probs = _probs(12, 3000, 3)
    seeds, offsets = _requests(12, 4)
    full = rocsample.sample(probs, seed=seeds, offset=offsets, backend="cpu", **kw)
    perm = np.random.default_rng(5).permutation(12)
    got = rocsample.sample(probs[perm], seed=seeds[perm], offset=offsets[perm], backend="cpu",
                           **kw)
    np.testing.assert_array_equal(got, full[perm])
    parts = [rocsample.sample(probs[a:b], seed=seeds[a:b], offset=offsets[a:b],
                              backend="cpu", **kw) for a, b in ((0, 5), (5, 6), (6, 12))]
    np.testing.assert_array_equal(np.concatenate(parts), full)
    pad = _probs(20, 3000, 6)
    pad[3:15] = probs
    ps, po = _requests(20, 7)
    ps[3:15], po[3:15] = seeds, offsets
    got = rocsample.sample(pad, seed=ps, offset=po, backend="cpu", **kw)
    np.testing.assert_array_equal(got[3:15], full)


def test_per_row_seeds_with_a_scalar_offset_and_the_reverse():
    probs = _probs(6, 4000, 8)
    seeds, offsets = _requests(6, 9)
    a = rocsample.sample(probs, seed=seeds, offset=77, backend="cpu", top_k=50)
    np.testing.assert_array_equal(a, _alone(probs, seeds, np.full(6, 77), top_k=50))
    b = rocsample.sample(probs, seed=123, offset=offsets, backend="cpu", top_k=50)
    np.testing.assert_array_equal(b, _alone(probs, np.full(6, 123), offsets, top_k=50))
    # The per-row rule drops the row index: rows with equal (seed, offset) and equal
    # probabilities draw the same token; with scalars the rows' counters differ.
    same = np.repeat(probs[:1], 64, axis=0)
    one = rocsample.sample(same, seed=np.full(64, 5), offset=3, backend="cpu")
    assert len(set(one.tolist())) == 1
    assert draws_u64(5, 3, 64) == row_draws_u64(5, 3, 64)
    assert len(set(draws_u64(5, 3, 64))) == 64


def test_scalar_seed_draws_are_unchanged():
    # Both scalars keep the counter (offset lo, offset hi, row, 0): the words row_draws_u64
    # gives, which is what every existing test and bench result used.
    probs = _probs(5, 2000, 10)
    got = cpu_engine.sample_rows(probs, seed=3, offset=2**40 + 9)
    want = cpu_engine.sample_rows(probs, seed=np.uint64(3), offset=2**40 + 9)
    np.testing.assert_array_equal(got, want)
    words = row_draws_u64(3, 2**40 + 9, 5)
    per_row = draws_u64(np.full(5, 3, np.uint64), np.full(5, 2**40 + 9, np.uint64), 5)
    assert per_row[0] == words[0] and per_row[1:] != words[1:]


def test_distinct_seeds_draw_in_proportion():
    # 20000 requests, one row each of p = (0.5, 0.3, 0.2, 0), every one its own seed: the
    # counts are multinomial; each must lie within 5 standard deviations (false alarm
    # < 1e-5 per count) of n * p.
    n = 20000
    probs = np.tile(np.array([0.5, 0.3, 0.2, 0.0], np.float32), (n, 1))
    seeds = np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    got = rocsample.sample(probs, seed=seeds, offset=0, backend="cpu")
    counts = np.bincount(got, minlength=4)
    for c, p in zip(counts, (0.5, 0.3, 0.2, 0.0), strict=True):
        assert abs(c - n * p) <= 5 * np.sqrt(n * p * (1 - p)) + 1e-9, counts


def test_sampler_advances_per_row_offsets():
    probs = _probs(3, 1000, 11)
    s = rocsample.TopKSampler(top_k=10, seed=np.array([1, 2, 3]), offset=np.array([5, 6, 7]),
                              backend="cpu")
    first, second = s.sample(probs), s.sample(probs)
    np.testing.assert_array_equal(first, rocsample.sample(
        probs, top_k=10, seed=np.array([1, 2, 3]), offset=np.array([5, 6, 7]), backend="cpu"))
    np.testing.assert_array_equal(second, rocsample.sample(
        probs, top_k=10, seed=np.array([1, 2, 3]), offset=np.array([6, 7, 8]), backend="cpu"))


# ---- bad arguments -----------------------------------------------------------------------


class _FakeDeviceArray:
    """A __cuda_array_interface__ producer on CUDA device ``index``."""

    def __init__(self, shape, typestr="<i8", strides=None, index=0):
        self.__cuda_array_interface__ = {"data": (4096, False), "shape": shape,
                                         "typestr": typestr, "strides": strides, "version": 3}
        self.device = type("dev", (), {"index": index})()


@pytest.mark.parametrize("name", ["seed", "offset"])
@pytest.mark.parametrize("value,error,words", [
    (np.array([1, 2]), ValueError, "one value per row (3)"),
    (np.array([[1, 2, 3]]), ValueError, "one value per row (3)"),
    (np.array([1, -2, 3]), ValueError, "[0, 2**64); got -2 in row 1"),
    ([1, 2**64, 3], ValueError, "[0, 2**64); got 18446744073709551616 in row 1"),
    ([1, 2.5, 3], TypeError, "int64 or uint64"),
    (np.array([1.0, 2.0, 3.0]), TypeError, "got dtype float64"),
    (np.array([True, False, True]), TypeError, "got dtype bool"),
    ([1, True, 3], TypeError, "must be integers; got bool in row 1"),
    (-1, ValueError, "[0, 2**64); got -1"),
    (2**64, ValueError, "[0, 2**64); got 18446744073709551616"),
    (1.0, TypeError, "got float"),
    (True, TypeError, "got bool"),
    (None, TypeError, "got NoneType"),
    ("7", TypeError, "got str"),
    (_FakeDeviceArray((3,), "<f4"), TypeError, "int64 or uint64"),
    (_FakeDeviceArray((3,), "<i4"), TypeError, "int64 or uint64"),
    (_FakeDeviceArray((4,)), ValueError, "one value per row (3)"),
    (_FakeDeviceArray((3,), strides=(16,)), ValueError, "must be contiguous"),
])
def test_bad_seeds_and_offsets_are_refused_by_name(name, value, error, words):
    probs = _probs(3, 100, 12)
    kw = {name: value}
    with pytest.raises(error) as info:
        rocsample.sample(probs, backend="cpu", **kw)
    assert str(info.value).startswith(name) and words in str(info.value), str(info.value)


def test_the_cpu_backend_refuses_device_seed_arrays():
    with pytest.raises(TypeError, match="seed: the cpu backend takes host seed/offset arrays"):
        rocsample.sample(_probs(3, 100, 13), seed=_FakeDeviceArray((3,)), backend="cpu")


# ---- the GPU executor on the host stand-in ------------------------------------------------


@pytest.fixture(params=["twin", "kernels"])
def gpu(request, monkeypatch):
    """The stand-in device running the numpy twin, then the kernels' own code
    (tests/kernel_device.py)."""
    b = stand_in(request.param, monkeypatch)
    yield b
    b.close()


def _sampler_launches(gpu):
    out = [(k, g, v) for k, g, _, v in gpu.rt.launches if "seeds" in v]
    gpu.rt.launches.clear()
    return out


@pytest.mark.parametrize("rows", [1, 3, 140])  # 140 >= 132 SMs: one block a row
@pytest.mark.parametrize("method,kw", [("auto", {}), ("auto", dict(top_k=20)),
                                       ("topk", dict(top_k=20)), ("topp", dict(top_p=0.8)),
                                       ("fused", dict(top_p=0.8)), ("fused", dict(min_p=0.1)),
                                       ("fused", dict(top_k=200, top_p=0.9))])
@pytest.mark.parametrize("where", ["numpy", "device"])
def test_executor_reads_per_row_seeds_like_the_numpy_backend(gpu, rows, method, kw, where):
    probs = _probs(rows, 9000, rows)
    seeds, offsets = _requests(rows, 14)
    s, o = seeds, offsets
    if where == "device":
        s, o = DeviceBuffer.from_numpy(gpu.rt, seeds), DeviceBuffer.from_numpy(gpu.rt, offsets)
    got = rocsample.sample(probs, seed=s, offset=o, method=method, **kw)
    np.testing.assert_array_equal(got, _alone(probs, seeds, offsets, **kw))
    launches = _sampler_launches(gpu)
    assert launches
    for _, _, v in launches:
        assert v["seed"] == 0 and v["offset"] == 0 and v["seeds"] and v["offsets"]
        if where == "device":  # the caller's memory, read by the kernels: no copy
            assert (v["seeds"], v["offsets"]) == (s.ptr, o.ptr)
    assert not gpu._plans


def test_device_seeds_and_offsets_are_read_at_each_launch_also_when_replayed(gpu, monkeypatch):
    hits = []
    replay = gpu.replay
    monkeypatch.setattr(gpu, "replay", lambda *a, **k: hits.append(replay(*a, **k)) or hits[-1])
    probs = _probs(4, 9000, 15)
    x = DeviceBuffer.from_numpy(gpu.rt, probs)
    seeds, offsets = _requests(4, 16)
    s, o = DeviceBuffer.from_numpy(gpu.rt, seeds), DeviceBuffer.from_numpy(gpu.rt, offsets)
    for step in range(4):
        # The caller advances the offsets in device memory between calls: the first call
        # records a plan keeping the arrays' addresses, the next ones replay it.
        now = offsets + np.uint64(step)
        o.copy_from(now)
        got = rocsample.sample(x, top_k=40, seed=s, offset=o).numpy()
        np.testing.assert_array_equal(got, _alone(probs, seeds, now, top_k=40))
        for _, _, v in _sampler_launches(gpu):
            assert (v["seeds"], v["offsets"], v["seed"], v["offset"]) == (s.ptr, o.ptr, 0, 0)
        assert len(gpu._plans) == 1
    assert [h is not None for h in hits] == [False, True, True, True]
    # Device seeds with a scalar offset: another plan, the offset patched per call.
    for step in (5, 6):
        got = rocsample.sample(x, top_k=40, seed=s, offset=step).numpy()
        np.testing.assert_array_equal(got, _alone(probs, seeds, np.full(4, step), top_k=40))
    assert len(gpu._plans) == 2
    # Host arrays are uploaded at every call: never planned.
    rocsample.sample(x, top_k=40, seed=seeds, offset=offsets)
    rocsample.sample(x, top_k=40, seed=s, offset=offsets)
    assert len(gpu._plans) == 2
    # A scalar call on the same input records a plan whose launches carry no seed arrays,
    # and its replays stay scalar draws after per-row calls.
    want = rocsample.sample(probs, top_k=40, seed=9, offset=1, backend="cpu")
    for _ in range(2):
        np.testing.assert_array_equal(rocsample.sample(x, top_k=40, seed=9, offset=1).numpy(),
                                      want)
        rocsample.sample(x, top_k=40, seed=s, offset=o)
    assert len(gpu._plans) == 3
    assert all(v["seeds"] == 0 and v["offsets"] == 0
               for _, _, v in _sampler_launches(gpu) if v["seed"] == 9)


def test_sample_from_logits_takes_per_row_seeds(gpu):
    logits = np.random.default_rng(17).standard_normal((5, 9000)).astype(np.float32)
    seeds, offsets = _requests(5, 18)
    got = rocsample.sample_from_logits(logits, temperature=0.7, top_k=30, seed=seeds,
                                       offset=offsets)
    want = rocsample.sample_from_logits(logits, temperature=0.7, top_k=30, seed=seeds,
                                        offset=offsets, backend="cpu")
    np.testing.assert_array_equal(got, want)
    one = rocsample.sample_from_logits(logits[2:3], temperature=0.7, top_k=30,
                                       seed=int(seeds[2]), offset=int(offsets[2]),
                                       backend="cpu")
    assert got[2] == one[0]


def test_device_seeds_on_another_device_are_refused(gpu):
    with pytest.raises(ValueError, match="seed is on device \\(2, 1\\)"):
        rocsample.sample(_probs(3, 100, 19), seed=_FakeDeviceArray((3,), index=1))
