"""The registry is the union of the kernel families' rows: one place lists every kernel.

The counts come from the families' own tables (``ops.elementwise.ENTRIES``), never written
here.
"""

from __future__ import annotations

import pytest

from rocsample import registry
from rocsample.ops import elementwise as ew


def test_every_elementwise_entry_has_its_row():
    for name, e in ew.ENTRIES.items():
        spec = registry.KERNELS[name]
        assert spec.entry == name and spec.module == e.module
        assert spec.env_var == ew.MODULES[e.module].env_var
        assert spec.signature == e.signature  # names and C types, as the kernels declare
        assert spec.block == ew.BLOCK and spec.companion_of is None
        assert spec.family == "elementwise" and name in registry.CONTRACT


@pytest.mark.parametrize("module", sorted(ew.MODULES))
def test_elementwise_modules_are_registered_like_the_sampling_ones(module):
    spec, theirs = registry.MODULES[module], ew.MODULES[module]
    assert (spec.source, spec.headers, spec.entries) == (theirs.source, theirs.headers,
                                                         theirs.entries)
    rows = {k for k, s in registry.KERNELS.items() if s.module == module}
    assert rows == set(theirs.entries)
    assert (registry.kernel_source_dir() / spec.source).is_file()


def test_every_module_lists_exactly_its_rows():
    for module, spec in registry.MODULES.items():
        rows = [k.entry for k in registry.KERNELS.values() if k.module == module]
        assert sorted(rows) == sorted(spec.entries), module
    entries = [k.entry for k in registry.KERNELS.values()]
    assert len(entries) == len(set(entries))  # an entry point is one row


def test_sampling_kernels_keep_the_engine_block():
    for spec in registry.KERNELS.values():
        if spec.family == "sampling":
            assert spec.block == registry.BLOCK_SIZE


def test_rocsample_own_elementwise_entries_are_optional_companions():
    """where2 (the layout by value) travels in the ternary module as an optional companion of
    its Candle entry: a TERNARY_HSACO without it still serves every call."""
    assert ew.COMPANIONS  # built from the where entries, never listed by hand
    for name, e in ew.COMPANIONS.items():
        spec = registry.KERNELS[name]
        candle = ew.ENTRIES[e.companion_of]
        assert spec.companion_of == candle.name and name not in registry.CONTRACT
        assert (spec.module, spec.env_var) == (candle.module, registry.KERNELS[candle.name].env_var)
        assert spec.signature == e.signature and spec.signature[-4:] == candle.signature[-4:]
    assert {e.companion_of for e in ew.COMPANIONS.values()} == {
        n for n, e in ew.ENTRIES.items() if e.module == "ternary"}
