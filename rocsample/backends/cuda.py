"""The CUDA driver through cuda-python (``cuModuleLoadData``/``cuLaunchKernel``)."""

from __future__ import annotations

import logging
from typing import Any

from .. import config
from ..errors import BackendUnavailable, CaptureError
from .runtime import CAPTURE_IMPLICIT, PackedArgs, Runtime

__all__ = ["CudaRuntime"]

log = logging.getLogger("rocsample")



class CudaRuntime(Runtime):
    name = "cuda"
    toolchain = "nvrtc"
    dlpack_device_type = 2  # kDLCUDA
    code_suffix = ".cubin"

    def __init__(self, device_index: int = 0) -> None:
        try:
            from cuda.bindings import driver
        except ImportError as exc:
            raise BackendUnavailable("cuda", f"cuda-python is not installed ({exc})") from exc
        self.drv = driver
        self._streams: dict[int, Any] = {}
        try:
            (err,) = driver.cuInit(0)
        except Exception as exc:  # libcuda.so (the NVIDIA driver) is not on this machine
            raise BackendUnavailable("cuda", f"the NVIDIA driver cannot be loaded: {exc}") from exc
        if err != driver.CUresult.CUDA_SUCCESS:
            raise BackendUnavailable("cuda", f"cuInit returned {self.error_text(err)}")
        err, count = driver.cuDeviceGetCount()
        if err != driver.CUresult.CUDA_SUCCESS or count == 0:
            raise BackendUnavailable("cuda", "no CUDA device")
        if not 0 <= device_index < count:
            raise BackendUnavailable("cuda", f"device {device_index} requested, {count} present")
        self.device_index = device_index
        err, self.device = driver.cuDeviceGet(device_index)
        self._check("cuDeviceGet", err)
        err, self.context = driver.cuDevicePrimaryCtxRetain(self.device)
        self._check("cuDevicePrimaryCtxRetain", err)
        self.make_current()
        attr = driver.CUdevice_attribute
        major = self._attr(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
        minor = self._attr(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
        self.wave_size = self._attr(attr.CU_DEVICE_ATTRIBUTE_WARP_SIZE)
        self.sm_count = self._attr(attr.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
        self.target = f"sm_{major}{minor}"
        # Programmatic dependent launches (Runtime.launch's overlap) exist from sm_90 on.
        self.overlap_launches = major >= 9 and config.overlap_launches()
        self._configs: dict[tuple[Any, ...], Any] = {}
        err, name = driver.cuDeviceGetName(256, self.device)
        self._check("cuDeviceGetName", err)
        self.device_name = name.split(b"\0", 1)[0].decode()
        self._keep_pool_memory()

    def _keep_pool_memory(self) -> None:
        """Keep freed stream-ordered memory in the device's pool across synchronisations.

        By default the pool returns it to the driver at every synchronisation, and the next
        call's small allocations pay for mapping memory again (tens of microseconds).
        """
        drv = self.drv
        try:
            err, pool = drv.cuDeviceGetDefaultMemPool(self.device)
            if err == drv.CUresult.CUDA_SUCCESS:
                (err,) = drv.cuMemPoolSetAttribute(
                    pool, drv.CUmemPool_attribute.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                    drv.cuuint64_t(0xFFFFFFFFFFFFFFFF))
            if err != drv.CUresult.CUDA_SUCCESS:
                log.debug("memory pool release threshold not set: %s", self.error_text(err))
        except (AttributeError, TypeError) as exc:  # older bindings
            log.debug("memory pool release threshold not set: %s", exc)

    def _attr(self, which: Any) -> int:
        err, value = self.drv.cuDeviceGetAttribute(which, self.device)
        self._check("cuDeviceGetAttribute", err)
        return int(value)

    def _check(self, call: str, err: Any, what: str = "") -> None:
        if err != self.drv.CUresult.CUDA_SUCCESS:
            raise self.fail(call, err, what)

    def error_text(self, err: Any) -> str:
        return getattr(err, "name", None) or f"CUresult {int(err)}"

    def _stream(self, stream: int) -> Any:
        # A CUstream wrapper per handle, made once: building one costs about a microsecond
        # and every per-call driver call takes one.
        hit = self._streams.get(stream)
        if hit is None:
            if len(self._streams) >= 64:
                self._streams.clear()
            hit = self._streams[stream] = self.drv.CUstream(stream)
        return hit

    def make_current(self) -> None:
        (err,) = self.drv.cuCtxSetCurrent(self.context)
        self._check("cuCtxSetCurrent", err)

    def alloc(self, nbytes: int) -> int:
        err, ptr = self.drv.cuMemAlloc(max(nbytes, 1))
        self._check("cuMemAlloc", err)
        return int(ptr)

    def free(self, ptr: int) -> None:
        self.make_current()
        (err,) = self.drv.cuMemFree(self.drv.CUdeviceptr(ptr))
        self._check("cuMemFree", err)

    def alloc_async(self, nbytes: int, stream: int) -> int:
        err, ptr = self.drv.cuMemAllocAsync(max(nbytes, 1), self._stream(stream))
        self._check("cuMemAllocAsync", err)
        return int(ptr)

    def free_async(self, ptr: int, stream: int) -> None:
        self.make_current()  # the last reference may die in any thread
        (err,) = self.drv.cuMemFreeAsync(self.drv.CUdeviceptr(ptr), self._stream(stream))
        self._check("cuMemFreeAsync", err)

    def copy_from_host_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        (err,) = self.drv.cuMemcpyHtoDAsync(self.drv.CUdeviceptr(dst), src, nbytes,
                                            self._stream(stream))
        self._check("cuMemcpyHtoDAsync", err)

    def stream_wait_event(self, stream: int, event: Any) -> None:
        (err,) = self.drv.cuStreamWaitEvent(self._stream(stream), event, 0)
        self._check("cuStreamWaitEvent", err)

    def stream_is_capturing(self, stream: int) -> bool:
        err, status = self.drv.cuStreamIsCapturing(self._stream(stream))
        if err == self.drv.CUresult.CUDA_ERROR_STREAM_CAPTURE_IMPLICIT:
            raise CaptureError("query", stream, CAPTURE_IMPLICIT)
        self._check("cuStreamIsCapturing", err)
        return int(status) != 0  # ACTIVE, or INVALIDATED (nothing may be queued either)

    def copy_from_host(self, dst: int, src: int, nbytes: int) -> None:
        (err,) = self.drv.cuMemcpyHtoD(self.drv.CUdeviceptr(dst), src, nbytes)
        self._check("cuMemcpyHtoD", err)

    def copy_to_host(self, dst: int, src: int, nbytes: int) -> None:
        (err,) = self.drv.cuMemcpyDtoH(dst, self.drv.CUdeviceptr(src), nbytes)
        self._check("cuMemcpyDtoH", err)

    def load_module(self, image: bytes) -> Any:
        err, module = self.drv.cuModuleLoadData(image)
        self._check("cuModuleLoadData", err)
        return module

    def get_function(self, module: Any, entry: str) -> Any:
        err, func = self.drv.cuModuleGetFunction(module, entry.encode())
        self._check("cuModuleGetFunction", err, entry)
        return func

    def unload_module(self, module: Any) -> None:
        self.drv.cuModuleUnload(module)

    def launch(self, func: Any, grid: tuple[int, int], block: int, args: PackedArgs,
               stream: int, overlap: bool = False) -> None:
        if overlap and self.overlap_launches:
            (err,) = self.drv.cuLaunchKernelEx(self._overlap_config(grid, block, stream), func,
                                               args.address, 0)
            self._check("cuLaunchKernelEx", err)
            return
        (err,) = self.drv.cuLaunchKernel(
            func, grid[0], grid[1], 1, block, 1, 1, 0, self._stream(stream), args.address, 0
        )
        self._check("cuLaunchKernel", err)

    def _overlap_config(self, grid: tuple[int, int], block: int, stream: int) -> Any:
        """The launch configuration of a programmatic dependent launch (the attribute
        CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION), made once per grid, block and
        stream: filling one in costs microseconds of Python per call."""
        key = (grid, block, stream)
        hit = self._configs.get(key)
        if hit is None:
            drv = self.drv
            attr = drv.CUlaunchAttribute()
            attr.id = drv.CUlaunchAttributeID.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION
            attr.value.programmaticStreamSerializationAllowed = 1
            hit = drv.CUlaunchConfig()
            hit.gridDimX, hit.gridDimY, hit.gridDimZ = grid[0], grid[1], 1
            hit.blockDimX, hit.blockDimY, hit.blockDimZ = block, 1, 1
            hit.sharedMemBytes = 0
            hit.hStream = self._stream(stream)
            hit.attrs = [attr]
            hit.numAttrs = 1
            if len(self._configs) >= 256:
                self._configs.clear()
            self._configs[key] = hit
        return hit

    def event_create(self) -> Any:
        self.make_current()
        err, event = self.drv.cuEventCreate(0)
        self._check("cuEventCreate", err)
        return event

    def event_record(self, event: Any, stream: int) -> None:
        (err,) = self.drv.cuEventRecord(event, self._stream(stream))
        self._check("cuEventRecord", err)

    def event_done(self, event: Any) -> bool:
        (err,) = self.drv.cuEventQuery(event)
        if err == self.drv.CUresult.CUDA_SUCCESS:
            return True
        if err == self.drv.CUresult.CUDA_ERROR_NOT_READY:
            return False
        raise self.fail("cuEventQuery", err)

    def event_elapsed_ms(self, start: Any, end: Any) -> float:
        err, ms = self.drv.cuEventElapsedTime(start, end)
        self._check("cuEventElapsedTime", err)
        return float(ms)

    def event_destroy(self, event: Any) -> None:
        self.drv.cuEventDestroy(event)

    def stream_create(self) -> int:
        self.make_current()  # the primary context is current per thread
        err, stream = self.drv.cuStreamCreate(1)  # CU_STREAM_NON_BLOCKING
        self._check("cuStreamCreate", err)
        return int(stream)

    def stream_destroy(self, stream: int) -> None:
        self.make_current()
        self.drv.cuStreamDestroy(self._stream(stream))
