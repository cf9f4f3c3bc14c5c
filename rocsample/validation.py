"""Argument checking for the public API: one place, precise messages.

Every error names the argument, what was wrong and what is allowed, e.g.
``ValueError: top_p must be in (0, 1]; got 1.5``.

Example
-------
>>> from rocsample.validation import check_top_k
>>> check_top_k(-1, rows=2)
Traceback (most recent call last):
...
ValueError: top_k must be >= 0 (0 or None: no filter); got -1
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backends.cpu_engine import VOCAB_MAX
from .buffers import as_array_view
from .buffers.dtypes import BFLOAT16, KIND_NAMES, float_kind, widen_to_f32

__all__ = [
    "SamplingParams",
    "check_array",
    "check_bad_rows",
    "check_flag",
    "check_number",
    "device_view",
    "dtype_label",
    "fill_out",
    "on_host",
    "store_result",
    "stream_handle",
    "device_index",
    "MATRIX_DTYPES",
    "check_matrix_shape",
    "check_seed_offset",
    "rng_views",
    "seed_offset_ok",
    "check_temperature",
    "check_out_dtype",
    "out_dtype_hint",
    "result_kind",
    "check_top_k",
    "check_top_p",
    "check_method",
    "check_min_p",
    "sampling_params",
]

Param = None | int | float | np.ndarray  # scalar or one value per row (host only)


@dataclass(frozen=True)
class SamplingParams:
    """Normalised parameters: None, a Python scalar, or a contiguous per-row array."""

    top_k: int | np.ndarray | None
    top_p: float | np.ndarray | None
    min_p: float | np.ndarray | None
    #: An int, a (rows,) uint64 host array, or a device array's ArrayView (read by the kernels).
    seed: Any
    offset: Any


#: The element types of a (batch, vocab) matrix, as error messages name them.
MATRIX_DTYPES = "float32, float16 or bfloat16"


def _dtype_name(dtype: Any) -> str:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        return repr(dtype)
    return dt.name if dt.kind != "V" else f"{dt.str!r} (raw {dt.itemsize}-byte records)"


def check_matrix_shape(name: str, shape: tuple[int, ...], dtype: Any) -> tuple[int, int]:
    """Check a (batch, vocab) matrix's shape and dtype (float32, float16 or bfloat16: see
    :func:`rocsample.buffers.dtypes.float_kind`); return (batch, vocab).

    Example
    -------
    >>> check_matrix_shape("probs", (2, 3), np.int64)
    Traceback (most recent call last):
    ...
    TypeError: probs must be float32, float16 or bfloat16; got int64
    """
    if float_kind(dtype) is None:
        raise TypeError(f"{name} must be {MATRIX_DTYPES}; got {_dtype_name(dtype)}")
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (batch, vocab); got shape {tuple(shape)}")
    rows, vocab = shape
    if rows == 0 or vocab == 0:
        raise ValueError(f"{name} must not be empty; got shape {tuple(shape)}")
    if vocab > VOCAB_MAX:
        raise ValueError(f"{name} has vocab {vocab}; at most {VOCAB_MAX} tokens per row")
    return rows, vocab


def _is_real(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def _per_row(name: str, value: Any, rows: int) -> np.ndarray | int | float | None:
    """None, a Python scalar, or a 1-D host array of one value per row (not yet cast).

    Python ints of any size come back as they are (numpy cannot hold 2**64 or -2**63 - 1 in
    an integer dtype), and so does a list holding such ints (as an object array): the range
    checks judge them exactly instead of numpy raising a bare ``OverflowError``.
    """
    if value is None:
        return None
    if type(value) is int:
        return value
    on_device = hasattr(value, "__cuda_array_interface__") or hasattr(value, "__dlpack_device__")
    if on_device and not isinstance(value, np.ndarray):
        raise TypeError(f"{name} per-row values must be a host array or a scalar")
    arr = np.asarray(value)
    if arr.dtype.kind == "b" or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, not a bool; got {value!r}")
    if arr.ndim == 0:
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a number; got {type(value).__name__}")
        return arr.item()
    if arr.ndim != 1 or arr.shape[0] != rows:
        raise ValueError(
            f"{name} must be a scalar or have one value per row ({rows}); got shape {arr.shape}"
        )
    if arr.dtype == object and all(_is_real(x) for x in arr):
        return arr  # numbers beyond every numpy dtype (e.g. [1, 2**70])
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    return arr


def _as_float64(v: Any) -> np.ndarray:
    """``v`` as a 1-D float64 array; an int beyond float64 becomes an infinity of its sign
    (all a range check needs to know about it)."""
    try:
        return np.atleast_1d(np.asarray(v, dtype=np.float64))
    except OverflowError:
        items = [v] if np.ndim(v) == 0 else list(v)
        out = []
        for x in items:
            try:
                out.append(float(x))
            except OverflowError:
                out.append(math.inf if x > 0 else -math.inf)
        return np.array(out, dtype=np.float64)


def _shown(v: Any, arr: np.ndarray, i: int) -> str:
    """The offending value as the caller wrote it (an exact int, not its float64 image)."""
    original = v if np.ndim(v) == 0 else v[i]
    if isinstance(original, int | np.integer) and not isinstance(original, bool):
        return str(int(original))
    return str(arr[i])


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(np.atleast_1d(mask))[0])


def _where(v: Any, i: int) -> str:
    return "" if np.ndim(v) == 0 else f" in row {i}"


_TOP_K_MAX = (1 << 31) - 1  # the kernels take top_k as a C int


def _integer(name: str, x: Any, where: str) -> int:
    """``x`` as an exact Python int, or a TypeError naming ``name``."""
    if isinstance(x, bool | np.bool_):
        raise TypeError(f"{name} must be an integer, not a bool; got {x!r}{where}")
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating) and math.isfinite(x) and x == math.floor(x):
        return int(x)
    raise TypeError(f"{name} must be an integer; got {x}{where}")


def check_top_k(value: Any, rows: int) -> int | np.ndarray | None:
    v = _per_row("top_k", value, rows)
    if v is None:
        return None
    scalar = np.ndim(v) == 0
    if scalar or v.dtype == object:
        # A Python scalar, or a list holding ints no numpy dtype holds: judged one by one,
        # exactly (a cast to int64 would raise a bare OverflowError).
        items = [v] if scalar else list(v)
        ks = []
        for i, x in enumerate(items):
            where = "" if scalar else f" in row {i}"
            k = _integer("top_k", x, where)
            if not 0 <= k <= _TOP_K_MAX:
                raise ValueError(_top_k_range_message(k, _number(x), where))
            ks.append(k)
        return ks[0] if scalar else np.array(ks, dtype=np.int32)
    arr = v
    if arr.dtype.kind == "f":
        ok = np.isfinite(arr) & (arr == np.floor(arr))
        if not np.all(ok):
            i = _first_bad(~ok)
            raise TypeError(f"top_k must be an integer; got {arr[i]} in row {i}")
    # Compared in the array's own dtype: numpy orders uint64 and int64 against Python ints
    # exactly, where a cast to int64 would wrap 2**63 to a negative number.
    bad = (arr < 0) | (arr > _TOP_K_MAX)
    if np.any(bad):
        i = _first_bad(bad)
        raise ValueError(_top_k_range_message(arr[i], _number(arr[i]), f" in row {i}"))
    return np.ascontiguousarray(arr, dtype=np.int32)


def _number(x: Any) -> str:
    """An int exactly, a float briefly (1e+300, not its 301 digits)."""
    return str(int(x)) if isinstance(x, int | np.integer) else f"{x:g}"


def _top_k_range_message(k: Any, shown: str, where: str) -> str:
    if k < 0:
        return f"top_k must be >= 0 (0 or None: no filter); got {shown}{where}"
    return f"top_k must be < 2**31; got {shown}{where}"


def _judge_range(name: str, value: Any, rows: int, lo: float, hi: float, lo_open: bool,
                 allowed: str) -> tuple[float | np.ndarray | None, np.ndarray]:
    """The checked value and the float64 image of what the user passed (judged, not cast)."""
    v = _per_row(name, value, rows)
    if v is None:
        return None, np.empty(0)
    arr = _as_float64(v)
    ok = (arr > lo if lo_open else arr >= lo) & (arr <= hi) & np.isfinite(arr)
    if not np.all(ok):
        i = _first_bad(~ok)
        raise ValueError(f"{name} must be in {allowed}; got {_shown(v, arr, i)}{_where(v, i)}")
    return (float(v) if np.ndim(v) == 0 else np.ascontiguousarray(arr, dtype=np.float32)), arr


def _check_range(name: str, value: Any, rows: int, lo: float, hi: float, lo_open: bool,
                 allowed: str) -> float | np.ndarray | None:
    return _judge_range(name, value, rows, lo, hi, lo_open, allowed)[0]


def check_top_p(value: Any, rows: int) -> float | np.ndarray | None:
    return _check_range("top_p", value, rows, 0.0, 1.0, True, "(0, 1]")


def check_min_p(value: Any, rows: int) -> float | np.ndarray | None:
    return _check_range("min_p", value, rows, 0.0, 1.0, False, "[0, 1]")


#: The smallest normal float32. Below it ``1 / T`` overflows float32, a GPU may flush T to
#: 0 (greedy) where numpy keeps it, and the limit T -> 0 is greedy anyway: 0 says that.
TEMPERATURE_MIN = float(np.finfo(np.float32).tiny)


def check_temperature(value: Any, rows: int) -> float | np.ndarray:
    """Check a temperature (scalar or per row): 0 (greedy) or in [1.1754944e-38, 3.4e38].

    A temperature so small that ``logits / T`` overflows float32 for some logit makes that
    row invalid (token -1, NaN probabilities) on every backend, like any non-finite row.

    Example
    -------
    >>> from rocsample.validation import check_temperature
    >>> check_temperature(1e-45, rows=1)
    Traceback (most recent call last):
    ...
    ValueError: temperature must be 0 (greedy) or >= 1.1754944e-38 (the smallest normal float32); got 1e-45: pass 0 for greedy sampling
    """  # noqa: E501
    if value is None:
        raise ValueError("temperature must be >= 0 (0 means greedy); got None")
    # Judged as passed, before the float32 cast (which turns 1e-50 into 0: greedy).
    t, passed = _judge_range("temperature", value, rows, 0.0, float(np.finfo(np.float32).max),
                             False, "[0, inf) (finite in float32; 0 means greedy)")
    tiny = (passed > 0) & (passed < TEMPERATURE_MIN)
    if np.any(tiny):
        i = _first_bad(tiny)
        raise ValueError(f"temperature must be 0 (greedy) or >= {np.float32(TEMPERATURE_MIN)!s} "
                         f"(the smallest normal float32); got {passed[i]}{_where(t, i)}: "
                         "pass 0 for greedy sampling")
    return t


_KIND_OF_NAME = {"float32": "f32", "float16": "f16", "half": "f16", "bfloat16": "bf16"}
_KIND_OF_DTYPE: dict[Any, str] = {}  # dtype objects seen (torch's cost a failed np.dtype)


def out_dtype_hint(op: str, got: Any, want: Any) -> str:
    """What to add to the message refusing ``out`` of dtype ``got`` for ``op``'s result of
    dtype ``want``: a half-precision ``out`` for softmax's or temperature_scale's float32
    result asks for ``out_dtype``.

    >>> out_dtype_hint("softmax", np.float16, np.float32)
    ": a float16 result needs out_dtype='float16' (and float16 logits)"
    """
    kind = float_kind(got)
    if op in ("softmax", "temperature_scale") and kind in ("f16", "bf16") \
            and float_kind(want) == "f32":
        return (f": a {KIND_NAMES[kind]} result needs out_dtype={KIND_NAMES[kind]!r} (and "
                f"{KIND_NAMES[kind]} logits)")
    return ""


def check_out_dtype(out_dtype: Any) -> str:
    """The element type of a softmax/temperature_scale result: ``"f32"`` (None, the default),
    ``"f16"`` or ``"bf16"``, from a name, a numpy dtype (:data:`~rocsample.buffers.BFLOAT16`,
    ``ml_dtypes.bfloat16``) or a torch dtype.

    Example
    -------
    >>> from rocsample.validation import check_out_dtype
    >>> check_out_dtype(None), check_out_dtype("bfloat16"), check_out_dtype(np.float16)
    ('f32', 'bf16', 'f16')
    >>> check_out_dtype(np.float64)
    Traceback (most recent call last):
    ...
    TypeError: out_dtype must be float32, float16 or bfloat16 (a name, a numpy or a torch dtype); got <class 'numpy.float64'>
    """  # noqa: E501
    if out_dtype is None:
        return "f32"
    if isinstance(out_dtype, str):  # a name, or numpy's spelling ("f2", "<f4"); not "float"
        kind = _KIND_OF_NAME.get(out_dtype) or float_kind(out_dtype)
    else:
        try:
            kind, hashable = _KIND_OF_DTYPE.get(out_dtype), True
        except TypeError:  # unhashable: never cached
            kind, hashable = None, False
        if kind is None:
            kind = float_kind(out_dtype)
            if kind is None:  # torch.bfloat16 and friends: no numpy dtype, named "torch.<name>"
                name = str(out_dtype)
                kind = _KIND_OF_NAME.get(name[6:]) if name.startswith("torch.") else None
            if kind is not None and hashable and len(_KIND_OF_DTYPE) < 64:
                _KIND_OF_DTYPE[out_dtype] = kind
    if kind is None:
        raise TypeError("out_dtype must be float32, float16 or bfloat16 (a name, a numpy or a "
                        f"torch dtype); got {out_dtype!r}")
    return kind


def result_kind(in_kind: str | None, out_kind: str, name: str = "logits") -> str:
    """``out_kind`` when a kernel writes it from ``name`` of element type ``in_kind``: float32
    from any input, a half type only from inputs of that type (the kernels widen the input,
    compute in float32 and round the result once; no entry narrows float32 inputs).

    Example
    -------
    >>> from rocsample.validation import result_kind
    >>> result_kind("bf16", "bf16"), result_kind("f16", "f32")
    ('bf16', 'f32')
    >>> result_kind("f32", "bf16")
    Traceback (most recent call last):
    ...
    ValueError: out_dtype bfloat16 needs bfloat16 logits (a half-precision result is written from logits of its own type); these logits are float32: pass out_dtype=None for a float32 result
    """  # noqa: E501
    src = in_kind or "f32"
    if out_kind == "f32" or out_kind == src:
        return out_kind
    want = KIND_NAMES[out_kind]
    raise ValueError(f"out_dtype {want} needs {want} {name} (a half-precision result is written "
                     f"from {name} of its own type); these {name} are {KIND_NAMES[src]}: pass "
                     "out_dtype=None for a float32 result")


def seed_offset_ok(seed: Any, offset: Any) -> bool:
    """Whether seed and offset are plain ints in [0, 2**64) (the per-call case, no numpy).

    >>> seed_offset_ok(7, 0), seed_offset_ok(-1, 0), seed_offset_ok(True, 0)
    (True, False, False)
    """
    return (type(seed) is int and type(offset) is int and 0 <= seed < 1 << 64
            and 0 <= offset < 1 << 64)


_U64_MAX = (1 << 64) - 1
_RNG_ACCEPTED = ("an int in [0, 2**64), or one int64/uint64 per row: a numpy array or a "
                 "contiguous device array (torch, cupy, DeviceBuffer)")


def _rng_scalar(name: str, v: Any) -> int:
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
        raise TypeError(f"{name} must be {_RNG_ACCEPTED}; got {type(v).__name__}")
    if not 0 <= int(v) <= _U64_MAX:
        raise ValueError(f"{name} must be in [0, 2**64); got {v}")
    return int(v)


def _rng_host(name: str, v: Any, rows: int) -> np.ndarray:
    """A host array of one seed/offset per row as contiguous uint64, judged exactly."""
    arr = np.asarray(v)
    if arr.ndim != 1 or arr.shape[0] != rows:
        raise ValueError(f"{name} must be a scalar or have one value per row ({rows}); got "
                         f"shape {arr.shape}")
    if isinstance(v, list | tuple):  # numpy would read True as 1
        arr = np.array(v, dtype=object) if any(isinstance(x, bool) for x in v) else arr
    if arr.dtype == object:  # a list holding ints beyond int64 (e.g. 2**64 - 1, 2**70)
        bad = [i for i, x in enumerate(arr)
               if isinstance(x, bool) or not isinstance(x, int | np.integer)]
        if bad:
            raise TypeError(f"{name} must be integers; got {type(arr[bad[0]]).__name__} in row "
                            f"{bad[0]}")
        out = [i for i, x in enumerate(arr) if not 0 <= int(x) <= _U64_MAX]
        if out:
            raise ValueError(f"{name} must be in [0, 2**64); got {int(arr[out[0]])} in row "
                             f"{out[0]}")
        return np.array([int(x) for x in arr], dtype=np.uint64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} per-row values must be int64 or uint64 (any integer dtype); "
                        f"got dtype {arr.dtype}")
    if arr.dtype.kind == "i" and np.any(arr < 0):
        i = _first_bad(arr < 0)
        raise ValueError(f"{name} must be in [0, 2**64); got {arr[i]} in row {i}")
    return np.ascontiguousarray(arr, dtype=np.uint64)


def _rng_device(name: str, v: Any, rows: int, stream: int | None) -> Any:
    """A device array of seeds/offsets as an ArrayView the kernels read (never copied or read
    here: a graph replay reads the values the caller wrote last); a host DLPack array (a torch
    CPU tensor) as a host array."""
    try:
        view = as_array_view(v, stream=stream)
    except (TypeError, ValueError, BufferError) as exc:
        raise TypeError(f"{name} must be {_RNG_ACCEPTED}; got {type(v).__name__} ({exc})") \
            from None
    if view.device[0] == 1:  # kDLCPU: host memory
        return _rng_host(name, np.from_dlpack(v), rows)
    if view.dtype not in (np.dtype(np.int64), np.dtype(np.uint64)):
        raise TypeError(f"{name} device arrays must be int64 or uint64 (read as unsigned 64-bit "
                        f"values); got dtype {view.dtype}")
    if view.shape != (rows,):
        raise ValueError(f"{name} must be a scalar or have one value per row ({rows}); got "
                         f"shape {view.shape}")
    if rows > 1 and view.strides != (1,):
        raise ValueError(f"{name} device arrays must be contiguous; got stride {view.strides[0]} "
                         "elements: pass a contiguous copy")
    return view


def _rng_value(name: str, v: Any, rows: int | None, stream: int | None) -> Any:
    if isinstance(v, bool | np.bool_ | float | np.floating | int | np.integer) or v is None:
        return _rng_scalar(name, v)
    on_device = not isinstance(v, np.ndarray) and (
        hasattr(v, "__cuda_array_interface__") or hasattr(v, "__dlpack__"))
    if rows is None:
        raise TypeError(f"{name} must be an int in [0, 2**64) here; got {type(v).__name__}")
    if on_device:
        return _rng_device(name, v, rows, stream)
    if isinstance(v, np.ndarray | list | tuple):
        if np.ndim(v) == 0:
            return _rng_scalar(name, np.asarray(v).item())
        return _rng_host(name, v, rows)
    raise TypeError(f"{name} must be {_RNG_ACCEPTED}; got {type(v).__name__}")


def check_seed_offset(seed: Any, offset: Any, rows: int | None = None, *,
                      stream: int | None = None) -> tuple[Any, Any]:
    """Check ``seed`` and ``offset``: each an int in [0, 2**64) or, given ``rows``, one value
    per row.

    A per-row host array (numpy, a list, a torch CPU tensor) comes back as a contiguous
    uint64 array, judged exactly (negative values, values >= 2**64, floats and bools are
    refused, naming the row); a device array (torch/cupy CUDA tensors, a
    :class:`~rocsample.buffers.DeviceBuffer`) as an :class:`~rocsample.buffers.ArrayView`
    whose dtype (int64 or uint64, read as unsigned), length and contiguity are checked but
    whose values are never read on the host: the kernels read them at launch.

    Example
    -------
    >>> import numpy as np
    >>> check_seed_offset(np.array([1, 2]), 0, rows=2)[0].dtype
    dtype('uint64')
    >>> check_seed_offset(np.array([1, -2]), 0, rows=2)
    Traceback (most recent call last):
    ...
    ValueError: seed must be in [0, 2**64); got -2 in row 1
    """
    if seed_offset_ok(seed, offset):
        return seed, offset  # the per-call case
    return (_rng_value("seed", seed, rows, stream), _rng_value("offset", offset, rows, stream))


def rng_views(params: SamplingParams) -> list[tuple[str, Any]]:
    """The (name, ArrayView) of ``params``' seed and offset that are device arrays."""
    return [(n, v) for n, v in (("seed", params.seed), ("offset", params.offset))
            if not isinstance(v, int | np.ndarray)]


#: Parameter types whose checked form may be remembered by value (bool is not int here).
SCALAR_TYPES = (type(None), int, float)
_checked: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}


def sampling_params(rows: int, *, top_k: Any = None, top_p: Any = None, min_p: Any = None,
                    seed: Any = 0, offset: Any = 0, stream: int | None = None) -> SamplingParams:
    """The checked sampling parameters of a (rows, vocab) call; ``stream`` is the call's
    stream (a device seed/offset array is viewed on it)."""
    s, o = check_seed_offset(seed, offset, rows, stream=stream)
    # Scalar parameters repeat call after call: their checked form is remembered (a key of
    # exact types and values, so 1 and 1.0 or True never share an entry).
    scalar = (type(top_k) in SCALAR_TYPES and type(top_p) in SCALAR_TYPES
              and type(min_p) in SCALAR_TYPES)
    key = (type(top_k), top_k, type(top_p), top_p, type(min_p), min_p) if scalar else None
    hit = _checked.get(key) if key is not None else None
    if hit is None:
        hit = (check_top_k(top_k, rows), check_top_p(top_p, rows), check_min_p(min_p, rows))
        if key is not None and len(_checked) < 1024:
            _checked[key] = hit
    return SamplingParams(hit[0], hit[1], hit[2], s, o)


def check_flag(name: str, value: Any) -> bool:
    """A switch argument: a bool or numpy bool; a string like ``"no"`` is refused, not truthy.

    Example
    -------
    >>> from rocsample.validation import check_flag
    >>> check_flag("check_inputs", "no")
    Traceback (most recent call last):
    ...
    TypeError: check_inputs must be True, False or None; got 'no' (str)
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise TypeError(f"{name} must be True, False or None; got {value!r} "
                    f"({type(value).__name__})")


def check_number(name: str, value: Any) -> float:
    """A scalar argument of the kernels (eps, affine's mul and add, a unary op's param) as a
    float: a real number (Python or numpy; not a bool, a string or an array), else a
    TypeError naming it. NaN and Inf pass: where they are wrong, the caller says so.

    >>> from rocsample.validation import check_number
    >>> check_number("mul", 2), check_number("mul", "2")
    Traceback (most recent call last):
    ...
    TypeError: mul must be a real number; got '2' (str)
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer
                                                             | np.floating):
        raise TypeError(f"{name} must be a real number; got {value!r} "
                        f"({type(value).__name__})")
    return float(value)


def check_array(name: str, x: Any) -> None:
    """Refuse what is no array: rocsample takes numpy arrays (and numpy scalars) and device
    arrays (``__dlpack__`` or ``__cuda_array_interface__``: torch, cupy, ``DeviceBuffer``).

    >>> from rocsample.validation import check_array
    >>> check_array("x", [1.0, 2.0])
    Traceback (most recent call last):
    ...
    TypeError: x must be an array (numpy, torch, cupy, DeviceBuffer); got list
    """
    if not (isinstance(x, np.ndarray | np.generic) or hasattr(x, "__dlpack__")
            or hasattr(x, "__cuda_array_interface__")):
        raise TypeError(f"{name} must be an array (numpy, torch, cupy, DeviceBuffer); got "
                        f"{type(x).__name__}")


def on_host(**operands: Any) -> bool:
    """Whether the named operands are numpy arrays (then the numpy twin computes) rather
    than device arrays; each must be an array (:func:`check_array`), and a mix is refused,
    naming which are where.

    >>> import numpy as np
    >>> from rocsample.validation import on_host
    >>> on_host(x=np.zeros(2), weight=np.ones(2))
    True
    >>> on_host(x=np.zeros(2), weight=None)
    Traceback (most recent call last):
    ...
    TypeError: weight must be an array (numpy, torch, cupy, DeviceBuffer); got NoneType
    """
    host, device = [], []
    for name, a in operands.items():
        check_array(name, a)
        (host if isinstance(a, np.ndarray | np.generic) else device).append(name)
    if host and device:
        raise TypeError(f"mix of numpy and device arrays: {', '.join(host)} on the host "
                        f"(numpy), {', '.join(device)} on the device; pass all of them on the "
                        "host or all on the device")
    return not device


def dtype_label(dtype: Any) -> str:
    """A dtype's name in messages: ``bfloat16`` for :data:`~rocsample.buffers.BFLOAT16` (whose
    numpy name is a record's).

    >>> from rocsample.buffers import BFLOAT16
    >>> dtype_label(BFLOAT16), dtype_label(np.float16)
    ('bfloat16', 'float16')
    """
    return "bfloat16" if float_kind(dtype) == "bf16" else np.dtype(dtype).name


def a_dtype(dtype: Any) -> str:
    """:func:`dtype_label` with its article, for "must be a float32 / an int32 array".

    >>> a_dtype(np.int32), a_dtype(np.float16)
    ('an int32', 'a float16')
    """
    label = dtype_label(dtype)
    return ("an " if label[0] in "aeiou" else "a ") + label


def device_view(b: Any, x: Any, name: str, stream: int | None) -> Any:
    """The device array ``x`` (operand ``name`` of a call on backend ``b``) as an
    :class:`~rocsample.buffers.ArrayView`, on ``b``'s device; a clear error on the cpu
    backend (numpy only) or another device."""
    if not hasattr(b, "launch_recipe"):
        raise TypeError(f"{name} is a device array, but the {b.name} backend runs numpy only: "
                        "pass numpy arrays, or use a GPU backend")
    view = as_array_view(x, stream=stream or None)
    if not b.accepts(view):
        raise ValueError(f"{name} lives on device {view.device}, not on this backend's "
                         f"{b.rt.dlpack_device}: pass device=... for its device")
    return view


def store_result(result: np.ndarray, like: Any, out: Any, name: str = "out") -> Any:
    """A numpy kernel twin's ``result`` as the caller gets it: viewed as
    :data:`~rocsample.buffers.BFLOAT16` when the operands are (``like``: their dtype; the
    twins compute bfloat16 as uint16 bit patterns), written into ``out`` when given
    (:func:`fill_out`)."""
    if like == BFLOAT16:
        result = result.view(BFLOAT16)
    return result if out is None else fill_out(out, result, name)


def fill_out(out: Any, result: np.ndarray, name: str = "out", op: str = "") -> np.ndarray:
    """Write the cpu backend's ``result`` into the caller's ``out``, checked first: a
    writeable numpy array of the result's shape and dtype (nothing is written otherwise;
    ``op``, the operation, words the refusal: :func:`out_dtype_hint`).

    >>> import numpy as np
    >>> from rocsample.validation import fill_out
    >>> out = np.zeros(2, np.float32)
    >>> out.flags.writeable = False
    >>> fill_out(out, np.ones(2, np.float32))
    Traceback (most recent call last):
    ...
    ValueError: out is read-only: pass a writeable array to receive the result
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array for numpy inputs; got "
                        f"{type(out).__name__}")
    # bfloat16 as rocsample's BFLOAT16 or as ml_dtypes': the same bits either way
    bf16 = float_kind(out.dtype) == float_kind(result.dtype) == "bf16"
    if out.shape != result.shape or not (out.dtype == result.dtype or bf16):
        raise ValueError(f"{name} must be {a_dtype(result.dtype)} array of shape "
                         f"{result.shape}; got {dtype_label(out.dtype)} {out.shape}"
                         + out_dtype_hint(op, out.dtype, result.dtype))
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only: pass a writeable array to receive the result")
    if bf16:
        np.copyto(out.view(np.uint16), result.view(np.uint16))
    else:
        np.copyto(out, result)
    return out


def device_index(device: Any) -> int:
    """The ``device`` argument checked: a non-negative int (numpy ints too).

    >>> from rocsample.validation import device_index
    >>> device_index("0")
    Traceback (most recent call last):
    ...
    TypeError: device must be a device index (int); got '0' (str)
    """
    if isinstance(device, bool | np.bool_) or not isinstance(device, int | np.integer):
        raise TypeError(f"device must be a device index (int); got {device!r} "
                        f"({type(device).__name__})")
    if device < 0:
        raise ValueError(f"device must be a non-negative device index; got {device}")
    return int(device)


def stream_handle(stream: Any) -> int | None:
    """The ``stream`` argument as a driver handle: None (the default stream), a
    non-negative int, or an object holding one (torch's ``cuda_stream``, cupy's ``ptr``).
    Anything else is refused here: turned into a handle, a wrong value would reach the
    driver as an invalid stream and could crash it.

    Example
    -------
    >>> from rocsample.validation import stream_handle
    >>> stream_handle(None), stream_handle(7)
    (None, 7)
    >>> stream_handle(-1)
    Traceback (most recent call last):
    ...
    ValueError: stream must be a non-negative handle; got -1
    """
    if stream is None or (type(stream) is int and stream >= 0):
        return stream
    value = stream
    for attr in ("cuda_stream", "ptr"):
        if not isinstance(stream, int | np.integer) and hasattr(stream, attr):
            value = getattr(stream, attr)
            break
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        if value < 0:
            raise ValueError(f"stream must be a non-negative handle; got {int(value)}")
        return int(value)
    raise TypeError(f"stream must be None, a stream handle (int) or a stream object with a "
                    f"cuda_stream or ptr attribute (torch, cupy); got {stream!r} "
                    f"({type(stream).__name__})")


METHODS = ("auto", "fused", "topk", "topp")


def check_method(method: str, params: SamplingParams) -> None:
    """``topk``/``topp`` paths apply one filter only: refuse parameters they would ignore."""
    if method == "auto":
        return
    if method not in METHODS:
        raise ValueError(f"method must be 'auto', 'fused', 'topk' or 'topp'; got {method!r}")
    ignored = {"topk": ("top_p", "min_p"), "topp": ("top_k", "min_p")}.get(method, ())
    given = [n for n in ignored if getattr(params, n) is not None]
    if given:
        raise ValueError(f"method={method!r} applies only "
                         f"{'top_k' if method == 'topk' else 'top_p'}; it would ignore "
                         f"{', '.join(given)}: use method='fused' or 'auto'")


def check_bad_rows(name: str, probs: np.ndarray) -> None:
    """Eager host check: raise ValueError naming rows with NaN, Inf, negatives or zero mass."""

    probs = widen_to_f32(probs)
    finite = np.isfinite(probs)
    bad = ~finite.all(axis=1)
    with np.errstate(invalid="ignore"):
        bad |= (probs < 0).any(axis=1)
        bad |= ~(probs > 0).any(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(map(str, rows[:10])) + (" ..." if rows.size > 10 else "")
        raise ValueError(
            f"{name} has {rows.size} invalid row(s) (NaN, Inf, negative or all zero): rows "
            f"{shown}; pass check_inputs=False to get token -1 for them instead"
        )
