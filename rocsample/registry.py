"""The kernel registry: what rocsample's kernels are, as data.

One frozen :class:`ModuleSpec` per source file in ``kernels/`` and one :class:`KernelSpec`
per entry point, with the environment variable that overrides it and its argument signature
(the ABI users build their own code objects against). The kernel cache
(:mod:`rocsample.kernel_cache`) is the mechanism that acts on this data.

Example
-------
>>> from rocsample.registry import KERNELS
>>> KERNELS["topk_sampling"].env_var
'TOPK_SAMPLING_HSACO'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ABI_VERSION",
    "BLOCK_SIZE",
    "CHUNK",
    "CONTRACT",
    "HBINS",
    "KCAND",
    "KERNELS",
    "MODULES",
    "KernelSpec",
    "ModuleSpec",
    "kernel_source_dir",
    "nchunks",
    "ws_prefix_words",
    "ws_total_words",
    "ws_words",
]

#: Version of the kernel argument ABI below; bump it when any signature or meaning changes.
ABI_VERSION = 3
#: Threads per block every kernel is compiled for and launched with.
BLOCK_SIZE = 512
#: Elements of a sub-chunk in the sampling kernels (``RS_CHUNK``); a row has
#: ``nchunks(vocab)`` of them and the grid is ``(batch, G)`` with ``1 <= G <= nchunks``.
CHUNK = 4096
#: Largest top-k served in one read of the row (``RS_KCAND``).
KCAND = 128
#: Bins of a row's top-p histogram (``RS_HBINS``): row r's are workspace words
#: ``[r * HBINS, (r + 1) * HBINS)``.
HBINS = 2048
_WS_HEAD, _HBINS, _CAPC, _KSLOT = 16, HBINS, 8192, 256


def nchunks(vocab: int) -> int:
    """Sub-chunks per row: the most blocks a row of the sampling kernels can use."""
    return -(-vocab // CHUNK)


def ws_words(vocab: int) -> int:
    """unsigned long longs of sampling workspace per row (``rs_ws_words``, rs_engine_core.h).

    A call needs :func:`ws_total_words` words: first :func:`ws_prefix_words` (each row's
    top-p histogram, then the tickets), which must be zero, then ``ws_words(vocab)`` per row.

    >>> ws_words(128256)
    10352
    """
    nc = nchunks(vocab)
    return _WS_HEAD + 3 * nc + _HBINS + max(nc * _KSLOT, _CAPC)


def ws_prefix_words(batch: int) -> int:
    """The leading words of a workspace that must be zero before a call (the kernels leave
    them zero): ``batch`` top-p histograms of 2048 words, then ``batch`` tickets. Row r's
    histogram is at word ``r * 2048`` whatever the batch and vocab.

    >>> ws_prefix_words(2)
    4098
    """
    return batch * (_HBINS + 1)


def ws_total_words(batch: int, vocab: int) -> int:
    """Words of workspace a (batch, vocab) sampling call needs.

    >>> ws_total_words(1, 128256)
    12401
    """
    return ws_prefix_words(batch) + batch * ws_words(vocab)


# Argument type codes (ctypes packing in rocsample.backends.runtime.pack_args): "ptr" device
# pointer, "i32" int, "i64" long long, "u64" unsigned long long (size_t), "f32" float; for the
# elementwise scalars also "f64" double, "u8", "u32", "i16", and "f16"/"bf16" (a 16-bit value
# passed as its bit pattern).


@dataclass(frozen=True)
class ModuleSpec:
    """One kernel source file and the entry points it defines."""

    name: str
    source: str
    headers: tuple[str, ...]
    entries: tuple[str, ...]
    family: str = "sampling"


@dataclass(frozen=True)
class KernelSpec:
    """One kernel entry point: its module, override variable and argument signature.

    ``companion_of`` names the contract kernel an optional entry travels with: it is loaded
    from the same code object (the same environment variable), and a code object without it
    still serves the contract kernel (the host then takes the path that needs no companion).
    """

    name: str
    module: str
    entry: str
    env_var: str
    signature: tuple[tuple[str, str], ...]  # (argument name, type code)
    companion_of: str | None = None
    block: int = BLOCK_SIZE  # threads a block it is compiled for and launched with

    @property
    def arg_types(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.signature)

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.signature)

    @property
    def family(self) -> str:
        return MODULES[self.module].family


_HEADERS = ("rs_common.h",)
# The engine's headers (rs_engine.h's phases in its include order): every one is hashed into the
# cache key and handed to the compiler in memory, so a header missing here fails to compile.
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
)
_PHASES = (("ws", "ptr"), ("phase", "i32"), ("nphase", "i32"))
_ROWS = (("probs", "ptr"), ("row_stride", "i64"), ("batch", "i32"), ("vocab", "i32"))
_RNG = (("seed", "u64"), ("offset", "u64"))
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

MODULES: dict[str, ModuleSpec] = {
    m.name: m
    for m in (
        ModuleSpec(
            "sampling_utils",
            "sampling_utils.hip",
            _HEADERS,
            ("softmax_kernel", "temperature_scale_kernel", "softmax_stats_kernel",
             "softmax_write_kernel"),
        ),
        ModuleSpec("topk_sampling", "topk_sampling.hip", _ENGINE, ("topk_sampling_kernel",)),
        ModuleSpec(
            "topp_sampling",
            "topp_sampling.hip",
            _ENGINE,
            ("topp_prefix_sum_kernel", "topp_threshold_kernel", "topp_sample_kernel"),
        ),
        ModuleSpec(
            "topk_topp_sampling", "topk_topp_sampling.hip", _ENGINE, ("topk_topp_sampling_kernel",)
        ),
    )
}

KERNELS: dict[str, KernelSpec] = {
    k.name: k
    for k in (
        KernelSpec("softmax", "sampling_utils", "softmax_kernel", "SAMPLING_UTILS_HSACO", _TEMP),
        KernelSpec(
            "softmax_stats",
            "sampling_utils",
            "softmax_stats_kernel",
            "SAMPLING_UTILS_HSACO",
            _TEMP[:2] + _TEMP[4:] + (("part", "ptr"),),
            companion_of="softmax",
        ),
        KernelSpec(
            "softmax_write",
            "sampling_utils",
            "softmax_write_kernel",
            "SAMPLING_UTILS_HSACO",
            _TEMP + (("part", "ptr"),),
            companion_of="softmax",
        ),
        KernelSpec(
            "temperature_scale",
            "sampling_utils",
            "temperature_scale_kernel",
            "TEMPERATURE_SCALE_HSACO",
            _TEMP,
        ),
        KernelSpec(
            "topk_sampling",
            "topk_sampling",
            "topk_sampling_kernel",
            "TOPK_SAMPLING_HSACO",
            _ROWS + (("top_k", "ptr"), ("top_k_val", "i32")) + _RNG + (("out", "ptr"),) + _PHASES,
        ),
        KernelSpec(
            "topp_prefix_sum",
            "topp_sampling",
            "topp_prefix_sum_kernel",
            "TOPP_PREFIX_SUM_HSACO",
            _ROWS + (("ws", "ptr"),),
        ),
        KernelSpec(
            "topp_threshold",
            "topp_sampling",
            "topp_threshold_kernel",
            "TOPP_THRESHOLD_HSACO",
            _ROWS + (("top_p", "ptr"), ("top_p_val", "f32"), ("ws", "ptr")),
        ),
        KernelSpec(
            "topp_sample",
            "topp_sampling",
            "topp_sample_kernel",
            "TOPP_SAMPLE_HSACO",
            _ROWS + (("ws", "ptr"),) + _RNG + (("out", "ptr"),),
        ),
        KernelSpec(
            "topk_topp_sampling",
            "topk_topp_sampling",
            "topk_topp_sampling_kernel",
            "FUSED_SAMPLING_HSACO",
            _ROWS
            + (
                ("top_k", "ptr"),
                ("top_k_val", "i32"),
                ("top_p", "ptr"),
                ("top_p_val", "f32"),
                ("min_p", "ptr"),
                ("min_p_val", "f32"),
            )
            + _RNG
            + (("out", "ptr"),)
            + _PHASES,
        ),
    )
}


def _elementwise_rows() -> None:
    """Candle's elementwise family (:mod:`rocsample.ops.elementwise`): one module and one
    variable per kernel source, one row per entry point, launched with 1024 threads."""
    from .ops import elementwise as ew

    for m in ew.MODULES.values():
        MODULES[m.name] = ModuleSpec(m.name, m.source, m.headers, m.entries, "elementwise")
    for e in ew.ENTRIES.values():
        KERNELS[e.name] = KernelSpec(e.name, e.module, e.name, ew.MODULES[e.module].env_var,
                                     e.signature, block=ew.BLOCK)


_elementwise_rows()

#: The kernels of the contract (each loaded on its own, through its module's variable); the
#: others are companions.
CONTRACT: tuple[str, ...] = tuple(n for n, k in KERNELS.items() if k.companion_of is None)


def kernel_source_dir() -> Path:
    """Where the ``.hip`` sources are: the installed package data, else the checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "kernels"
    if (installed / "rs_common.h").is_file():
        return installed
    return here.parent / "kernels"
