"""Launch-plan keys (rocsample/backends/plan.py): which raw arguments may share a plan.

A plan is looked up before validation, so its key must separate every pair of arguments that
validation could judge differently; these checks need no GPU (a DeviceBuffer on host memory
has the same identity fields as one on a device).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from rocsample.backends.plan import LaunchPlan, plan_key, quick_key, seed_ok
from rocsample.backends.runtime import pack_args
from rocsample.buffers import DeviceBuffer, HostMemoryDriver


@pytest.fixture
def buf():
    b = DeviceBuffer(HostMemoryDriver(), (4, 100), np.float32)
    yield b
    b.free()


def test_plan_key_separates_types_and_values(buf):
    base = plan_key(buf, 50, 0.9, None, "auto", None)
    assert base is not None
    assert base == plan_key(buf, 50, 0.9, None, "auto", 0)  # None and 0: the default stream
    others = [plan_key(buf, 50.0, 0.9, None, "auto", None),  # same value, other type
              plan_key(buf, 51, 0.9, None, "auto", None),
              plan_key(buf, 50, 0.9, 0.0, "auto", None),
              plan_key(buf, 50, 0.9, None, "fused", None),
              plan_key(buf, 50, 0.9, None, "auto", 7)]
    assert all(k is not None for k in others)
    assert len({base, *others}) == 1 + len(others)


@pytest.mark.parametrize("args", [
    (True, None, None, "auto", None),                      # bool is not an int here
    (np.int32(5), None, None, "auto", None),               # numpy scalar: the general path
    (np.array([1, 2, 3, 4]), None, None, "auto", None),    # per-row values
    (None, [0.9], None, "auto", None),                     # unhashable
    (None, None, None, ["auto"], None),                    # a method that is not a string
    (None, None, None, "auto", 1.5),                       # a stream that is not an int
])
def test_plan_key_refuses_what_only_validation_can_judge(buf, args):
    assert plan_key(buf, *args) is None


def test_plan_key_needs_a_device_array(buf):
    host = np.zeros((4, 100), np.float32)
    assert quick_key(host) is None and plan_key(host, None, None, None, "auto", None) is None
    assert plan_key([[0.5, 0.5]], None, None, None, "auto", None) is None
    other = DeviceBuffer(HostMemoryDriver(), (4, 100), np.float32)
    try:  # another allocation is another plan
        assert plan_key(other, None, None, None, "auto", None) != plan_key(
            buf, None, None, None, "auto", None)
    finally:
        other.free()


@pytest.mark.parametrize(("seed", "offset", "ok"), [
    (0, 0, True), (2**64 - 1, 2**64 - 1, True), (2**64, 0, False), (0, -1, False),
    (True, 0, False), (np.uint64(1), 0, False), (1.0, 0, False), (None, 0, False),
])
def test_seed_ok(seed, offset, ok):
    assert seed_ok(seed, offset) is ok


def test_launch_plan_patches_seed_offset_and_output():
    plan = LaunchPlan(4, 100)
    names = ["probs", "seed", "offset", "out"]
    args = pack_args(["ptr", "u64", "u64", "ptr"], [1, 2, 3, 4])
    plan.add("function", (4, 1), args, names)
    plan.add("other", (4, 1), pack_args(["ptr"], [9]), ["probs"])  # no seed: nothing to patch
    plan.patch(11, 12, 13)
    # What a kernel reads: the values behind the kernelParams pointers.
    values = [ctypes.c_uint64.from_address(args.array[i]).value for i in range(4)]
    assert values == [1, 11, 12, 13]
    assert len(plan.launches) == 2 and len(plan.slots) == 1
