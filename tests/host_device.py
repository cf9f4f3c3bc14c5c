"""A STAND-IN GPU for tests of the generic executor on machines without one.

Memory is host memory (aligned numpy blocks, stream-ordered calls done at once) and a launch
runs the numpy twin of the kernel it names, reading its packed arguments exactly as the
kernel would: so what the executor builds (the argument order, the info array in "device"
memory, base pointers with start offsets, null for a contiguous layout, the block size) is
checked end to end. For an elementwise kernel that is rocsample.ops.elementwise.run_*; for an
MLP kernel rocsample.ops.mlp's twin on the strided rows the packed pointers and strides name
(each inside a live allocation), written back where the kernel writes; for
the sampling family the CPU mirror (rocsample.backends.cpu_engine): the launch that finishes a call
(a sampler's last phase, or its only launch when one block a row chains the phases;
topp_sample; softmax, softmax_write, temperature_scale) computes the mirror's result from
the packed arguments and writes the output, and every launch first checks its arguments
(the grid, the block, the phases, each pointer inside a live allocation, a zero workspace
prefix where the kernels need one). It is never used by the library; the real kernels run
in tests/test_gpu*.py on GPU machines.

Graph capture is simulated as CUDA's global mode does it: between :meth:`HostDevice.begin_capture`
and :meth:`HostDevice.end_capture` launches on the stream are recorded with their argument
values (as the driver copies kernel parameters at capture) instead of run, and any
allocation, free, host copy or wait (on any stream: global mode) raises
:class:`CaptureViolation`, which on a GPU would invalidate the capture. A recorded graph
runs with :meth:`HostDevice.replay_graph`.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from rocsample.backends import cpu_engine
from rocsample.backends.runtime import CAPTURE_IMPLICIT
from rocsample.buffers import HostMemoryDriver
from rocsample.buffers.dtypes import narrow_f32
from rocsample.errors import CaptureError
from rocsample.ops import elementwise as ew
from rocsample.ops import mlp
from rocsample.registry import BLOCK_SIZE, KERNELS, nchunks, ws_prefix_words, ws_total_words


def host_array(ptr: int, count: int, dtype: np.dtype) -> np.ndarray:
    """``count`` elements at host address ``ptr``, shared (not copied)."""
    nbytes = count * dtype.itemsize
    raw = (ctypes.c_char * max(nbytes, 1)).from_address(ptr)
    return np.frombuffer(raw, dtype=np.uint8, count=nbytes).view(dtype)


def _scalar(value: int | float, dtype: str) -> float | int:
    if dtype == "bf16":
        return float(ew.bf16_to_f32(np.array([value], np.uint16))[0])
    if dtype == "f16":
        return float(np.array([value], np.uint16).view(np.float16)[0])
    return value


class HostDevice(HostMemoryDriver):
    """A runtime (the part GpuBackend uses) whose kernels are the numpy twin."""

    name = "cuda"
    dlpack_device = (2, 0)
    device_index = 0
    device_name = "host stand-in"
    target = "sm_90"
    wave_size = 32
    sm_count = 132

    def __init__(self) -> None:
        super().__init__()
        self.launches: list[tuple[str, tuple[int, int], int, dict[str, Any]]] = []
        self.overlaps: list[bool] = []  # how each launch was made (Runtime.launch's overlap)
        self._topp: dict[int, Any] = {}  # ws -> top_p, from topp_threshold to topp_sample
        self._parts: dict[int, tuple[int, int]] = {}  # part -> (rows, G) of softmax_stats

    def make_current(self) -> None:
        pass

    # -- graph capture (global mode) -----------------------------------------------------
    capturing: set[int] = set()  # replaced per instance in begin_capture

    def begin_capture(self, stream: int) -> None:
        assert stream != 0, "the legacy default stream cannot capture"
        self.capturing = {*self.capturing, stream}
        self.graphs = {**getattr(self, "graphs", {}), stream: []}

    def end_capture(self, stream: int) -> list[tuple[str, tuple[int, int], int, dict]]:
        self.capturing = self.capturing - {stream}
        return self.graphs.pop(stream)

    def replay_graph(self, graph: list[tuple[str, tuple[int, int], int, dict]]) -> None:
        for func, grid, block, values in graph:
            self._run(func, grid, block, dict(values))

    def stream_is_capturing(self, stream: int) -> bool:
        if stream == 0 and self.capturing:
            raise CaptureError("query", stream, CAPTURE_IMPLICIT)
        return stream in self.capturing

    def _guard(self, what: str, stream: int | None = None) -> None:
        if self.capturing and (stream is None or stream in self.capturing or stream == 0):
            raise CaptureViolation(f"{what} while stream(s) {sorted(self.capturing)} capture")

    def alloc(self, nbytes: int) -> int:
        self._guard("alloc")
        return super().alloc(nbytes)

    def free(self, ptr: int) -> None:
        self._guard("free")
        super().free(ptr)

    def copy_from_host(self, dst: int, src: int, nbytes: int) -> None:
        self._guard("copy_from_host")
        super().copy_from_host(dst, src, nbytes)

    def copy_to_host(self, dst: int, src: int, nbytes: int) -> None:
        self._guard("copy_to_host")
        super().copy_to_host(dst, src, nbytes)

    def alloc_async(self, nbytes: int, stream: int) -> int:
        self._guard("alloc_async", stream)
        return super().alloc(nbytes)

    def free_async(self, ptr: int, stream: int) -> None:
        self._guard("free_async", stream)
        super().free(ptr)

    def copy_from_host_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        self._guard("copy_from_host_async", stream)
        super().copy_from_host(dst, src, nbytes)

    def launch(self, func: Any, grid: tuple[int, int], block: int, args: Any, stream: int,
               overlap: bool = False) -> None:
        spec = KERNELS[func]
        values = {n: v.value for n, v in zip(spec.arg_names, args.values, strict=True)}
        self.launches.append((func, grid, block, values))
        self.overlaps.append(overlap)
        if stream in self.capturing:
            self.graphs[stream].append((func, grid, block, dict(values)))
            return
        self._guard("a launch on another stream", stream)
        self._run(func, grid, block, values)

    def _run(self, func: str, grid: tuple[int, int], block: int, values: dict) -> None:
        spec = KERNELS[func]
        if spec.family == "sampling":
            assert block == BLOCK_SIZE, (func, block)
            self._sampling(func, grid, values)
            return
        if spec.family == "mlp":
            assert 1 <= block <= mlp.BLOCK, (func, block)
            self._mlp(func, grid, values)
            return
        if func in ew.COMPANIONS:  # where2: its two dims and three strides by value
            e = ew.COMPANIONS[func]
            numel, nd = values["numel"], 2
            info = np.array([values[k] for k in ("d0", "d1", "si0", "si1", "st0", "st1",
                                                 "sf0", "sf1")], dtype=np.uint64)
        else:
            e = ew.ENTRIES[func]
            numel, nd = values["numel"], values["num_dims"]
            groups = 3 if e.module == "ternary" else 1
            info = (host_array(values["info"], (1 + groups) * nd, np.dtype(np.uint64)).copy()
                    if values["info"] else None)

        def operand(name: str, group: int, dtype: str) -> np.ndarray:
            span = numel
            if info is not None:
                dims = info[:nd].astype(np.int64)
                st = info[group * nd:(group + 1) * nd].astype(np.int64)
                span = ew.Layout(tuple(dims), tuple(st)).span if numel else 0
            return host_array(values[name], span, ew.DTYPES[dtype].storage)

        store = ew.DTYPES[e.dtype].storage
        out = host_array(values["out"], numel, store)
        if e.module == "unary":
            param = _scalar(values["param"], e.dtype) if "param" in values else None
            ew.run_unary(e.op, e.dtype, numel, nd, info, operand("inp", 1, e.dtype), out,
                         param)
        elif e.module == "affine":
            inp = operand("inp", 1, e.dtype) if values["inp"] else None
            ew.run_affine(e.dtype, numel, nd, info, inp, out,
                          _scalar(values["mul"], e.dtype), _scalar(values["add"], e.dtype))
        else:
            ew.run_where(e.id_dtype, e.dtype, numel, nd, info, operand("ids", 1, e.id_dtype),
                         operand("t", 2, e.dtype), operand("f", 3, e.dtype), out)

    # -- the MLP family --------------------------------------------------------------------
    def _rows(self, ptr: int, rows: int, cols: int, stride: int, dtype: np.dtype) -> np.ndarray:
        """The (rows, cols) view a kernel reads at ``ptr``, checked inside one allocation."""
        span = (rows - 1) * stride + cols
        assert self.inside(ptr, span * dtype.itemsize), "rows outside any live allocation"
        flat = host_array(ptr, span, dtype)
        return np.lib.stride_tricks.as_strided(flat, (rows, cols),
                                               (stride * dtype.itemsize, dtype.itemsize))

    def _mlp(self, func: str, grid: tuple[int, int], v: dict[str, Any]) -> None:
        e = mlp.ENTRIES[func]
        # the entry's type, or the run-time code of the entries taking it as one
        name = e.dtype or {c: n for n, c in mlp.DTYPE_CODES.items()}[v["dtype"]]
        if e.dtype is not None and func != mlp.entry(e.kernel, name):
            # a compact entry writes nothing outside its conditions: the recipe checked them
            self._mlp_fits(e, name, v)
        func = f"{e.kernel}_kernel"
        dt = np.dtype(np.uint16) if name == "bf16" else np.dtype(
            {"f32": np.float32, "f16": np.float16}[name])
        rows = v["rows"]
        assert rows > 0 and 1 <= grid[0] <= mlp.MAX_GRID, (func, grid)
        if func == "swiglu_kernel":
            d = v["d"]
            assert 1 <= grid[1] <= mlp.GRID_Y, grid
            g = self._rows(v["gate"], rows, d, v["gate_stride"], dt).copy()
            u = self._rows(v["up"], rows, d, v["up_stride"], dt).copy()
            self._rows(v["out"], rows, d, v["out_stride"], dt)[:] = mlp.swiglu(g, u, name)
            return
        assert grid[1] == 1, grid
        hidden = v["hidden"]
        w = self._rows(v["weight"], 1, hidden, hidden, dt)[0].copy()
        x = self._rows(v["x"], rows, hidden, v["x_stride"], dt)
        if func == "rms_norm_kernel":
            y = mlp.rms_norm(x.copy(), w, v["eps"], v["weight_offset"], name)
            self._rows(v["out"], rows, hidden, v["out_stride"], dt)[:] = y
            return
        r = self._rows(v["residual"], rows, hidden, v["residual_stride"], dt)
        y, new_res = mlp.fused_add_rms_norm(x.copy(), r.copy(), w, v["eps"],
                                            v["weight_offset"], name)
        r[:] = new_res
        x[:] = y

    @staticmethod
    def _mlp_fits(e: Any, dtype: str, v: dict[str, Any]) -> None:
        """The conditions under which a compact MLP entry computes (its ABI comment)."""
        if e.kernel == "swiglu":
            keys, cols = ("gate", "up", "out"), v["d"]
        else:
            keys = ("x", "weight", "out") if e.kernel == "rms_norm" else ("x", "residual",
                                                                        "weight")
            cols = v["hidden"]
        strides = {k: v[f"{k}_stride"] for k in keys if f"{k}_stride" in v}
        n = 16 // (4 if dtype == "f32" else 2)
        assert mlp.rows_aligned({k: v[k] for k in keys}, strides, dtype), e.name
        assert cols % n == 0 and (e.kernel == "swiglu" or cols // n <= mlp.ROW8_GROUPS), e.name

    # -- the sampling family ---------------------------------------------------------------
    def inside(self, ptr: int, nbytes: int) -> bool:
        """Whether [ptr, ptr + nbytes) lies in one live allocation."""
        for raw in self._blocks.values():
            start = raw.ctypes.data
            if start <= ptr and ptr + nbytes <= start + raw.nbytes:
                return True
        return False

    def _matrix(self, ptr: int, stride: int, rows: int, vocab: int,
                kind: str = "f32") -> np.ndarray:
        """The (rows, vocab) float32 matrix at ``ptr`` as the kernel reads it: float32, or
        2-byte f16/bf16 values widened exactly (the _f16/_bf16 entries)."""
        size = 4 if kind == "f32" else 2
        span = (rows - 1) * stride + vocab
        assert self.inside(ptr, size * span), "rows outside any live allocation"
        store = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}[kind]
        flat = host_array(ptr, span, np.dtype(store))
        m = np.lib.stride_tricks.as_strided(flat, (rows, vocab), (size * stride, size)).copy()
        if kind == "bf16":
            return ew.bf16_to_f32(m)
        return m.astype(np.float32)

    def _per_row(self, v: dict[str, Any], name: str, dtype: Any) -> Any:
        """A (pointer, value) parameter pair as the kernel reads it: the array, else the
        value."""
        ptr = v[name]
        if not ptr:
            return v[name + "_val"]
        assert self.inside(ptr, v["batch"] * np.dtype(dtype).itemsize), name
        return host_array(ptr, v["batch"], np.dtype(dtype)).copy()

    def _write_rows(self, v: dict[str, Any], result: np.ndarray, kind: str = "f32") -> None:
        """The float32 ``result`` stored as the entry stores it: float32, or (the _DT_DT
        entries) rounded once to the 2-byte type ``kind``."""
        rows, vocab, stride = v["batch"], v["vocab"], v["out_stride"]
        stored = narrow_f32(result, kind)
        size = stored.dtype.itemsize
        assert self.inside(v["out"], size * ((rows - 1) * stride + vocab)), "out"
        out = host_array(v["out"], (rows - 1) * stride + vocab, stored.dtype)
        np.lib.stride_tricks.as_strided(out, (rows, vocab), (size * stride, size))[:] = stored

    def _sampling(self, func: str, grid: tuple[int, int], v: dict[str, Any]) -> None:
        rows, vocab = v["batch"], v["vocab"]
        assert grid[0] == rows and 1 <= grid[1] <= nchunks(vocab), (func, grid, rows, vocab)
        if "logits" in v and not func.startswith("logits_sampling"):
            # softmax, its companions, temperature_scale (f32, f16, bf16)
            kind = func.rsplit("_", 1)[1] if func.endswith(("_f16", "_bf16")) else "f32"
            func = func.removesuffix("_" + kind)
            out_kind = "f32"
            if func.endswith("_" + kind):  # softmax_kernel_bf16_bf16: a bf16 result
                out_kind, func = kind, func.removesuffix("_" + kind)
            x = self._matrix(v["logits"], v["in_stride"], rows, vocab, kind)
            t = self._per_row(v, "temperature", np.float32)
            if "part" in v:  # the companions: G (max, sum) pairs a row after the ws prefix
                assert self.inside(v["part"], 8 * rows * grid[1]), "part"
                if func == "softmax_stats":
                    self._parts[v["part"]] = grid
                    return
                assert self._parts.pop(v["part"]) == grid, "softmax_write without its stats"
            elif func == "softmax":
                assert grid[1] == 1, "softmax without its companions takes a block a row"
            fn = cpu_engine.temperature_scale if func == "temperature_scale" \
                else cpu_engine.softmax
            self._write_rows(v, fn(x, t), out_kind)
            return
        ws = v["ws"]
        self.workspace_at_start(func, v)
        # The kernels write their rows' words (written before read, never zeroed): scribble
        # on them, so that a layout whose prefix overlaps another call's rows is caught.
        self.scribble_rows(v)
        kind = func.rsplit("_", 1)[1] if func.endswith(("_f16", "_bf16")) else "f32"
        func = func.removesuffix("_" + kind).removesuffix("_rise")  # rise entries: same tokens
        if func == "logits_sampling":  # the softmax of the logits, from its stats' part
            assert self.inside(v["part"], 8 * rows * v["part_g"]), "part"
            stats = self._parts.get(v["part"])
            assert stats == (rows, v["part_g"]), ("logits_sampling without its stats", stats)
            x = cpu_engine.softmax(
                self._matrix(v["logits"], v["row_stride"], rows, vocab, kind),
                self._per_row(v, "temperature", np.float32))
            func = "topk_topp_sampling"
        else:
            x = self._matrix(v["probs"], v["row_stride"], rows, vocab, kind)
        if func == "topp_prefix_sum":
            return
        if func == "topp_threshold":
            self._topp[ws] = self._per_row(v, "top_p", np.float32)
            return
        if func == "topp_sample":
            kw = dict(top_p=self._topp.pop(ws))
        else:
            assert 0 <= v["phase"] < v["nphase"] <= 2, v
            if v["phase"] != v["nphase"] - 1 and grid[1] != 1:
                return  # an earlier phase: the last one draws
            kw = dict(top_k=self._per_row(v, "top_k", np.int32))
            if func == "topk_topp_sampling":
                kw.update(top_p=self._per_row(v, "top_p", np.float32),
                          min_p=self._per_row(v, "min_p", np.float32))
        assert self.inside(v["out"], 4 * rows), "out"
        host_array(v["out"], rows, np.dtype(np.int32))[:] = cpu_engine.sample_rows(
            x, seed=self._rng(v, "seed"), offset=self._rng(v, "offset"), **kw)

    def workspace_at_start(self, func: str, v: dict[str, Any]) -> bool:
        """Whether this launch starts a call (a sampler's phase 0, topp_prefix_sum), having
        checked the workspace lies in one allocation and, at a call's start, that its prefix
        is zero (the kernels need it so, and leave it so)."""
        rows, ws = v["batch"], v["ws"]
        assert self.inside(ws, 8 * ws_total_words(rows, v["vocab"])), "workspace"
        first = func.startswith("topp_prefix_sum") or v.get("phase", -1) == 0
        if first:
            prefix = host_array(ws, ws_prefix_words(rows), np.dtype(np.uint64))
            assert not prefix.any(), "workspace prefix not zero at a call's start"
        return first

    def scribble_rows(self, v: dict[str, Any]) -> None:
        """Overwrite the workspace's row words (after the zero prefix) with garbage."""
        rows, ws = v["batch"], v["ws"]
        body = ws_total_words(rows, v["vocab"]) - ws_prefix_words(rows)
        host_array(ws + 8 * ws_prefix_words(rows), body, np.dtype(np.uint64))[:] = 0xA5A5

    def _rng(self, v: dict[str, Any], name: str) -> Any:
        """The seed or offset as the kernels read it: the per-row array at ``seeds`` /
        ``offsets`` (one u64 a row, inside a live allocation) when non-null, else the scalar."""
        ptr = v[name + "s"]
        if not ptr:
            return v[name]
        assert self.inside(ptr, 8 * v["batch"]), name + "s"
        return host_array(ptr, v["batch"], np.dtype(np.uint64)).copy()

    def event_create(self) -> Any:
        return object()

    def event_record(self, event: Any, stream: int) -> None:
        pass

    def event_done(self, event: Any) -> bool:
        self._guard("event query")
        return True

    def event_destroy(self, event: Any) -> None:
        pass

    #: What every launch "takes" between its two events, in milliseconds (the profiler's sums).
    elapsed_ms = 0.002

    def event_elapsed_ms(self, start: Any, end: Any) -> float:
        return self.elapsed_ms

    def drain(self, stream: int, what: str) -> None:
        self._guard(f"a wait ({what})")  # every launch ran when it was made

    def wait(self, event: Any, timeout: float, what: str) -> None:
        self._guard(f"a wait ({what})")  # every launch ran when it was made


class CaptureViolation(AssertionError):
    """What a real driver would answer with CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (and an
    invalidated capture)."""


class TwinKernels:
    """The kernel cache's ``get`` and ``companion``: every registered kernel, its function its
    name; ``companions``: whether the optional entries exist; ``grid_wait``: whether the
    sampling kernels wait for the previous grid (later phases then overlap it)."""

    def __init__(self, companions: bool = True, grid_wait: bool = False) -> None:
        self.companions = companions
        self.grid_wait = grid_wait
        self.asked: list[str] = []

    def get(self, kernel: str) -> Any:
        from types import SimpleNamespace

        wait = self.grid_wait and KERNELS[kernel].family == "sampling"
        return SimpleNamespace(function=kernel, grid_wait=wait, spec=KERNELS[kernel])

    def companion(self, kernel: str) -> Any:
        self.asked.append(kernel)
        return self.get(kernel) if self.companions else None

    def load_all(self, kernels: Any = None) -> dict[str, Any]:
        names = list(kernels if kernels is not None else KERNELS)
        self.loaded = names
        return {n: self.get(n) for n in names}
