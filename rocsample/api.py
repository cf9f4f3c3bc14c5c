"""The public functions: ``sample``, ``sample_from_logits``, ``softmax``, ``backend``...

Inputs are numpy arrays (then the result is numpy), or device arrays used in place: any object
with ``__dlpack__`` or ``__cuda_array_interface__`` (torch, cupy) or a
:class:`~rocsample.buffers.DeviceBuffer` (then the result is a ``DeviceBuffer`` of int32 on
the same device, readable by ``torch.from_dlpack``/``cupy.from_dlpack`` without a copy).
"""

from __future__ import annotations

from typing import Any

from . import config
from .backends import get_backend
from .backends.plan import rng_key
from .backends.reservation import Reservation, check_reserve_args
from .validation import (
    check_flag,
    check_method,
    check_out_dtype,
    check_temperature,
    fill_out,
    rng_views,
    sampling_params,
    seed_offset_ok,
    stream_handle,
)

__all__ = ["backend", "cache_info", "reserve", "sample", "sample_from_logits", "softmax",
           "temperature_scale", "warmup"]


def _rows(x: Any, name: str) -> int:
    shape = getattr(x, "shape", None)
    if shape is None:
        cai = getattr(x, "__cuda_array_interface__", None)
        shape = cai.get("shape") if isinstance(cai, dict) else None
    if shape is None and hasattr(x, "__dlpack__"):
        from .buffers import as_array_view

        shape = as_array_view(x).shape
    if shape is None:
        raise TypeError(f"{name} must be an array (numpy, torch, cupy, DeviceBuffer); got "
                        f"{type(x).__name__}")
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (batch, vocab); got shape {tuple(shape)}")
    return int(shape[0])


def _replayed(b: Any, op: str, x: Any, scalars: tuple[Any, ...], stream: Any,
              method: Any = "auto", *per_call: Any,
              out: Any = None) -> tuple[tuple[Any, ...] | None, Any]:
    """The decode-loop fast path: (plan key, result of replaying its plan, or None).

    A call with the same device array, parameters and stream as one the general path
    validated and recorded (backends/plan.py) replays its launches; with a None result the
    caller takes the general path, which records a plan under the key.
    """
    rng: tuple[Any, ...] = ()
    if per_call and not seed_offset_ok(*per_call):
        # Per-row seeds/offsets: device arrays are planned by address (the kernels read
        # them at launch); host arrays take the general path (uploaded at every call).
        got = rng_key(*per_call)
        if got is None:
            return None, None
        rng, *per_call = got
    key = b.plan_key(op, x, scalars, stream, method, out, rng)
    return key, (b.replay(key, *per_call, out=out) if key is not None else None)


def _run(b: Any, op: str, x: Any, *args: Any, out: Any = None, **kw: Any) -> Any:
    """``b.<op>(x, *args, **kw)``, its result written into ``out`` when given: on a GPU
    backend by the kernels themselves; on the cpu backend ``out`` is a numpy array of the
    result's shape and dtype, filled from the result."""
    if out is None:
        return getattr(b, op)(x, *args, **kw)
    if b.name != "cpu":
        return getattr(b, op)(x, *args, out=out, **kw)
    return fill_out(out, getattr(b, op)(x, *args, **kw), op=op)


def _checked_params(b: Any, rows: int, stream: int | None, **kw: Any) -> Any:
    """``sampling_params`` for backend ``b``, whose device must hold device seed arrays."""
    params = sampling_params(rows, stream=stream, **kw)
    accepts = getattr(b, "accepts", None)
    for name, view in rng_views(params):
        if accepts is None:
            raise TypeError(f"{name}: the {b.name} backend takes host seed/offset arrays "
                            f"(numpy) or ints; got a device array on {view.device}")
        if not accepts(view):
            raise ValueError(f"{name} is on device {view.device} but this {b.name} backend "
                             f"runs on {b.rt.dlpack_device}; pass it on the sampled device")
    return params


def backend(name: str | None = None, device: int = 0) -> Any:
    """The backend in use (or the one named), opened on first use.

    Example
    -------
    >>> import rocsample
    >>> rocsample.backend("cpu").name
    'cpu'
    """
    return get_backend(name, device)


def sample(probs: Any, *, top_k: Any = None, top_p: Any = None, min_p: Any = None,
           seed: Any = 0, offset: Any = 0, stream: int | None = None,
           check_inputs: bool | None = None, method: str = "auto",
           backend: str | None = None, device: int = 0, out: Any = None) -> Any:
    """Draw one token id per row of ``probs``.

    Parameters
    ----------
    probs : (batch, vocab) float32 array
        Probabilities; rows need not sum to 1. numpy, or a device array used in place.
        float16 and bfloat16 probabilities are read in place (the GPU kernels widen each
        value exactly and compute in float32): the tokens of the widened float32 values.
    top_k : int or (batch,) ints, optional
        Keep tokens whose probability is >= the k-th largest (ties kept); 0/None: all.
    top_p : float or (batch,) floats in (0, 1], optional
        Keep the smallest descending prefix holding >= top_p of the mass (after top-k).
    min_p : float or (batch,) floats in [0, 1], optional
        Keep tokens with probability >= min_p * max.
    seed, offset : int in [0, 2**64), or one int64/uint64 per row
        Counter-based randomness (Philox4x32-10): the same (seed, offset) gives the same
        tokens on every backend. Advance ``offset`` between steps. Per row (one request's
        own seed and step each): a numpy array (uploaded per call) or a contiguous device
        array on the sampled device (torch/cupy, a DeviceBuffer; read by the kernels at
        launch, never on the host, so a captured graph draws from the values the caller
        writes before each replay; negative int64 values there read as their uint64 bits).
        With either one per row, a row's token depends only on its own seed and offset:
        not its batch slot, the batch size, the other rows or the kernel path.
    stream : int, optional
        Device stream handle to order the work on (default: the default stream).
    check_inputs : bool, optional
        Eagerly reject host rows with NaN/Inf/negatives/zero mass (None: the default,
        ``ROCSAMPLE_CHECK_INPUTS``); when off such rows give token -1. Anything but a bool
        (or numpy bool) or None is a ``TypeError``.
    method : {"auto", "fused", "topk", "topp"}
        Which kernel path to use. "auto": top-k alone takes ``topk_sampling``; everything
        else the fused entry, except top-p alone while one of the three top-p stages is
        overridden by its variable (then the stages run). Every path draws the same token.
    out : (batch,) int32 array, optional
        Where to write the tokens (a C-contiguous device array on the input's device, e.g.
        an engine's own torch int32 tensor; numpy on the cpu backend); ``out`` is returned.
        On a stream that captures a graph the result must outlive every replay: ``out``,
        or else a token slot of the stream's :func:`reserve`.

    Returns
    -------
    (batch,) int32 token ids: numpy for numpy input, else a DeviceBuffer (or ``out``); -1
    marks an invalid row.

    Example
    -------
    >>> import numpy as np, rocsample
    >>> probs = np.array([[0.0, 0.2, 0.8]], dtype=np.float32)
    >>> rocsample.sample(probs, top_k=1, backend="cpu").tolist()
    [2]
    >>> batch = np.array([[0.5, 0.5], [0.2, 0.8]], dtype=np.float32)
    >>> seeds, steps = np.array([11, 12]), np.array([0, 7])
    >>> both = rocsample.sample(batch, seed=seeds, offset=steps, backend="cpu")
    >>> alone = rocsample.sample(batch[1:], seed=seeds[1:], offset=steps[1:], backend="cpu")
    >>> int(both[1]) == int(alone[0])
    True
    """
    if check_inputs is not None and type(check_inputs) is not bool:
        # Refused before the replay path too: bool("no") is True, so a string would
        # otherwise switch the check on without a word.
        check_inputs = check_flag("check_inputs", check_inputs)
    b = get_backend(backend, device)
    stream = stream_handle(stream)
    key, hit = _replayed(b, "sample", probs, (top_k, top_p, min_p), stream, method, seed,
                         offset, out=out)
    if hit is not None:
        return hit
    rows = _rows(probs, "probs")
    params = _checked_params(b, rows, stream, top_k=top_k, top_p=top_p, min_p=min_p,
                             seed=seed, offset=offset)
    check_method(method, params)
    check = config.check_inputs() if check_inputs is None else check_inputs
    return _run(b, "sample", probs, params, method=method, stream=stream, check_inputs=check,
                plan_key=key, out=out)


def sample_from_logits(logits: Any, *, temperature: Any = 1.0, top_k: Any = None,
                       top_p: Any = None, min_p: Any = None, seed: Any = 0, offset: Any = 0,
                       stream: int | None = None, backend: str | None = None,
                       device: int = 0, out: Any = None) -> Any:
    """Softmax of ``logits / temperature`` then :func:`sample`; temperature 0 is greedy.

    ``logits`` may be float32, float16 or bfloat16 (read in place on the GPU, computed in
    float32: exactly the tokens of the float32 logits holding the widened values).
    ``seed``/``offset`` are as in :func:`sample` (scalars or one per row).

    Greedy picks the row maximum; exact ties for the maximum are broken by the draw
    (the limit of the distribution as T -> 0). ``-inf`` logits are masked tokens. ``out``
    as in :func:`sample`; on a capturing stream the scratch is the one of the stream's
    :func:`reserve` (``logits=True``). The softmax is not written: the sampler forms each
    probability from its logit (the value softmax gives, so the same token), and the scratch
    holds only each row's maximum and sum (the whole softmax only where a code object lacks
    the logits entries or a top-p stage is overridden).

    Example
    -------
    >>> import numpy as np, rocsample
    >>> logits = np.array([[1.0, 3.0, 2.0]], dtype=np.float32)
    >>> rocsample.sample_from_logits(logits, temperature=0.0, backend="cpu").tolist()
    [1]
    """
    b = get_backend(backend, device)
    stream = stream_handle(stream)
    key, hit = _replayed(b, "sample_from_logits", logits, (temperature, top_k, top_p, min_p),
                         stream, "auto", seed, offset, out=out)
    if hit is not None:
        return hit
    rows = _rows(logits, "logits")
    t = check_temperature(temperature, rows)
    params = _checked_params(b, rows, stream, top_k=top_k, top_p=top_p, min_p=min_p,
                             seed=seed, offset=offset)
    return _run(b, "sample_from_logits", logits, t, params, stream=stream, plan_key=key,
                out=out)


def softmax(logits: Any, temperature: Any = 1.0, *, out_dtype: Any = None,
            stream: int | None = None, backend: str | None = None, device: int = 0,
            out: Any = None) -> Any:
    """Row softmax of ``logits / temperature``. T = 0 gives the argmax indicator.

    ``logits`` may be float32, float16 or bfloat16 (read in place on the GPU); the result is
    float32 and exactly the result for the widened float32 logits.
    ``out_dtype``: None (float32), or the logits' own float16/bfloat16 (a name, a numpy or
    torch dtype): that float32 result rounded once to nearest even, half the bytes written
    (probabilities under the type's smallest subnormal become 0).
    ``out``: a C-contiguous (batch, vocab) array of the result's type to write into (on the
    input's device; numpy on the cpu backend), returned; needed on a stream that captures a
    graph.

    Example
    -------
    >>> import numpy as np, rocsample
    >>> p = rocsample.softmax(np.zeros((1, 4), dtype=np.float32), backend="cpu")
    >>> p.tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    >>> rocsample.softmax(np.zeros((1, 3), np.float16), out_dtype="float16",
    ...                   backend="cpu").dtype
    dtype('float16')
    """
    b = get_backend(backend, device)
    stream = stream_handle(stream)
    kind = check_out_dtype(out_dtype)
    key, hit = _replayed(b, "softmax", logits, (temperature, kind), stream, out=out)
    if hit is not None:
        return hit
    t = check_temperature(temperature, _rows(logits, "logits"))
    return _run(b, "softmax", logits, t, kind, stream=stream, plan_key=key, out=out)


def temperature_scale(logits: Any, temperature: Any, *, out_dtype: Any = None,
                      stream: int | None = None, backend: str | None = None, device: int = 0,
                      out: Any = None) -> Any:
    """``logits / temperature`` per row (T = 0 leaves the row as is), as float32;
    ``out_dtype`` and ``out`` as in :func:`softmax` (a half-precision result beyond its
    type's range is +-Inf).

    ``logits`` may be float32, float16 or bfloat16 (read in place on the GPU); the division
    is done in float32 on the exactly widened values.

    Example
    -------
    >>> import numpy as np, rocsample
    >>> rocsample.temperature_scale(np.ones((1, 2), np.float32), 0.5, backend="cpu").tolist()
    [[2.0, 2.0]]
    """
    b = get_backend(backend, device)
    stream = stream_handle(stream)
    kind = check_out_dtype(out_dtype)
    key, hit = _replayed(b, "temperature_scale", logits, (temperature, kind), stream, out=out)
    if hit is not None:
        return hit
    t = check_temperature(temperature, _rows(logits, "logits"))
    return _run(b, "temperature_scale", logits, t, kind, stream=stream, plan_key=key,
                out=out)


def reserve(max_batch: int, vocab: int, *, stream: int | None = None, outputs: int = 64,
            logits: bool = True, backend: str | None = None, device: int = 0) -> Reservation:
    """Set device memory aside for the calls on ``stream``, so that they can be captured in
    a CUDA/HIP graph (``torch.cuda.graph``, ``cuStreamBeginCapture``,
    ``hipStreamBeginCapture``).

    A call on a capturing stream allocates nothing, copies nothing from the host and waits
    for nothing: its workspace, token result and scratch come from the stream's
    reservation (or ``out=``). A call the reservation cannot serve (more rows or a larger
    vocabulary than reserved, all token outputs taken, a numpy input or per-row numpy
    parameter, softmax without ``out=``) raises :class:`~rocsample.errors.CaptureError`
    before anything is queued, so the capture stays valid. The sampling kernels are loaded
    now too. Calls on the stream outside a capture use the same workspace.

    Parameters
    ----------
    max_batch, vocab : int
        The largest (rows, vocab) of a call on the stream.
    stream : int, optional
        The stream handle the calls (and the capture) use, e.g.
        ``torch.cuda.current_stream().cuda_stream`` inside ``torch.cuda.graph``; one
        reservation per stream (default: the default stream, which cannot capture).
    outputs : int
        Token results handed out to captured calls without ``out=``: one per such call,
        each kept until the reservation is released (64 x max_batch int32 by default).
    logits : bool
        Reserve the (max_batch, vocab) float32 scratch of ``sample_from_logits``.
    backend, device
        As for :func:`sample`. On the cpu backend nothing is held (nothing is captured).

    Returns
    -------
    Reservation
        Held until :meth:`~rocsample.backends.reservation.Reservation.release` (or the end
        of its ``with`` block), which must come after every graph that captured calls with
        it is destroyed: graphs hold its addresses.

    Example
    -------
    >>> import rocsample
    >>> with rocsample.reserve(8, 32000, backend="cpu") as res:
    ...     (res.max_batch, res.vocab, res.outputs_left)
    (8, 32000, 64)

    An engine's decode step (torch on CUDA; see the README):

    >>> import torch                                           # doctest: +SKIP
    >>> side = torch.cuda.Stream()                             # doctest: +SKIP
    >>> res = rocsample.reserve(256, 128256, stream=side.cuda_stream)  # doctest: +SKIP
    >>> graph = torch.cuda.CUDAGraph()                         # doctest: +SKIP
    >>> with torch.cuda.graph(graph, stream=side):             # doctest: +SKIP
    ...     rocsample.sample_from_logits(logits, temperature=0.7, top_p=0.9, seed=7,
    ...                                  out=tokens, stream=side.cuda_stream)
    >>> graph.replay()                                         # doctest: +SKIP
    """
    b = get_backend(backend, device)
    stream = stream_handle(stream)
    if b.name == "cpu":
        check_reserve_args(max_batch, vocab, outputs, logits)
        return Reservation(None, int(stream or 0), max_batch, vocab, outputs, logits)
    return b.reserve(max_batch, vocab, stream, outputs, logits)


def warmup(backend: str | None = None, device: int = 0) -> dict[str, str]:
    """Load every kernel now (compiling missing modules in parallel); returns their origins.

    A serving process calls it at start so that no request pays for a compile. On the cpu
    backend there is nothing to load.

    Example
    -------
    >>> import rocsample
    >>> rocsample.warmup("cpu")
    {}
    """
    b = get_backend(backend, device)
    cache = getattr(b, "kernels", None)
    if cache is None:
        return {}
    return {name: k.resolution.origin for name, k in cache.load_all().items()}


def cache_info(backend: str | None = None, device: int = 0) -> dict[str, Any]:
    """What the active backend has loaded, from where, and the cache settings.

    Example
    -------
    >>> import rocsample
    >>> rocsample.cache_info("cpu")["backend"]
    'cpu'
    """
    b = get_backend(backend, device)
    info: dict[str, Any] = dict(b.describe())
    info["cache_dir"] = str(config.cache_dir())
    info["disk_cache"] = config.disk_cache_enabled()
    info["kernel_dir"] = str(config.kernel_dir())
    cache = getattr(b, "kernels", None)
    info.update(cache.info() if cache is not None else {"kernels": {}})
    return info
