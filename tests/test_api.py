"""The public API on the cpu backend: results, equivalences, samplers, backend selection.

Backend selection is exercised for real: on a machine without a GPU, hip-python's hipInit
fails and the NVIDIA driver is absent, so ROCSAMPLE_BACKEND=hip must raise
BackendUnavailable with that reason, and auto must fall back to cpu. Those tests skip (with
the reason) where a GPU does start, since then there is nothing to fall back from.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import Counter

import numpy as np
import pytest

import rocsample
from rocsample.backends import reset
from rocsample.buffers import DeviceBuffer, HostMemoryDriver

RNG = np.random.default_rng(20240601)
LOGITS = (RNG.standard_normal((8, 64)) * 2).astype(np.float32)
PROBS = rocsample.softmax(LOGITS, backend="cpu")


def hip_init_error() -> str | None:
    """What hipInit says here, asked of hip-python directly (None: a HIP device works)."""
    try:
        from hip import hip
    except ImportError as exc:
        return f"hip-python is not installed ({exc})"
    try:
        (err,) = hip.hipInit(0)
    except Exception:
        return "the HIP runtime cannot be loaded"
    if int(err) != 0:
        return f"hipInit returned {err.name}"
    err, count = hip.hipGetDeviceCount()
    return None if int(err) == 0 and count > 0 else "no HIP device"


def cuda_works() -> bool:
    try:
        from cuda.bindings import driver

        (err,) = driver.cuInit(0)
        if err != driver.CUresult.CUDA_SUCCESS:
            return False
        err, count = driver.cuDeviceGetCount()
        return err == driver.CUresult.CUDA_SUCCESS and count > 0
    except Exception:
        return False


HIP_ERROR = hip_init_error()
NO_GPU = HIP_ERROR is not None and not cuda_works()


@pytest.fixture
def fresh(monkeypatch):
    """No ROCSAMPLE_BACKEND and no opened backends, before and after the test."""
    monkeypatch.delenv("ROCSAMPLE_BACKEND", raising=False)
    reset()
    yield monkeypatch
    reset()


def host(x) -> np.ndarray:
    return x.numpy() if isinstance(x, DeviceBuffer) else np.asarray(x)


# ---- results ----


@pytest.mark.parametrize("kw", [{}, {"top_k": 5}, {"top_p": 0.8}, {"min_p": 0.2},
                                {"top_k": 10, "top_p": 0.9, "min_p": 0.05}])
def test_numpy_in_numpy_int32_out(kw):
    tok = rocsample.sample(PROBS, seed=1, backend="cpu", **kw)
    assert type(tok) is np.ndarray
    assert tok.dtype == np.int32 and tok.shape == (PROBS.shape[0],)
    assert ((tok >= 0) & (tok < PROBS.shape[1])).all()
    tok = rocsample.sample_from_logits(LOGITS, temperature=0.7, seed=1, backend="cpu", **kw)
    assert type(tok) is np.ndarray
    assert tok.dtype == np.int32 and tok.shape == (LOGITS.shape[0],)


def test_filters_restrict_the_draws():
    for seed in range(30):
        tok = rocsample.sample(PROBS, top_k=1, seed=seed, backend="cpu")
        assert (tok == PROBS.argmax(axis=1)).all()
        tok = rocsample.sample(PROBS, top_k=3, seed=seed, backend="cpu")
        top3 = np.argsort(-PROBS, axis=1)[:, :3]
        assert all(t in row for t, row in zip(tok, top3, strict=True))


def test_same_seed_offset_same_tokens_and_offset_changes_them():
    a = rocsample.sample(PROBS, seed=42, offset=3, backend="cpu")
    assert (a == rocsample.sample(PROBS, seed=42, offset=3, backend="cpu")).all()
    draws = {tuple(rocsample.sample(PROBS, seed=42, offset=o, backend="cpu")) for o in range(10)}
    assert len(draws) == 10


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0, 0.0])
@pytest.mark.parametrize("kw", [{}, {"top_k": 7}, {"top_p": 0.6, "min_p": 0.01}])
def test_sample_from_logits_is_sample_of_softmax(temperature, kw):
    for seed, offset in [(0, 0), (7, 1), (2**63 + 5, 2**64 - 1)]:
        got = rocsample.sample_from_logits(LOGITS, temperature=temperature, seed=seed,
                                           offset=offset, backend="cpu", **kw)
        probs = rocsample.softmax(LOGITS, temperature, backend="cpu")
        want = rocsample.sample(probs, seed=seed, offset=offset, backend="cpu", **kw)
        assert (got == want).all()
        if temperature > 0:
            scaled = rocsample.softmax(LOGITS / np.float32(temperature), backend="cpu")
            want = rocsample.sample(scaled, seed=seed, offset=offset, backend="cpu", **kw)
            assert (got == want).all()


def test_temperature_zero_is_greedy():
    logits = RNG.standard_normal((50, 300)).astype(np.float32)  # no ties for the maximum
    assert all(len(set(row)) == row.size for row in logits)
    for seed in range(5):
        tok = rocsample.sample_from_logits(logits, temperature=0.0, seed=seed, top_p=0.5,
                                           backend="cpu")
        assert (tok == logits.argmax(axis=1)).all()


def test_per_row_temperature():
    temps = np.array([0.0, 1.0, 0.5, 3.0, 0.0, 1.0, 0.25, 10.0], dtype=np.float32)
    got = rocsample.sample_from_logits(LOGITS, temperature=temps, seed=9, offset=4,
                                       backend="cpu")
    assert got[0] == LOGITS[0].argmax() and got[4] == LOGITS[4].argmax()
    for r, t in enumerate(temps):  # row r draws with counter (offset, r) whatever the batch
        alone = rocsample.sample_from_logits(LOGITS, temperature=float(t), seed=9, offset=4,
                                             backend="cpu")
        assert got[r] == alone[r]
    probs = rocsample.softmax(LOGITS, temps, backend="cpu")
    for r, t in enumerate(temps):
        np.testing.assert_array_equal(probs[r], rocsample.softmax(LOGITS, t, backend="cpu")[r])


# ---- softmax and temperature_scale ----


@pytest.mark.parametrize("t", [1.0, 0.3, 4.0])
def test_softmax(t):
    p = rocsample.softmax(LOGITS, t, backend="cpu")
    assert p.dtype == np.float32 and p.shape == LOGITS.shape
    x = LOGITS.astype(np.float64) / t
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_softmax_default_temperature_and_zero():
    np.testing.assert_array_equal(rocsample.softmax(LOGITS, backend="cpu"), PROBS)
    p0 = rocsample.softmax(LOGITS, 0.0, backend="cpu")
    want = np.zeros_like(LOGITS)
    want[np.arange(LOGITS.shape[0]), LOGITS.argmax(axis=1)] = 1
    np.testing.assert_array_equal(p0, want)


def test_temperature_scale():
    out = rocsample.temperature_scale(LOGITS, 0.5, backend="cpu")
    assert out.dtype == np.float32 and out.shape == LOGITS.shape
    np.testing.assert_array_equal(out, LOGITS / np.float32(0.5))
    temps = np.linspace(0, 2, LOGITS.shape[0]).astype(np.float32)
    out = rocsample.temperature_scale(LOGITS, temps, backend="cpu")
    np.testing.assert_array_equal(out[0], LOGITS[0])  # T = 0 leaves the row as is
    np.testing.assert_array_equal(out[1:], LOGITS[1:] / temps[1:, None])
    assert not np.shares_memory(out, LOGITS)


# ---- sampler objects ----

SAMPLERS = [
    (rocsample.TopKSampler, {"top_k": 5}),
    (rocsample.TopPSampler, {"top_p": 0.7}),
    (rocsample.MinPSampler, {"min_p": 0.1}),
    (rocsample.FusedSampler, {"top_k": 20, "top_p": 0.9, "min_p": 0.02}),
    (rocsample.FusedSampler, {"top_k": np.arange(1, 9), "top_p": np.full(8, 0.8)}),
    (rocsample.Sampler, {}),
]


@pytest.mark.parametrize("cls,filters", SAMPLERS)
def test_sampler_offset_advances_by_one_per_call(cls, filters):
    s = cls(seed=77, backend="cpu", **filters)
    want = [rocsample.sample(PROBS, seed=77, offset=o, backend="cpu", **filters)
            for o in range(3)]
    assert not (want[0] == want[1]).all()  # otherwise the test could not see a stuck offset
    for o in range(3):
        assert s.offset == o
        assert (s.sample(PROBS) == want[o]).all()
    assert s.offset == 3


def test_sampler_starts_at_its_offset_and_wraps():
    s = rocsample.TopKSampler(top_k=4, seed=3, offset=2**64 - 1, backend="cpu")
    first = s.sample(PROBS)
    assert (first == rocsample.sample(PROBS, top_k=4, seed=3, offset=2**64 - 1,
                                      backend="cpu")).all()
    assert s.offset == 0
    assert (s.sample(PROBS) == rocsample.sample(PROBS, top_k=4, seed=3, backend="cpu")).all()


def test_sampler_repr():
    s = rocsample.TopKSampler(top_k=2, seed=7, backend="cpu")
    assert repr(s) == "TopKSampler(top_k=2, seed=7, offset=0)"
    s.sample(PROBS)
    assert repr(s) == "TopKSampler(top_k=2, seed=7, offset=1)"
    assert repr(rocsample.TopPSampler(top_p=0.9)) == "TopPSampler(top_p=0.9, seed=0, offset=0)"
    assert repr(rocsample.MinPSampler(min_p=0.1, offset=5)) == \
        "MinPSampler(min_p=0.1, seed=0, offset=5)"
    assert repr(rocsample.FusedSampler(top_k=50, top_p=0.9, seed=1)) == \
        "FusedSampler(top_k=50, top_p=0.9, min_p=None, seed=1, offset=0)"


def test_plain_sampler_repr():
    assert repr(rocsample.Sampler(seed=3)) == "Sampler(seed=3, offset=0)"


@pytest.mark.parametrize("kw", [{"seed": -1}, {"offset": 2**64}])
def test_sampler_rejects_bad_seed_or_offset_when_made(kw):
    with pytest.raises(ValueError, match="must be in \\[0, 2\\*\\*64\\)"):
        rocsample.TopKSampler(top_k=2, **kw)
    with pytest.raises(TypeError):
        rocsample.FusedSampler(seed=1.5)


@pytest.mark.parametrize("cls,kw,pattern", [
    (rocsample.TopKSampler, {"top_k": -1}, r"top_k must be >= 0"),
    (rocsample.TopPSampler, {"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
    (rocsample.MinPSampler, {"min_p": 2.0}, r"min_p must be in \[0, 1\]"),
    (rocsample.FusedSampler, {"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
])
def test_sampler_rejects_bad_filters_when_made(cls, kw, pattern):
    # samplers.py: "Validate now (with one row; per-row arrays are checked again ...)".
    with pytest.raises(ValueError, match=pattern):
        cls(**kw)


def test_sampler_offset_counter_is_thread_safe():
    s = rocsample.TopKSampler(top_k=64, seed=123, backend="cpu")
    probs = np.full((8, 64), 1 / 64, np.float32)  # 64**8 equally likely draws per call
    by_offset = {tuple(rocsample.sample(probs, seed=123, offset=o, backend="cpu")): o
                 for o in range(800)}
    assert len(by_offset) == 800  # every offset's draw is recognisable
    results: list[tuple[int, ...]] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def work():
        start.wait()
        mine = [tuple(s.sample(probs)) for _ in range(50)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert s.offset == 800
    used = Counter(by_offset.get(r) for r in results)
    assert used == Counter(range(800))  # each offset 0..799 used exactly once


# ---- inputs other than numpy ----


def test_host_device_buffer_on_the_cpu_backend():
    drv = HostMemoryDriver()
    with DeviceBuffer.from_numpy(drv, PROBS) as buf, \
            DeviceBuffer.from_numpy(drv, LOGITS) as lbuf:
        got = rocsample.sample(buf, top_k=5, seed=8, offset=2, backend="cpu")
        want = rocsample.sample(PROBS, top_k=5, seed=8, offset=2, backend="cpu")
        np.testing.assert_array_equal(host(got), want)
        got = rocsample.sample_from_logits(lbuf, temperature=0.8, seed=8, backend="cpu")
        want = rocsample.sample_from_logits(LOGITS, temperature=0.8, seed=8, backend="cpu")
        np.testing.assert_array_equal(host(got), want)
        np.testing.assert_array_equal(host(rocsample.softmax(lbuf, backend="cpu")), PROBS)
    assert drv.live_allocations == 0


class CudaArrayInterfaceOnly:
    """A torch-less device array: nothing but ``__cuda_array_interface__``."""

    def __init__(self):
        self.__cuda_array_interface__ = {"version": 3, "shape": (2, 4), "typestr": "<f4",
                                         "data": (0x7F0000000000, False), "strides": None}


class CudaArrayWithShape(CudaArrayInterfaceOnly):
    shape = (2, 4)
    dtype = np.dtype(np.float32)


@pytest.mark.parametrize("cls", [CudaArrayWithShape, CudaArrayInterfaceOnly])
def test_device_array_on_the_cpu_backend_says_a_gpu_backend_is_needed(cls):
    with pytest.raises(TypeError, match="Device arrays need a GPU backend"):
        rocsample.sample(cls(), backend="cpu")
    with pytest.raises(TypeError, match="Device arrays need a GPU backend"):
        rocsample.softmax(cls(), backend="cpu")


# ---- backends ----


def test_backend_cpu():
    b = rocsample.backend("cpu")
    assert b.name == "cpu"
    assert rocsample.backend("cpu") is b  # one per process
    d = b.describe()
    assert d["backend"] == "cpu" and d["target"] == "numpy"


def test_cache_info_cpu(fresh, tmp_path):
    fresh.setenv("ROCSAMPLE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "kernels").mkdir()  # an explicit ROCSAMPLE_KERNEL_DIR must exist
    fresh.setenv("ROCSAMPLE_KERNEL_DIR", str(tmp_path / "kernels"))
    fresh.setenv("ROCSAMPLE_DISK_CACHE", "0")
    info = rocsample.cache_info("cpu")
    assert info["backend"] == "cpu"
    assert info["device"] == "host (numpy)"
    assert info["target"] == "numpy"
    assert info["index"] == 0 and info["wave_size"] == 1
    assert info["cache_dir"] == str(tmp_path / "cache")
    assert info["kernel_dir"] == str(tmp_path / "kernels")
    assert info["disk_cache"] is False
    assert info["kernels"] == {}
    fresh.setenv("ROCSAMPLE_DISK_CACHE", "1")
    assert rocsample.cache_info("cpu")["disk_cache"] is True


@pytest.mark.skipif(HIP_ERROR is None, reason="a HIP device works here: nothing to refuse")
def test_forced_hip_raises_with_the_hipinit_reason(fresh):
    fresh.setenv("ROCSAMPLE_BACKEND", "hip")
    for call in (lambda: rocsample.sample(PROBS),
                 lambda: rocsample.backend(),
                 lambda: rocsample.softmax(LOGITS),
                 lambda: rocsample.cache_info()):
        with pytest.raises(rocsample.BackendUnavailable) as info:
            call()
        assert info.value.backend == "hip"
        assert HIP_ERROR in info.value.reason
        assert isinstance(info.value, rocsample.RocsampleError)
    with pytest.raises(rocsample.BackendUnavailable, match="hipInit|HIP"):
        rocsample.backend("hip")


@pytest.mark.skipif(not NO_GPU, reason="a GPU backend works here: nothing to fall back from")
def test_forced_cuda_raises(fresh):
    fresh.setenv("ROCSAMPLE_BACKEND", "cuda")
    with pytest.raises(rocsample.BackendUnavailable) as info:
        rocsample.sample(PROBS)
    assert info.value.backend == "cuda" and info.value.reason


@pytest.mark.skipif(not NO_GPU, reason="a GPU backend works here: nothing to fall back from")
@pytest.mark.parametrize("value", [None, "auto", " AUTO "])
def test_auto_falls_back_to_cpu_with_one_info_record(fresh, caplog, value):
    if value is not None:
        fresh.setenv("ROCSAMPLE_BACKEND", value)
    caplog.set_level(logging.DEBUG, logger="rocsample")
    b = rocsample.backend()
    tok = rocsample.sample(PROBS, seed=1)
    rocsample.sample_from_logits(LOGITS, seed=1)
    assert rocsample.backend() is b
    assert b.name == "cpu"
    assert (tok == rocsample.sample(PROBS, seed=1, backend="cpu")).all()
    records = [r for r in caplog.records
               if r.name.startswith("rocsample") and r.levelno >= logging.INFO]
    assert len(records) == 1, [r.getMessage() for r in records]
    (rec,) = records
    assert rec.levelno == logging.INFO and rec.name == "rocsample"
    msg = rec.getMessage()
    assert "cpu" in msg
    assert HIP_ERROR in msg


@pytest.mark.parametrize("value", ["bogus", "gpu", "numpy", "rocm"])
def test_bad_backend_choice(fresh, value):
    fresh.setenv("ROCSAMPLE_BACKEND", value)
    with pytest.raises(ValueError, match="ROCSAMPLE_BACKEND") as info:
        rocsample.sample(PROBS)
    assert value in str(info.value)
    with pytest.raises(ValueError, match="ROCSAMPLE_BACKEND"):
        rocsample.backend()
    assert rocsample.sample(PROBS, backend="cpu").shape == (8,)  # an explicit name still works


@pytest.mark.parametrize("name", ["bogus", "CPU", "numpy"])
def test_bad_backend_argument(fresh, name):
    with pytest.raises(ValueError, match="backend must be 'auto', 'hip', 'cuda' or 'cpu'"):
        rocsample.sample(PROBS, backend=name)
    with pytest.raises(ValueError, match="backend must be"):
        rocsample.backend(name)


def test_the_library_never_prints(fresh, capfd):
    rocsample.backend()
    rocsample.sample(PROBS, top_k=3, seed=1)
    rocsample.sample_from_logits(LOGITS, temperature=0.0)
    rocsample.softmax(LOGITS)
    rocsample.temperature_scale(LOGITS, 2.0)
    rocsample.cache_info()
    rocsample.FusedSampler(top_k=2, backend="cpu").sample(PROBS)
    with pytest.raises(ValueError):
        rocsample.sample(np.full((1, 3), np.nan, np.float32), backend="cpu")
    fresh.setenv("ROCSAMPLE_BACKEND", "hip")
    reset()
    if HIP_ERROR is not None:
        with pytest.raises(rocsample.BackendUnavailable):
            rocsample.sample(PROBS)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_warmup_on_cpu_has_nothing_to_load():
    assert rocsample.warmup("cpu") == {}


_F32 = np.array([[0.25, 0.75], [0.5, 0.5]], np.float32)
# One valid call of every public function that takes a stream (rocsample's __all__).
_STREAM_CALLS = {
    "sample": lambda **kw: rocsample.sample(_F32, **kw),
    "sample_from_logits": lambda **kw: rocsample.sample_from_logits(_F32, **kw),
    "softmax": lambda **kw: rocsample.softmax(_F32, **kw),
    "temperature_scale": lambda **kw: rocsample.temperature_scale(_F32, 0.5, **kw),
    "reserve": lambda **kw: rocsample.reserve(2, 2, **kw),
    "unary": lambda **kw: rocsample.unary("exp", _F32, **kw),
    "affine": lambda **kw: rocsample.affine(_F32, 2.0, 1.0, **kw),
    "where": lambda **kw: rocsample.where((_F32 > 0.3).astype(np.uint8), _F32, _F32, **kw),
    "launch_elementwise": lambda **kw: rocsample.launch_elementwise(
        "ucopy_f32", 0, (0,), {}, {"inp": 0, "out": 0}, **kw),
    "swiglu": lambda **kw: rocsample.swiglu(_F32, _F32, **kw),
    "silu_and_mul": lambda **kw: rocsample.silu_and_mul(_F32, **kw),
    "rms_norm": lambda **kw: rocsample.rms_norm(_F32, _F32[0], **kw),
    "fused_add_rms_norm": lambda **kw: rocsample.fused_add_rms_norm(_F32.copy(), _F32.copy(),
                                                                     _F32[0], **kw),
}


def test_every_public_function_with_a_stream_is_covered_below():
    takes = {n for n in rocsample.__all__ if callable(getattr(rocsample, n))
             and not isinstance(getattr(rocsample, n), type)
             and "stream" in inspect.signature(getattr(rocsample, n)).parameters}
    assert takes == set(_STREAM_CALLS)


@pytest.mark.parametrize("name", sorted(_STREAM_CALLS))
def test_stream_and_device_arguments_are_checked_by_every_function(name):
    call = _STREAM_CALLS[name]

    class TorchLikeStream:
        cuda_stream = 0

    call(backend="cpu", stream=TorchLikeStream())  # a stream object is taken by its handle
    for bad, err, words in (("1", TypeError, "stream must be None"),
                            (1.0, TypeError, "stream must be None"),
                            (True, TypeError, "stream must be None"),
                            (-3, ValueError, "stream must be a non-negative handle")):
        with pytest.raises(err, match=words):
            call(backend="cpu", stream=bad)
    for bad, err in (("0", TypeError), (-1, ValueError), (0.0, TypeError)):
        with pytest.raises(err, match="device must be"):
            call(backend="cpu", device=bad)
