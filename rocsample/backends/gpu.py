"""The GPU executor: any operation's launch recipe, run once for every :class:`Runtime`
(HIP, CUDA).

An operation module (:mod:`rocsample.ops.sampling`, :mod:`rocsample.ops.elementwise_ops`)
says what to launch as data (:mod:`rocsample.backends.recipe`); :class:`GpuBackend` makes the
per-call buffers the recipe names by role (:mod:`.call`, :mod:`.workspace`), launches each
kernel with its arguments packed by name from the registered signature, and records the
launches as a plan that :func:`~.plan.replay` repeats when asked.

Host (numpy) inputs are copied in, sampled, waited for with a deadline and copied back:
numpy in, numpy out. Device inputs (torch, cupy, :class:`DeviceBuffer`) are read in place
and the result is a :class:`DeviceBuffer` on the same device, returned without waiting.
Temporary device memory comes from the stream-ordered allocator and is freed on the call's
stream behind its kernels: no per-call synchronisation and no reuse while a kernel reads it.
On a stream that captures a graph every buffer comes from the stream's reservation instead
(:mod:`.reservation`), or is the caller's ``out``; what a capture cannot record is a
:class:`~rocsample.errors.CaptureError` before anything is queued.
"""

from __future__ import annotations

import atexit
import logging
from typing import Any

import numpy as np

from .. import profiling
from ..buffers import BFLOAT16, ArrayView, DeviceBuffer, as_array_view, float_kind
from ..errors import CaptureError
from ..kernel_cache import KernelCache
from ..ops.sampling import OPERATIONS
from ..registry import KERNELS
from ..validation import (
    SamplingParams,
    a_dtype,
    check_bad_rows,
    check_matrix_shape,
    dtype_label,
    out_dtype_hint,
)
from .call import Call
from .plan import MAX_PLANS, LaunchPlan, plan_key, replay
from .recipe import Launch, Recipe
from .reservation import Reservation, bind_captured
from .runtime import Runtime
from .workspace import StreamMemory

__all__ = ["GpuBackend"]

log = logging.getLogger("rocsample")


class GpuBackend:
    """Any operation's recipe on one GPU through a :class:`Runtime`; the sampling family's
    operations by name (``sample``, ``softmax``, ...), as every backend has them."""

    #: The decode-loop fast path (backends/plan.py): a recorded plan, patched and launched.
    replay = replay

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.name = runtime.name
        self.kernels = KernelCache(runtime)
        self.sm_count: int = runtime.sm_count
        self.memory = StreamMemory(runtime)
        # Bound once: the general path and replay call them every time.
        self.workspace = self.memory.workspace
        self.stream_lock = self.memory.stream_lock
        self.tokens = self.memory.tokens
        self._plans: dict[tuple[Any, ...], LaunchPlan] = {}
        atexit.register(self._close_at_exit)

    def describe(self) -> dict[str, Any]:
        rt = self.rt
        return {"backend": rt.name, "device": rt.device_name, "index": rt.device_index,
                "target": rt.target, "wave_size": rt.wave_size,
                "overlap_launches": bool(getattr(rt, "overlap_launches", False))}

    # -- device facts (rocsample.backends.recipe.DeviceFacts; sm_count is set at start) ----
    def has_companion(self, kernel: str) -> bool:
        """Whether the optional ``kernel`` came with its contract kernel's code object."""
        return self.kernels.companion(kernel) is not None

    # -- inputs ---------------------------------------------------------------------------
    def _matrix(self, call: Call, x: Any, name: str, check: bool,
                op: str = "call") -> tuple[ArrayView, bool]:
        if isinstance(x, np.ndarray):
            if call.capturing:
                raise CaptureError(op, call.stream, f"{name} is a host (numpy) array, which "
                                   f"would be uploaded, waited for and copied back: pass a "
                                   f"device array (torch, cupy, DeviceBuffer)")
            check_matrix_shape(name, x.shape, x.dtype)
            if check:
                check_bad_rows(name, x)
            return as_array_view(call.upload(x)), True  # ml_dtypes.bfloat16: as its bits
        view = as_array_view(x, stream=call.stream or None)
        check_matrix_shape(name, view.shape, view.dtype)
        if not self.accepts(view):
            raise ValueError(f"{name} is on device {view.device} but this {self.name} backend "
                             f"runs on {self.rt.dlpack_device}; use rocsample.backend(device=...)")
        if view.strides[1] != 1 or view.strides[0] < view.shape[1]:
            raise ValueError(f"{name} rows must be contiguous (strides {view.strides} elements)")
        call.views.append(view)
        return view, False

    def accepts(self, view: ArrayView) -> bool:
        """Whether ``view`` lives on this backend's device."""
        # __cuda_array_interface__ says kDLCUDA even for ROCm builds of torch/cupy.
        return view.device == self.rt.dlpack_device or (
            self.name == "hip" and view.device == (2, self.rt.device_index))

    def new_buffer(self, shape: tuple[int, ...], dtype: Any,
                   stream: int | None = None) -> DeviceBuffer:
        """A contiguous result buffer, ordered on ``stream``."""
        self.rt.make_current()
        return DeviceBuffer(self.rt, shape, dtype, stream=int(stream or 0))

    def close(self) -> None:
        """Free the cached workspaces and the reservations (the driver waits for kernels
        still using them; graphs that captured calls must be destroyed before)."""
        with self.memory.lock:
            self.memory.close()
            self._plans.clear()

    def reserve(self, max_batch: int, vocab: int, stream: int | None = None,
                outputs: int = 64, logits: bool = True) -> Reservation:
        """Memory for captured calls on ``stream`` (:func:`rocsample.reserve`), with every
        sampling kernel loaded now: nothing is compiled or loaded inside a capture."""
        stream = int(stream or 0)
        self.rt.make_current()
        try:  # the legacy stream's answer also tells of another stream's global capture
            capturing = self.rt.stream_is_capturing(stream) or self.rt.stream_is_capturing(0)
        except CaptureError:
            capturing = True
        if capturing:
            raise CaptureError("reserve", stream, "reserve before the capture begins (it "
                               "allocates and zeroes memory)")
        names = [n for n, spec in KERNELS.items() if spec.family == "sampling"]
        # The contract kernels and the companions of modules of their own (the rise
        # entries), whose modules then compile side by side; the others come with theirs.
        self.kernels.load_all([n for n in names if KERNELS[n].companion_of is None
                               or KERNELS[KERNELS[n].companion_of].module != KERNELS[n].module])
        for n in names:
            if KERNELS[n].companion_of is not None:
                self.has_companion(n)
        res = self.memory.reserve(stream, max_batch, vocab, outputs, logits)
        res._on_release = self._released
        return res

    def _released(self, res: Reservation) -> None:
        """Forget ``res`` and the plans of its stream (their workspace may be its memory)."""
        with self.memory.lock:
            if self.memory.reserved.get(res.stream) is res:
                del self.memory.reserved[res.stream]
            for key in [k for k in self._plans if k[2] == res.stream]:
                del self._plans[key]

    def _close_at_exit(self) -> None:
        try:
            self.close()
        except Exception as exc:  # the driver may already be going away
            log.debug("workspaces not freed at exit: %s", exc)

    def _begin(self, stream: int | None) -> Call:
        self.rt.make_current()
        return Call(self, int(stream or 0))

    # -- the executor ---------------------------------------------------------------------
    def execute(self, call: Call, recipe: Recipe, host: bool = False,
                key: tuple[Any, ...] | None = None, out: ArrayView | None = None) -> Any:
        """Launch ``recipe`` on ``call``'s stream; its result buffer (role ``"out"``: a new
        one, or ``out``, the caller's checked array) or None.

        The per-call buffers are made by kind (``Buffer``), the uploads put in device memory,
        the stream workspace taken (under the stream's lock, held until the last launch is
        queued) when the recipe uses one. With ``key`` (:func:`~.plan.plan_key` of the call's
        raw arguments) and a device input, the launches are recorded as a plan under it.
        On a capturing stream the buffers come from the stream's reservation
        (:func:`.reservation.bind_captured`), and nothing is recorded as a plan.
        """
        if call.capturing:
            ptrs, result = bind_captured(self.memory.reserved.get(call.stream), recipe,
                                         call.stream, out, self.memory.has_constant)
            for role, array in (recipe.constants or {}).items():
                ptrs[role] = self.memory.constant(array)  # on the device already: no upload
            self._launch(call, recipe, ptrs)
            return result
        ptrs = {}
        result = None
        for role, shape, dtype, kind in recipe.buffers:
            if role == "out" and out is not None:
                ptrs[role] = out.ptr
                result = out
                continue
            if kind == "temp":
                buf = call.buffer(shape, dtype)
            elif kind == "tokens" and not host:
                buf = self.tokens(call.stream, shape[0])
            else:
                buf = DeviceBuffer(self.rt, shape, dtype, stream=call.stream)
            ptrs[role] = buf.ptr
            if role == "out":
                result = buf
        # Not with uploads: a plan would keep the address of this call's copy.
        if key is not None and not host and not recipe.uploads and profiling.active() is None:
            mine = recipe.buffers if out is None else tuple(
                b for b in recipe.buffers if b.role != "out")
            call.plan = LaunchPlan(recipe.op, mine, recipe.workspace, out is not None)
            # The caller's out (part of the key) stays at its recorded address.
            call.roles = {ptr: role for role, ptr in ptrs.items()
                          if out is None or role != "out"}
        for role, array in recipe.uploads.items():
            ptrs[role] = call.upload(array).ptr
        if recipe.constants:
            for role, array in recipe.constants.items():
                ptrs[role] = self.memory.constant(array) or call.upload(array).ptr
        self._launch(call, recipe, ptrs)
        plan = call.plan
        if plan is not None:
            plan.ws = call.ws
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            self._plans[key] = plan  # type: ignore[index]
        return result

    def _launch(self, call: Call, recipe: Recipe, ptrs: dict[str, int]) -> None:
        if recipe.workspace is None:
            _launch_all(call, recipe.launches, ptrs)
        else:
            with self.stream_lock(call.stream):
                ptrs["ws"] = call.ws = self.workspace(call.stream, *recipe.workspace)
                _launch_all(call, recipe.launches, ptrs)

    def run(self, op: str, x: Any, args: tuple[Any, ...], *, stream: int | None = None,
            check: bool = False, plan_key: tuple[Any, ...] | None = None,
            out: Any = None) -> Any:
        """The general path of the sampling family's ``op`` on the (rows, vocab) matrix ``x``
        with its validated ``args`` (the recipe's, before the device facts); with ``out`` (a
        device array of the result's shape and dtype, C-contiguous) the result is written
        there and ``out`` itself is returned.

        Example
        -------
        >>> import numpy as np, rocsample
        >>> from rocsample.validation import sampling_params
        >>> gpu = rocsample.backend("cuda")                       # doctest: +SKIP
        >>> probs = np.array([[0.0, 0.2, 0.8]], np.float32)
        >>> gpu.run("sample", probs, (sampling_params(1, top_k=1), "auto"))  # doctest: +SKIP
        array([2], dtype=int32)
        """
        operation = OPERATIONS[op]
        call = self._begin(stream)
        view, host = self._matrix(call, x, operation.input, check, op)
        recipe = operation.recipe(view, *args, self)
        if call.capturing:
            plan_key = None  # a plan would hand out per-call memory again
        if out is None:
            result = self.execute(call, recipe, host, plan_key)
            got = self._result(call, result, host, op)
            if host and got.dtype == BFLOAT16 and float_kind(x.dtype) == "bf16":
                return got.view(x.dtype)  # a bfloat16 result in the input's own bfloat16 type
            return got
        dest = self._out(call, recipe, out, host)
        self.execute(call, recipe, host, plan_key, dest)
        call.release()
        return out

    def _out(self, call: Call, recipe: Recipe, out: Any, host: bool) -> ArrayView:
        """``out`` as the view the executor writes, checked against the recipe's result."""
        if host:
            raise TypeError("out= takes a device array, for device inputs (a numpy input "
                            "gives a numpy result)")
        want = next(b for b in recipe.buffers if b.role == "out")
        view = as_array_view(out, stream=call.stream or None)
        shape, dtype = tuple(want.shape), np.dtype(want.dtype)
        if not self.accepts(view):
            raise ValueError(f"out is on device {view.device} but this {self.name} backend "
                             f"runs on {self.rt.dlpack_device}")
        if tuple(view.shape) != shape or view.dtype != dtype:
            raise ValueError(f"out must be {a_dtype(dtype)} array of shape {shape}; got "
                             f"{dtype_label(view.dtype)} {tuple(view.shape)}"
                             + out_dtype_hint(recipe.op, view.dtype, dtype))
        contiguous = [1]
        for n in reversed(shape[1:]):
            contiguous.insert(0, contiguous[0] * n)
        if any(n > 1 and st != c for n, st, c in zip(shape, view.strides, contiguous,
                                                      strict=True)):
            raise ValueError(f"out must be C-contiguous (strides {view.strides} elements)")
        if getattr(view, "readonly", False):
            raise ValueError("out is read-only")
        call.views.append(view)
        return view

    def launch_recipe(self, recipe: Recipe | None, stream: int | None = None) -> None:
        """Launch a recipe whose outputs the caller made (elementwise's; None: nothing to
        do); its uploads live for this call only, freed on the stream behind the kernels, its
        constants as long as the backend."""
        if recipe is None:
            return
        call = self._begin(stream)
        try:
            self.execute(call, recipe)
        finally:
            call.release()

    def _result(self, call: Call, out: DeviceBuffer, host: bool, what: str) -> Any:
        if not host:
            call.release()  # queued behind the kernels on the call's stream
            return out
        try:
            call.wait(what)
            return out._host_copy()  # the call's stream is drained: no second wait
        finally:
            # Stream-ordered frees wait behind the kernels, even after a KernelTimeout.
            out.free()
            call.release()

    # -- launch plans (backends/plan.py) ---------------------------------------------------
    def plan_key(self, op: str, x: Any, scalars: tuple[Any, ...], stream: Any,
                 method: Any = "auto", out: Any = None,
                 rng: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        """See :func:`~.plan.plan_key`."""
        return plan_key(op, x, scalars, stream, method, out, rng)

    # -- the sampling family (rocsample/ops/sampling.py) ----------------------------------
    def sample(self, probs: Any, params: SamplingParams, *, method: str = "auto",
               stream: int | None = None, check_inputs: bool = True,
               plan_key: tuple[Any, ...] | None = None, out: Any = None) -> Any:
        """The general path; with ``plan_key`` (:func:`~.plan.plan_key` of the call's raw
        arguments) the launches are also recorded as a plan that :meth:`replay` repeats."""
        return self.run("sample", probs, (params, method), stream=stream, check=check_inputs,
                        plan_key=plan_key, out=out)

    def softmax(self, logits: Any, temperature: Any, out_kind: str = "f32", *,
                stream: int | None = None, kernel: str = "softmax",
                plan_key: tuple[Any, ...] | None = None, out: Any = None) -> Any:
        return self.run(kernel, logits, (temperature, out_kind), stream=stream,
                        plan_key=plan_key, out=out)

    def temperature_scale(self, logits: Any, temperature: Any, out_kind: str = "f32", *,
                          stream: int | None = None, plan_key: tuple[Any, ...] | None = None,
                          out: Any = None) -> Any:
        return self.run("temperature_scale", logits, (temperature, out_kind), stream=stream,
                        plan_key=plan_key, out=out)

    def sample_from_logits(self, logits: Any, temperature: Any, params: SamplingParams, *,
                           stream: int | None = None,
                           plan_key: tuple[Any, ...] | None = None, out: Any = None) -> Any:
        return self.run("sample_from_logits", logits, (temperature, params), stream=stream,
                        plan_key=plan_key, out=out)


def _launch_all(call: Call, launches: list[Launch], ptrs: dict[str, int]) -> None:
    """Each launch, its per-call pointers bound (``Launch.bind``) from ``ptrs``."""
    for kernel, grid, args, bind, after_phase, block in launches:
        for name, role, offset in bind:
            args[name] = ptrs[role] + offset
        call.launch(kernel, grid, args, after_phase, block)
