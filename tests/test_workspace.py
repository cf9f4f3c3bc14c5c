"""Per-stream memory kept between calls (rocsample/backends/workspace.py), on the host
stand-in of a GPU runtime (tests/host_device.py): which memory outlives which stream."""

from __future__ import annotations

import gc

import numpy as np

from rocsample.backends import workspace
from rocsample.backends.workspace import StreamMemory

from .host_device import HostDevice


class _Recording(HostDevice):
    """Records the stream-ordered frees (a free on a destroyed stream crashes a driver)."""

    def __init__(self) -> None:
        super().__init__()
        self.async_frees: list[int] = []
        self.drains: list[int] = []

    def free_async(self, ptr: int, stream: int) -> None:
        self.async_frees.append(stream)
        super().free_async(ptr, stream)

    def drain(self, stream: int, what: str) -> None:
        self.drains.append(stream)


def test_token_results_never_need_their_stream_to_be_freed():
    rt = _Recording()
    mem = StreamMemory(rt)
    tok = mem.tokens(77, 5)
    assert tok.stream == 77 and tok.shape == (5,)
    tok.numpy()  # a result is read once the stream's work is done
    assert rt.drains == [77]
    del tok
    for rows in (5, 6):
        for _ in range(3 * workspace._SLAB_SLOTS):
            mem.tokens(77, rows)
    mem.close()  # the stream may be gone by now (the process exits, say)
    gc.collect()
    assert rt.async_frees == [] and rt.live_allocations == 0


def test_a_used_up_slab_is_handed_out_again_only_when_none_of_its_results_is_held():
    rt = HostDevice()
    mem = StreamMemory(rt)
    n = workspace._SLAB_SLOTS
    first = [mem.tokens(3, 4) for _ in range(n)]
    base = first[0].ptr
    assert [t.ptr - base for t in first] == [256 * i for i in range(n)]
    kept = first[7]
    del first
    second = mem.tokens(3, 4)  # slot 7 of the first slab is still held: a new slab
    assert not base <= second.ptr < base + 256 * n
    assert rt.live_allocations == 2
    rest = [mem.tokens(3, 4) for _ in range(n - 1)]
    del rest, second
    third = mem.tokens(3, 4)  # the second slab is used up and free: taken again
    assert rt.live_allocations == 2 and not base <= third.ptr < base + 256 * n
    del kept, third
    rest = [mem.tokens(3, 4) for _ in range(n - 1)]
    del rest
    again = mem.tokens(3, 4)  # every result of both is gone: one of them starts over
    assert rt.live_allocations == 2
    again.copy_from(np.arange(4))
    assert again.numpy().tolist() == [0, 1, 2, 3]
    mem.close()
    del again
    gc.collect()
    assert rt.live_allocations == 0
