"""The sampling family through the generic executor (rocsample/ops/sampling.py recipes run by
GpuBackend), on the stand-in device of tests/host_device.py whose kernels compute the numpy
mirror from their packed arguments.

Checked: the tokens and values equal the cpu backend's; every launch's kernel, grid, block and
arguments follow the grid rules' documented figures (the doctests of _blocks_per_row and
_rows_op_blocks: on 132 SMs, 1 x 128256 gets 32 blocks a row, 32 x 128256 four...); a
replayed plan patches seed, offset and the per-call buffers and gives what the general path
gives.
"""

from __future__ import annotations

import numpy as np
import pytest

import rocsample
from rocsample.backends import cpu_engine
from rocsample.buffers import DeviceBuffer
from rocsample.ops import sampling
from rocsample.registry import BLOCK_SIZE, ws_prefix_words

from .host_device import TwinKernels
from .kernel_device import stand_in


@pytest.fixture
def gpu(monkeypatch):
    """The stand-in device running the numpy twin (exact softmax: numpy's; the kernels' own
    code runs in test_kernel_host.py, test_seeds.py and test_capture.py)."""
    b = stand_in("twin", monkeypatch)
    yield b
    b.close()


def _probs(rows: int, vocab: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, vocab)).astype(np.float32) * 3
    return cpu_engine.softmax(x)


def _launches(gpu, overlaps=None):
    """(kernel, grid, block, args) of the launches so far, forgotten once read; how each was
    launched (overlap) is appended to ``overlaps``."""
    out = list(gpu.rt.launches)
    if overlaps is not None:
        overlaps.extend(gpu.rt.overlaps)
    gpu.rt.launches.clear()
    gpu.rt.overlaps.clear()
    return out


CASES = [
    {},
    dict(top_k=50),
    dict(top_p=0.9),
    dict(min_p=0.05),
    dict(top_k=40, top_p=0.8),
    dict(top_k=20, top_p=0.9, min_p=0.01),
    dict(top_k=np.array([1, 0, 7, 300], np.int64)),
    dict(top_p=np.array([0.5, 1.0, 0.9, 0.2]), min_p=np.array([0.0, 0.1, 0.0, 0.3])),
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("where", ["host", "device"])
def test_sample_matches_the_cpu_backend(gpu, case, where):
    kw = CASES[case]
    probs = _probs(4, 9000, case)
    x = probs if where == "host" else DeviceBuffer.from_numpy(gpu.rt, probs)
    for seed, offset in ((1, 0), (7, 3)):
        got = rocsample.sample(x, seed=seed, offset=offset, **kw)
        got = got if where == "host" else got.numpy()
        want = rocsample.sample(probs, seed=seed, offset=offset, backend="cpu", **kw)
        np.testing.assert_array_equal(got, want)
        # cpu_engine.sample_rows is not a copy of what the stand-in ran: the same tokens
        # come from the API's own numpy backend above.


@pytest.mark.parametrize("method,kw", [("topk", dict(top_k=3)), ("topp", dict(top_p=0.7)),
                                       ("fused", dict(top_k=3))])
def test_each_method_matches_the_cpu_backend(gpu, method, kw):
    probs = _probs(5, 12000, 4)
    got = rocsample.sample(probs, seed=3, method=method, **kw)
    np.testing.assert_array_equal(got, rocsample.sample(probs, seed=3, backend="cpu", **kw))
    kernels = [k for k, *_ in _launches(gpu)]
    assert kernels == {"topk": ["topk_sampling"], "fused": ["topk_topp_sampling"],
                       "topp": ["topp_prefix_sum", "topp_threshold", "topp_sample"]}[method]


@pytest.mark.parametrize("companions", [True, False])
@pytest.mark.parametrize("temperature", [1.0, 0.5, 0.0, np.array([0.5, 1.0, 0.0], np.float32)])
def test_logit_operations_match_the_cpu_backend(gpu, companions, temperature):
    gpu.kernels = TwinKernels(companions=companions)
    logits = np.random.default_rng(2).standard_normal((3, 20000)).astype(np.float32) * 4
    logits[1, ::7] = -np.inf
    dev = DeviceBuffer.from_numpy(gpu.rt, logits)
    for x, host in ((logits, True), (dev, False)):
        for op in (rocsample.softmax, rocsample.temperature_scale):
            got = op(x, temperature)
            got = got if host else got.numpy()
            np.testing.assert_array_equal(got, op(logits, temperature, backend="cpu"))
        got = rocsample.sample_from_logits(x, temperature=temperature, top_k=30, seed=5,
                                           offset=2)
        got = got if host else got.numpy()
        want = rocsample.sample_from_logits(logits, temperature=temperature, top_k=30, seed=5,
                                            offset=2, backend="cpu")
        np.testing.assert_array_equal(got, want)


def test_plain_sampling_launch_is_the_documented_one(gpu):
    """32 x 128256 on 132 SMs, no filter: the fused entry, one phase, 8 blocks a row (two
    blocks an SM, _per_sm: spans of four sub-chunks), every argument by its name."""
    probs = _probs(32, 128256)
    buf = DeviceBuffer.from_numpy(gpu.rt, probs)
    out = rocsample.sample(buf, seed=9, offset=4)
    (kernel, grid, block, args), = _launches(gpu)
    assert (kernel, grid, block) == ("topk_topp_sampling", (32, 8), BLOCK_SIZE)
    ws = args.pop("ws")
    assert ws != 0
    assert args == {"probs": buf.ptr, "row_stride": 128256, "batch": 32, "vocab": 128256,
                    "top_k": 0, "top_k_val": 0, "top_p": 0, "top_p_val": 1.0, "min_p": 0,
                    "min_p_val": 0.0, "seed": 9, "offset": 4, "seeds": 0, "offsets": 0,
                    "out": out.ptr, "phase": 0, "nphase": 1}
    np.testing.assert_array_equal(out.numpy(), cpu_engine.sample_rows(probs, seed=9, offset=4))


def test_top_k_one_row_takes_a_block_per_sub_chunk(gpu):
    """top-k 50 alone: topk_sampling, two blocks per SM for the one-read candidate path from
    12 sub-chunks on (_per_sm), so 1 x 128256 gets all its 32 sub-chunks (min(32, 264))."""
    probs = _probs(1, 128256, 1)
    rocsample.sample(probs, top_k=50, seed=1)
    (kernel, grid, _, args), = _launches(gpu)
    assert (kernel, grid, args["top_k_val"], args["top_k"], args["nphase"]) == \
        ("topk_sampling", (1, 32), 50, 0, 1)


@pytest.mark.parametrize("kw,vocab,rise", [
    (dict(top_k=50), 128256, False),  # 50 x 32 sub-chunks = 1600 <= RISE_CAND (3072)
    (dict(top_k=50), 262144, True),  # 50 x 64 = 3200
    (dict(top_k=96), 128256, False),  # 96 x 32 = 3072: not above
    (dict(top_k=97), 128256, True),
    (dict(top_k=200), 262144, False),  # above KCAND: no candidate scan
    (dict(top_k=np.array([1, 100, 0], np.int64)), 128256, True),  # the largest decides
    (dict(top_k=np.array([1, 90, 0], np.int64)), 128256, False),
    (dict(top_k=100, top_p=0.9), 128256, True),  # the fused entry
    (dict(top_p=0.9), 262144, False),
])
@pytest.mark.parametrize("kind", ["f32", "bf16"])
def test_rows_of_many_candidates_take_the_rise_entries(gpu, kw, vocab, rise, kind):
    """Top-k rows of k x sub-chunks > registry.RISE_CAND launch the *_rise entry of their
    kernel (and of their element type), other rows the entry of before; the tokens are the
    cpu backend's; sample_from_logits alike (logits_sampling_rise)."""
    from rocsample.buffers.dtypes import BFLOAT16, widen_to_f32

    probs = _probs(3, vocab, 2)
    x = probs if kind == "f32" else \
        (probs.view(np.uint32) >> np.uint32(16)).astype(np.uint16).view(BFLOAT16)
    want = rocsample.sample(widen_to_f32(x) if kind != "f32" else x, seed=3, backend="cpu", **kw)
    got = rocsample.sample(x, seed=3, **kw)
    base = "topk_sampling" if set(kw) == {"top_k"} else "topk_topp_sampling"
    sfx = "" if kind == "f32" else "_" + kind
    assert {k for k, *_ in _launches(gpu)} == {base + ("_rise" if rise else "") + sfx}
    np.testing.assert_array_equal(got, want)
    logits = np.log(probs)
    rocsample.sample_from_logits(logits, seed=3, **kw)
    kernels = [k for k, *_ in _launches(gpu)]
    assert kernels[-1] == "logits_sampling" + ("_rise" if rise else ""), kernels


@pytest.mark.parametrize("rows,vocab,kind,rise", [
    (264, 98304, "bf16", True),  # G = 1: a block spans 24 sub-chunks (RISE_SPAN 2-byte: 24)
    (264, 94208, "bf16", False),  # 23
    (264, 128256, "f32", False),  # float rows: 32 < 40
    (264, 163840, "f32", True),  # 40 sub-chunks
    (132, 163840, "bf16", False),  # G = 2: 20
    (132, 229376, "bf16", True),  # G = 2: 28 (50 x 56 = 2800 <= RISE_CAND)
])
def test_topk_rows_of_long_spans_take_the_rise_entries(gpu, rows, vocab, kind, rise):
    """Top-k rows whose blocks span at least registry.RISE_SPAN sub-chunks (float, 2-byte)
    take the rise entries whatever their candidates; the tokens are the cpu backend's."""
    from rocsample.buffers.dtypes import BFLOAT16, widen_to_f32

    probs = _probs(rows, vocab, 3)
    x = probs if kind == "f32" else \
        (probs.view(np.uint32) >> np.uint32(16)).astype(np.uint16).view(BFLOAT16)
    got = rocsample.sample(x, top_k=50, seed=3)
    (kernel, grid, *_), = _launches(gpu)
    sfx = "" if kind == "f32" else "_" + kind
    assert kernel == "topk_sampling" + ("_rise" if rise else "") + sfx, (kernel, grid)
    np.testing.assert_array_equal(got, rocsample.sample(
        widen_to_f32(x) if kind != "f32" else x, top_k=50, seed=3, backend="cpu"))


@pytest.mark.parametrize("rows,vocab,kind,rise", [
    (264, 163840, "f32", True),  # G = 1: a block spans 40 sub-chunks (RISE_SPAN float: 40)
    (264, 159744, "f32", False),  # 39
    (264, 229376, "bf16", False),  # 2-byte logit rows never rise by their span (56 here)
    (264, 262144, "bf16", True),  # ... but by their candidates: 50 x 64 = 3200 > RISE_CAND
])
def test_logit_rows_take_the_rise_entries_by_span_only_as_floats(gpu, rows, vocab, kind,
                                                                  rise):
    """sample_from_logits' top-k rows of G = 1 take logits_sampling_rise from the float span
    threshold whatever their element type (the kernel never holds logit rows packed), and
    2-byte ones only by their candidates (sampling._rise_span); the tokens are the cpu
    backend's on the widened rows."""
    from rocsample.buffers.dtypes import narrow_f32, widen_to_f32

    x = narrow_f32(np.log(_probs(rows, vocab, 5)), kind)
    got = rocsample.sample_from_logits(x, top_k=50, seed=4)
    kernels = [k for k, *_ in _launches(gpu)]
    sfx = "" if kind == "f32" else "_" + kind
    assert kernels[-1] == "logits_sampling" + ("_rise" if rise else "") + sfx, kernels
    np.testing.assert_array_equal(got, rocsample.sample_from_logits(
        widen_to_f32(x) if kind != "f32" else x, top_k=50, seed=4, backend="cpu"))


def test_a_code_object_without_the_rise_entries_serves_every_row(gpu, monkeypatch):
    """Without the rise entries (has_companion says no: their kernel's variable set and
    theirs not, KernelCache.companion) the entry of before runs the rows the rise entries
    would have, to the same tokens."""
    real = gpu.has_companion
    monkeypatch.setattr(gpu, "has_companion", lambda name: "_rise" not in name and real(name))
    probs = _probs(2, 262144, 4)
    got = rocsample.sample(probs, top_k=50, seed=5)
    (kernel, *_), = _launches(gpu)
    assert kernel == "topk_sampling"
    np.testing.assert_array_equal(got, rocsample.sample(probs, top_k=50, seed=5, backend="cpu"))


@pytest.mark.parametrize("rows,want", [(128, [((128, 2), 0, 2, False), ((128, 2), 1, 2, True)]),
                                       (512, [((512, 1), 0, 2, False)])])
def test_top_p_takes_two_phases_unless_a_row_has_one_block(gpu, rows, want):
    """top-p 0.9 alone: two phases, two blocks per SM (128 rows: 264 // 128 = 2 blocks a
    row, the second launch a later phase that may overlap); from 264 rows on one block a
    row chains both phases in a single launch (nphase still 2)."""
    gpu.kernels = TwinKernels(grid_wait=True)
    probs = _probs(rows, 10000, 2)
    tokens = rocsample.sample(probs, top_p=0.9, seed=2)
    overlaps: list[bool] = []
    launches = _launches(gpu, overlaps)
    got = [(grid, args["phase"], args["nphase"], overlap)
           for (_, grid, _, args), overlap in zip(launches, overlaps, strict=True)]
    assert got == want
    np.testing.assert_array_equal(tokens, cpu_engine.sample_rows(probs, top_p=0.9, seed=2))


@pytest.mark.parametrize("rows,vocab,g", [(1, 128256, 32), (32, 128256, 4), (128, 20000, 4),
                                          (256, 20000, 2)])
def test_softmax_grids_follow_rows_op_blocks(gpu, rows, vocab, g):
    """_rows_op_blocks' doctest on 132 SMs: 1 row x 128256 32 blocks, 32 rows 4, 128 rows 4
    (at least four while they fit under four a SM), 256 rows 2. softmax with its
    companions: stats then write, both (rows, G), sharing the row pairs after the workspace
    prefix; without them one block a row; temperature_scale (rows, G)."""
    logits = np.random.default_rng(rows).standard_normal((rows, vocab)).astype(np.float32)
    rocsample.softmax(logits, 0.5)
    (k1, g1, _, a1), (k2, g2, _, a2) = _launches(gpu)
    assert (k1, g1, k2, g2) == ("softmax_stats", (rows, g), "softmax_write", (rows, g))
    assert a1["part"] == a2["part"] and a2["out_stride"] == vocab
    ws = gpu.memory._ws[0][0].ptr
    assert a1["part"] == ws + 8 * ws_prefix_words(rows)
    assert (a1["temperature"], a1["temperature_val"]) == (0, 0.5)
    rocsample.temperature_scale(logits, 0.5)
    (kernel, grid, _, args), = _launches(gpu)
    assert (kernel, grid, args["batch"], args["vocab"]) == ("temperature_scale", (rows, g),
                                                            rows, vocab)
    gpu.kernels = TwinKernels(companions=False)
    rocsample.softmax(logits, 0.5)
    (kernel, grid, _, _), = _launches(gpu)
    assert (kernel, grid) == ("softmax", (rows, 1))


@pytest.mark.parametrize("kind", ["f16", "bf16"])
@pytest.mark.parametrize("rows,vocab,split", [(3, 20000, True), (300, 9001, False)])
def test_half_results_launch_their_entries_and_equal_the_cpu_backend(gpu, kind, rows, vocab,
                                                                      split):
    """``out_dtype`` the logits' own type: the _DT_DT entries write a (rows, vocab) matrix of
    that type (softmax's stats entry is the half-input one; its write the half-output one),
    equal to the cpu backend's (the float32 result rounded once); the caller's ``out`` of that
    type is written in place and replayed; a code object without the entries, an out of
    another type, or a type the logits cannot give are refused by name."""
    from rocsample.buffers.dtypes import narrow_f32, widen_to_f32

    name = {"f16": "float16", "bf16": "bfloat16"}[kind]
    x = narrow_f32((np.random.default_rng(rows).standard_normal((rows, vocab)) * 3)
                   .astype(np.float32), kind)
    buf = DeviceBuffer.from_numpy(gpu.rt, x)
    for op in ("softmax", "temperature_scale"):
        fn = getattr(rocsample, op)
        want = fn(x, 0.5, out_dtype=name, backend="cpu")
        assert want.dtype == x.dtype
        np.testing.assert_array_equal(want.view(np.uint16), narrow_f32(
            fn(widen_to_f32(x), 0.5, backend="cpu"), kind).view(np.uint16))
        got = fn(buf, 0.5, out_dtype=name)
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got.numpy().view(np.uint16), want.view(np.uint16))
        kernels = [(k, g) for k, g, *_ in _launches(gpu)]
        again = fn(buf, 0.5, out_dtype=name)  # replayed: a new result of the same type
        assert again.dtype == x.dtype and again.ptr != got.ptr
        np.testing.assert_array_equal(again.numpy().view(np.uint16), want.view(np.uint16))
        assert [(k, g) for k, g, *_ in _launches(gpu)] == kernels
        # the same call for a float32 result is another plan
        np.testing.assert_array_equal(fn(buf, 0.5).numpy(), fn(x, 0.5, backend="cpu"))
        _launches(gpu)
        if op == "temperature_scale":
            assert [k for k, _ in kernels] == [f"temperature_scale_{kind}_{kind}"]
        elif split:
            assert [k for k, _ in kernels] == [f"softmax_stats_{kind}",
                                               f"softmax_write_{kind}_{kind}"]
        else:
            assert kernels == [(f"softmax_{kind}_{kind}", (rows, 1))]
        out = DeviceBuffer(gpu.rt, (rows, vocab), x.dtype)
        for _ in range(2):  # the second call replays the plan, into the same out
            assert fn(buf, 0.5, out_dtype=x.dtype, out=out) is out
            np.testing.assert_array_equal(out.numpy().view(np.uint16), want.view(np.uint16))
        with pytest.raises(ValueError, match=f"out must be a {name} array"):
            fn(buf, 0.5, out_dtype=name, out=DeviceBuffer(gpu.rt, (rows, vocab), np.float32))
        with pytest.raises(ValueError, match=f"out must be a float32 array .*: a {name} result "
                                             f"needs out_dtype='{name}'"):
            fn(buf, 0.5, out=out)  # a half out without out_dtype: the message says what to do
        with pytest.raises(ValueError, match=f"out_dtype {name} needs {name} logits"):
            fn(DeviceBuffer.from_numpy(gpu.rt, widen_to_f32(x)), 0.5, out_dtype=name)
        _launches(gpu)
    # A code object built before the half-output entries: refused by name; float32 results
    # of the same logits still run from it.
    # Without the split write, the one-block entry serves (as for float32 results).
    gpu.kernels.companion = lambda k: None if k == f"softmax_write_{kind}_{kind}" \
        else TwinKernels().get(k)
    gpu._plans.clear()  # the calls above recorded plans (a backend's code never changes)
    got = rocsample.softmax(buf, 0.5, out_dtype=name)
    assert [(k, g) for k, g, *_ in _launches(gpu)] == [(f"softmax_{kind}_{kind}", (rows, 1))]
    np.testing.assert_array_equal(got.numpy().view(np.uint16), rocsample.softmax(
        x, 0.5, out_dtype=name, backend="cpu").view(np.uint16))
    gpu.kernels.companion = lambda k: None if k.endswith(f"_{kind}_{kind}") \
        else TwinKernels().get(k)
    gpu._plans.clear()
    with pytest.raises(TypeError, match=f"needs the entry softmax_kernel_{kind}_{kind}, which "
                                        "the loaded SAMPLING_UTILS_HSACO code object lacks"):
        rocsample.softmax(buf, 0.5, out_dtype=name)
    with pytest.raises(TypeError, match=f"temperature_scale_kernel_{kind}_{kind}, which the "
                                        "loaded TEMPERATURE_SCALE_HSACO"):
        rocsample.temperature_scale(buf, 0.5, out_dtype=name)
    assert rocsample.softmax(buf, 0.5).dtype == np.float32


def test_out_dtype_names():
    """Names, numpy dtypes and torch's (named "torch.<type>") are taken; anything else is
    refused by name, before any backend runs."""
    from rocsample.buffers import BFLOAT16
    from rocsample.validation import check_out_dtype

    class TorchLike:  # what str() of torch.bfloat16 gives
        def __init__(self, name):
            self.name = name

        def __str__(self):
            return f"torch.{self.name}"

    for given, kind in ((None, "f32"), ("float32", "f32"), (np.float32, "f32"),
                        ("half", "f16"), (np.dtype(np.float16), "f16"), ("bfloat16", "bf16"),
                        (BFLOAT16, "bf16"), (TorchLike("bfloat16"), "bf16"),
                        (TorchLike("float16"), "f16"), (TorchLike("float32"), "f32"),
                        ("f2", "f16"), ("<f4", "f32")):
        assert check_out_dtype(given) == kind, given
        assert check_out_dtype(given) == kind, given  # again: a cached dtype object
    x = np.zeros((1, 4), np.float16)
    # "float" is float64 to numpy and float32 to torch: refused, as are the others
    for bad in ("int8", np.float64, TorchLike("float64"), 16, "bf16", "float", [1]):
        with pytest.raises(TypeError, match="out_dtype must be float32, float16 or bfloat16"):
            rocsample.softmax(x, out_dtype=bad, backend="cpu")


@pytest.mark.parametrize("kw", [dict(top_k=50), dict(), dict(top_p=0.9), dict(min_p=0.1),
                                dict(top_k=40, top_p=0.8)])
def test_sample_from_logits_samples_the_softmax_without_writing_it(gpu, kw):
    """Every filter: the row stats, then the sampler over the logits; nothing else read."""
    logits = np.random.default_rng(6).standard_normal((32, 9000)).astype(np.float32)
    buf = DeviceBuffer.from_numpy(gpu.rt, logits)
    before = gpu.rt.live_allocations
    out = rocsample.sample_from_logits(buf, temperature=0.7, seed=4, **kw)
    launches = _launches(gpu)
    assert [k for k, *_ in launches][:2] == ["softmax_stats", "logits_sampling"]
    assert {k for k, *_ in launches} == {"softmax_stats", "logits_sampling"}
    (_, sgrid, _, stats), (_, grid, _, first) = launches[:2]
    # The sampler reads the logits in place and the stats' G words a row, nothing written
    # between: the scratch is rows x G words, not a (rows, vocab) matrix.
    assert first["logits"] == stats["logits"] == buf.ptr and first["row_stride"] == 9000
    assert first["part"] == stats["part"] and first["part_g"] == sgrid[1] > 1
    assert (first["temperature"], first["temperature_val"]) == (0, np.float32(0.7))
    assert [a["phase"] for *_, a in launches[1:]] == list(range(len(launches) - 1))
    assert grid[1] > 1
    # The scratch went back; what stays is the result's slab and the workspace.
    assert gpu.rt.live_allocations == before + 2
    np.testing.assert_array_equal(out.numpy(), rocsample.sample_from_logits(
        logits, temperature=0.7, seed=4, backend="cpu", **kw))


@pytest.mark.parametrize("why,kw", [("no companions", dict(top_p=0.9)),
                                    ("no companions", dict(top_k=50)),
                                    ("top-p stage overridden", dict(top_p=0.9))])
def test_sample_from_logits_writes_the_softmax_elsewhere(gpu, monkeypatch, why, kw):
    """A code object without softmax_stats (or the logits entry's half companion), or top-p
    stages overridden by their variable (their code reads probabilities): softmax written,
    then sampled; the same tokens."""
    logits = np.random.default_rng(6).standard_normal((32, 9000)).astype(np.float32)
    buf = DeviceBuffer.from_numpy(gpu.rt, logits)
    if why == "no companions":
        gpu.kernels = TwinKernels(companions=False)
    else:
        monkeypatch.setenv(sampling._TOPP_VARS[0], "/nonexistent/topp_prefix_sum.hsaco")
    out = rocsample.sample_from_logits(buf, temperature=0.7, seed=4, **kw)
    launches = _launches(gpu)
    kernels = [k for k, *_ in launches]
    write = launches[kernels.index("softmax" if why == "no companions" else "softmax_write")][3]
    first = launches[-1][3]
    assert "logits_sampling" not in kernels and write["out"] == first["probs"]
    if why != "no companions":
        assert kernels[-3:] == ["topp_prefix_sum", "topp_threshold", "topp_sample"]
    np.testing.assert_array_equal(out.numpy(), rocsample.sample_from_logits(
        logits, temperature=0.7, seed=4, backend="cpu", **kw))


@pytest.mark.parametrize("op,kw", [
    ("sample", dict(top_k=50, top_p=0.9)),
    ("sample", dict(min_p=0.1)),
    ("sample_from_logits", dict(temperature=0.8, top_k=20)),
])
def test_replayed_plan_patches_seed_offset_and_outputs(gpu, monkeypatch, op, kw):
    x = _probs(6, 9000, 8) if op == "sample" else \
        np.random.default_rng(8).standard_normal((6, 9000)).astype(np.float32)
    buf = DeviceBuffer.from_numpy(gpu.rt, x)
    fn = getattr(rocsample, op)
    first = fn(buf, seed=1, offset=0, **kw)  # the general path records the plan
    assert len(gpu._plans) == 1
    recorded = _launches(gpu)

    def general(*a, **k):
        raise AssertionError("a repeated call took the general path")

    monkeypatch.setattr(gpu, "run", general)
    outs = []
    for seed, offset in ((2, 0), (2, 5), (2**64 - 1, 2**63)):
        got = fn(buf, seed=seed, offset=offset, **kw)
        replayed = _launches(gpu)
        assert [(k, g, b) for k, g, b, _ in replayed] == [(k, g, b) for k, g, b, _ in recorded]
        last = replayed[-1][3]
        assert (last["seed"], last["offset"], last["out"]) == (seed, offset, got.ptr)
        want = fn(x, seed=seed, offset=offset, backend="cpu", **kw)
        np.testing.assert_array_equal(got.numpy(), want)
        outs.append(got)
    monkeypatch.undo()
    # Each replay had its own result; the general path (no plan) gives the same tokens.
    assert len({o.ptr for o in [first, *outs]}) == 4
    again = getattr(gpu, op)(buf, *(_args(op, x.shape[0], kw, 2**64 - 1, 2**63)))
    np.testing.assert_array_equal(again.numpy(), outs[-1].numpy())


def _args(op, rows, kw, seed, offset):
    from rocsample.validation import sampling_params

    kw = dict(kw)
    t = kw.pop("temperature", None)
    params = sampling_params(rows, seed=seed, offset=offset, **kw)
    return (params,) if op == "sample" else (t, params)


def test_replayed_softmax_gets_a_new_output(gpu):
    logits = np.random.default_rng(1).standard_normal((4, 20000)).astype(np.float32)
    buf = DeviceBuffer.from_numpy(gpu.rt, logits)
    a = rocsample.softmax(buf, 0.5)
    b = rocsample.softmax(buf, 0.5)
    assert a.ptr != b.ptr and len(gpu._plans) == 1
    np.testing.assert_array_equal(b.numpy(), cpu_engine.softmax(logits, 0.5))
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_moved_workspace_rebuilds_the_plan(gpu):
    small = DeviceBuffer.from_numpy(gpu.rt, _probs(2, 5000, 3))
    rocsample.sample(small, top_k=5, seed=1)
    ws = gpu.memory._ws[0][0].ptr
    rocsample.sample(_probs(64, 9000), top_k=5, seed=1)  # a bigger workspace on stream 0
    assert gpu.memory._ws[0][0].ptr != ws
    got = rocsample.sample(small, top_k=5, seed=3)  # the plan's ws is gone: general path
    np.testing.assert_array_equal(got.numpy(), cpu_engine.sample_rows(small.numpy(), top_k=5,
                                                                       seed=3))
    assert gpu._plans[next(iter(gpu._plans))].ws == gpu.memory._ws[0][0].ptr


def test_every_operation_runs_by_name_and_matches_its_reference(gpu):
    """Each operation of ops/sampling.OPERATIONS through GpuBackend.run by its name, after
    the checks it declares, equals its numpy reference and the cpu backend."""
    from rocsample.ops.sampling import OPERATIONS
    from rocsample.validation import check_method, check_temperature, sampling_params

    x = np.random.default_rng(9).standard_normal((3, 7000)).astype(np.float32)
    probs = cpu_engine.softmax(x)
    args = {"sample": (probs, (sampling_params(3, top_k=9, seed=2), "auto"),
                       dict(top_k=9, seed=2)),
            "softmax": (x, (check_temperature(0.5, 3), "f32"), dict(temperature=0.5)),
            "temperature_scale": (x, (check_temperature(0.5, 3), "f32"),
                                  dict(temperature=0.5)),
            "sample_from_logits": (x, (check_temperature(0.5, 3),
                                       sampling_params(3, top_p=0.8, seed=2)),
                                   dict(temperature=0.5, top_p=0.8, seed=2))}
    assert set(OPERATIONS) == set(args)
    for name, op in OPERATIONS.items():
        data, run_args, kw = args[name]
        assert check_method in op.checks or name != "sample"
        got = gpu.run(name, data, run_args)
        want = getattr(rocsample, name)(data, backend="cpu", **kw)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(op.reference(data, **kw), want)
