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
from functools import cached_property
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
ABI_VERSION = 4
#: Threads per block every kernel is compiled for and launched with.
BLOCK_SIZE = 512
#: Elements of a sub-chunk in the sampling kernels (``RS_CHUNK``); a row has
#: ``nchunks(vocab)`` of them and the grid is ``(batch, G)`` with ``1 <= G <= nchunks``.
CHUNK = 4096
#: Largest top-k served in one read of the row (``RS_KCAND``).
KCAND = 128
#: Top-k candidates a row's last block selects from in shared memory (``RS_RISE_CAND``):
#: rows of more (k x sub-chunks) take the sampling kernels' ``*_rise`` entries.
RISE_CAND = 3072
#: Sub-chunks a block spans from which a top-k row takes the ``*_rise`` entries whatever its
#: candidates, for float rows and for 2-byte rows (``RS_RISE_SPAN4`` / ``RS_RISE_SPAN2``).
RISE_SPAN = (40, 24)
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
    """One kernel source file and the entry points it defines.

    ``calls``: its kernels call device functions (the sampling engine's ``__noinline__``
    phases), which decides how NVRTC compiles it (:data:`rocsample.toolchains.SPLIT_COMPILE_FROM`).
    """

    name: str
    source: str
    headers: tuple[str, ...]
    entries: tuple[str, ...]
    family: str = "sampling"
    calls: bool = False


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

    # Cached: the executor reads them at every launch of the general path.
    @cached_property
    def arg_types(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.signature)

    @cached_property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.signature)

    @property
    def family(self) -> str:
        return MODULES[self.module].family


MODULES: dict[str, ModuleSpec] = {}
KERNELS: dict[str, KernelSpec] = {}


def _sampling_rows() -> None:
    """The sampling family (:mod:`rocsample.ops.sampling`): its modules, and one row per entry
    point with the variable that overrides it, launched with :data:`BLOCK_SIZE` threads."""
    from .ops import sampling

    for m in sampling.MODULES.values():
        MODULES[m.name] = ModuleSpec(m.name, m.source, m.headers, m.entries, calls=True)
    for e in sampling.ENTRIES.values():
        KERNELS[e.name] = KernelSpec(e.name, e.module, e.entry, e.env_var, e.signature,
                                     companion_of=e.companion_of)


def _elementwise_rows() -> None:
    """Candle's elementwise family (:mod:`rocsample.ops.elementwise`): one module and one
    variable per kernel source, one row per entry point (Candle's, and rocsample's own
    by-value companions), launched with the family's block."""
    from .ops import elementwise as ew

    for m in ew.MODULES.values():
        MODULES[m.name] = ModuleSpec(m.name, m.source, m.headers, m.entries, "elementwise")
    for e in (*ew.ENTRIES.values(), *ew.COMPANIONS.values()):
        KERNELS[e.name] = KernelSpec(e.name, e.module, e.name, ew.MODULES[e.module].env_var,
                                     e.signature, companion_of=e.companion_of, block=ew.BLOCK)


def _mlp_rows() -> None:
    """The MLP family (:mod:`rocsample.ops.mlp`): SwiGLU and RMSNorm, one module and one
    variable per kernel source, one row per entry point (the compact ones optional
    companions of their general entry), launched with at most :data:`BLOCK_SIZE` threads
    (the kernels size their reductions with ``RS_BLOCK``), the one-group row entries with up
    to twice as many (``mlp.ROW1_BLOCK``)."""
    from .ops import mlp

    for m in mlp.MODULES.values():
        MODULES[m.name] = ModuleSpec(m.name, m.source, m.headers, m.entries, "mlp")
    for e in mlp.ENTRIES.values():
        KERNELS[e.name] = KernelSpec(e.name, e.module, e.name, mlp.MODULES[e.module].env_var,
                                     e.signature, companion_of=e.companion_of, block=e.block)


_sampling_rows()
_elementwise_rows()
_mlp_rows()

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
