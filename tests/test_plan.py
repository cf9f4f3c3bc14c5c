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


def _key(x, top_k=None, top_p=None, min_p=None, method="auto", stream=None, op="sample"):
    return plan_key(op, x, (top_k, top_p, min_p), stream, method)


def test_plan_key_separates_types_and_values(buf):
    base = _key(buf, 50, 0.9)
    assert base is not None
    assert base == _key(buf, 50, 0.9, stream=0)  # None and 0: the default stream
    others = [_key(buf, 50.0, 0.9),  # the same value of another type
              _key(buf, 51, 0.9),
              _key(buf, 50, 0.9, 0.0),
              _key(buf, 50, 0.9, method="fused"),
              _key(buf, 50, 0.9, stream=7),
              _key(buf, 50, 0.9, op="sample_from_logits"),
              plan_key("softmax", buf, (1,), None), plan_key("softmax", buf, (1.0,), None),
              plan_key("temperature_scale", buf, (1.0,), None)]
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
    top_k, top_p, min_p, method, stream = args
    assert _key(buf, top_k, top_p, min_p, method, stream) is None
    assert plan_key("softmax", buf, (top_k, top_p, min_p), stream, method) is None


def test_plan_key_needs_a_device_array(buf):
    host = np.zeros((4, 100), np.float32)
    assert quick_key(host) is None and _key(host) is None
    assert _key([[0.5, 0.5]]) is None
    other = DeviceBuffer(HostMemoryDriver(), (4, 100), np.float32)
    try:  # another allocation is another plan
        assert _key(other) != _key(buf)
    finally:
        other.free()


@pytest.mark.parametrize(("seed", "offset", "ok"), [
    (0, 0, True), (2**64 - 1, 2**64 - 1, True), (2**64, 0, False), (0, -1, False),
    (True, 0, False), (np.uint64(1), 0, False), (1.0, 0, False), (None, 0, False),
])
def test_seed_ok(seed, offset, ok):
    assert seed_ok(seed, offset) is ok


def test_launch_plan_patches_seed_offset_and_the_call_buffers():
    """Slots: the arguments named seed and offset, and pointer arguments whose recorded value
    is one of the call's own buffers (by role); nothing else, even an equal integer."""
    plan = LaunchPlan("sample_from_logits", (), (4, 100))
    names = ["x", "out", "vocab", "t"]
    first = pack_args(["ptr", "ptr", "i64", "f32"], [1000, 2000, 2000, 1.0])  # the softmax
    plan.add("softmax", (4, 1), 512, first, names, ["ptr", "ptr", "i64", "f32"],
             {2000: "scratch", 3000: "out"})
    names = ["probs", "seed", "offset", "out", "ws"]
    types = ["ptr", "u64", "u64", "ptr", "ptr"]
    second = pack_args(types, [2000, 2, 3, 3000, 4000])  # the sampler
    plan.add("sampler", (4, 1), 512, second, names, types, {2000: "scratch", 3000: "out"})
    plan.patch({"seed": 11, "offset": 12, "out": 13, "scratch": 14})

    def seen(args, n):  # what a kernel reads: the values behind the kernelParams pointers
        return [ctypes.c_uint64.from_address(args.array[i]).value for i in range(n)]

    assert seen(first, 3) == [1000, 14, 2000]  # the i64 2000 is a size, not the buffer
    assert seen(second, 5) == [14, 11, 12, 13, 4000]
    assert [f for f, _, _, _, _ in plan.launches] == ["softmax", "sampler"]


def test_launch_plan_keeps_what_a_replay_makes_as_data():
    """A replay makes the plan's per-call buffers from data recorded with it: the result
    from the output slab (its rows), every other buffer by role, shape, dtype and whether it
    is scratch; a tokens buffer is always the result."""
    from rocsample.backends.recipe import Buffer

    plan = LaunchPlan("sample_from_logits", (Buffer("scratch", (4, 100), np.float32, "temp"),
                                             Buffer("out", (4,), np.int32, "tokens")), (4, 100))
    assert (plan.slab_rows, plan.rows, plan.vocab) == (4, 4, 100)
    assert plan.others == (("scratch", (4, 100), np.float32, True),)
    plan = LaunchPlan("softmax", (Buffer("out", (4, 100), np.float32, "new"),), None)
    assert (plan.slab_rows, plan.others) == (0, (("out", (4, 100), np.float32, False),))
    with pytest.raises(ValueError, match="role 'out'"):
        LaunchPlan("x", (Buffer("res", (4,), np.int32, "tokens"),), None)
