"""Argument checking of the public API, on the cpu backend.

Every bad argument must raise ValueError or TypeError whose message names the argument and
what is allowed; every valid edge value must be accepted. All calls go through the public
functions (``rocsample.sample``, ``sample_from_logits``, ``softmax``, ``temperature_scale``)
with ``backend="cpu"``, so nothing here depends on a GPU.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import rocsample
from rocsample.backends.cpu_engine import VOCAB_MAX

PROBS = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]], dtype=np.float32)
LOGITS = np.log(PROBS)


def sample(probs=PROBS, **kw):
    return rocsample.sample(probs, backend="cpu", **kw)


def from_logits(logits=LOGITS, **kw):
    return rocsample.sample_from_logits(logits, backend="cpu", **kw)


class CudaArrayOnly:
    """Looks like a device array: only ``shape`` and ``__cuda_array_interface__``."""

    def __init__(self, shape):
        self.shape = shape
        self.__cuda_array_interface__ = {"version": 3, "shape": shape, "typestr": "<f4",
                                         "data": (0x1000, False), "strides": None}


# ---- the probability / logits matrix ----


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.uint16])
@pytest.mark.parametrize("fn", ["sample", "sample_from_logits", "softmax", "temperature_scale"])
def test_wrong_dtype_is_a_type_error_naming_float32(fn, dtype):
    x = PROBS.astype(dtype)
    call = {
        "sample": lambda: sample(x),
        "sample_from_logits": lambda: from_logits(x),
        "softmax": lambda: rocsample.softmax(x, backend="cpu"),
        "temperature_scale": lambda: rocsample.temperature_scale(x, 1.0, backend="cpu"),
    }[fn]
    with pytest.raises(TypeError, match="float32") as info:
        call()
    assert np.dtype(dtype).name in str(info.value)
    assert ("probs" if fn == "sample" else "logits") in str(info.value)


@pytest.mark.parametrize("shape", [(3,), (1, 2, 3), (2, 1, 1, 3)])
def test_not_two_dimensional(shape):
    x = np.ones(shape, np.float32)
    with pytest.raises(ValueError, match=r"probs must be 2-D \(batch, vocab\)") as info:
        sample(x)
    assert str(shape) in str(info.value)
    with pytest.raises(ValueError, match=r"logits must be 2-D"):
        from_logits(x)
    with pytest.raises(ValueError, match=r"logits must be 2-D"):
        rocsample.softmax(x, backend="cpu")


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0, 0)])
def test_empty_matrix(shape):
    x = np.ones(shape, np.float32)
    with pytest.raises(ValueError, match="probs must not be empty") as info:
        sample(x)
    assert str(shape) in str(info.value)
    with pytest.raises(ValueError, match="logits must not be empty"):
        from_logits(x)
    with pytest.raises(ValueError, match="logits must not be empty"):
        rocsample.temperature_scale(x, 1.0, backend="cpu")


@pytest.mark.parametrize("value", [[[0.1, 0.9]], (0.5, 0.5), 3.0, "probs"])
def test_non_array_input_is_a_type_error(value):
    with pytest.raises(TypeError, match="probs must be an array"):
        sample(value)


def test_vocab_over_the_limit_is_rejected_before_the_data_is_used():
    assert VOCAB_MAX == 2**23
    # A zero-stride view: 2**23 + 1 columns without allocating them.
    wide = np.broadcast_to(np.ones((1, 1), np.float32), (1, VOCAB_MAX + 1))
    with pytest.raises(ValueError, match=f"vocab {VOCAB_MAX + 1}; at most {VOCAB_MAX}"):
        sample(wide)
    with pytest.raises(ValueError, match=f"at most {VOCAB_MAX}"):
        from_logits(wide)
    with pytest.raises(ValueError, match=f"at most {VOCAB_MAX}"):
        rocsample.softmax(wide, backend="cpu")


def test_vocab_at_the_limit_is_accepted():
    wide = np.broadcast_to(np.ones((1, 1), np.float32), (1, VOCAB_MAX))
    tok = sample(wide, seed=3)
    assert tok.dtype == np.int32 and tok.shape == (1,)
    assert 0 <= int(tok[0]) < VOCAB_MAX


# ---- per-row parameter lengths ----


@pytest.mark.parametrize("name,value", [
    ("top_k", np.array([1, 2, 3])),
    ("top_k", np.array([1])),
    ("top_k", np.array([[1, 2]])),
    ("top_p", np.array([0.5, 0.5, 0.5])),
    ("top_p", np.array([0.5])),
    ("min_p", np.array([0.1, 0.1, 0.1])),
    ("min_p", np.zeros((2, 1))),
])
def test_per_row_length_mismatch(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be a scalar or have one value per row "
                                         r"\(2\)") as info:
        sample(**{name: value})
    assert str(value.shape) in str(info.value)


@pytest.mark.parametrize("value", [np.array([1.0, 1.0, 1.0]), np.array([1.0]),
                                   np.ones((2, 2))])
def test_per_row_temperature_length_mismatch(value):
    pattern = r"temperature must be a scalar or have one value per row \(2\)"
    with pytest.raises(ValueError, match=pattern):
        from_logits(temperature=value)
    with pytest.raises(ValueError, match=pattern):
        rocsample.softmax(LOGITS, value, backend="cpu")
    with pytest.raises(ValueError, match=pattern):
        rocsample.temperature_scale(LOGITS, value, backend="cpu")


def test_per_row_values_on_a_device_are_rejected():
    with pytest.raises(TypeError, match="top_k per-row values must be a host array"):
        sample(top_k=CudaArrayOnly((2,)))


@pytest.mark.parametrize("name", ["top_k", "top_p", "min_p"])
def test_per_row_values_of_a_non_numeric_dtype(name):
    with pytest.raises(TypeError, match=f"{name} must be numeric"):
        sample(**{name: np.array(["a", "b"])})


# ---- top_k ----


def test_negative_top_k_scalar():
    with pytest.raises(ValueError, match=re.escape(
            "top_k must be >= 0 (0 or None: no filter); got -1")):
        sample(top_k=-1)


def test_negative_top_k_per_row_names_the_row():
    with pytest.raises(ValueError, match=r"top_k must be >= 0 .*got -2 in row 1"):
        sample(top_k=np.array([3, -2]))


@pytest.mark.parametrize("value", [2.5, np.array([1.0, 1.5]), np.array([1.0, np.nan])])
def test_non_integer_top_k(value):
    with pytest.raises(TypeError, match="top_k must be an integer"):
        sample(top_k=value)


@pytest.mark.parametrize("value", [2**31, np.array([1, 2**40])])
def test_top_k_beyond_int32(value):
    with pytest.raises(ValueError, match=r"top_k must be < 2\*\*31; got"):
        sample(top_k=value)


@pytest.mark.parametrize("value", ["3", 1 + 2j, object()])
def test_top_k_not_a_number(value):
    with pytest.raises(TypeError, match="top_k must be a number"):
        sample(top_k=value)


@pytest.mark.parametrize("value,shown", [
    (2**63, "< 2**31; got 9223372036854775808"),
    (2**64, "< 2**31; got 18446744073709551616"),
    (2**200, f"< 2**31; got {2**200}"),
    (-2**63 - 1, ">= 0 (0 or None: no filter); got -9223372036854775809"),
    (np.uint64(2**63), "< 2**31; got 9223372036854775808"),
    (np.uint64(2**64 - 1), "< 2**31; got 18446744073709551615"),
    (np.array([1, 2**63], dtype=np.uint64), "< 2**31; got 9223372036854775808 in row 1"),
    (np.array([2**64 - 1, 1], dtype=np.uint64), "< 2**31; got 18446744073709551615 in row 0"),
    ([1, 2**70], f"< 2**31; got {2**70} in row 1"),
    ([-2**70, 1], f">= 0 (0 or None: no filter); got {-2**70} in row 0"),
    (1e300, "< 2**31; got 1e+300"),
])
def test_top_k_far_out_of_range_names_top_k(value, shown):
    """top_k=2**63 raised a bare OverflowError, 2**64 'must be a number', and a uint64 2**63
    was cast to a negative number: every int, numpy int or array gets top_k's own message."""
    with pytest.raises(ValueError) as info:
        sample(top_k=value)
    assert str(info.value) == f"top_k must be {shown}"


@pytest.mark.parametrize("name", ["top_p", "min_p"])
@pytest.mark.parametrize("value", [2**1100, -2**1100, [0.5, 2**1100]])
def test_huge_ints_for_float_parameters_name_them(name, value):
    with pytest.raises(ValueError, match=f"^{name} must be in .*; got -?13582985290"):
        sample(**{name: value})


def test_top_k_edge_of_int32_is_accepted():
    assert sample(top_k=2**31 - 1).shape == (2,)
    assert sample(top_k=np.array([2**31 - 1, 1], dtype=np.uint64)).shape == (2,)
    assert sample(top_k=[np.int64(1), 2]).shape == (2,)


# ---- top_p, min_p, temperature ----


@pytest.mark.parametrize("value", [0, 0.0, -0.1, 1.5, 1.0000001, math.nan, math.inf, -math.inf])
def test_bad_top_p(value):
    with pytest.raises(ValueError, match=re.escape("top_p must be in (0, 1]; got ")) as info:
        sample(top_p=value)
    assert "row" not in str(info.value)  # a scalar has no row


def test_bad_top_p_per_row_names_the_row():
    with pytest.raises(ValueError, match=re.escape("top_p must be in (0, 1]; got nan in row 1")):
        sample(top_p=np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match=re.escape("top_p must be in (0, 1]; got 1.5 in row 0")):
        sample(top_p=[1.5, 0.5])


@pytest.mark.parametrize("value", [-0.1, 1.1, math.nan, math.inf, -1e-30])
def test_bad_min_p(value):
    with pytest.raises(ValueError, match=re.escape("min_p must be in [0, 1]; got ")):
        sample(min_p=value)


def test_bad_min_p_per_row_names_the_row():
    with pytest.raises(ValueError, match=re.escape("min_p must be in [0, 1]; got -0.5 in row 1")):
        sample(min_p=np.array([0.0, -0.5]))


@pytest.mark.parametrize("value", [-1, -1e-9, math.nan, -math.inf])
@pytest.mark.parametrize("fn", ["sample_from_logits", "softmax", "temperature_scale"])
def test_bad_temperature(fn, value):
    call = {
        "sample_from_logits": lambda: from_logits(temperature=value),
        "softmax": lambda: rocsample.softmax(LOGITS, value, backend="cpu"),
        "temperature_scale": lambda: rocsample.temperature_scale(LOGITS, value, backend="cpu"),
    }[fn]
    with pytest.raises(ValueError, match=re.escape("temperature must be in [0, inf)")):
        call()


def test_infinite_temperature_is_outside_the_documented_range():
    # The message promises [0, inf): +inf must be rejected like every other value outside it.
    with pytest.raises(ValueError, match=re.escape("temperature must be in [0, inf)")):
        from_logits(temperature=math.inf)
    with pytest.raises(ValueError, match=re.escape("temperature must be in [0, inf)")):
        rocsample.softmax(LOGITS, np.array([1.0, np.inf]), backend="cpu")


@pytest.mark.parametrize("value", [1e-45, 1e-40, 1.1754942e-38, 1e-50, 5e-324,
                                   np.float32(1e-45), np.array([1.0, 1e-45]),
                                   np.array([1.0, 1e-45], np.float32), [1.0, 1e-50]])
@pytest.mark.parametrize("fn", ["sample_from_logits", "softmax", "temperature_scale"])
def test_subnormal_temperature_is_refused(fn, value):
    """A temperature below the smallest normal float32 gave token -1 and NaN rows (1e-45) or
    silently greedy ones (1e-50, 0 in float32), with a RuntimeWarning on stderr; a GPU may
    flush it to 0. Greedy is spelt 0."""
    call = {
        "sample_from_logits": lambda: from_logits(temperature=value),
        "softmax": lambda: rocsample.softmax(LOGITS, value, backend="cpu"),
        "temperature_scale": lambda: rocsample.temperature_scale(LOGITS, value, backend="cpu"),
    }[fn]
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    assert msg.startswith("temperature must be 0 (greedy) or >= 1.1754944e-38")
    assert msg.endswith("pass 0 for greedy sampling")
    assert (" in row 1" in msg) == (np.ndim(value) == 1)


def test_smallest_normal_temperature_is_greedy_or_invalid_without_warnings():
    """At T = 1.1754944e-38, logit / T stays finite for logits below about 4 (the row is
    sampled, which is greedy in practice) and overflows above (the row is invalid, -1, as a
    GPU computes it); numpy must not print RuntimeWarnings on the way."""
    t = float(np.finfo(np.float32).tiny)
    logits = np.array([[0.0, 1.0, 2.0], [0.0, 5.0, 10.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert from_logits(logits, temperature=t, seed=3).tolist() == [2, -1]
        probs = rocsample.softmax(logits, t, backend="cpu")
        scaled = rocsample.temperature_scale(logits, t, backend="cpu")
    assert probs[0].tolist() == [0.0, 0.0, 1.0] and np.isnan(probs[1]).all()
    assert np.isposinf(scaled[1, 1:]).all() and np.isfinite(scaled[0]).all()


def test_bad_temperature_per_row_names_the_row():
    with pytest.raises(ValueError, match=r"temperature must be in \[0, inf\).*got -1.0 in row 1"):
        from_logits(temperature=np.array([0.5, -1.0]))


def test_temperature_none():
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        from_logits(temperature=None)


@pytest.mark.parametrize("name,value", [("top_p", 1e-50), ("top_p", 1.00000001),
                                        ("min_p", 1.00000001), ("temperature", 1e39)])
def test_scalar_and_per_row_values_are_judged_alike(name, value):
    """A value is valid or not whether given once or once per row (same message, same value)."""

    def outcome(v):
        try:
            if name == "temperature":
                from_logits(temperature=v)
            else:
                sample(**{name: v})
        except ValueError as exc:
            return str(exc).split("; got ")[-1].replace(" in row 0", "")
        return "accepted"

    assert outcome(value) == outcome(np.array([value, value]))


# ---- seed and offset ----


@pytest.mark.parametrize("name", ["seed", "offset"])
@pytest.mark.parametrize("value", [-1, 2**64, 2**70, np.int64(-5)])
def test_seed_offset_out_of_range(name, value):
    with pytest.raises(ValueError, match=re.escape(f"{name} must be in [0, 2**64); got {value}")):
        sample(**{name: value})
    with pytest.raises(ValueError, match=re.escape(f"{name} must be in [0, 2**64)")):
        from_logits(**{name: value})


@pytest.mark.parametrize("name", ["seed", "offset"])
@pytest.mark.parametrize("value", [1.0, 0.0, True, False, np.bool_(True), "1", None,
                                   np.float32(2)])
def test_seed_offset_wrong_type(name, value):
    with pytest.raises(TypeError, match=re.escape(f"{name} must be an int in [0, 2**64)")):
        sample(**{name: value})


@pytest.mark.parametrize("value", [0, 2**64 - 1, np.uint64(2**64 - 1), np.int32(7)])
def test_seed_offset_edges_accepted(value):
    assert sample(seed=value, offset=value).shape == (2,)


# ---- method ----


def test_unknown_method():
    with pytest.raises(ValueError, match=r"method must be 'auto', 'fused', 'topk' or 'topp'"):
        sample(method="greedy")


# ---- non-finite host probabilities ----

BAD = np.array([[np.nan, 1, 1], [0.2, 0.3, 0.5], [-1, 2, 1], [0, 0, 0], [np.inf, 1, 1],
                [1, 1, -np.inf], [0.0, -0.0, 1e-45]], dtype=np.float32)


def test_bad_rows_are_named_with_the_hint():
    with pytest.raises(ValueError) as info:
        sample(BAD)
    msg = str(info.value)
    assert "probs has 5 invalid row(s)" in msg
    assert "rows 0, 2, 3, 4, 5;" in msg
    assert "check_inputs=False" in msg


def test_many_bad_rows_are_abbreviated():
    probs = np.full((25, 4), np.nan, np.float32)
    with pytest.raises(ValueError, match=r"25 invalid row\(s\).*rows 0, 1, .*, 9 \.\.\.;"):
        sample(probs)


def test_check_inputs_false_gives_minus_one_for_bad_rows_only():
    tok = sample(BAD, check_inputs=False, seed=11)
    assert tok.tolist()[:6] == [-1, int(tok[1]), -1, -1, -1, -1]
    assert 0 <= tok[1] < 3
    assert tok[6] == 2  # a denormal is a positive probability: the only one here
    good = sample(np.ascontiguousarray(BAD[[1]]), seed=11, check_inputs=False)
    assert good.shape == (1,)


@pytest.mark.parametrize("value", ["no", "False", "0", "", "yes", 0, 1, 0.0, [False],
                                   np.array([True])])
def test_check_inputs_must_be_a_bool(value):
    """check_inputs="no" used to count as true (bool("no")): anything but a bool or None is a
    TypeError naming it."""
    with pytest.raises(TypeError) as info:
        sample(BAD, check_inputs=value)
    assert str(info.value).startswith("check_inputs must be True, False or None; got ")


def test_check_inputs_numpy_bools_are_bools():
    assert sample(BAD, check_inputs=np.bool_(False))[0] == -1
    with pytest.raises(ValueError, match="invalid row"):
        sample(BAD, check_inputs=np.bool_(True))


def test_check_inputs_from_the_environment(monkeypatch):
    monkeypatch.setenv("ROCSAMPLE_CHECK_INPUTS", "0")
    assert sample(BAD).tolist()[0] == -1
    with pytest.raises(ValueError, match="invalid row"):
        sample(BAD, check_inputs=True)  # the argument wins over the environment
    monkeypatch.setenv("ROCSAMPLE_CHECK_INPUTS", "1")
    with pytest.raises(ValueError, match="invalid row"):
        sample(BAD)
    assert sample(BAD, check_inputs=False)[0] == -1


# ---- valid edge values ----


@pytest.mark.parametrize("kw", [
    {"top_p": 1}, {"top_p": 1.0}, {"top_p": np.float32(1e-30)}, {"top_p": np.array([1.0, 0.5])},
    {"min_p": 0}, {"min_p": 1}, {"min_p": 1.0}, {"min_p": np.array([0.0, 1.0])},
    {"top_k": 0}, {"top_k": None}, {"top_k": 3}, {"top_k": 10**6}, {"top_k": 2.0},
    {"top_k": np.array([0, 3])}, {"top_k": np.uint8(1)},
    {"top_k": None, "top_p": None, "min_p": None},
    {"top_k": [1, 0], "top_p": [0.3, 1.0], "min_p": [0.0, 1.0]},
])
def test_valid_edges_are_accepted(kw):
    tok = sample(seed=5, **kw)
    assert tok.dtype == np.int32 and tok.shape == (2,)
    assert all(0 <= t < 3 for t in tok.tolist())


def test_edge_values_mean_what_they_say():
    # top_k = V and top_k = 0 keep everything; min_p = 1 keeps only the maximum.
    for seed in range(20):
        assert (sample(top_k=3, seed=seed) == sample(seed=seed)).all()
        assert (sample(top_k=0, seed=seed) == sample(seed=seed)).all()
        assert (sample(top_p=1.0, seed=seed) == sample(seed=seed)).all()
        assert (sample(min_p=0.0, seed=seed) == sample(seed=seed)).all()
        assert sample(min_p=1.0, seed=seed)[0] == 1
        assert sample(top_k=1, seed=seed)[0] == 1


@pytest.mark.parametrize("t", [0, 0.0, 1e-30, 100.0, np.array([0.0, 2.0])])
def test_valid_temperatures(t):
    tok = from_logits(temperature=t)
    assert tok.shape == (2,)
    assert rocsample.softmax(LOGITS, t, backend="cpu").shape == LOGITS.shape
    assert rocsample.temperature_scale(LOGITS, t, backend="cpu").shape == LOGITS.shape


# ---- arrays and a numpy out (validation.check_array, on_host, fill_out) ----


class _CAI:
    """A stand-in exporter of ``__cuda_array_interface__`` (a device array's protocol)."""

    __cuda_array_interface__ = {"shape": (2,), "typestr": "<f4", "data": (0, False),
                                "version": 3}


@pytest.mark.parametrize("value", [[1.0, 2.0], None, "probs", 3.0, (1, 2)])
def test_what_is_no_array_is_named_with_its_type(value):
    from rocsample.validation import check_array

    with pytest.raises(TypeError, match=rf"^weight must be an array \(numpy, torch, cupy, "
                                        rf"DeviceBuffer\); got {type(value).__name__}$"):
        check_array("weight", value)
    check_array("x", np.float32(1))  # numpy scalars and device arrays are arrays
    check_array("x", _CAI())


def test_on_host_names_which_operands_are_where():
    from rocsample.validation import on_host

    a = np.ones(2, np.float32)
    assert on_host(x=a, weight=a) is True
    assert on_host(gate=_CAI(), up=_CAI()) is False
    with pytest.raises(TypeError, match=r"^mix of numpy and device arrays: x, residual on the "
                                        r"host \(numpy\), weight on the device; pass all"):
        on_host(x=a, residual=a, weight=_CAI())
    with pytest.raises(TypeError, match="^up must be an array"):
        on_host(gate=a, up=[1.0])


def test_fill_out_checks_everything_before_it_writes():
    from rocsample.buffers import BFLOAT16
    from rocsample.validation import fill_out

    result = np.arange(4, dtype=np.float32)
    out = np.zeros(4, np.float32)
    assert fill_out(out, result) is out and out.tolist() == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="^out must be a numpy array for numpy inputs; got list"):
        fill_out([0.0] * 4, result)
    with pytest.raises(ValueError, match=r"^out must be a float32 array of shape \(4,\); got "
                                         r"bfloat16 \(4,\)$"):
        fill_out(np.zeros(4, BFLOAT16), result)
    with pytest.raises(ValueError, match=r"^probs must be a bfloat16 array of shape \(2,\); got "
                                         r"float16 \(2,\)$"):
        fill_out(np.zeros(2, np.float16), np.zeros(2, BFLOAT16), "probs")
    ro = np.full(4, 7.0, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="^out is read-only: pass a writeable array"):
        fill_out(ro, result)
    assert ro.tolist() == [7.0] * 4


def test_read_only_out_is_named_by_every_sampling_function():
    ro = np.zeros(2, np.int32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="^out is read-only"):
        sample(out=ro)
    with pytest.raises(ValueError, match="^out is read-only"):
        from_logits(out=ro)
    rp = np.zeros(PROBS.shape, np.float32)
    rp.flags.writeable = False
    for fn in (rocsample.softmax, rocsample.temperature_scale):
        with pytest.raises(ValueError, match="^out is read-only"):
            fn(LOGITS, 1.0, out=rp, backend="cpu")
    assert not rp.any() and not ro.any()


@pytest.mark.parametrize("value", ["2", None, [1.0], True, np.bool_(False), 1 + 2j])
def test_a_scalar_argument_is_a_real_number_named_when_not(value):
    """eps, affine's mul and add and a unary op's param: every family refuses by name what
    is not a real number (affine's mul once surfaced as float()'s own message)."""
    x8, w8 = np.ones((1, 8), np.float32), np.ones(8, np.float32)
    calls = {"eps": lambda: rocsample.rms_norm(x8, w8, eps=value),
             "mul": lambda: rocsample.affine(w8, value, 1.0),
             "add": lambda: rocsample.affine(w8, 1.0, value),
             "param": lambda: rocsample.unary("powf", w8, param=value)}
    if value is None:  # no param at all: powf says it needs one
        with pytest.raises(ValueError, match="^op 'powf' needs param$"):
            calls.pop("param")()
    for name, call in calls.items():
        with pytest.raises(TypeError, match=rf"^{name} must be a real number; got "):
            call()
    assert rocsample.affine(w8, np.float32(2), 3)[0] == 5.0  # numpy and int numbers pass
