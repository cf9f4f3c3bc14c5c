"""The sampling operations on a GPU, written once for every :class:`Runtime` (HIP, CUDA).

Host (numpy) inputs are copied in, sampled, waited for with a deadline and copied back:
numpy in, numpy out. Device inputs (torch, cupy, :class:`DeviceBuffer`) are read in place
and the result is a :class:`DeviceBuffer` on the same device, returned without waiting.
Temporary device memory comes from the stream-ordered allocator and is freed on the call's
stream behind its kernels: no per-call synchronisation and no reuse while a kernel reads it.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

import numpy as np

from .. import config, profiling
from ..buffers import ArrayView, DeviceBuffer, as_array_view
from ..kernel_cache import KernelCache
from ..registry import BLOCK_SIZE, HBINS, KCAND, KERNELS, nchunks, ws_prefix_words, ws_total_words
from ..validation import SamplingParams, check_bad_rows, check_matrix_shape
from .plan import LaunchPlan, plan_key, seed_ok
from .runtime import Runtime, pack_args, pack_named

__all__ = ["GpuBackend"]

log = logging.getLogger("rocsample")


class _Call:
    """The temporary device memory of one call, ordered on the call's stream.

    Buffers come from the stream-ordered allocator and are freed on the same stream right
    after the launches: the free is queued behind the kernels, so nothing waits and nothing
    is reused while a kernel may still read it.
    """

    def __init__(self, backend: GpuBackend, stream: int) -> None:
        self.backend = backend
        self.stream = stream
        self.temp: list[DeviceBuffer] = []
        self.views: list[Any] = []  # caller arrays kept alive until the launches are queued
        self.plan: LaunchPlan | None = None  # records the launches when set
        self.roles: dict[int, str] = {}  # the call's own buffers: pointer -> plan role
        self.ws: int | None = None  # the stream workspace, once a launch uses it

    def buffer(self, shape: tuple[int, ...], dtype: Any) -> DeviceBuffer:
        buf = DeviceBuffer(self.backend.rt, shape, dtype, stream=self.stream)
        self.temp.append(buf)
        return buf

    def upload(self, array: np.ndarray) -> DeviceBuffer:
        host = np.ascontiguousarray(array)
        buf = self.buffer(host.shape, host.dtype)
        # Pageable host memory: the async copy returns once the source has been read.
        self.backend.rt.copy_from_host_async(buf.ptr, host.ctypes.data, host.nbytes,
                                             self.stream)
        return buf

    def param(self, value: Any, dtype: Any) -> tuple[int, Any]:
        """(device pointer or 0, scalar): a per-row array goes to the device."""
        if isinstance(value, np.ndarray):
            return self.upload(value.astype(dtype, copy=False)).ptr, 0
        return 0, value

    def launch(self, kernel: str, grid: tuple[int, int], *args: Any,
               after_phase: bool = False) -> None:
        """Launch ``kernel``; ``after_phase``: it is a later phase of the call's previous
        launch, which it may overlap if its code object waits for that grid (grid_wait)."""
        loaded = self.backend.kernels.get(kernel)
        packed = pack_args(KERNELS[kernel].arg_types, args)
        timer = profiling.active()
        start = timer.before(self.backend.rt, self.stream) if timer else None
        overlap = after_phase and loaded.grid_wait and timer is None  # events sit between
        self.backend.rt.launch(loaded.function, grid, BLOCK_SIZE, packed, self.stream, overlap)
        if self.plan is not None:
            spec = KERNELS[kernel]
            self.plan.add(loaded.function, grid, packed, spec.arg_names, spec.arg_types,
                          self.roles, overlap)
        if timer:
            timer.after(self.backend.rt, self.stream, kernel, start)

    def launch_named(self, kernel: str, grid: tuple[int, int], args: dict[str, Any]) -> None:
        """Launch ``kernel`` with its arguments by name (packed in its registered order) and
        its registered block size: the generic executor's launch."""
        spec = KERNELS[kernel]
        loaded = self.backend.kernels.get(kernel)
        packed = pack_named(kernel, spec.arg_names, spec.arg_types, args)
        timer = profiling.active()
        start = timer.before(self.backend.rt, self.stream) if timer else None
        self.backend.rt.launch(loaded.function, grid, spec.block, packed, self.stream, False)
        if self.plan is not None:
            self.plan.add(loaded.function, grid, packed, spec.arg_names, spec.arg_types,
                          self.roles, False)
        if timer:
            timer.after(self.backend.rt, self.stream, kernel, start)

    def wait(self, what: str) -> None:
        """Wait for the call's work with the deadline (KernelTimeout instead of a hang)."""
        rt = self.backend.rt
        event = rt.event_create()
        try:
            rt.event_record(event, self.stream)
            rt.wait(event, config.sync_timeout(), what)
        finally:
            rt.event_destroy(event)

    def release(self) -> None:
        for b in self.temp:
            b.free()
        self.temp = []
        self.views = []


class _OutputSlab:
    """Token outputs of one (stream, rows): views into one allocation, handed out once each.

    A ``sample()`` on device arrays returns a new (rows,) int32 buffer every call; taking it
    from a slab of :data:`_SLAB_SLOTS` instead of the allocator saves two driver calls (the
    stream-ordered allocation and its free) per call. No slot is ever handed out twice; the
    slab's memory is freed, on its stream, when the last of its views is gone.
    """

    __slots__ = ("buf", "lock", "make", "next", "stride")

    def __init__(self, rt: Runtime, stream: int, rows: int) -> None:
        self.stride = -(-rows * 4 // 256) * 256  # slots start 256-byte aligned
        self.buf = DeviceBuffer(rt, (_SLAB_SLOTS * self.stride // 4,), np.int32, stream=stream)
        self.make = self.buf.view_maker((rows,))
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


class GpuBackend:
    """Sampling on one GPU through a :class:`Runtime`."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.name = runtime.name
        self.kernels = KernelCache(runtime)
        self._ws: dict[int, tuple[DeviceBuffer, tuple[int, int]]] = {}
        self._ws_lock = threading.Lock()
        self._stream_locks: dict[int, threading.Lock] = {}
        self._plans: dict[tuple[Any, ...], LaunchPlan] = {}
        self._slabs: dict[tuple[int, int], _OutputSlab] = {}
        self._infos: dict[bytes, DeviceBuffer] = {}
        atexit.register(self._close_at_exit)

    def describe(self) -> dict[str, Any]:
        rt = self.rt
        return {"backend": rt.name, "device": rt.device_name, "index": rt.device_index,
                "target": rt.target, "wave_size": rt.wave_size,
                "overlap_launches": bool(getattr(rt, "overlap_launches", False))}

    # -- inputs ---------------------------------------------------------------------------
    def _matrix(self, call: _Call, x: Any, name: str, check: bool) -> tuple[ArrayView, bool]:
        if isinstance(x, np.ndarray):
            check_matrix_shape(name, x.shape, x.dtype)
            if check:
                check_bad_rows(name, x)
            return as_array_view(call.upload(x)), True
        view = as_array_view(x, stream=call.stream or None)
        check_matrix_shape(name, view.shape, view.dtype)
        # __cuda_array_interface__ says kDLCUDA even for ROCm builds of torch/cupy.
        same = view.device == self.rt.dlpack_device or (
            self.name == "hip" and view.device == (2, self.rt.device_index))
        if not same:
            raise ValueError(f"{name} is on device {view.device} but this {self.name} backend "
                             f"runs on {self.rt.dlpack_device}; use rocsample.backend(device=...)")
        if view.strides[1] != 1 or view.strides[0] < view.shape[1]:
            raise ValueError(f"{name} rows must be contiguous (strides {view.strides} elements)")
        call.views.append(view)
        return view, False

    def workspace(self, stream: int, rows: int, vocab: int) -> int:
        """The sampling workspace of ``stream`` for a (rows, vocab) call, ready to use.

        Kept per stream (calls on one stream run in order and share it) and grown on demand;
        the caller holds :meth:`stream_lock` until its last launch using it is queued.
        Its first ``ws_prefix_words(rows)`` words (each row's top-p histogram, then the
        tickets) must be zero; the kernels leave them so after every complete call. Row r's
        histogram is at word r * 2048 whatever the layout, so when the layout changes only the
        words the previous layout used otherwise are zeroed: from the end of its histograms to
        the end of the new tickets (one copy, queued on the stream). A launch that fails never
        ran, so only a kernel that died mid-call (a dead context anyway) could leave them set.
        """
        hit = self._ws.get(stream)
        if hit is not None and hit[1] == (rows, vocab):  # the repeat call: nothing to do
            return hit[0].ptr
        words = ws_total_words(rows, vocab)
        with self._ws_lock:
            ws, layout = self._ws.get(stream, (None, None))
            if ws is None or ws.shape[0] < words:
                if ws is not None:
                    self._drain(stream)  # its kernels must be done before the memory goes
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
            with self._ws_lock:
                lock = self._stream_locks.setdefault(stream, threading.Lock())
        return lock

    def tokens(self, stream: int, rows: int) -> DeviceBuffer:
        """A new (rows,) int32 result buffer ordered on ``stream``, from the stream's slab."""
        slab = self._slabs.get((stream, rows))
        out = slab.take() if slab is not None else None
        if out is None:
            slab = _OutputSlab(self.rt, stream, rows)
            out = slab.take()
            with self._ws_lock:
                if len(self._slabs) >= _MAX_PLANS:
                    self._slabs.clear()
                self._slabs[(stream, rows)] = slab
        return out  # type: ignore[return-value]

    def _drain(self, stream: int) -> None:
        event = self.rt.event_create()
        try:
            self.rt.event_record(event, stream)
            self.rt.wait(event, config.sync_timeout(), "workspace release")
        finally:
            self.rt.event_destroy(event)

    def close(self) -> None:
        """Free the cached workspaces (the driver waits for kernels still using them)."""
        with self._ws_lock:
            for ws, _ in self._ws.values():
                ws.free()
            self._ws.clear()
            self._plans.clear()
            self._slabs.clear()
            for buf in self._infos.values():
                buf.free()
            self._infos.clear()

    def _close_at_exit(self) -> None:
        try:
            self.close()
        except Exception as exc:  # the driver may already be going away
            log.debug("workspaces not freed at exit: %s", exc)

    def _begin(self, stream: int | None) -> _Call:
        self.rt.make_current()
        return _Call(self, int(stream or 0))

    # -- the generic executor -------------------------------------------------------------
    def launch_recipe(self, recipe: Any, stream: int | None = None) -> None:
        """Launch one :class:`~rocsample.ops.elementwise_ops.Recipe` (None: nothing to do).

        Its ``info`` goes to device memory for this launch only: stream-ordered, freed on the
        stream behind the kernel, so nothing waits and nothing is reused while it reads it.
        """
        if recipe is None:
            return
        call = self._begin(stream)
        try:
            args = recipe.args
            if recipe.info is not None:
                ptr = self.layout_info(recipe.info)
                args = {**args, "info": ptr or call.upload(recipe.info).ptr}
            call.launch_named(recipe.kernel, recipe.grid, args)
        finally:
            call.release()

    def layout_info(self, info: np.ndarray) -> int:
        """The device copy of a layout's ``info`` array, made once per distinct content; 0 when
        :data:`_MAX_INFOS` layouts are kept already (the caller then uploads it per call).

        A strided call would otherwise copy its few dozen bytes to the device every time:
        a host-to-device copy ahead of each kernel. The copies are never written again and
        live as long as the backend, so any stream may read one: the first use waits (with the
        deadline) until its copy has landed, and only then hands out the pointer.
        """
        key = info.tobytes()
        buf = self._infos.get(key)
        if buf is not None:
            return buf.ptr
        with self._ws_lock:
            if len(self._infos) >= _MAX_INFOS:
                return 0
            buf = self._infos.get(key)
            if buf is None:
                host = np.ascontiguousarray(info, dtype=np.uint64)
                buf = DeviceBuffer(self.rt, host.shape, np.uint64)
                self.rt.copy_from_host(buf.ptr, host.ctypes.data, host.nbytes)
                self._drain(0)  # the copy has landed before any stream can use the pointer
                self._infos[key] = buf
            return buf.ptr

    def new_buffer(self, shape: tuple[int, ...], dtype: Any,
                   stream: int | None = None) -> DeviceBuffer:
        """A contiguous result buffer, ordered on ``stream``."""
        self.rt.make_current()
        return DeviceBuffer(self.rt, shape, dtype, stream=int(stream or 0))

    def accepts(self, view: ArrayView) -> bool:
        """Whether ``view`` lives on this backend's device."""
        # __cuda_array_interface__ says kDLCUDA even for ROCm builds of torch/cupy.
        return view.device == self.rt.dlpack_device or (
            self.name == "hip" and view.device == (2, self.rt.device_index))

    # -- operations -----------------------------------------------------------------------
    def sample(self, probs: Any, params: SamplingParams, *, method: str = "auto",
               stream: int | None = None, check_inputs: bool = True,
               plan_key: tuple[Any, ...] | None = None) -> Any:
        """The general path; with ``plan_key`` (:func:`~.plan.plan_key` of the call's raw
        arguments) the launches are also recorded as a plan that :meth:`replay` repeats."""
        call = self._begin(stream)
        view, host = self._matrix(call, probs, "probs", check_inputs)
        rows = view.shape[0]
        out = (DeviceBuffer(self.rt, (rows,), np.int32, stream=call.stream) if host
               else self.tokens(call.stream, rows))
        self._record(call, plan_key, "sample", view, host, {out.ptr: "out"})
        self._sample_view(call, view, out, params, method)
        self._keep(call, plan_key)
        return self._result(call, out, host, "sample")

    # -- launch plans (backends/plan.py) ---------------------------------------------------
    def plan_key(self, op: str, x: Any, scalars: tuple[Any, ...], stream: Any,
                 method: Any = "auto") -> tuple[Any, ...] | None:
        """See :func:`~.plan.plan_key`."""
        return plan_key(op, x, scalars, stream, method)

    def _record(self, call: _Call, key: tuple[Any, ...] | None, op: str, view: ArrayView,
                host: bool, roles: dict[int, str]) -> None:
        if key is not None and not host and profiling.active() is None:
            call.plan = LaunchPlan(op, *view.shape)
            call.roles = roles

    def _keep(self, call: _Call, key: tuple[Any, ...] | None) -> None:
        if call.plan is not None and key is not None:
            call.plan.ws = call.ws
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[key] = call.plan

    def replay(self, key: tuple[Any, ...], seed: Any = 0, offset: Any = 0) -> Any:
        """The recorded launches of ``key`` with this call's seed, offset and new outputs;
        None: no usable plan (then the caller takes the general path, which validates the
        arguments and records one)."""
        plan = self._plans.get(key)
        if plan is None or not seed_ok(seed, offset) or profiling.active() is not None:
            return None
        stream = key[2]
        self.rt.make_current()
        scratch = None
        # The stream lock also keeps the plan's packed values (shared by every caller of the
        # plan: threads on this stream) from changing between patch and launch.
        with self.stream_lock(stream):
            if plan.ws is not None and self.workspace(stream, plan.rows, plan.vocab) != plan.ws:
                return None  # the stream's workspace moved: build the plan again
            try:
                if plan.op == "sample" or plan.op == "sample_from_logits":
                    out = self.tokens(stream, plan.rows)
                    values = {"seed": seed, "offset": offset, "out": out.ptr}
                    if plan.op == "sample_from_logits":  # the probabilities between the steps
                        scratch = DeviceBuffer(self.rt, (plan.rows, plan.vocab), np.float32,
                                               stream=stream)
                        values["scratch"] = scratch.ptr
                else:
                    out = DeviceBuffer(self.rt, (plan.rows, plan.vocab), np.float32,
                                       stream=stream)
                    values = {"out": out.ptr}
                plan.patch(values)
                for function, grid, packed, overlap in plan.launches:
                    self.rt.launch(function, grid, BLOCK_SIZE, packed, stream, overlap)
            finally:
                if scratch is not None:
                    scratch.free()  # stream-ordered: after the kernels that use it
        return out

    def _sample_view(self, call: _Call, view: ArrayView, out: DeviceBuffer,
                     params: SamplingParams, method: str) -> None:
        rows, vocab = view.shape
        k_ptr, k_val = call.param(params.top_k, np.int32)
        p_ptr, p_val = call.param(params.top_p, np.float32)
        m_ptr, m_val = call.param(params.min_p, np.float32)
        head = (view.ptr, view.strides[0], rows, vocab)
        rng = (params.seed, params.offset)
        if method == "auto":
            method = _choose(params)
        nphase = _phases(params, vocab)
        grid = (rows, _blocks_per_row(rows, vocab, self.rt.sm_count,
                                      _per_sm(method, params, nphase, vocab)))
        p_val = 1.0 if params.top_p is None else p_val
        with self.stream_lock(call.stream):
            ws = call.ws = self.workspace(call.stream, rows, vocab)
            if method == "topp":
                call.launch("topp_prefix_sum", grid, *head, ws)
                call.launch("topp_threshold", grid, *head, p_ptr, p_val, ws, after_phase=True)
                call.launch("topp_sample", grid, *head, ws, *rng, out.ptr, after_phase=True)
                return
            # A row with one block chains every phase in the first launch (rs_engine.h): the
            # later launches would find every row done, so they are not made.
            for phase in range(1 if grid[1] == 1 else nphase):
                if method == "topk":
                    call.launch("topk_sampling", grid, *head, k_ptr, k_val or 0, *rng, out.ptr,
                                ws, phase, nphase, after_phase=phase > 0)
                else:  # "fused" (the API validated method)
                    call.launch("topk_topp_sampling", grid, *head, k_ptr, k_val or 0, p_ptr,
                                p_val, m_ptr, m_val or 0.0, *rng, out.ptr, ws, phase, nphase,
                                after_phase=phase > 0)

    def softmax(self, logits: Any, temperature: Any, *, stream: int | None = None,
                kernel: str = "softmax", plan_key: tuple[Any, ...] | None = None) -> Any:
        call = self._begin(stream)
        view, host = self._matrix(call, logits, "logits", check=False)
        out = DeviceBuffer(self.rt, view.shape, np.float32, stream=call.stream)
        self._record(call, plan_key, kernel, view, host, {out.ptr: "out"})
        self._rows_op(call, kernel, view, out.ptr, temperature)
        self._keep(call, plan_key)
        return self._result(call, out, host, kernel)

    def temperature_scale(self, logits: Any, temperature: Any, *, stream: int | None = None,
                          plan_key: tuple[Any, ...] | None = None) -> Any:
        return self.softmax(logits, temperature, stream=stream, kernel="temperature_scale",
                            plan_key=plan_key)

    def sample_from_logits(self, logits: Any, temperature: Any, params: SamplingParams, *,
                           stream: int | None = None,
                           plan_key: tuple[Any, ...] | None = None) -> Any:
        call = self._begin(stream)
        view, host = self._matrix(call, logits, "logits", check=False)
        probs = call.buffer(view.shape, np.float32)
        rows = view.shape[0]
        out = (DeviceBuffer(self.rt, (rows,), np.int32, stream=call.stream) if host
               else self.tokens(call.stream, rows))
        self._record(call, plan_key, "sample_from_logits", view, host,
                     {probs.ptr: "scratch", out.ptr: "out"})
        self._rows_op(call, "softmax", view, probs.ptr, temperature)
        self._sample_view(call, as_array_view(probs), out, params, "auto")
        self._keep(call, plan_key)
        return self._result(call, out, host, "sample_from_logits")

    def _rows_op(self, call: _Call, kernel: str, view: ArrayView, out: int,
                 temperature: Any) -> None:
        """softmax or temperature_scale of ``view`` into the contiguous (rows, vocab) ``out``.

        Few rows get G blocks each, as the samplers do: temperature_scale's blocks each write
        their span; softmax takes two launches (each block's maximum and sum of exponentials,
        then every block combines its row's G pairs and writes its span) when its code object
        has the two companion entries, else one block a row.
        """
        rows, vocab = view.shape
        t_ptr, t_val = call.param(temperature, np.float32)
        head = (view.ptr, view.strides[0])
        g = _rows_op_blocks(rows, vocab, self.rt.sm_count)
        if kernel == "softmax" and g > 1 and self.kernels.companion("softmax_stats") is not None \
                and self.kernels.companion("softmax_write") is not None:
            # The row pairs go after the histograms and tickets of the stream's sampling
            # workspace, in its rows' part (rows * ws_words(vocab) >= rows * G words, none of
            # which needs to be zero); calls on a stream run in order, so no sampling call
            # uses them meanwhile.
            with self.stream_lock(call.stream):
                call.ws = self.workspace(call.stream, rows, vocab)
                part = call.ws + 8 * ws_prefix_words(rows)
                call.launch("softmax_stats", (rows, g), *head, rows, vocab, t_ptr, t_val, part)
                call.launch("softmax_write", (rows, g), *head, out, vocab, rows, vocab, t_ptr,
                            t_val, part)
            return
        if kernel == "softmax":
            g = 1
        call.launch(kernel, (rows, g), *head, out, vocab, rows, vocab, t_ptr, t_val)

    def _result(self, call: _Call, out: DeviceBuffer, host: bool, what: str) -> Any:
        if not host:
            call.release()  # queued behind the kernels on the call's stream
            return out
        try:
            call.wait(what)
            return out.numpy()
        finally:
            # Stream-ordered frees wait behind the kernels, even after a KernelTimeout.
            out.free()
            call.release()


#: Launch plans (and output slabs) kept per backend (a decode loop needs a handful).
_MAX_PLANS = 256

#: Layout info arrays kept on the device per backend (see GpuBackend.layout_info).
_MAX_INFOS = 4096

#: Results per output slab (see _OutputSlab).
_SLAB_SLOTS = 64


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


def _per_sm(method: str, params: SamplingParams, nphase: int, vocab: int) -> int:
    """Blocks per SM for the grid of a sampling call (see :func:`_blocks_per_row`).

    Two for rows that may need a top-p cut without top-k (two heavy phases;
    results/2026-11-21-h200-no-spill/) and for top-k's one-read candidate path from 12
    sub-chunks a row on (H200 after the shared-memory row context,
    results/2026-11-21-h200-session7/gvar*.txt: top-k 50 at 100 x 128256 50.0 -> 41.5 us,
    131 x 151936 58.4 -> 48.5, 66 x 128256 30.8 -> 28.4; at 8 sub-chunks one is faster,
    100 x 32000 22.2 against 23.3); one otherwise.

    >>> from rocsample.validation import sampling_params
    >>> [_per_sm("fused", sampling_params(1, top_k=50), 1, v) for v in (32000, 128256)]
    [1, 2]
    >>> _per_sm("fused", sampling_params(1), 1, 128256)   # plain sampling
    1
    """
    p, k = params.top_p, params.top_k
    may_cut = p is not None and (isinstance(p, np.ndarray) or p < 1)
    if method == "topp" or (nphase == 2 and may_cut):
        return 2
    kcand = not isinstance(k, np.ndarray) and k is not None and 0 < k <= KCAND and k < vocab
    return 2 if kcand and nchunks(vocab) >= 12 else 1


def _phases(params: SamplingParams, vocab: int) -> int:
    """How many phases of the chunked engine the call needs (see kernels/rs_engine.h).

    One when every row has a top-k filter (0 < k < vocab: one read for k <= KCAND, the
    full-row algorithm beyond) or none has any filter (plain sampling: one read), else two
    (min-p; a top-p cut without top-k: the maximum and a significand histogram, then the
    cut, the gather and the draw). The top-p stages (method "topp") are always three
    launches: the draw needs the seed, which only the third takes. More phases than a row
    needs cost an early-exit launch.
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
_TOPP_VARS = tuple(KERNELS[n].env_var for n in ("topp_prefix_sum", "topp_threshold",
                                                 "topp_sample"))


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
