"""The sampling family as operations: its kernels, argument checks, outputs, numpy reference
and launch recipes.

* :data:`MODULES` and :data:`ENTRIES` are the family's rows of the kernel registry (plain
  data: :mod:`rocsample.registry` builds its ``ModuleSpec`` and ``KernelSpec`` rows from
  them); the engine's geometry (``CHUNK``, ``KCAND``, workspace words) stays in the registry.
* :data:`OPERATIONS` names, per operation, its input, the checks of
  :mod:`rocsample.validation` the API runs, the numpy reference
  (:mod:`rocsample.backends.cpu_engine`: the same draws and values) and its recipe.
* A recipe (:func:`sample_recipe`, :func:`softmax_recipe`, :func:`temperature_scale_recipe`,
  :func:`sample_from_logits_recipe`) turns validated arguments and the device's facts
  (SM count, which companion kernels exist; which top-p stages are overridden, from
  :mod:`rocsample.config`) into a :class:`~rocsample.backends.recipe.Recipe`: the launches
  with their grids and arguments by name, and the per-call buffers (the output, scratch,
  the stream workspace) by role. The grid rules that choose those grids live here too.

Example
-------
>>> from types import SimpleNamespace
>>> from rocsample.validation import sampling_params
>>> x = SimpleNamespace(ptr=4096, strides=(128256, 1), shape=(32, 128256))
>>> dev = SimpleNamespace(sm_count=132, has_companion=lambda name: True)
>>> r = sample_recipe(x, sampling_params(32, seed=1), "auto", dev)
>>> [(l.kernel, l.grid, l.args["nphase"]) for l in r.launches], r.workspace
([('topk_topp_sampling', (32, 8), 1)], (32, 128256))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import config
from ..backends import cpu_engine
from ..backends.recipe import Buffer, DeviceFacts, Launch, Recipe
from ..buffers.dtypes import BFLOAT16, KIND_NAMES, float_kind
from ..validation import (
    SamplingParams,
    check_method,
    check_out_dtype,
    check_temperature,
    result_kind,
    sampling_params,
)

__all__ = [
    "ENTRIES",
    "HALF_DTYPES",
    "MODULES",
    "OPERATIONS",
    "Entry",
    "Module",
    "Operation",
    "sample_from_logits_recipe",
    "sample_recipe",
    "softmax_recipe",
    "temperature_scale_recipe",
]


# ---- the registry rows (plain data; rocsample.registry builds its specs from them) ----


@dataclass(frozen=True)
class Module:
    """One kernel source file of the family and the entry points it defines."""

    name: str
    source: str
    headers: tuple[str, ...]
    entries: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """One entry point: ``name`` is the kernel's name in the registry, ``entry`` its C name;
    ``companion_of`` names the contract kernel an optional entry travels with."""

    name: str
    module: str
    entry: str
    env_var: str
    signature: tuple[tuple[str, str], ...]  # (argument name, type code)
    companion_of: str | None = None


#: The half-precision logit types the logit operations read in place (entry suffixes).
HALF_DTYPES = ("f16", "bf16")

_HEADERS = ("rs_common.h", "rs_logits.h")
# The engine's headers (rs_engine.h's phases in its include order): every one is hashed into
# the cache key and handed to the compiler in memory, so a header missing here fails to compile.
_ENGINE = (
    "rs_common.h",
    "rs_engine.h",
    "rs_engine_core.h",
    "rs_engine_select.h",
    "rs_engine_block.h",
    "rs_engine_plain.h",
    "rs_engine_scan.h",
    "rs_engine_topk.h",
    "rs_engine_phase0.h",
    "rs_engine_mass.h",
    "rs_engine_cut.h",
    "rs_logits.h",
)
_PHASES = (("ws", "ptr"), ("phase", "i32"), ("nphase", "i32"))
_ROWS = (("probs", "ptr"), ("row_stride", "i64"), ("batch", "i32"), ("vocab", "i32"))
_RNG = (("seed", "u64"), ("offset", "u64"), ("seeds", "ptr"), ("offsets", "ptr"))
_TEMP = (
    ("logits", "ptr"),
    ("in_stride", "i64"),
    ("out", "ptr"),
    ("out_stride", "i64"),
    ("batch", "i32"),
    ("vocab", "i32"),
    ("temperature", "ptr"),
    ("temperature_val", "f32"),
)

#: The engine kernels that scan for top-k candidates: each has *_rise entries (the same
#: arguments; a rising candidate bound for rows of many candidates, :func:`_rise_suffix`).
RISE_KERNELS = ("topk_sampling", "topk_topp_sampling", "logits_sampling")


def _rise_entries(kernel: str) -> tuple[str, ...]:
    """The C names of ``kernel``'s rise entries: float32, then the half companions."""
    return (f"{kernel}_rise_kernel",) + tuple(f"{kernel}_rise_kernel_{dt}" for dt in HALF_DTYPES)


#: The family's modules by name.
MODULES: dict[str, Module] = {
    m.name: m
    for m in (
        Module("sampling_utils", "sampling_utils.hip", _HEADERS,
               ("softmax_kernel", "temperature_scale_kernel", "softmax_stats_kernel",
                "softmax_write_kernel")
               + tuple(f"{k}_kernel_{dt}" for dt in HALF_DTYPES
                       for k in ("softmax", "softmax_stats", "softmax_write",
                                 "temperature_scale"))
               + tuple(f"{k}_kernel_{dt}_{dt}" for dt in HALF_DTYPES
                       for k in ("softmax", "softmax_write", "temperature_scale"))),
        Module("topk_sampling", "topk_sampling.hip", _ENGINE,
               ("topk_sampling_kernel",) + tuple(f"topk_sampling_kernel_{dt}"
                                                 for dt in HALF_DTYPES)),
        Module("topp_sampling", "topp_sampling.hip", _ENGINE,
               ("topp_prefix_sum_kernel", "topp_threshold_kernel", "topp_sample_kernel")
               + tuple(f"topp_{k}_kernel_{dt}" for dt in HALF_DTYPES
                       for k in ("prefix_sum", "threshold", "sample"))),
        Module("topk_topp_sampling", "topk_topp_sampling.hip", _ENGINE,
               ("topk_topp_sampling_kernel",) + tuple(f"topk_topp_sampling_kernel_{dt}"
                                                      for dt in HALF_DTYPES)),
        Module("logits_sampling", "logits_sampling.hip", _ENGINE,
               ("logits_sampling_kernel",) + tuple(f"logits_sampling_kernel_{dt}"
                                                   for dt in HALF_DTYPES)),
        # The rise modules: each includes its kernel's source (a header of theirs) with
        # RS_RISE_MODULE defined, which defines the rise entries instead.
        *(Module(f"{k}_rise", f"{k}_rise.hip", _ENGINE + (f"{k}.hip",), _rise_entries(k))
          for k in RISE_KERNELS),
    )
}

#: The family's entry points by C entry name, in the registry's order.
ENTRIES: dict[str, Entry] = {
    e.entry: e
    for e in (
        Entry("softmax", "sampling_utils", "softmax_kernel", "SAMPLING_UTILS_HSACO", _TEMP),
        Entry("softmax_stats", "sampling_utils", "softmax_stats_kernel", "SAMPLING_UTILS_HSACO",
              _TEMP[:2] + _TEMP[4:] + (("part", "ptr"),), companion_of="softmax"),
        Entry("softmax_write", "sampling_utils", "softmax_write_kernel", "SAMPLING_UTILS_HSACO",
              _TEMP + (("part", "ptr"),), companion_of="softmax"),
        Entry("temperature_scale", "sampling_utils", "temperature_scale_kernel",
              "TEMPERATURE_SCALE_HSACO", _TEMP),
        # The logit operations on float16/bfloat16 logits, read in place (float32 results):
        # optional companions, so a code object without them still serves float32.
        *(e for dt in HALF_DTYPES for e in (
            Entry(f"softmax_{dt}", "sampling_utils", f"softmax_kernel_{dt}",
                  "SAMPLING_UTILS_HSACO", _TEMP, companion_of="softmax"),
            Entry(f"softmax_stats_{dt}", "sampling_utils", f"softmax_stats_kernel_{dt}",
                  "SAMPLING_UTILS_HSACO", _TEMP[:2] + _TEMP[4:] + (("part", "ptr"),),
                  companion_of="softmax"),
            Entry(f"softmax_write_{dt}", "sampling_utils", f"softmax_write_kernel_{dt}",
                  "SAMPLING_UTILS_HSACO", _TEMP + (("part", "ptr"),), companion_of="softmax"),
            Entry(f"temperature_scale_{dt}", "sampling_utils", f"temperature_scale_kernel_{dt}",
                  "TEMPERATURE_SCALE_HSACO", _TEMP, companion_of="temperature_scale"))),
        # ... and the same writing their result in the logits' own type (out_dtype): the
        # float32 result rounded once, half the bytes written.
        *(e for dt in HALF_DTYPES for e in (
            Entry(f"softmax_{dt}_{dt}", "sampling_utils", f"softmax_kernel_{dt}_{dt}",
                  "SAMPLING_UTILS_HSACO", _TEMP, companion_of="softmax"),
            Entry(f"softmax_write_{dt}_{dt}", "sampling_utils", f"softmax_write_kernel_{dt}_{dt}",
                  "SAMPLING_UTILS_HSACO", _TEMP + (("part", "ptr"),), companion_of="softmax"),
            Entry(f"temperature_scale_{dt}_{dt}", "sampling_utils",
                  f"temperature_scale_kernel_{dt}_{dt}", "TEMPERATURE_SCALE_HSACO", _TEMP,
                  companion_of="temperature_scale"))),
        Entry("topk_sampling", "topk_sampling", "topk_sampling_kernel", "TOPK_SAMPLING_HSACO",
              _ROWS + (("top_k", "ptr"), ("top_k_val", "i32")) + _RNG + (("out", "ptr"),)
              + _PHASES),
        Entry("topp_prefix_sum", "topp_sampling", "topp_prefix_sum_kernel",
              "TOPP_PREFIX_SUM_HSACO", _ROWS + (("ws", "ptr"),)),
        Entry("topp_threshold", "topp_sampling", "topp_threshold_kernel",
              "TOPP_THRESHOLD_HSACO",
              _ROWS + (("top_p", "ptr"), ("top_p_val", "f32"), ("ws", "ptr"))),
        Entry("topp_sample", "topp_sampling", "topp_sample_kernel", "TOPP_SAMPLE_HSACO",
              _ROWS + (("ws", "ptr"),) + _RNG + (("out", "ptr"),)),
        Entry("topk_topp_sampling", "topk_topp_sampling", "topk_topp_sampling_kernel",
              "FUSED_SAMPLING_HSACO",
              _ROWS + (("top_k", "ptr"), ("top_k_val", "i32"), ("top_p", "ptr"),
                       ("top_p_val", "f32"), ("min_p", "ptr"), ("min_p_val", "f32"))
              + _RNG + (("out", "ptr"),) + _PHASES),
        Entry("logits_sampling", "logits_sampling", "logits_sampling_kernel",
              "LOGITS_SAMPLING_HSACO",
              (("logits", "ptr"),) + _ROWS[1:] + _TEMP[6:] + (("part", "ptr"), ("part_g", "i32"))
              + (("top_k", "ptr"), ("top_k_val", "i32"), ("top_p", "ptr"),
                 ("top_p_val", "f32"), ("min_p", "ptr"), ("min_p_val", "f32"))
              + _RNG + (("out", "ptr"),) + _PHASES),
    )
}
# The sampler entries on float16/bfloat16 probabilities, read in place: optional companions
# of their float32 entries (same arguments, same variable), so a code object without them
# still serves float32.
ENTRIES.update({
    f"{e.entry}_{dt}": Entry(f"{e.name}_{dt}", e.module, f"{e.entry}_{dt}", e.env_var,
                             e.signature, companion_of=e.name)
    for dt in HALF_DTYPES for e in list(ENTRIES.values())
    if e.module != "sampling_utils" and e.companion_of is None
})

# The rise entries: optional companions of their kernel's float32 entry (the same arguments and
# tokens) in a module (``<module>_rise``) and variable (``<its kernel's>_RISE_HSACO``) of their
# own, compiled only when a row needs them; without them every row takes the base entry.
ENTRIES.update({
    f"{e.entry.replace('_kernel', '_rise_kernel')}{sfx}": Entry(
        f"{e.name}_rise{sfx}", f"{e.module}_rise",
        f"{e.entry.replace('_kernel', '_rise_kernel')}{sfx}",
        e.env_var.removesuffix("_HSACO") + "_RISE_HSACO", e.signature, companion_of=e.name)
    for e in list(ENTRIES.values()) if e.name in RISE_KERNELS
    for sfx in ("",) + tuple(f"_{dt}" for dt in HALF_DTYPES)
})

#: The C entry of each float32 kernel by its registry name.
KERNEL_ENTRY = {e.name: e.entry for e in ENTRIES.values()}

# Imported after the rows: the registry builds its rows from them when it is imported first
# (from here, or on its own), so this module must hold them before the registry loads.
from ..registry import (  # noqa: E402
    BLOCK_SIZE,
    KCAND,
    RISE_CAND,
    RISE_SPAN,
    nchunks,
    ws_prefix_words,
)

#: Threads a block every kernel of the family is compiled for and launched with.
BLOCK = BLOCK_SIZE


# ---- grid rules ----


def _blocks_per_row(rows: int, vocab: int, sm_count: int, per_sm: int = 1) -> int:
    """G of the (rows, G) grid: ``per_sm`` blocks per SM/CU at most, spread over the rows.

    Few rows get many blocks each (up to one per 4096-element sub-chunk), never more than
    fill the device once: on an H200, 32 rows x 9 blocks sampled in 54 us, 32 x 4 in 40 us
    (each block streams its span; more blocks only add last-block work and launches). From
    as many rows as SMs on, each row gets one block, which runs all its phases in one launch
    (see rs_engine.h).

    >>> _blocks_per_row(1, 128256, 132), _blocks_per_row(32, 128256, 132)
    (32, 4)
    >>> _blocks_per_row(128, 128256, 132), _blocks_per_row(128, 128256, 132, per_sm=2)
    (1, 2)
    """
    return max(1, min(nchunks(vocab), per_sm * sm_count // max(rows, 1)))


def _rows_op_blocks(rows: int, vocab: int, sm_count: int) -> int:
    """G for softmax and temperature_scale: a block per SM spread over the rows, and at least
    four a row (as far as 4096-element spans go) while the rows fill under four per SM.

    Measured on an H200 (softmax, us): 32 x 128256 31 with G = 4, 48 with G = 32; 128 x
    128256 190 with one block a row, 98 with G = 4, 93 with G = 8, 103 with G = 16.

    >>> [_rows_op_blocks(r, 128256, 132) for r in (1, 32, 128, 256, 512)]
    [32, 4, 4, 2, 1]
    """
    g = max(sm_count // max(rows, 1), min(4, 4 * sm_count // max(rows, 1)))
    return max(1, min(nchunks(vocab), g))


def _per_sm(method: str, params: SamplingParams, nphase: int, vocab: int, rows: int,
            sm_count: int) -> int:
    """Blocks per SM for the grid of a sampling call (see :func:`_blocks_per_row`).

    Two for rows that may need a top-p cut without top-k (two heavy phases;
    results/2026-11-21-h200-no-spill/) and for top-k's one-read candidate path from 12
    sub-chunks a row on (H200 after the shared-memory row context,
    results/2026-11-21-h200-session7/gvar*.txt: top-k 50 at 100 x 128256 50.0 -> 41.5 us,
    131 x 151936 58.4 -> 48.5, 66 x 128256 30.8 -> 28.4; at 8 sub-chunks one is faster,
    100 x 32000 22.2 against 23.3). Two for plain sampling (no filter, one read) while
    each block keeps a span of at least two sub-chunks: a row's blocks then stream half
    the span each with two blocks an SM to hide each other's barriers (H200,
    results/2026-12-04-h200-session15 run 6, f32 / bf16 us, one -> two: 128 x 262144
    44.0 -> 42.7 / 38.7 -> 33.0, 64 x 128256 18.5 -> 16.1 / 17.9 -> 16.2, 32 x 262144
    18.6 -> 16.0 / 18.0 -> 16.4; at a span of one sub-chunk, 8 x 128256, 11.2 -> 12.0, so
    one there). One otherwise.

    >>> from rocsample.validation import sampling_params
    >>> [_per_sm("fused", sampling_params(1, top_k=50), 1, v, 1, 132) for v in (32000, 128256)]
    [1, 2]
    >>> [_per_sm("fused", sampling_params(1), 1, 128256, r, 132) for r in (1, 8, 32, 128)]
    [1, 1, 2, 2]
    """
    p, k = params.top_p, params.top_k
    may_cut = p is not None and (isinstance(p, np.ndarray) or p < 1)
    if method == "topp" or (nphase == 2 and may_cut):
        return 2
    kcand = not isinstance(k, np.ndarray) and k is not None and 0 < k <= KCAND and k < vocab
    if kcand:
        return 2 if nchunks(vocab) >= 12 else 1
    if nphase != 1 or (k is not None and 0 < k < vocab):
        return 1  # min-p, or top-k's full-row path
    # plain sampling: two while a block's span at two an SM is at least two sub-chunks
    return 2 if -(-nchunks(vocab) // _blocks_per_row(rows, vocab, sm_count, 2)) >= 2 else 1


def _phases(params: SamplingParams, vocab: int) -> int:
    """How many phases of the chunked engine the call needs (see kernels/rs_engine.h).

    One when every row has a top-k filter (0 < k < vocab: one read for k <= KCAND, the
    full-row algorithm beyond) or none has any filter (plain sampling: one read), else two
    (min-p; a top-p cut without top-k: the maximum and a significand histogram, then the
    cut, the gather and the draw). The top-p stages (method "topp") are always three
    launches: the draw needs the seed, which only the third takes. More phases than a row
    needs cost an early-exit launch.

    >>> from rocsample.validation import sampling_params
    >>> _phases(sampling_params(1, top_k=5), 100), _phases(sampling_params(1, min_p=0.1), 100)
    (1, 2)
    """
    k, p, m = params.top_k, params.top_p, params.min_p
    if not isinstance(k, np.ndarray) and k is not None and 0 < k < vocab:
        return 1
    if (not isinstance(k, np.ndarray) and not isinstance(p, np.ndarray)
            and not isinstance(m, np.ndarray) and (p is None or not p < 1)
            and (m is None or not m > 0)):
        return 1  # no row filters: plain sampling (k is None, <= 0 or >= vocab here)
    return 2  # min-p, or top-p (two reads: see rs_engine.h)


#: The variables of the three top-p stages: when one is set, "auto" top-p takes the stages.
_TOPP_VARS = tuple(e.env_var for e in ENTRIES.values()
                   if e.name in ("topp_prefix_sum", "topp_threshold", "topp_sample"))


def _choose(params: SamplingParams) -> str:
    """The kernel path of ``method="auto"``: top-k alone takes topk_sampling; top-p alone the
    fused entry (two launches, the draw in the second: H200, 1 x 128256, 38.8 against 44.0
    us for the three top-p stages, whose draw needs a third launch; 512 x 151936, 358
    against 404 us) unless a top-p stage is overridden by its variable, whose code then
    runs; everything else the fused entry.

    >>> from rocsample.validation import sampling_params
    >>> _choose(sampling_params(1, top_k=5, top_p=None, min_p=None, seed=0, offset=0))
    'topk'
    """
    k = params.top_k is not None and (isinstance(params.top_k, np.ndarray) or params.top_k > 0)
    p = params.top_p is not None and (isinstance(params.top_p, np.ndarray) or params.top_p < 1)
    m = params.min_p is not None and (isinstance(params.min_p, np.ndarray) or params.min_p > 0)
    if k and not p and not m:
        return "topk"
    if p and not k and not m and any(config.kernel_override(v) for v in _TOPP_VARS):
        return "topp"
    return "fused"


# ---- recipes ----

#: The per-call pointers of every sampler launch: the result and the stream workspace.
_SAMPLER_BIND = (("out", "out", 0), ("ws", "ws", 0))


def _sample_launches(x: Any, src: str | None, params: SamplingParams, method: str,
                     facts: DeviceFacts, uploads: dict[str, Any],
                     logits: tuple[str, dict[str, Any], tuple[Any, ...]] | None = None
                     ) -> list[Launch]:
    """The sampler's launches over the rows of ``x`` (``ptr``, ``strides``, ``shape``), read
    from the per-call buffer of role ``src`` when given (``x.ptr`` is then a placeholder).

    Every per-row parameter array goes to the device (as the API gave it, used by the path
    or not), bound by its name; a scalar is passed by value (this is the general path of a
    decode loop: the arguments are written out, not merged). ``logits``: ``x`` holds logits
    and the launches are of the logits_sampling entry with this suffix, these extra
    arguments (temperature, part) and bindings (see :func:`sample_from_logits_recipe`).
    """
    rows, vocab = x.shape
    k, p, m = params.top_k, params.top_p, params.min_p
    bind = _SAMPLER_BIND if src is None else _SAMPLER_BIND + (("probs", src, 0),)
    if method == "auto":
        method = _choose(params)
    sfx = logits[0] if logits else _half_suffix(x, _METHOD_KERNEL[method], facts, "probs")
    kb = pb = mb = ()
    if isinstance(k, np.ndarray):
        uploads["top_k"] = k.astype(np.int32, copy=False)
        kb, k = (("top_k", "top_k", 0),), 0
    if isinstance(p, np.ndarray):
        uploads["top_p"] = p.astype(np.float32, copy=False)
        pb, p = (("top_p", "top_p", 0),), 0
    if isinstance(m, np.ndarray):
        uploads["min_p"] = m.astype(np.float32, copy=False)
        mb, m = (("min_p", "min_p", 0),), 0
    nphase = _phases(params, vocab)
    # Logit rows: two blocks an SM for every filter, as each element costs its probability
    # too (H200, plain sampling of 128 x 262144 logits, f32/bf16: 122/101 -> 99/79 us; the
    # filters that already took two unchanged).
    per_sm = 2 if logits else _per_sm(method, params, nphase, vocab, rows, facts.sm_count)
    grid = (rows, _blocks_per_row(rows, vocab, facts.sm_count, per_sm))
    if method != "topp":
        sfx = _rise_suffix("logits_sampling" if logits else _METHOD_KERNEL[method], sfx,
                           params.top_k, vocab, grid[1], facts) + sfx
    p = 1.0 if p is None else p
    ptr, stride = x.ptr, x.strides[0]
    # Per-row seeds/offsets: a host array is uploaded and bound by role; a device array's
    # pointer goes straight into the arguments (the kernels read it at launch, so a graph
    # replay sees what the caller wrote since); the scalar argument is then unused (0).
    seed, offset, rng = params.seed, params.offset, {"seeds": 0, "offsets": 0}
    if not isinstance(seed, int):
        seed, rng["seeds"] = 0, _rng_pointer("seeds", seed, uploads)
    if not isinstance(offset, int):
        offset, rng["offsets"] = 0, _rng_pointer("offsets", offset, uploads)
    rb = tuple((n, n, 0) for n in ("seeds", "offsets") if n in uploads)
    if method == "topp":
        ws_bind = bind[1:]
        rows_args = {"probs": ptr, "row_stride": stride, "batch": rows, "vocab": vocab, "ws": 0}
        return [
            Launch("topp_prefix_sum" + sfx, grid, dict(rows_args), ws_bind),
            Launch("topp_threshold" + sfx, grid, {**rows_args, "top_p": 0, "top_p_val": p},
                   ws_bind + pb, True),
            Launch("topp_sample" + sfx, grid, {**rows_args, "seed": seed, "offset": offset,
                                               **rng, "out": 0}, bind + rb, True),
        ]
    # A row with one block chains every phase in the first launch (rs_engine.h): the later
    # launches would find every row done, so they are not made.
    phases = range(1 if grid[1] == 1 else nphase)
    if logits:  # the fused engine over the logits' softmax: any filter (method topk or fused)
        bind += kb + pb + mb + rb + logits[2]
        return [Launch("logits_sampling" + sfx, grid,
                       {"logits": ptr, "row_stride": stride, "batch": rows, "vocab": vocab,
                        **logits[1], "top_k": 0, "top_k_val": k or 0, "top_p": 0,
                        "top_p_val": p, "min_p": 0, "min_p_val": m or 0.0, "seed": seed,
                        "offset": offset, **rng, "out": 0, "ws": 0, "phase": phase,
                        "nphase": nphase}, bind, phase > 0)
                for phase in phases]
    if method == "topk":
        bind += kb + rb
        return [Launch("topk_sampling" + sfx, grid,
                       {"probs": ptr, "row_stride": stride, "batch": rows, "vocab": vocab,
                        "top_k": 0, "top_k_val": k or 0, "seed": seed, "offset": offset,
                        **rng, "out": 0, "ws": 0, "phase": phase, "nphase": nphase},
                       bind, phase > 0) for phase in phases]
    bind += kb + pb + mb + rb  # "fused" (the API validated method)
    return [Launch("topk_topp_sampling" + sfx, grid,
                   {"probs": ptr, "row_stride": stride, "batch": rows, "vocab": vocab,
                    "top_k": 0, "top_k_val": k or 0, "top_p": 0, "top_p_val": p, "min_p": 0,
                    "min_p_val": m or 0.0, "seed": seed, "offset": offset, **rng, "out": 0,
                    "ws": 0, "phase": phase, "nphase": nphase}, bind, phase > 0)
            for phase in phases]


def _rise_suffix(kernel: str, sfx: str, k: Any, vocab: int, g: int,
                 facts: DeviceFacts) -> str:
    """"_rise" when ``kernel``'s rise entry for the element type of suffix ``sfx`` serves
    these rows better, else "".

    A top-k row keeps about k candidates a sub-chunk at its first bound; the rise entries
    raise the bound as each block scans, so that after n sub-chunks it keeps about k / n a
    sub-chunk (the same tokens). Rows of k x sub-chunks above
    :data:`~rocsample.registry.RISE_CAND` need it: their candidates would not fit the last
    block's shared memory (H100, bench/results/2026-12-05-session23: such rows took 0.71-0.98
    of the time, median 0.84, the same tokens). Other rows rise where a block, one of ``g``
    a row, spans at least :data:`~rocsample.registry.RISE_SPAN` sub-chunks (2-byte rows /
    float rows): the writes it saves then outweigh its fixed cost (H100,
    bench/results/2026-12-07-session39: every row rising took 0.84-0.97 of the time at spans
    of 28-56 sub-chunks, 1.04-1.17 at 8-16; 2-byte rows from 24, measured against 32 in
    bench/results/2026-12-08-session41: top-k 50 at 128 x 200064-229376 0.83-0.87 of the time,
    512 x 114688 0.96-0.97, the other cells within 1 %, tokens identical).
    The base entries never instantiate the rising scan, whose code made their other rows 1 %
    slower (bench/results/2026-12-05-session22); the rise entries live in modules of their
    own (``*_rise.hip``: compiled only once a row needs them). ``k``: the scalar, or the host
    array's largest. Without the rise entries (their variable unset while their kernel's is
    set) the kernel's entry serves every row. The kernel decides the same from the row
    (``rs_phase0``); 2-byte logit rows reach the rise entries by their candidates only
    (:func:`_rise_span`).

    >>> from types import SimpleNamespace
    >>> dev = SimpleNamespace(has_companion=lambda name: True)
    >>> [_rise_suffix("topk_sampling", "_bf16", 50, v, g, dev)
    ...  for v, g in ((128256, 2), (128256, 1), (262144, 2))]
    ['', '_rise', '_rise']
    >>> _rise_suffix("topk_sampling", "", 50, 128256, 1, dev)  # float: 32 < 40
    ''
    """
    if isinstance(k, np.ndarray):
        k = int(k.max()) if k.size else 0
    if k is None or not 0 < k <= KCAND or k >= vocab:
        return ""
    nc = nchunks(vocab)
    if k * nc <= RISE_CAND and -(-nc // max(g, 1)) < _rise_span(kernel, sfx):
        return ""
    return "_rise" if facts.has_companion(f"{kernel}_rise{sfx}") else ""


def _rise_span(kernel: str, sfx: str) -> float:
    """The block span (sub-chunks) from which a top-k row of ``kernel`` with element-type
    suffix ``sfx`` takes the rise entries whatever its candidates.

    Probability rows: :data:`~rocsample.registry.RISE_SPAN`'s float or 2-byte threshold, as
    ``rs_phase0`` tests it. Logit rows are never held packed (``rs_packed``), so the kernel
    applies the float threshold to both sizes; the host sends float logit rows from there
    (H100, bench/results/2026-12-07-session40: 0.97-1.00 at spans 40-56), and 2-byte logit
    rows never by their span, since rising cost them more than it saved (1.01-1.03 at spans
    40-48, where each element's exp, not its candidate writes, is the cost).

    >>> _rise_span("topk_sampling", "_bf16"), _rise_span("logits_sampling", "")
    (24, 40)
    >>> _rise_span("logits_sampling", "_bf16")
    inf
    """
    if kernel == "logits_sampling":
        return math.inf if sfx else RISE_SPAN[0]
    return RISE_SPAN[bool(sfx)]  # sfx: "" for float rows, "_f16" / "_bf16" for 2-byte ones


def _rng_pointer(role: str, value: Any, uploads: dict[str, Any]) -> int:
    """The argument value of a per-row seed/offset array: a device array's address, or 0 for a
    host array, uploaded under ``role`` (and bound by it)."""
    if isinstance(value, np.ndarray):
        uploads[role] = value.astype(np.uint64, copy=False)
        return 0
    return int(value.ptr)  # an ArrayView of the caller's device array


def _rows_op_launches(x: Any, kernel: str, temperature: Any, facts: DeviceFacts,
                      uploads: dict[str, Any], out: str,
                      out_kind: str = "f32") -> tuple[list[Launch], bool]:
    """softmax or temperature_scale of ``x`` into the contiguous (rows, vocab) buffer of role
    ``out`` (of element type ``out_kind``: float32, or the logits' own half type); and
    whether the launches use the stream workspace.

    Few rows get G blocks each, as the samplers do: temperature_scale's blocks each write
    their span; softmax takes two launches (each block's maximum and sum of exponentials,
    then every block combines its row's G pairs and writes its span) when its code object
    has the two companion entries, else one block a row.
    """
    rows, vocab = x.shape
    sfx = _half_suffix(x, kernel, facts)
    osfx = _out_suffix(sfx, kernel, out_kind, facts)
    t_val, bind = temperature, (("out", out, 0),)
    if isinstance(temperature, np.ndarray):
        uploads["temperature"] = temperature.astype(np.float32, copy=False)
        t_val, bind = 0, bind + (("temperature", "temperature", 0),)
    ptr, stride = x.ptr, x.strides[0]
    g = _rows_op_blocks(rows, vocab, facts.sm_count)
    if kernel == "softmax" and g > 1 and facts.has_companion("softmax_stats" + sfx) \
            and facts.has_companion("softmax_write" + sfx + osfx):
        # The row pairs go after the histograms and tickets of the stream's sampling
        # workspace, in its rows' part (rows * ws_words(vocab) >= rows * G words, none of
        # which needs to be zero); calls on a stream run in order, so no sampling call uses
        # them meanwhile.
        part = (("part", "ws", 8 * ws_prefix_words(rows)),)
        return [
            Launch("softmax_stats" + sfx, (rows, g),
                   {"logits": ptr, "in_stride": stride, "batch": rows, "vocab": vocab,
                    "temperature": 0, "temperature_val": t_val, "part": 0}, bind[1:] + part),
            Launch("softmax_write" + sfx + osfx, (rows, g),
                   {"logits": ptr, "in_stride": stride, "out": 0, "out_stride": vocab,
                    "batch": rows, "vocab": vocab, "temperature": 0, "temperature_val": t_val,
                    "part": 0}, bind + part),
        ], True
    if kernel == "softmax":
        g = 1
    return [Launch(kernel + sfx + osfx, (rows, g),
                   {"logits": ptr, "in_stride": stride, "out": 0, "out_stride": vocab,
                    "batch": rows, "vocab": vocab, "temperature": 0, "temperature_val": t_val},
                   bind)], False


def _half_suffix(x: Any, kernel: str, facts: DeviceFacts, what: str = "logits") -> str:
    """The entry suffix of ``x``'s element type ("" for float32, "_f16", "_bf16"); a clear
    error when the loaded code object lacks the half-precision entry (a user's override built
    before them: float32 still runs from it). The top-p stages need all three."""
    kind = float_kind(x.dtype) if hasattr(x, "dtype") else "f32"
    if kind in (None, "f32"):
        return ""
    stages = ("topp_prefix_sum", "topp_threshold", "topp_sample") if kernel == "topp" \
        else (kernel,)
    for name in stages:
        if not facts.has_companion(f"{name}_{kind}"):
            e = ENTRIES[f"{KERNEL_ENTRY[name]}_{kind}"]
            raise TypeError(f"{what} of dtype {KIND_NAMES[kind]} need the entry {e.entry}, "
                            f"which the loaded {e.env_var} code object lacks: rebuild it from "
                            f"this version's kernels/{MODULES[e.module].source}, or pass "
                            f"float32 {what}")
    return "_" + kind


def _out_suffix(sfx: str, kernel: str, out_kind: str, facts: DeviceFacts) -> str:
    """The entry suffix of a result of type ``out_kind`` ("" for float32; "_bf16" for a
    bfloat16 result of bfloat16 logits, whose entry is then ``<kernel>_bf16_bf16``), from the
    logits' suffix ``sfx`` (:func:`_half_suffix`); a clear error for a type the logits cannot
    give or an entry the code object lacks."""
    if out_kind == "f32":
        return ""
    result_kind(sfx[1:] or "f32", out_kind)
    name = f"{kernel}_{out_kind}_{out_kind}"
    if not facts.has_companion(name):
        e = next(e for e in ENTRIES.values() if e.name == name)
        raise TypeError(f"a {KIND_NAMES[out_kind]} result of {kernel} needs the entry "
                        f"{e.entry}, which the loaded {e.env_var} code object lacks: rebuild "
                        f"it from this version's kernels/{MODULES[e.module].source}, or pass "
                        "out_dtype=None for a float32 result")
    return "_" + out_kind


#: The kernel of each sampling method (the top-p stages: "topp").
_METHOD_KERNEL = {"topk": "topk_sampling", "fused": "topk_topp_sampling", "topp": "topp"}


def sample_recipe(x: Any, params: SamplingParams, method: str, facts: DeviceFacts) -> Recipe:
    """``sample``: one token per row of ``x`` (validated (rows, vocab) float32 rows with
    ``ptr`` and ``strides`` in elements) into a (rows,) int32 result.

    >>> from types import SimpleNamespace
    >>> from rocsample.validation import sampling_params
    >>> x = SimpleNamespace(ptr=4096, strides=(128256, 1), shape=(128, 128256))
    >>> dev = SimpleNamespace(sm_count=132, has_companion=lambda name: True)
    >>> r = sample_recipe(x, sampling_params(128, top_p=0.9), "auto", dev)
    >>> [(l.kernel, l.grid, l.args["phase"], l.after_phase) for l in r.launches]
    [('topk_topp_sampling', (128, 2), 0, False), ('topk_topp_sampling', (128, 2), 1, True)]
    """
    rows, vocab = x.shape
    uploads: dict[str, Any] = {}
    launches = _sample_launches(x, None, params, method, facts, uploads)
    return Recipe("sample", (Buffer("out", (rows,), np.int32, "tokens"),), uploads,
                  (rows, vocab), launches)


#: The numpy dtype of a result by its kind.
RESULT_DTYPES = {"f32": np.dtype(np.float32), "f16": np.dtype(np.float16), "bf16": BFLOAT16}


def softmax_recipe(x: Any, temperature: Any, out_kind: str, facts: DeviceFacts,
                   kernel: str = "softmax") -> Recipe:
    """``softmax`` (or, with ``kernel="temperature_scale"``, ``temperature_scale``) of the
    rows of ``x`` into a new contiguous (rows, vocab) result of type ``out_kind`` ("f32", or
    the logits' own "f16"/"bf16": :func:`~rocsample.validation.check_out_dtype`).

    >>> from types import SimpleNamespace
    >>> x = SimpleNamespace(ptr=4096, strides=(128256, 1), shape=(32, 128256))
    >>> dev = SimpleNamespace(sm_count=132, has_companion=lambda name: False)
    >>> [(l.kernel, l.grid) for l in softmax_recipe(x, 1.0, "f32", dev).launches]
    [('softmax', (32, 1))]
    >>> x.dtype, dev.has_companion = BFLOAT16, lambda name: True
    >>> r = softmax_recipe(x, 1.0, "bf16", dev)
    >>> [(l.kernel, l.grid) for l in r.launches], r.buffers[0].dtype == BFLOAT16
    ([('softmax_stats_bf16', (32, 4)), ('softmax_write_bf16_bf16', (32, 4))], True)
    """
    uploads: dict[str, Any] = {}
    launches, ws = _rows_op_launches(x, kernel, temperature, facts, uploads, "out", out_kind)
    return Recipe(kernel, (Buffer("out", x.shape, RESULT_DTYPES[out_kind], "new"),), uploads,
                  x.shape if ws else None, launches)


def temperature_scale_recipe(x: Any, temperature: Any, out_kind: str,
                             facts: DeviceFacts) -> Recipe:
    """``temperature_scale``: ``logits / temperature`` per row, (rows, G) blocks.

    >>> from types import SimpleNamespace
    >>> x = SimpleNamespace(ptr=4096, strides=(128256, 1), shape=(256, 128256))
    >>> dev = SimpleNamespace(sm_count=132, has_companion=lambda name: True)
    >>> r = temperature_scale_recipe(x, 0.7, "f32", dev)
    >>> [(l.kernel, l.grid, l.args["temperature_val"]) for l in r.launches], r.workspace
    ([('temperature_scale', (256, 2), 0.7)], None)
    """
    return softmax_recipe(x, temperature, out_kind, facts, "temperature_scale")


#: The sampling methods (:func:`_choose`) whose ``sample_from_logits`` samples the logits'
#: softmax unwritten (logits_sampling): every filter of the fused engine and top-k alone. Not
#: "topp", the three top-p stages a variable overrides: their code reads probabilities.
_DIRECT_METHODS = frozenset({"topk", "fused"})


def sample_from_logits_recipe(x: Any, temperature: Any, params: SamplingParams,
                              facts: DeviceFacts) -> Recipe:
    """``sample_from_logits``: each row's softmax maximum and sum (softmax_stats, G blocks a
    row, one read into a rows x G scratch), then the logits_sampling entry, which samples the
    softmax without writing it (kernels/logits_sampling.hip: the same probabilities, so the
    same tokens). A code object without the entries, or top-p stages overridden by their
    variables, take the written softmax instead: softmax into a scratch (rows, vocab) float32
    matrix, freed behind the launches, then ``sample`` of it with ``method="auto"``.

    Forming each probability where the engine loads its logit once cost more than writing
    and re-reading the softmax everywhere but top-k (bench/results/2026-12-03-h200-session10);
    with the cheaper softmax of rs_logits.h (one fused multiply-add and one exp2 an element,
    the row's maximum and sum in one read) it is faster for every filter, dtype and shape
    measured (bench/results/2026-12-04-h200-session11: 512 x 128256 bf16, plain 144 us
    against 224 written, top-p 0.9 297 against 380).

    >>> from types import SimpleNamespace
    >>> from rocsample.validation import sampling_params
    >>> x = SimpleNamespace(ptr=4096, strides=(128256, 1), shape=(32, 128256))
    >>> dev = SimpleNamespace(sm_count=132, has_companion=lambda name: True)
    >>> r = sample_from_logits_recipe(x, 1.0, sampling_params(32, top_k=50), dev)
    >>> [(l.kernel, l.grid) for l in r.launches]
    [('softmax_stats', (32, 4)), ('logits_sampling', (32, 8))]
    >>> [(b.role, b.shape, b.kind) for b in r.buffers], r.launches[1].bind[-1]
    ([('scratch', (32, 4), 'temp'), ('out', (32,), 'tokens')], ('part', 'scratch', 0))
    >>> dev.has_companion = lambda name: not name.startswith("logits_sampling")
    >>> x.dtype = np.float16
    >>> r = sample_from_logits_recipe(x, 1.0, sampling_params(32, top_k=50), dev)
    >>> [l.kernel for l in r.launches]
    ['softmax_stats_f16', 'softmax_write_f16', 'topk_sampling']
    """
    rows, vocab = x.shape
    uploads: dict[str, Any] = {}
    kind = float_kind(x.dtype) if hasattr(x, "dtype") else "f32"
    sfx = "" if kind in (None, "f32") else "_" + kind
    g = _rows_op_blocks(rows, vocab, facts.sm_count)
    method = _choose(params)
    if method in _DIRECT_METHODS and facts.has_companion("softmax_stats" + sfx) \
            and (not sfx or facts.has_companion("logits_sampling" + sfx)):
        t_val, t_bind = temperature, ()
        if isinstance(temperature, np.ndarray):
            uploads["temperature"] = temperature.astype(np.float32, copy=False)
            t_val, t_bind = 0, (("temperature", "temperature", 0),)
        part = (("part", "scratch", 0),)
        launches = [Launch("softmax_stats" + sfx, (rows, g),
                           {"logits": x.ptr, "in_stride": x.strides[0], "batch": rows,
                            "vocab": vocab, "temperature": 0, "temperature_val": t_val,
                            "part": 0}, t_bind + part)]
        launches += _sample_launches(
            x, None, params, method, facts, uploads,
            (sfx, {"temperature": 0, "temperature_val": t_val, "part": 0, "part_g": g},
             t_bind + part))
        return Recipe("sample_from_logits",
                      (Buffer("scratch", (rows, g), np.uint64, "temp"),
                       Buffer("out", (rows,), np.int32, "tokens")),
                      uploads, (rows, vocab), launches)
    launches, _ = _rows_op_launches(x, "softmax", temperature, facts, uploads, "scratch")
    probs = _Rows(0, (vocab, 1), (rows, vocab))
    launches += _sample_launches(probs, "scratch", params, "auto", facts, uploads)
    return Recipe("sample_from_logits",
                  (Buffer("scratch", (rows, vocab), np.float32, "temp"),
                   Buffer("out", (rows,), np.int32, "tokens")),
                  uploads, (rows, vocab), launches)


@dataclass(frozen=True)
class _Rows:
    """A (rows, vocab) matrix as a recipe sees it: its address and strides in elements."""

    ptr: int
    strides: tuple[int, int]
    shape: tuple[int, int]


# ---- the operations ----


@dataclass(frozen=True)
class Operation:
    """One operation of the family: the name of its (rows, vocab) matrix argument, whether
    host rows may be checked eagerly, the checks of :mod:`rocsample.validation` the API runs
    on its other arguments, the numpy reference and the recipe."""

    name: str
    input: str
    checks: tuple[Callable[..., Any], ...]
    reference: Callable[..., np.ndarray]
    recipe: Callable[..., Recipe]


def _rows_op_reference(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """The numpy reference of softmax or temperature_scale (``fn``, on float32 logits): its
    float32 result, rounded once to ``out_dtype`` when that is the logits' half type (the cpu
    backend's own computation, :func:`rocsample.backends.cpu.rows_op`)."""
    def reference(logits: np.ndarray, temperature: Any = 1.0,
                  out_dtype: Any = None) -> np.ndarray:
        from ..backends.cpu import rows_op  # the cpu backend imports this module's rows

        return rows_op(fn, logits, temperature, check_out_dtype(out_dtype))
    reference.__doc__ = fn.__doc__
    return reference


def _sample_from_logits_reference(logits: np.ndarray, temperature: Any,
                                  **params: Any) -> np.ndarray:
    return cpu_engine.sample_rows(cpu_engine.softmax(logits, temperature), **params)


#: The family's operations by name.
OPERATIONS: dict[str, Operation] = {
    o.name: o
    for o in (
        Operation("sample", "probs", (sampling_params, check_method), cpu_engine.sample_rows,
                  sample_recipe),
        Operation("softmax", "logits", (check_temperature, check_out_dtype),
                  _rows_op_reference(cpu_engine.softmax), softmax_recipe),
        Operation("temperature_scale", "logits", (check_temperature, check_out_dtype),
                  _rows_op_reference(cpu_engine.temperature_scale), temperature_scale_recipe),
        Operation("sample_from_logits", "logits", (check_temperature, sampling_params),
                  _sample_from_logits_reference, sample_from_logits_recipe),
    )
}
