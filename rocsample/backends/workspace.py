"""Per-stream device memory kept between calls: sampling workspaces, their locks, the
output slabs that token results are taken from, and the reservations of streams that
capture graphs (:mod:`.reservation`).
"""

from __future__ import annotations

import sys
import threading

import numpy as np

from ..buffers import DeviceBuffer
from ..registry import HBINS, ws_prefix_words, ws_total_words
from .reservation import Reservation
from .runtime import Runtime

__all__ = ["StreamMemory"]

#: Output slabs kept per backend (a decode loop needs a handful).
_MAX_SLABS = 256

#: Read-only arrays (layout infos) kept on the device per backend (StreamMemory.constant).
_MAX_CONSTANTS = 4096

#: Results per output slab (see _OutputSlab).
_SLAB_SLOTS = 64

#: Used-up slabs kept per (stream, rows) to be handed out again (_OutputSlab.restart_if_idle).
_SPARE_SLABS = 4


class _OutputSlab:
    """Token outputs of one (stream, rows): views into one allocation, handed out once each
    until every view is gone, then again (:meth:`restart_if_idle`).

    A ``sample()`` on device arrays returns a new (rows,) int32 buffer every call; taking it
    from a slab of :data:`_SLAB_SLOTS` instead of the allocator saves two driver calls (the
    stream-ordered allocation and its free) per call. The memory is plain (not
    stream-ordered), written only by kernels on the slab's stream: freeing it never needs
    that stream, which the caller may destroy while it still holds results (a stream-ordered
    free on a destroyed stream crashed the H200 test processes at exit). Plain frees wait for
    the device, so a used-up slab is not freed but handed out again once none of its
    results is held any more: its slots are then rewritten by kernels queued on the same
    stream, after the ones that wrote them before.
    """

    __slots__ = ("buf", "held", "lock", "make", "next", "stride")

    def __init__(self, rt: Runtime, stream: int, rows: int) -> None:
        self.stride = -(-rows * 4 // 256) * 256  # slots start 256-byte aligned
        self.buf = DeviceBuffer(rt, (_SLAB_SLOTS * self.stride // 4,), np.int32,
                                ordered_on=stream)
        self.make = self.buf.view_maker((rows,))
        self.held = sys.getrefcount(self.buf)  # the references with no result handed out
        self.next = 0
        self.lock = threading.Lock()

    def take(self) -> DeviceBuffer | None:
        """The next unused slot as a (rows,) buffer, or None when the slab is used up."""
        with self.lock:
            i = self.next
            if i >= _SLAB_SLOTS:
                return None
            self.next = i + 1
        return self.make(i * self.stride)

    def restart_if_idle(self) -> bool:
        """Whether no result of this used-up slab is alive (each view holds the slab's
        buffer; none can be made any more, so the count only falls): then it starts over."""
        if self.next < _SLAB_SLOTS or sys.getrefcount(self.buf) > self.held:
            return False
        self.next = 0
        return True


class StreamMemory:
    """The workspaces, stream locks and output slabs of one device, by stream."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._ws: dict[int, tuple[DeviceBuffer, tuple[int, int]]] = {}
        self.lock = threading.Lock()  # guards the dicts (and the backend's plans)
        self._stream_locks: dict[int, threading.Lock] = {}
        self._slabs: dict[tuple[int, int], _OutputSlab] = {}
        self._spent: dict[tuple[int, int], list[_OutputSlab]] = {}  # used up, maybe held
        self._consts: dict[bytes, DeviceBuffer] = {}
        self.reserved: dict[int, Reservation] = {}  # stream -> its capture memory

    def reserve(self, stream: int, max_batch: int, vocab: int, outputs: int,
                logits: bool) -> Reservation:
        """Set memory aside for ``stream`` (see :mod:`.reservation`); one reservation a
        stream at a time, so that no graph is left holding memory replaced under it."""
        with self.lock:
            if stream in self.reserved:
                raise ValueError(f"stream {stream:#x} already has a reservation "
                                 f"({self.reserved[stream]!r}); release it first (after "
                                 f"destroying the graphs that use it)")
            res = Reservation(self.rt, stream, max_batch, vocab, outputs, logits)
            self.reserved[stream] = res
            return res

    def has_constant(self, array: np.ndarray) -> bool:
        """Whether :meth:`constant` holds ``array`` already (then it neither uploads nor
        waits: what a captured call may do)."""
        return array.dtype.str.encode() + array.tobytes() in self._consts

    def constant(self, array: np.ndarray) -> int:
        """The device copy of a small read-only array (a layout's ``info``), made once per
        distinct content; 0 when :data:`_MAX_CONSTANTS` are kept already (the caller then
        uploads it for its call).

        A strided elementwise call would otherwise copy its few dozen bytes to the device
        ahead of every kernel. The copies are never written again and live as long as the
        backend, so any stream may read one: the first use waits (with the deadline) until
        the copy has landed, and only then hands out the pointer.
        """
        key = array.dtype.str.encode() + array.tobytes()
        buf = self._consts.get(key)
        if buf is not None:
            return buf.ptr
        with self.lock:
            buf = self._consts.get(key)
            if buf is None:
                if len(self._consts) >= _MAX_CONSTANTS:
                    return 0
                host = np.ascontiguousarray(array)
                buf = DeviceBuffer(self.rt, host.shape, host.dtype)
                self.rt.copy_from_host(buf.ptr, host.ctypes.data, host.nbytes)
                self.rt.drain(0, "constant upload")  # landed before any stream can use it
                self._consts[key] = buf
            return buf.ptr

    def workspace(self, stream: int, rows: int, vocab: int) -> int:
        """The sampling workspace of ``stream`` for a (rows, vocab) call, ready to use.

        The stream's reservation serves every call it covers (no zeroing, any order of
        layouts: :meth:`.Reservation.workspace`). Otherwise the workspace is
        kept per stream (calls on one stream run in order and share it) and grown on demand;
        the caller holds :meth:`stream_lock` until its last launch using it is queued.
        Its first ``ws_prefix_words(rows)`` words (each row's top-p histogram, then the
        tickets) must be zero; the kernels leave them so after every complete call. Row r's
        histogram is at word r * 2048 whatever the layout, so when the layout changes only the
        words the previous layout used otherwise are zeroed: from the end of its histograms to
        the end of the new tickets (one copy, queued on the stream). A launch that fails never
        ran, so only a kernel that died mid-call (a dead context anyway) could leave them set.
        """
        res = self.reserved.get(stream)
        if res is not None and res.covers(rows, vocab):  # never zeroed again: any layout
            return res.workspace(rows)
        hit = self._ws.get(stream)
        if hit is not None and hit[1] == (rows, vocab):  # the repeat call: nothing to do
            return hit[0].ptr
        words = ws_total_words(rows, vocab)
        with self.lock:
            ws, layout = self._ws.get(stream, (None, None))
            if ws is None or ws.shape[0] < words:
                if ws is not None:
                    self.rt.drain(stream, "workspace release")  # its kernels are done first
                    ws.free()
                # Plain (not stream-ordered) memory: freeing it never needs the stream, which
                # the caller may have destroyed by then.
                ws = DeviceBuffer(self.rt, (words,), np.uint64)
                # Zeroed whole, once: no other word of it is ever read before being written.
                zeros = np.zeros(words, np.uint64)
                self.rt.copy_from_host_async(ws.ptr, zeros.ctypes.data, zeros.nbytes, stream)
            elif layout != (rows, vocab):
                # Histograms of rows both layouts have are zero; the rest of the new prefix
                # held the old tickets and rows.
                lo = min(rows, layout[0]) * HBINS
                zeros = np.zeros(ws_prefix_words(rows) - lo, np.uint64)
                self.rt.copy_from_host_async(ws.ptr + 8 * lo, zeros.ctypes.data, zeros.nbytes,
                                             stream)
            else:
                return ws.ptr
            self._ws[stream] = (ws, (rows, vocab))
            return ws.ptr

    def stream_lock(self, stream: int) -> threading.Lock:
        """Held by a call from taking ``stream``'s workspace until its last launch that uses
        the workspace is queued: another thread's call of another shape on the same stream
        would otherwise change the layout (or reallocate) between the two, and the first
        call's kernels would meet a workspace laid out for the other (one lock per stream,
        kept for the backend's life)."""
        lock = self._stream_locks.get(stream)
        if lock is None:
            with self.lock:
                lock = self._stream_locks.setdefault(stream, threading.Lock())
        return lock

    def tokens(self, stream: int, rows: int) -> DeviceBuffer:
        """A new (rows,) int32 result buffer written on ``stream``, from the stream's slab."""
        key = (stream, rows)
        slab = self._slabs.get(key)
        out = slab.take() if slab is not None else None
        if out is not None:
            return out
        with self.lock:
            slab = self._slabs.get(key)  # another thread may have replaced it meanwhile
            out = slab.take() if slab is not None else None
            if out is not None:
                return out
            spent = self._spent.setdefault(key, [])
            if slab is not None:
                spent.append(slab)
            again = next((s for s in spent if s.restart_if_idle()), None)
            if again is not None:
                spent.remove(again)
                slab = again
            else:
                del spent[:-_SPARE_SLABS]  # the oldest go when their results do
                slab = _OutputSlab(self.rt, stream, rows)
            if key not in self._slabs and len(self._slabs) >= _MAX_SLABS:
                self._slabs.clear()
                self._spent = {key: spent}
            self._slabs[key] = slab
            return slab.take()  # type: ignore[return-value]

    def close(self) -> None:
        """Free the workspaces and reservations and forget the slabs; the caller holds
        :attr:`lock`."""
        for res in list(self.reserved.values()):
            res._on_release = None
            res._free()
        self.reserved.clear()
        for ws, _ in self._ws.values():
            ws.free()
        self._ws.clear()
        self._slabs.clear()
        self._spent.clear()
        for buf in self._consts.values():
            buf.free()
        self._consts.clear()
