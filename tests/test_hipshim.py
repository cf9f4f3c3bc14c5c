"""The hipshim (tools/hipshim): a HIP-runtime/hiprtc stand-in on CUDA, and rocsample on it.

The shim is TEST EQUIPMENT: it lets the real ``hip`` backend run through the real hip-python
on an NVIDIA GPU (``ROCM_PATH=tools/hipshim/build``), so the HIP code path is exercised where
no AMD GPU exists. Two groups of tests:

* no GPU needed (the ``hipshim_build`` fixture builds the library with ``make``; skipped
  where no CUDA headers/compiler exist): the library loads through hip-python, every
  symbol the backend uses resolves and fails cleanly without a device, the
  ``hipDeviceProp_t`` layout matches hip-python's, and hiprtc (NVRTC underneath) compiles a
  rocsample kernel module to a cubin, through rocsample's own toolchain code;
* ``gpu`` (run on the GPU machine with ``ROCM_PATH`` at the shim build): sampling through
  ``backend="hip"`` goes through the shim's counters and equals the numpy reference, error
  codes map to AMD's, and an ``extra``-style launch checks the HIP_LAUNCH_PARAM translation.
  They skip unless hip-python is running on the shim; with ``ROCSAMPLE_REQUIRE_GPU=1`` and
  ``ROCSAMPLE_BACKEND=hip`` that is a failure instead (unless a real HIP runtime is the one
  configured: then these tests do not apply).
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIM_DIR = ROOT / "tools" / "hipshim"
BUILD = SHIM_DIR / "build"
LIB = BUILD / "lib" / "libamdhip64.so"
REQUIRE = (os.environ.get("ROCSAMPLE_REQUIRE_GPU") == "1"
           and os.environ.get("ROCSAMPLE_BACKEND", "").strip().lower() == "hip")

# What rocsample's hip backend (and hip-python's wrappers of it) call, by exported name.
HIP_SYMBOLS = (
    "hipInit", "hipGetDeviceCount", "hipSetDevice", "hipGetDevice",
    "hipGetDevicePropertiesR0600", "hipMalloc", "hipFree",
    "hipMemcpyHtoD", "hipMemcpyDtoH", "hipMemcpy", "hipMemcpyHtoDAsync", "hipMemcpyDtoHAsync",
    "hipMemset", "hipModuleLoadData", "hipModuleGetFunction", "hipModuleUnload",
    "hipModuleLaunchKernel", "hipEventCreate", "hipEventCreateWithFlags", "hipEventRecord",
    "hipEventQuery", "hipEventSynchronize", "hipEventElapsedTime", "hipEventDestroy",
    "hipStreamCreate", "hipStreamCreateWithFlags", "hipStreamDestroy", "hipStreamSynchronize",
    "hipDeviceSynchronize", "hipGetErrorString", "hipGetErrorName", "hipGetLastError",
    "hipPeekAtLastError", "hipRuntimeGetVersion", "hipDriverGetVersion", "hipMallocAsync",
    "hipFreeAsync", "hipStreamWaitEvent", "hipStreamIsCapturing",
    # graph capture (test_gpu_capture.py on the shim): CUDA graphs under HIP's names
    "hipStreamBeginCapture", "hipStreamEndCapture", "hipStreamGetCaptureInfo",
    "hipGraphInstantiate", "hipGraphInstantiateWithFlags", "hipGraphLaunch", "hipGraphDestroy",
    "hipGraphExecDestroy",
)
RTC_SYMBOLS = (
    "hiprtcVersion", "hiprtcCreateProgram", "hiprtcCompileProgram", "hiprtcGetProgramLogSize",
    "hiprtcGetProgramLog", "hiprtcGetCodeSize", "hiprtcGetCode", "hiprtcDestroyProgram",
    "hiprtcGetErrorString",
)


def _open(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.hipshim_call_count.argtypes = [ctypes.c_char_p]
    lib.hipshim_status.restype = ctypes.c_char_p
    lib.hipshim_prop_layout.argtypes = [ctypes.c_char_p]
    lib.hipshim_prop_layout.restype = ctypes.c_long
    return lib


def _run(script: str, **env: str) -> dict:
    """Run ``script`` in a fresh interpreter on the shim; it prints one JSON line last."""
    full = {k: v for k, v in os.environ.items() if k != "HIPSHIM_LOG"}
    full.update(ROCM_PATH=str(BUILD), PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p), **env)
    proc = subprocess.run([sys.executable, "-c", script], env=full, capture_output=True,
                          text=True, timeout=300, cwd=str(ROOT))
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- no GPU needed
@pytest.fixture(scope="session")
def hipshim_build() -> ctypes.CDLL:
    """Build tools/hipshim (incremental) and load it; skip where it cannot be built."""
    if shutil.which("make") is None or shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("hipshim: no make or C compiler here")
    proc = subprocess.run(["make", "-s", "-C", str(SHIM_DIR), f"PYTHON={sys.executable}"],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        if "cuda.h not found" in proc.stderr:
            pytest.skip("hipshim: no CUDA headers here (cuda.h not found)")
        pytest.fail(f"building tools/hipshim failed:\n{proc.stdout}\n{proc.stderr}")
    return _open(LIB)


def test_exports_and_hiprtc_link(hipshim_build):
    for name in HIP_SYMBOLS + RTC_SYMBOLS:
        assert hasattr(hipshim_build, name), name
        assert hipshim_build.hipshim_call_count(name.encode()) >= 0, name
    assert hipshim_build.hipshim_call_count(b"hipNoSuchFunction") == -1
    # hip-python's hiprtc binding opens lib/libhiprtc.so: the same file, so one instance.
    assert (BUILD / "lib" / "libhiprtc.so").resolve() == LIB.resolve()


def test_device_prop_layout_matches_hip_python(hipshim_build):
    """Offsets of hip-python's compiled hipDeviceProp_t (found by writing through its
    setters) equal the shim's, and so does the size (the stride of a 2-element array)."""
    from hip import hip

    props = hip.hipDeviceProp_t.allocate(2)
    base = int(props)
    size = hipshim_build.hipshim_prop_layout(b"sizeof")
    assert size == 1472

    def offset_of(setter, element=0):
        before = ctypes.string_at(base, 2 * size)
        setter(element, 0x5A)
        after = ctypes.string_at(base, 2 * size)
        setter(element, 0)
        return next(i for i in range(2 * size) if before[i] != after[i])

    fields = ("totalGlobalMem", "warpSize", "major", "minor", "multiProcessorCount",
              "maxThreadsPerBlock", "clockRate", "l2CacheSize", "pciBusID",
              "maxSharedMemoryPerMultiProcessor", "asicRevision")
    for field in fields:
        assert offset_of(getattr(props, f"set_{field}")) == \
            hipshim_build.hipshim_prop_layout(field.encode()), field
    assert offset_of(props.set_warpSize, 1) - offset_of(props.set_warpSize) == size
    # gcnArchName (no setter) is the 256 bytes right before maxSharedMemoryPerMultiProcessor
    assert hipshim_build.hipshim_prop_layout(b"gcnArchName") + 256 == \
        offset_of(props.set_maxSharedMemoryPerMultiProcessor)


_ROUTE_SCRIPT = r"""
import ctypes, json, os
from hip import hip
E = hip.hipError_t
res = {"hipInit": int(hip.hipInit(0)[0])}
if res["hipInit"] == 0:
    print(json.dumps(res)); raise SystemExit
calls = {
    "hipGetDeviceCount": lambda: hip.hipGetDeviceCount(),
    "hipSetDevice": lambda: hip.hipSetDevice(0),
    "hipGetDevice": lambda: hip.hipGetDevice(),
    "hipGetDevicePropertiesR0600": lambda: hip.hipGetDeviceProperties(0),
    "hipMalloc": lambda: hip.hipMalloc(16),
    "hipFree": lambda: hip.hipFree(None),
    "hipMemcpyHtoD": lambda: hip.hipMemcpyHtoD(None, None, 0),
    "hipMemcpyDtoH": lambda: hip.hipMemcpyDtoH(None, None, 0),
    "hipMemcpy": lambda: hip.hipMemcpy(None, None, 0, hip.hipMemcpyKind.hipMemcpyDefault),
    "hipMemcpyHtoDAsync": lambda: hip.hipMemcpyHtoDAsync(None, None, 0, None),
    "hipMemcpyDtoHAsync": lambda: hip.hipMemcpyDtoHAsync(None, None, 0, None),
    "hipMemset": lambda: hip.hipMemset(None, 0, 0),
    "hipMallocAsync": lambda: hip.hipMallocAsync(16, None),
    "hipFreeAsync": lambda: hip.hipFreeAsync(None, None),
    "hipStreamWaitEvent": lambda: hip.hipStreamWaitEvent(None, None, 0),
    "hipModuleLoadData": lambda: hip.hipModuleLoadData(b"\0" * 64),
    "hipModuleGetFunction": lambda: hip.hipModuleGetFunction(None, b"k"),
    "hipModuleUnload": lambda: hip.hipModuleUnload(None),
    "hipModuleLaunchKernel": lambda: hip.hipModuleLaunchKernel(None, 1, 1, 1, 1, 1, 1, 0,
                                                               None, None, None),
    "hipEventCreate": lambda: hip.hipEventCreate(),
    "hipEventCreateWithFlags": lambda: hip.hipEventCreateWithFlags(2),
    "hipEventRecord": lambda: hip.hipEventRecord(None, None),
    "hipEventQuery": lambda: hip.hipEventQuery(None),
    "hipEventSynchronize": lambda: hip.hipEventSynchronize(None),
    "hipEventElapsedTime": lambda: hip.hipEventElapsedTime(None, None),
    "hipEventDestroy": lambda: hip.hipEventDestroy(None),
    "hipStreamCreate": lambda: hip.hipStreamCreate(),
    "hipStreamCreateWithFlags": lambda: hip.hipStreamCreateWithFlags(1),
    "hipStreamDestroy": lambda: hip.hipStreamDestroy(None),
    "hipStreamSynchronize": lambda: hip.hipStreamSynchronize(None),
    "hipDeviceSynchronize": lambda: hip.hipDeviceSynchronize(),
    "hipDriverGetVersion": lambda: hip.hipDriverGetVersion(),
    "hipRuntimeGetVersion": lambda: hip.hipRuntimeGetVersion(),
    "hipStreamIsCapturing": lambda: hip.hipStreamIsCapturing(None),
    "hipStreamBeginCapture": lambda: hip.hipStreamBeginCapture(
        None, hip.hipStreamCaptureMode.hipStreamCaptureModeGlobal),
    "hipStreamEndCapture": lambda: hip.hipStreamEndCapture(None),
    "hipStreamGetCaptureInfo": lambda: hip.hipStreamGetCaptureInfo(None),
    "hipGraphInstantiate": lambda: hip.hipGraphInstantiate(None, 0),
    "hipGraphInstantiateWithFlags": lambda: hip.hipGraphInstantiateWithFlags(None, 0),
    "hipGraphLaunch": lambda: hip.hipGraphLaunch(None, None),
    "hipGraphDestroy": lambda: hip.hipGraphDestroy(None),
    "hipGraphExecDestroy": lambda: hip.hipGraphExecDestroy(None),
}
for name, call in calls.items():
    res[name] = int(call()[0])
res["count"] = hip.hipGetDeviceCount()[1]
res["runtime_version"] = hip.hipRuntimeGetVersion()[1]
res["peek"] = int(hip.hipPeekAtLastError()[0])
res["last"] = int(hip.hipGetLastError()[0])
res["last_after"] = int(hip.hipGetLastError()[0])
res["name"] = str(hip.hipGetErrorName(E.hipErrorNotFound)[1])
res["string"] = str(hip.hipGetErrorString(E.hipErrorNoDevice)[1])
lib = ctypes.CDLL(os.path.join(os.environ["ROCM_PATH"], "lib", "libamdhip64.so"))
lib.hipshim_status.restype = ctypes.c_char_p
res["status"] = lib.hipshim_status().decode()
res["counts"] = {n: lib.hipshim_call_count(n.encode()) for n in list(calls) + ["hipInit"]}
print(json.dumps(res))
"""


def test_hip_python_resolves_every_symbol_and_fails_cleanly_without_gpu(hipshim_build):
    """Each wrapper the backend uses dlsyms its symbol in the shim (a missing one raises
    RuntimeError in hip-python) and, without a device, returns hipErrorNoDevice."""
    res = _run(_ROUTE_SCRIPT)
    if res["hipInit"] == 0:
        pytest.skip("a GPU is present here: the gpu tests below cover the shim")
    no_device = 100  # hipErrorNoDevice
    assert res.pop("hipInit") == no_device, res["status"]
    counts, status = res.pop("counts"), res.pop("status")
    assert res.pop("runtime_version") == 71526333 and res.pop("hipRuntimeGetVersion") == 0
    assert res.pop("count") == 0
    assert (res.pop("peek"), res.pop("last"), res.pop("last_after")) == (no_device, no_device, 0)
    assert res.pop("name") == "hipErrorNotFound"
    assert res.pop("string")  # a description or the name, never NULL
    assert res == dict.fromkeys(res, no_device), status
    twice = {"hipGetDeviceCount", "hipRuntimeGetVersion"}  # called again for their values
    assert counts == {n: 2 if n in twice else 1 for n in counts}, counts


_RTC_SCRIPT = r"""
import json, os
from rocsample import codeobject
from rocsample.compiler import compile_module
from rocsample.toolchains import get_toolchain
tc = get_toolchain("hiprtc")
mod = compile_module("hiprtc", "topk_sampling", "sm_90", 32)
info = codeobject.inspect_bytes(mod.image)
bad_code, bad_log = tc.compile(b"this is not C++;", "bad.hip", {}, tc.options("sm_90", 32))
print(json.dumps({
    "version": tc.version(), "options": list(mod.options), "magic": mod.image[:4].hex(),
    "entries": [[e.kind, e.target, list(e.symbols)] for e in info.entries],
    "bad_code": bad_code is None, "bad_log": bad_log,
}))
"""


def test_hiprtc_compiles_a_rocsample_module_to_a_cubin(hipshim_build, tmp_path):
    """rocsample's own hiprtc toolchain code, through hip-python, through the shim, to NVRTC:
    options translated (--offload-arch -> -arch, -O3 dropped), a cubin for sm_90 comes back,
    a compile error comes back as a log, every call is logged under HIPSHIM_LOG."""
    major, minor = ctypes.c_int(), ctypes.c_int()
    if hipshim_build.hiprtcVersion(ctypes.byref(major), ctypes.byref(minor)) != 0:
        pytest.skip(f"hipshim: NVRTC not loadable: {hipshim_build.hipshim_status().decode()}")
    log = tmp_path / "shim.log"
    res = _run(_RTC_SCRIPT, HIPSHIM_LOG=str(log), ROCSAMPLE_DISK_CACHE="0")
    assert res["version"] == f"hiprtc {major.value}.{minor.value}"
    assert res["options"][0] == "--offload-arch=sm_90"
    assert res["magic"] == "7f454c46"
    (kind, target, symbols), = res["entries"]
    assert (kind, target) == ("cuda", "sm_90") and "topk_sampling_kernel" in symbols
    assert res["bad_code"] and "error" in res["bad_log"].lower()
    lines = log.read_text().splitlines()
    calls = [ln.split()[1:] for ln in lines if not ln.split()[1].startswith("#")]
    assert ["hiprtcCompileProgram", "0"] in calls and ["hiprtcCompileProgram", "6"] in calls
    assert ["hiprtcGetCode", "0"] in calls and ["hiprtcDestroyProgram", "0"] in calls
    opts = [ln.split("option: ")[1].rsplit(" ", 1)[0] for ln in lines if "option: " in ln]
    assert "-arch=sm_90" in opts and "-std=c++17" in opts and "-O3" not in opts
    assert not any(o.startswith("--offload-arch") for o in opts)


# ------------------------------------------------------------------------------- on a GPU
def _skip_or_fail(reason: str, real_hip: bool = False):
    if REQUIRE and not real_hip:
        pytest.fail(f"hipshim required (ROCSAMPLE_REQUIRE_GPU=1, ROCSAMPLE_BACKEND=hip): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def shim():
    """(hip backend, shim library) when hip-python runs on the shim; else skip (or fail)."""
    from rocsample.backends import get_backend
    from rocsample.errors import BackendUnavailable

    rocm = os.environ.get("ROCM_PATH")
    path = Path(rocm or "/opt/rocm") / "lib" / "libamdhip64.so"
    if not path.exists():
        _skip_or_fail(f"no HIP runtime at {path} (set ROCM_PATH={BUILD} after make -C "
                      f"tools/hipshim)")
    lib = ctypes.CDLL(str(path))
    if not hasattr(lib, "hipshim_call_count"):
        _skip_or_fail(f"{path} is a real HIP runtime, not the hipshim", real_hip=True)
    lib = _open(path)
    try:
        backend = get_backend("hip")
    except BackendUnavailable as exc:
        _skip_or_fail(f"{exc} [hipshim: {lib.hipshim_status().decode()}]")
    major, minor = ctypes.c_int(), ctypes.c_int()
    if lib.hiprtcVersion(ctypes.byref(major), ctypes.byref(minor)) != 0:
        _skip_or_fail(f"the hipshim cannot load NVRTC (set HIPSHIM_NVRTC=/path/libnvrtc.so.13): "
                      f"{lib.hipshim_status().decode()}")
    return backend, lib


def _counts(lib, names):
    return {n: lib.hipshim_call_count(n.encode()) for n in names}


@pytest.mark.gpu
def test_backend_runs_on_the_shim(shim):
    backend, lib = shim
    assert lib.hipshim_call_count(b"hipInit") >= 1
    assert lib.hipshim_call_count(b"hipGetDevicePropertiesR0600") >= 1
    d = backend.describe()
    assert d["backend"] == "hip" and d["device"] and d["wave_size"] == 32
    assert d["target"].startswith("sm_") and d["target"][3:].isdigit(), d


@pytest.mark.gpu
def test_sampling_goes_through_the_shim_and_matches_numpy(shim, monkeypatch, tmp_path):
    """A fresh kernel cache (disk cache off) compiles, loads and launches through the shim;
    the tokens equal the numpy reference; the public API with backend="hip" too."""
    import rocsample
    from rocsample.backends import cpu_engine as cpu_kernels
    from rocsample.backends.gpu import GpuBackend
    from rocsample.registry import KERNELS
    from rocsample.validation import sampling_params

    backend, lib = shim
    monkeypatch.setenv("ROCSAMPLE_DISK_CACHE", "0")
    monkeypatch.setenv("ROCSAMPLE_KERNEL_DIR", str(tmp_path))
    for spec in KERNELS.values():
        monkeypatch.delenv(spec.env_var, raising=False)
    names = ["hiprtcCreateProgram", "hiprtcCompileProgram", "hiprtcGetCode",
             "hiprtcDestroyProgram", "hipModuleLoadData", "hipModuleGetFunction",
             "hipModuleLaunchKernel", "hipMemcpyDtoH", "hipEventCreate", "hipEventRecord",
             "hipEventQuery"]
    either = [("hipMalloc", "hipMallocAsync"), ("hipMemcpyHtoD", "hipMemcpyHtoDAsync")]
    before = _counts(lib, names + [n for pair in either for n in pair])
    rng = np.random.default_rng(3)
    probs = cpu_kernels.softmax((rng.standard_normal((16, 3000)) * 3).astype(np.float32))
    fresh = GpuBackend(backend.rt)
    got = fresh.sample(probs, sampling_params(16, top_k=50, seed=7, offset=1), method="topk")
    after = _counts(lib, before)
    grew = {n for n in before if after[n] > before[n]}
    assert set(names) <= grew, sorted(set(names) - grew)
    assert all(grew & set(pair) for pair in either), (either, sorted(grew))
    assert np.array_equal(got, cpu_kernels.sample_rows(probs, top_k=50, seed=7, offset=1))
    for case in (dict(), dict(top_k=1), dict(top_p=0.9), dict(top_k=40, top_p=0.8, min_p=0.05)):
        got = rocsample.sample(probs, seed=11, offset=2, backend="hip", **case)
        want = cpu_kernels.sample_rows(probs, seed=11, offset=2, **case)
        assert np.array_equal(got, want), case


@pytest.mark.gpu
def test_error_codes_are_amds(shim):
    """cuModuleGetFunction's CUDA_ERROR_NOT_FOUND reaches rocsample as hipErrorNotFound;
    hipSetDevice of a bad index is hipErrorInvalidDevice, and sticks for hipGetLastError."""
    from rocsample.compiler import compile_module
    from rocsample.errors import LaunchError

    backend, _ = shim
    rt, hip = backend.rt, backend.rt.hip
    module = rt.load_module(compile_module("hiprtc", "topk_sampling", rt.target,
                                           rt.wave_size).image)
    try:
        with pytest.raises(LaunchError, match="hipModuleGetFunction failed: hipErrorNotFound"):
            rt.get_function(module, "no_such_kernel")
    finally:
        rt.unload_module(module)
    with pytest.raises(LaunchError, match=r"hipModuleLoadData failed: hipError\w+"):
        rt.load_module(b"\x7fELF" + bytes(60))
    hip.hipGetLastError()
    (err,) = hip.hipSetDevice(10_000)
    assert err == hip.hipError_t.hipErrorInvalidDevice
    assert hip.hipPeekAtLastError()[0] == hip.hipError_t.hipErrorInvalidDevice
    assert hip.hipGetLastError()[0] == hip.hipError_t.hipErrorInvalidDevice
    assert hip.hipGetLastError()[0] == hip.hipError_t.hipSuccess
    rt.make_current()


_AXPB = b"""
extern "C" __global__ void axpb(float* out, const float* x, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a * x[i] + (float)n;
}
"""


@pytest.mark.gpu
def test_extra_launch_translates_hip_launch_params(shim):
    """hip.hipModuleLaunchKernel with hip-python's HipModuleLaunchKernel_extra packing:
    {HIP_LAUNCH_PARAM_BUFFER_POINTER=1, buf, BUFFER_SIZE=2, &size, END=3}. CUDA's END is 0,
    so an untranslated array would fail (or read past the end) instead of computing."""
    from rocm.bindings._hip_helpers import HipModuleLaunchKernel_extra

    from rocsample.toolchains import get_toolchain

    backend, lib = shim
    rt, hip = backend.rt, backend.rt.hip
    rt.make_current()
    tc = get_toolchain("hiprtc")
    image, log = tc.compile(_AXPB, "axpb.hip", {}, [f"--offload-arch={rt.target}", "-O3"])
    assert image is not None, log
    module = rt.load_module(image)
    n = 1000
    x = np.arange(n, dtype=np.float32)
    out = np.zeros_like(x)
    dx, dout = rt.alloc(x.nbytes), rt.alloc(out.nbytes)
    try:
        func = rt.get_function(module, "axpb")
        rt.copy_from_host(dx, x.ctypes.data, x.nbytes)
        extra = HipModuleLaunchKernel_extra(
            (ctypes.c_void_p(dout), ctypes.c_void_p(dx), ctypes.c_float(2.5), ctypes.c_int(n)))
        before = lib.hipshim_call_count(b"hipModuleLaunchKernel")
        (err,) = hip.hipModuleLaunchKernel(func, math.ceil(n / 128), 1, 1, 128, 1, 1, 0, None,
                                           None, extra)
        assert err == hip.hipError_t.hipSuccess, err
        assert lib.hipshim_call_count(b"hipModuleLaunchKernel") == before + 1
        assert hip.hipDeviceSynchronize()[0] == hip.hipError_t.hipSuccess
        rt.copy_to_host(out.ctypes.data, dout, out.nbytes)
        assert np.array_equal(out, 2.5 * x + n)
    finally:
        rt.free(dx)
        rt.free(dout)
        rt.unload_module(module)


@pytest.mark.gpu
def test_streams_events_memcpy_kinds_and_threads(shim):
    backend, lib = shim
    rt, hip = backend.rt, backend.rt.hip
    kinds = hip.hipMemcpyKind
    ok = hip.hipError_t.hipSuccess
    a = np.arange(256, dtype=np.uint8)
    out = np.zeros_like(a)
    n = a.nbytes
    stream = rt.stream_create()
    d1, d2 = rt.alloc(n), rt.alloc(n)
    start, stop = rt.event_create(), rt.event_create()
    try:
        rt.event_record(start, stream)
        assert hip.hipMemcpyHtoDAsync(d1, a.ctypes.data, n, stream)[0] == ok
        rt.event_record(stop, stream)
        assert hip.hipStreamSynchronize(stream)[0] == ok
        assert hip.hipEventSynchronize(stop)[0] == ok and rt.event_done(stop)
        assert rt.event_elapsed_ms(start, stop) >= 0.0
        assert hip.hipMemcpy(d2, d1, n, kinds.hipMemcpyDeviceToDevice)[0] == ok
        assert hip.hipMemcpy(out.ctypes.data, d2, n, kinds.hipMemcpyDefault)[0] == ok
        assert np.array_equal(out, a)
        assert hip.hipMemset(d2, 7, n)[0] == ok
        assert hip.hipMemcpyDtoHAsync(out.ctypes.data, d2, n, stream)[0] == ok
        assert hip.hipStreamSynchronize(stream)[0] == ok and (out == 7).all()
        assert hip.hipMemcpy(out.ctypes.data, a.ctypes.data, n, kinds.hipMemcpyHostToHost)[0] == ok
        err, untimed = hip.hipEventCreateWithFlags(2)  # hipEventDisableTiming
        assert err == ok and hip.hipEventDestroy(untimed)[0] == ok
        err, plain = hip.hipStreamCreate()
        assert err == ok and hip.hipStreamDestroy(plain)[0] == ok
    finally:
        for ev in (start, stop):
            rt.event_destroy(ev)
        rt.free(d1)
        rt.free(d2)
        rt.stream_destroy(stream)
    result = {}

    def other_thread():  # no hipSetDevice here: the shim binds device 0's context lazily
        err, ptr = hip.hipMalloc(64)
        result["malloc"] = err
        result["free"] = hip.hipFree(ptr)[0]
        result["device"] = hip.hipGetDevice()

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert result["malloc"] == ok and result["free"] == ok
    assert tuple(result["device"]) == (ok, 0)
