/*
 * hipshim.c -- TEST EQUIPMENT, never part of rocsample and never chosen outside tests.
 *
 * A tiny stand-in for AMD's libamdhip64.so and libhiprtc.so that runs on an NVIDIA GPU:
 * the subset of the HIP runtime and hiprtc C APIs that rocsample's `hip` backend calls
 * through hip-python 10.0.0.0.1.2, implemented on the CUDA driver API and NVRTC. With
 * ROCM_PATH=<this dir>/build, hip-python dlopens build/lib/libamdhip64.so (and
 * build/lib/libhiprtc.so, a symlink to it, so both bindings share one instance) exactly
 * as it would a ROCm install; the real backend then runs through the real bindings.
 *
 * ABI facts (all taken from hip-python's own sources/binaries, see README.md):
 *  - hip.hipGetDeviceProperties resolves the symbol hipGetDevicePropertiesR0600 and
 *    allocates sizeof(hipDeviceProp_tR0600) = 1472 bytes; the struct below matches it
 *    field for field (checked with _Static_assert and by tests/test_hipshim.py).
 *  - hipError_t / hiprtcResult values are AMD's (hip-python's enums), not CUDA's.
 *  - HIP_LAUNCH_PARAM_BUFFER_POINTER/BUFFER_SIZE/END are 1/2/3; CUDA's are 1/2/0.
 *
 * libcuda and libnvrtc are dlopen()ed (not linked) so that the library loads on a
 * machine without a GPU: there hipInit returns hipErrorNoDevice and hiprtc still works.
 * Every call is counted (hipshim_call_count) and, with HIPSHIM_LOG=<file>, logged.
 */
#define _GNU_SOURCE
#include <cuda.h>
#ifdef HIPSHIM_OWN_NVRTC_DECLS /* no nvrtc.h found: the few stable NVRTC declarations */
typedef int nvrtcResult;
#define NVRTC_SUCCESS 0
typedef struct _nvrtcProgram *nvrtcProgram;
nvrtcResult nvrtcVersion(int *, int *);
nvrtcResult nvrtcCreateProgram(nvrtcProgram *, const char *, const char *, int,
                               const char *const *, const char *const *);
nvrtcResult nvrtcCompileProgram(nvrtcProgram, int, const char *const *);
nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram, size_t *);
nvrtcResult nvrtcGetProgramLog(nvrtcProgram, char *);
nvrtcResult nvrtcGetCUBINSize(nvrtcProgram, size_t *);
nvrtcResult nvrtcGetCUBIN(nvrtcProgram, char *);
nvrtcResult nvrtcGetPTXSize(nvrtcProgram, size_t *);
nvrtcResult nvrtcGetPTX(nvrtcProgram, char *);
nvrtcResult nvrtcDestroyProgram(nvrtcProgram *);
#else
#include <nvrtc.h>
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define STR(x) #x
#define XSTR(x) STR(x) /* macro-expanded: cuMemAlloc -> "cuMemAlloc_v2" */
#ifndef HIPSHIM_NVRTC_DEFAULT
#define HIPSHIM_NVRTC_DEFAULT "" /* the Makefile bakes in the libnvrtc it found */
#endif

/* ---- HIP types and values (hip-python 10: rocm/bindings/cyhip.pxd) ---------------------- */
typedef int hipError_t;
typedef void *hipStream_t, *hipEvent_t, *hipModule_t, *hipFunction_t;
typedef int hiprtcResult;
typedef void *hiprtcProgram; /* an nvrtcProgram, passed through */

#define HIP_ERRORS(E)                                                                             \
  E(hipSuccess, 0) E(hipErrorInvalidValue, 1) E(hipErrorOutOfMemory, 2)                           \
  E(hipErrorNotInitialized, 3) E(hipErrorDeinitialized, 4) E(hipErrorProfilerDisabled, 5)         \
  E(hipErrorProfilerNotInitialized, 6) E(hipErrorProfilerAlreadyStarted, 7)                       \
  E(hipErrorProfilerAlreadyStopped, 8) E(hipErrorInvalidConfiguration, 9)                         \
  E(hipErrorInvalidPitchValue, 12) E(hipErrorInvalidSymbol, 13)                                   \
  E(hipErrorInvalidDevicePointer, 17) E(hipErrorInvalidMemcpyDirection, 21)                       \
  E(hipErrorInsufficientDriver, 35) E(hipErrorMissingConfiguration, 52)                           \
  E(hipErrorPriorLaunchFailure, 53) E(hipErrorInvalidDeviceFunction, 98)                          \
  E(hipErrorNoDevice, 100) E(hipErrorInvalidDevice, 101) E(hipErrorInvalidImage, 200)             \
  E(hipErrorInvalidContext, 201) E(hipErrorContextAlreadyCurrent, 202) E(hipErrorMapFailed, 205)  \
  E(hipErrorUnmapFailed, 206) E(hipErrorArrayIsMapped, 207) E(hipErrorAlreadyMapped, 208)         \
  E(hipErrorNoBinaryForGpu, 209) E(hipErrorAlreadyAcquired, 210) E(hipErrorNotMapped, 211)        \
  E(hipErrorNotMappedAsArray, 212) E(hipErrorNotMappedAsPointer, 213)                             \
  E(hipErrorECCNotCorrectable, 214) E(hipErrorUnsupportedLimit, 215)                              \
  E(hipErrorContextAlreadyInUse, 216) E(hipErrorPeerAccessUnsupported, 217)                       \
  E(hipErrorInvalidKernelFile, 218) E(hipErrorInvalidGraphicsContext, 219)                        \
  E(hipErrorInvalidSource, 300) E(hipErrorFileNotFound, 301)                                      \
  E(hipErrorSharedObjectSymbolNotFound, 302) E(hipErrorSharedObjectInitFailed, 303)               \
  E(hipErrorOperatingSystem, 304) E(hipErrorInvalidHandle, 400) E(hipErrorIllegalState, 401)      \
  E(hipErrorNotFound, 500) E(hipErrorNotReady, 600) E(hipErrorIllegalAddress, 700)                \
  E(hipErrorLaunchOutOfResources, 701) E(hipErrorLaunchTimeOut, 702)                              \
  E(hipErrorPeerAccessAlreadyEnabled, 704) E(hipErrorPeerAccessNotEnabled, 705)                   \
  E(hipErrorSetOnActiveProcess, 708) E(hipErrorContextIsDestroyed, 709) E(hipErrorAssert, 710)    \
  E(hipErrorHostMemoryAlreadyRegistered, 712) E(hipErrorHostMemoryNotRegistered, 713)             \
  E(hipErrorLaunchFailure, 719) E(hipErrorCooperativeLaunchTooLarge, 720)                         \
  E(hipErrorNotSupported, 801) E(hipErrorStreamCaptureUnsupported, 900)                           \
  E(hipErrorStreamCaptureInvalidated, 901) E(hipErrorStreamCaptureMerge, 902)                     \
  E(hipErrorStreamCaptureUnmatched, 903) E(hipErrorStreamCaptureUnjoined, 904)                    \
  E(hipErrorStreamCaptureIsolation, 905) E(hipErrorStreamCaptureImplicit, 906)                    \
  E(hipErrorCapturedEvent, 907) E(hipErrorStreamCaptureWrongThread, 908)                          \
  E(hipErrorGraphExecUpdateFailure, 910) E(hipErrorInvalidChannelDescriptor, 911)                 \
  E(hipErrorInvalidTexture, 912) E(hipErrorInvalidResourceType, 914)                              \
  E(hipErrorInvalidResourceConfiguration, 915) E(hipErrorStreamDetached, 916)                     \
  E(hipErrorUnknown, 999) E(hipErrorRuntimeMemory, 1052) E(hipErrorRuntimeOther, 1053)            \
  E(hipErrorInvalidClusterSize, 1054) E(hipErrorTbd, 1055)
#define E(n, v) n = v,
enum { HIP_ERRORS(E) };
#undef E
#define E(n, v) {v, #n},
static const struct { int code; const char *name; } kHipErrors[] = {HIP_ERRORS(E)};
#undef E

static const char *const kRtcNames[] = {
    "HIPRTC_SUCCESS", "HIPRTC_ERROR_OUT_OF_MEMORY", "HIPRTC_ERROR_PROGRAM_CREATION_FAILURE",
    "HIPRTC_ERROR_INVALID_INPUT", "HIPRTC_ERROR_INVALID_PROGRAM", "HIPRTC_ERROR_INVALID_OPTION",
    "HIPRTC_ERROR_COMPILATION", "HIPRTC_ERROR_BUILTIN_OPERATION_FAILURE",
    "HIPRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION",
    "HIPRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION",
    "HIPRTC_ERROR_NAME_EXPRESSION_NOT_VALID", "HIPRTC_ERROR_INTERNAL_ERROR"};
enum { HIPRTC_SUCCESS = 0, HIPRTC_ERROR_INVALID_INPUT = 3, HIPRTC_ERROR_INTERNAL_ERROR = 11,
       HIPRTC_ERROR_LINKING = 100 };

/* HIP_VERSION of the HIP that hip-python 10.0.0.0.1.2 was generated against: 7.15.26333 */
#define SHIM_HIP_VERSION (7 * 10000000 + 15 * 100000 + 26333)

/* hipDeviceProp_tR0600, as hip-python 10 allocates it (1472 bytes on LP64). */
typedef struct hipDeviceProp_t {
  char name[256];
  char uuid[16];
  char luid[8];
  unsigned int luidDeviceNodeMask;
  size_t totalGlobalMem, sharedMemPerBlock;
  int regsPerBlock, warpSize;
  size_t memPitch;
  int maxThreadsPerBlock, maxThreadsDim[3], maxGridSize[3], clockRate;
  size_t totalConstMem;
  int major, minor;
  size_t textureAlignment, texturePitchAlignment;
  int deviceOverlap, multiProcessorCount, kernelExecTimeoutEnabled, integrated,
      canMapHostMemory, computeMode, maxTexture1D, maxTexture1DMipmap, maxTexture1DLinear,
      maxTexture2D[2], maxTexture2DMipmap[2], maxTexture2DLinear[3], maxTexture2DGather[2],
      maxTexture3D[3], maxTexture3DAlt[3], maxTextureCubemap, maxTexture1DLayered[2],
      maxTexture2DLayered[3], maxTextureCubemapLayered[2], maxSurface1D, maxSurface2D[2],
      maxSurface3D[3], maxSurface1DLayered[2], maxSurface2DLayered[3], maxSurfaceCubemap,
      maxSurfaceCubemapLayered[2];
  size_t surfaceAlignment;
  int concurrentKernels, ECCEnabled, pciBusID, pciDeviceID, pciDomainID, tccDriver,
      asyncEngineCount, unifiedAddressing, memoryClockRate, memoryBusWidth, l2CacheSize,
      persistingL2CacheMaxSize, maxThreadsPerMultiProcessor, streamPrioritiesSupported,
      globalL1CacheSupported, localL1CacheSupported;
  size_t sharedMemPerMultiprocessor;
  int regsPerMultiprocessor, managedMemory, isMultiGpuBoard, multiGpuBoardGroupID,
      hostNativeAtomicSupported, singleToDoublePrecisionPerfRatio, pageableMemoryAccess,
      concurrentManagedAccess, computePreemptionSupported, canUseHostPointerForRegisteredMem,
      cooperativeLaunch, cooperativeMultiDeviceLaunch;
  size_t sharedMemPerBlockOptin;
  int pageableMemoryAccessUsesHostPageTables, directManagedMemAccessFromHost,
      maxBlocksPerMultiProcessor, accessPolicyMaxWindowSize;
  size_t reservedSharedMemPerBlock;
  int hostRegisterSupported, sparseHipArraySupported, hostRegisterReadOnlySupported,
      timelineSemaphoreInteropSupported, memoryPoolsSupported, gpuDirectRDMASupported;
  unsigned int gpuDirectRDMAFlushWritesOptions;
  int gpuDirectRDMAWritesOrdering;
  unsigned int memoryPoolSupportedHandleTypes;
  int deferredMappingHipArraySupported, ipcEventSupported, clusterLaunch,
      unifiedFunctionPointers, reserved[63], hipReserved[32];
  char gcnArchName[256];
  size_t maxSharedMemoryPerMultiProcessor;
  int clockInstructionRate;
  unsigned int arch; /* hipDeviceArch_t: 17 one-bit fields in one unsigned int */
  unsigned int *hdpMemFlushCntl, *hdpRegFlushCntl;
  int cooperativeMultiDeviceUnmatchedFunc, cooperativeMultiDeviceUnmatchedGridDim,
      cooperativeMultiDeviceUnmatchedBlockDim, cooperativeMultiDeviceUnmatchedSharedMem,
      isLargeBar, asicRevision;
} hipDeviceProp_t;
/* Offsets measured on hip-python's compiled hipDeviceProp_t (see README.md). */
_Static_assert(sizeof(hipDeviceProp_t) == 1472, "sizeof(hipDeviceProp_tR0600)");
_Static_assert(offsetof(hipDeviceProp_t, totalGlobalMem) == 288, "totalGlobalMem");
_Static_assert(offsetof(hipDeviceProp_t, warpSize) == 308, "warpSize");
_Static_assert(offsetof(hipDeviceProp_t, major) == 360, "major");
_Static_assert(offsetof(hipDeviceProp_t, multiProcessorCount) == 388, "multiProcessorCount");
_Static_assert(offsetof(hipDeviceProp_t, unifiedFunctionPointers) == 776, "unifiedFnPtrs");
_Static_assert(offsetof(hipDeviceProp_t, gcnArchName) == 1160, "gcnArchName");
_Static_assert(offsetof(hipDeviceProp_t, maxSharedMemoryPerMultiProcessor) == 1416, "msm");
_Static_assert(offsetof(hipDeviceProp_t, hdpMemFlushCntl) == 1432, "hdpMemFlushCntl");
_Static_assert(offsetof(hipDeviceProp_t, asicRevision) == 1468, "asicRevision");

/* ---- call counting and logging ---------------------------------------------------------- */
#define APIS(X)                                                                            \
  X(hipInit) X(hipDriverGetVersion) X(hipRuntimeGetVersion) X(hipGetDeviceCount)           \
  X(hipSetDevice) X(hipGetDevice) X(hipGetDevicePropertiesR0600)                          \
  X(hipDeviceSynchronize) X(hipGetLastError) X(hipPeekAtLastError) X(hipGetErrorName)      \
  X(hipGetErrorString) X(hipMalloc) X(hipFree) X(hipMemcpy) X(hipMemcpyHtoD)               \
  X(hipMemcpyDtoH) X(hipMemcpyHtoDAsync) X(hipMemcpyDtoHAsync) X(hipMemset)                \
  X(hipMallocAsync) X(hipFreeAsync) X(hipStreamWaitEvent)                                  \
  X(hipModuleLoadData) X(hipModuleGetFunction) X(hipModuleUnload) X(hipModuleLaunchKernel) \
  X(hipEventCreate) X(hipEventCreateWithFlags) X(hipEventRecord) X(hipEventQuery)          \
  X(hipEventSynchronize) X(hipEventElapsedTime) X(hipEventDestroy) X(hipStreamCreate)      \
  X(hipStreamCreateWithFlags) X(hipStreamDestroy) X(hipStreamSynchronize)                  \
  X(hiprtcVersion) X(hiprtcGetErrorString) X(hiprtcCreateProgram) X(hiprtcCompileProgram)  \
  X(hiprtcGetProgramLogSize) X(hiprtcGetProgramLog) X(hiprtcGetCodeSize) X(hiprtcGetCode)  \
  X(hiprtcDestroyProgram) X(hipStreamBeginCapture) X(hipStreamEndCapture)                  \
  X(hipStreamIsCapturing) X(hipStreamGetCaptureInfo) X(hipGraphInstantiate)               \
  X(hipGraphInstantiateWithFlags) X(hipGraphLaunch) X(hipGraphDestroy) X(hipGraphExecDestroy)
#define X(n) ID_##n,
enum { APIS(X) API_COUNT };
#undef X
#define X(n) #n,
static const char *const kApiNames[] = {APIS(X)};
#undef X

static atomic_long g_counts[API_COUNT];
static FILE *g_log;
static pthread_once_t g_log_once = PTHREAD_ONCE_INIT;
static _Thread_local hipError_t t_last; /* hipGetLastError */
static _Thread_local int t_dev;         /* hipSetDevice; device 0 until set */

static void log_open(void) {
  const char *path = getenv("HIPSHIM_LOG");
  if (path && *path && (g_log = fopen(path, "a")) != NULL) setvbuf(g_log, NULL, _IOLBF, 0);
}
static void log_line(const char *what, const char *detail, int rc) {
  pthread_once(&g_log_once, log_open);
  if (g_log) fprintf(g_log, "%d %s%s %d\n", (int)getpid(), what, detail, rc);
}
static int done(int id, int rc) {
  log_line(kApiNames[id], "", rc);
  return rc;
}
static hipError_t hip_done(int id, hipError_t rc) {
  if (rc != hipSuccess) t_last = rc;
  return done(id, rc);
}
/* API(name) opens every exported function: count it; RET/RTC_RET log the result. */
#define API(fn) const int api_ = (atomic_fetch_add(&g_counts[ID_##fn], 1), ID_##fn)
#define RET(e) return hip_done(api_, (e))
#define RTC_RET(e) return done(api_, (e))

EXPORT int hipshim_call_count(const char *name) {
  for (int i = 0; name && i < API_COUNT; i++)
    if (!strcmp(name, kApiNames[i])) return (int)atomic_load(&g_counts[i]);
  return -1; /* not a function this shim implements */
}
EXPORT void hipshim_reset_counts(void) {
  for (int i = 0; i < API_COUNT; i++) atomic_store(&g_counts[i], 0);
}

/* ---- the CUDA driver, loaded at run time ------------------------------------------------ */
#define CU_FNS(X)                                                                          \
  X(cuInit) X(cuDriverGetVersion) X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName)    \
  X(cuDeviceTotalMem) X(cuDeviceGetAttribute) X(cuDevicePrimaryCtxRetain)                  \
  X(cuCtxSetCurrent) X(cuCtxGetCurrent) X(cuCtxSynchronize) X(cuMemAlloc) X(cuMemFree)     \
  X(cuMemcpy) X(cuMemcpyHtoD) X(cuMemcpyDtoH) X(cuMemcpyDtoD) X(cuMemcpyHtoDAsync)         \
  X(cuMemcpyDtoHAsync) X(cuMemsetD8) X(cuModuleLoadData) X(cuModuleGetFunction)            \
  X(cuModuleUnload) X(cuLaunchKernel) X(cuEventCreate) X(cuEventRecord) X(cuEventQuery)    \
  X(cuEventSynchronize) X(cuEventElapsedTime) X(cuEventDestroy) X(cuStreamCreate)          \
  X(cuStreamDestroy) X(cuStreamSynchronize) X(cuGetErrorString) X(cuMemAllocAsync)       \
  X(cuMemFreeAsync) X(cuStreamWaitEvent) X(cuStreamBeginCapture) X(cuStreamEndCapture)     \
  X(cuStreamIsCapturing) X(cuStreamGetCaptureInfo) X(cuGraphInstantiateWithFlags)          \
  X(cuGraphLaunch) X(cuGraphDestroy) X(cuGraphExecDestroy)
#define NV_FNS(X)                                                                          \
  X(nvrtcVersion) X(nvrtcCreateProgram) X(nvrtcCompileProgram) X(nvrtcGetProgramLogSize)   \
  X(nvrtcGetProgramLog) X(nvrtcGetCUBINSize) X(nvrtcGetCUBIN) X(nvrtcGetPTXSize)           \
  X(nvrtcGetPTX) X(nvrtcDestroyProgram)
#define DECL(f) static __typeof__(f) *p_##f;
CU_FNS(DECL)
NV_FNS(DECL)
#undef DECL
typedef struct { void **slot; const char *sym, *base; } Sym;
#define SYM(f) {(void **)&p_##f, XSTR(f), #f},
static const Sym kCuSyms[] = {CU_FNS(SYM)};
static const Sym kNvSyms[] = {NV_FNS(SYM)};
#undef SYM

#define MAX_DEV 64
static pthread_once_t g_cu_once = PTHREAD_ONCE_INIT, g_nv_once = PTHREAD_ONCE_INIT;
static hipError_t g_cu_err = hipErrorNotInitialized;
static int g_ndev, g_nv_ok;
static char g_status[1024] = "not initialized";
static CUcontext g_ctx[MAX_DEV];
static pthread_mutex_t g_ctx_mu = PTHREAD_MUTEX_INITIALIZER;

static void note(const char *fmt, const char *a, const char *b) { /* for hipshim_status */
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&mu);
  size_t n = strcmp(g_status, "not initialized") ? strlen(g_status) : 0;
  snprintf(g_status + n, sizeof g_status - n, fmt, a, b);
  log_line("# hipshim: ", g_status + n, 0);
  pthread_mutex_unlock(&mu);
}

/* dlopen the first loadable candidate, then resolve every symbol (versioned name first). */
static void *load_lib(const char *const *names, size_t nnames, const Sym *syms, size_t nsyms,
                      const char *what) {
  void *h = NULL;
  const char *err = "no candidate";
  for (size_t i = 0; i < nnames && !h; i++) {
    if (!names[i] || !*names[i]) continue;
    if (!(h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL))) err = dlerror();
    else note("%s=%s; ", what, names[i]);
  }
  if (!h) {
    note("%s: not loadable (%s); ", what, err);
    return NULL;
  }
  for (size_t i = 0; i < nsyms; i++) {
    *syms[i].slot = dlsym(h, syms[i].sym);
    if (!*syms[i].slot) *syms[i].slot = dlsym(h, syms[i].base);
    if (!*syms[i].slot) {
      note("%s lacks %s; ", what, syms[i].sym);
      return NULL;
    }
  }
  return h;
}

static int cu_same(int c) { /* CUresult values whose meaning HIP kept under the same number */
  if (c > 910 && c != 914 && c != 915) return 0;
  for (size_t i = 0; i < sizeof kHipErrors / sizeof *kHipErrors; i++)
    if (kHipErrors[i].code == c) return 1;
  return 0;
}

static hipError_t from_cu(CUresult r) {
  if (cu_same((int)r)) return (hipError_t)r;
  switch ((int)r) {
  case CUDA_ERROR_STUB_LIBRARY: case CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER:
  case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH: return hipErrorInsufficientDriver;
  case CUDA_ERROR_DEVICE_UNAVAILABLE: return hipErrorNoDevice;
  case CUDA_ERROR_JIT_COMPILER_NOT_FOUND: case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
  case CUDA_ERROR_JIT_COMPILATION_DISABLED: return hipErrorInvalidKernelFile;
  case CUDA_ERROR_HARDWARE_STACK_ERROR: case CUDA_ERROR_ILLEGAL_INSTRUCTION:
  case CUDA_ERROR_MISALIGNED_ADDRESS: case CUDA_ERROR_INVALID_ADDRESS_SPACE:
  case CUDA_ERROR_INVALID_PC: return hipErrorLaunchFailure;
  case CUDA_ERROR_NOT_PERMITTED: return hipErrorNotSupported;
  case CUDA_ERROR_TIMEOUT: return hipErrorLaunchTimeOut;
  case CUDA_ERROR_INVALID_CLUSTER_SIZE: return hipErrorInvalidClusterSize;
  default: return hipErrorUnknown;
  }
}

static void cu_init_once(void) {
  const char *names[] = {getenv("HIPSHIM_LIBCUDA"), "libcuda.so.1", "libcuda.so"};
  if (!load_lib(names, 3, kCuSyms, sizeof kCuSyms / sizeof *kCuSyms, "libcuda")) {
    /* No driver at all: what HIP reports where no GPU is present. Too old a driver
     * (cuInit resolved, a later symbol missing): what CUDA would report. */
    g_cu_err = p_cuInit ? hipErrorInsufficientDriver : hipErrorNoDevice;
    return;
  }
  CUresult r = p_cuInit(0);
  if (r == CUDA_SUCCESS) r = p_cuDeviceGetCount(&g_ndev);
  if (r != CUDA_SUCCESS) {
    const char *s = NULL;
    p_cuGetErrorString(r, &s);
    note("cuInit/cuDeviceGetCount failed: %s%s; ", s ? s : "?", "");
    g_cu_err = from_cu(r);
    return;
  }
  if (g_ndev > MAX_DEV) g_ndev = MAX_DEV;
  g_cu_err = g_ndev > 0 ? hipSuccess : hipErrorNoDevice;
}
static hipError_t cu_init(void) {
  pthread_once(&g_cu_once, cu_init_once);
  return g_cu_err;
}

/* Make device `dev`'s primary context current in this thread (retained once, kept). */
static hipError_t bind_device(int dev) {
  CUresult r = CUDA_SUCCESS;
  CUcontext ctx, cur = NULL;
  pthread_mutex_lock(&g_ctx_mu);
  if (!g_ctx[dev]) {
    CUdevice d;
    r = p_cuDeviceGet(&d, dev);
    if (r == CUDA_SUCCESS) r = p_cuDevicePrimaryCtxRetain(&g_ctx[dev], d);
  }
  ctx = g_ctx[dev];
  pthread_mutex_unlock(&g_ctx_mu);
  if (r != CUDA_SUCCESS) return from_cu(r);
  if (p_cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == ctx) return hipSuccess;
  return from_cu(p_cuCtxSetCurrent(ctx));
}
/* Initialised, and this thread's device bound: every call that touches the GPU. */
static hipError_t ready(void) {
  hipError_t e = cu_init();
  return e != hipSuccess ? e : bind_device(t_dev);
}
#define READY() do { hipError_t e_ = ready(); if (e_ != hipSuccess) RET(e_); } while (0)
#define CU(call) RET(from_cu(call))
/* The common shape: count, check the pointer arguments, make sure the device is bound,
 * forward to the driver, map the result. */
#define FORWARD(fn, params, valid, call)                                                  \
  EXPORT hipError_t fn params {                                                           \
    API(fn);                                                                              \
    if (!(valid)) RET(hipErrorInvalidValue);                                              \
    READY();                                                                              \
    CU(call);                                                                             \
  }
#define SIMPLE(fn, params, call) FORWARD(fn, params, 1, call)
#define DP(p) ((CUdeviceptr)(uintptr_t)(p))

EXPORT const char *hipshim_status(void) {
  cu_init();
  return g_status;
}

/* ---- device management ------------------------------------------------------------------ */
EXPORT hipError_t hipInit(unsigned int flags) {
  API(hipInit);
  (void)flags;
  RET(cu_init());
}
EXPORT hipError_t hipDriverGetVersion(int *v) {
  API(hipDriverGetVersion);
  if (!v) RET(hipErrorInvalidValue);
  *v = 0;
  hipError_t e = cu_init();
  if (!p_cuDriverGetVersion) RET(e); /* libcuda itself is missing */
  CU(p_cuDriverGetVersion(v));
}
EXPORT hipError_t hipRuntimeGetVersion(int *v) {
  API(hipRuntimeGetVersion);
  if (!v) RET(hipErrorInvalidValue);
  *v = SHIM_HIP_VERSION;
  RET(hipSuccess);
}
EXPORT hipError_t hipGetDeviceCount(int *count) {
  API(hipGetDeviceCount);
  if (!count) RET(hipErrorInvalidValue);
  hipError_t e = cu_init();
  *count = e == hipSuccess ? g_ndev : 0;
  RET(e);
}
EXPORT hipError_t hipSetDevice(int dev) {
  API(hipSetDevice);
  hipError_t e = cu_init();
  if (e != hipSuccess) RET(e);
  if (dev < 0 || dev >= g_ndev) RET(hipErrorInvalidDevice);
  t_dev = dev;
  RET(bind_device(dev));
}
EXPORT hipError_t hipGetDevice(int *dev) {
  API(hipGetDevice);
  if (!dev) RET(hipErrorInvalidValue);
  hipError_t e = cu_init();
  *dev = t_dev;
  RET(e);
}

static hipError_t get_props(hipDeviceProp_t *p, int dev) {
  hipError_t e = cu_init();
  if (e != hipSuccess) return e;
  if (!p) return hipErrorInvalidValue;
  if (dev < 0 || dev >= g_ndev) return hipErrorInvalidDevice;
  memset(p, 0, sizeof *p);
  CUdevice d;
  CUresult r = p_cuDeviceGet(&d, dev);
  if (r == CUDA_SUCCESS) r = p_cuDeviceGetName(p->name, sizeof p->name, d);
  if (r == CUDA_SUCCESS) r = p_cuDeviceTotalMem(&p->totalGlobalMem, d);
  int smem = 0;
  const struct { CUdevice_attribute a; int *dst; } attrs[] = {
      {CU_DEVICE_ATTRIBUTE_WARP_SIZE, &p->warpSize},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &p->multiProcessorCount},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &p->major},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &p->minor},
      {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &p->maxThreadsPerBlock},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, &smem},
      {CU_DEVICE_ATTRIBUTE_CLOCK_RATE, &p->clockRate},
      {CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, &p->l2CacheSize},
      {CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, &p->pciBusID},
      {CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, &p->pciDeviceID},
      {CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, &p->pciDomainID},
  };
  for (size_t i = 0; r == CUDA_SUCCESS && i < sizeof attrs / sizeof *attrs; i++)
    r = p_cuDeviceGetAttribute(attrs[i].dst, attrs[i].a, d);
  if (r != CUDA_SUCCESS) return from_cu(r);
  p->sharedMemPerBlock = (size_t)smem;
  /* The CUDA target, so that rocsample compiles (through hiprtc -> NVRTC) for it. */
  snprintf(p->gcnArchName, sizeof p->gcnArchName, "sm_%d%d", p->major, p->minor);
  return hipSuccess;
}
/* Only the R0600 entry point: ROCm's unversioned hipGetDeviceProperties symbol keeps the
 * older R0000 layout, so exporting it with this struct would be an ABI lie. */
EXPORT hipError_t hipGetDevicePropertiesR0600(hipDeviceProp_t *p, int dev) {
  API(hipGetDevicePropertiesR0600);
  RET(get_props(p, dev));
}
EXPORT long hipshim_prop_layout(const char *field) { /* for tests/test_hipshim.py */
#define F(m) {#m, offsetof(hipDeviceProp_t, m)},
  static const struct { const char *n; size_t off; } kF[] = {
      F(name) F(totalGlobalMem) F(warpSize) F(major) F(minor) F(multiProcessorCount)
      F(maxThreadsPerBlock) F(clockRate) F(l2CacheSize) F(pciBusID) F(gcnArchName)
      F(maxSharedMemoryPerMultiProcessor) F(asicRevision)};
#undef F
  if (field && !strcmp(field, "sizeof")) return (long)sizeof(hipDeviceProp_t);
  for (size_t i = 0; field && i < sizeof kF / sizeof *kF; i++)
    if (!strcmp(field, kF[i].n)) return (long)kF[i].off;
  return -1;
}
SIMPLE(hipDeviceSynchronize, (void), p_cuCtxSynchronize())

/* ---- errors ----------------------------------------------------------------------------- */
EXPORT hipError_t hipGetLastError(void) {
  API(hipGetLastError);
  hipError_t e = t_last;
  t_last = hipSuccess;
  return done(api_, e);
}
EXPORT hipError_t hipPeekAtLastError(void) {
  API(hipPeekAtLastError);
  return done(api_, t_last);
}
static const char *err_name(hipError_t e) {
  for (size_t i = 0; i < sizeof kHipErrors / sizeof *kHipErrors; i++)
    if (kHipErrors[i].code == e) return kHipErrors[i].name;
  return "hipErrorUnknown";
}
EXPORT const char *hipGetErrorName(hipError_t e) {
  API(hipGetErrorName);
  done(api_, 0);
  return err_name(e);
}
EXPORT const char *hipGetErrorString(hipError_t e) {
  API(hipGetErrorString);
  done(api_, 0);
  const char *s = NULL; /* CUDA's description where the number means the same thing */
  if (e != hipSuccess && cu_same(e) && p_cuGetErrorString &&
      p_cuGetErrorString((CUresult)e, &s) == CUDA_SUCCESS && s)
    return s;
  return e == hipSuccess ? "no error" : err_name(e);
}

/* ---- memory ----------------------------------------------------------------------------- */
static hipError_t alloc(void **ptr, size_t size, hipStream_t s, int async) {
  if (!ptr) return hipErrorInvalidValue;
  *ptr = NULL;
  hipError_t e = ready();
  if (e != hipSuccess || size == 0) return e; /* HIP: 0 bytes gives NULL and succeeds */
  CUdeviceptr d = 0;
  CUresult r = async ? p_cuMemAllocAsync(&d, size, (CUstream)s) : p_cuMemAlloc(&d, size);
  *ptr = (void *)(uintptr_t)d;
  return from_cu(r);
}
static hipError_t release(void *ptr, hipStream_t s, int async) {
  hipError_t e = ready();
  if (e != hipSuccess || !ptr) return e;
  return from_cu(async ? p_cuMemFreeAsync(DP(ptr), (CUstream)s) : p_cuMemFree(DP(ptr)));
}
EXPORT hipError_t hipMalloc(void **ptr, size_t size) {
  API(hipMalloc);
  RET(alloc(ptr, size, NULL, 0));
}
EXPORT hipError_t hipMallocAsync(void **ptr, size_t size, hipStream_t s) {
  API(hipMallocAsync);
  RET(alloc(ptr, size, s, 1));
}
EXPORT hipError_t hipFree(void *ptr) {
  API(hipFree);
  RET(release(ptr, NULL, 0));
}
EXPORT hipError_t hipFreeAsync(void *ptr, hipStream_t s) {
  API(hipFreeAsync);
  RET(release(ptr, s, 1));
}
SIMPLE(hipMemcpyHtoD, (void *dst, const void *src, size_t n), p_cuMemcpyHtoD(DP(dst), src, n))
SIMPLE(hipMemcpyDtoH, (void *dst, void *src, size_t n), p_cuMemcpyDtoH(dst, DP(src), n))
SIMPLE(hipMemcpyHtoDAsync, (void *dst, const void *src, size_t n, hipStream_t s),
       p_cuMemcpyHtoDAsync(DP(dst), src, n, (CUstream)s))
SIMPLE(hipMemcpyDtoHAsync, (void *dst, void *src, size_t n, hipStream_t s),
       p_cuMemcpyDtoHAsync(dst, DP(src), n, (CUstream)s))
EXPORT hipError_t hipMemcpy(void *dst, const void *src, size_t n, int kind) {
  API(hipMemcpy);
  READY();
  switch (kind) { /* hipMemcpyKind */
  case 0: memcpy(dst, src, n); RET(hipSuccess);             /* HostToHost */
  case 1: CU(p_cuMemcpyHtoD(DP(dst), src, n));               /* HostToDevice */
  case 2: CU(p_cuMemcpyDtoH(dst, DP(src), n));               /* DeviceToHost */
  case 3: case 1024: CU(p_cuMemcpyDtoD(DP(dst), DP(src), n)); /* DeviceToDevice(NoCU) */
  case 4: CU(p_cuMemcpy(DP(dst), DP(src), n));                /* Default: unified addressing */
  default: RET(hipErrorInvalidMemcpyDirection);
  }
}
SIMPLE(hipMemset, (void *dst, int value, size_t n), p_cuMemsetD8(DP(dst), (unsigned char)value, n))

/* ---- modules and launches --------------------------------------------------------------- */
FORWARD(hipModuleLoadData, (hipModule_t *mod, const void *image), mod && image,
        p_cuModuleLoadData((CUmodule *)mod, image))
FORWARD(hipModuleGetFunction, (hipFunction_t *fn, hipModule_t mod, const char *name), fn && name,
        p_cuModuleGetFunction((CUfunction *)fn, (CUmodule)mod, name))
SIMPLE(hipModuleUnload, (hipModule_t mod), p_cuModuleUnload((CUmodule)mod))
EXPORT hipError_t hipModuleLaunchKernel(hipFunction_t f, unsigned gx, unsigned gy, unsigned gz,
                                        unsigned bx, unsigned by, unsigned bz, unsigned shmem,
                                        hipStream_t s, void **params, void **extra) {
  API(hipModuleLaunchKernel);
  READY();
  void *cfg[16], **ex = NULL;
  if (extra) { /* AMD: BUFFER_POINTER=1, BUFFER_SIZE=2, END=3; CUDA: 1, 2, END=0 */
    size_t o = 0;
    for (size_t i = 0;; i += 2) {
      uintptr_t key = (uintptr_t)extra[i];
      if (key == 3 || key == 0) break; /* HIP's END, or CUDA's if a caller used that */
      if (o + 3 > sizeof cfg / sizeof *cfg || (key != 1 && key != 2)) RET(hipErrorInvalidValue);
      cfg[o++] = key == 1 ? CU_LAUNCH_PARAM_BUFFER_POINTER : CU_LAUNCH_PARAM_BUFFER_SIZE;
      cfg[o++] = extra[i + 1];
    }
    cfg[o] = CU_LAUNCH_PARAM_END;
    ex = cfg;
  }
  CU(p_cuLaunchKernel((CUfunction)f, gx, gy, gz, bx, by, bz, shmem, (CUstream)s, params, ex));
}

/* ---- events and streams ----------------------------------------------------------------- */
/* Default 0, BlockingSync 1, DisableTiming 2, Interprocess 4: same as CUDA */
FORWARD(hipEventCreateWithFlags, (hipEvent_t *ev, unsigned flags), ev,
        p_cuEventCreate((CUevent *)ev, flags & 0x7u))
FORWARD(hipEventCreate, (hipEvent_t *ev), ev, p_cuEventCreate((CUevent *)ev, CU_EVENT_DEFAULT))
SIMPLE(hipEventRecord, (hipEvent_t ev, hipStream_t s), p_cuEventRecord((CUevent)ev, (CUstream)s))
EXPORT hipError_t hipEventQuery(hipEvent_t ev) {
  API(hipEventQuery);
  READY();
  CUresult r = p_cuEventQuery((CUevent)ev);
  if (r == CUDA_ERROR_NOT_READY) return done(api_, hipErrorNotReady); /* not sticky */
  CU(r);
}
SIMPLE(hipEventSynchronize, (hipEvent_t ev), p_cuEventSynchronize((CUevent)ev))
FORWARD(hipEventElapsedTime, (float *ms, hipEvent_t start, hipEvent_t stop), ms,
        p_cuEventElapsedTime(ms, (CUevent)start, (CUevent)stop))
SIMPLE(hipEventDestroy, (hipEvent_t ev), p_cuEventDestroy((CUevent)ev))
/* hipStreamNonBlocking = 1 = CU_STREAM_NON_BLOCKING */
FORWARD(hipStreamCreateWithFlags, (hipStream_t *s, unsigned flags), s,
        p_cuStreamCreate((CUstream *)s, flags & 0x1u))
FORWARD(hipStreamCreate, (hipStream_t *s), s, p_cuStreamCreate((CUstream *)s, CU_STREAM_DEFAULT))
SIMPLE(hipStreamDestroy, (hipStream_t s), p_cuStreamDestroy((CUstream)s))
SIMPLE(hipStreamWaitEvent, (hipStream_t s, hipEvent_t ev, unsigned flags),
       p_cuStreamWaitEvent((CUstream)s, (CUevent)ev, flags))
SIMPLE(hipStreamSynchronize, (hipStream_t s), p_cuStreamSynchronize((CUstream)s))

/* ---- graph capture: HIP graphs are CUDA graphs here ------------------------------------ */
/* hipStreamCaptureMode (Global 0, ThreadLocal 1, Relaxed 2), hipStreamCaptureStatus (None 0,
 * Active 1, Invalidated 2), the hipGraphInstantiateFlag* bits and the capture errors
 * (hipErrorStreamCapture* 900-908) have CUDA's numbers, so they pass through unchanged. */
typedef void *hipGraph_t, *hipGraphExec_t, *hipGraphNode_t;
SIMPLE(hipStreamBeginCapture, (hipStream_t s, int mode),
       p_cuStreamBeginCapture((CUstream)s, (CUstreamCaptureMode)mode))
FORWARD(hipStreamEndCapture, (hipStream_t s, hipGraph_t *graph), graph,
        p_cuStreamEndCapture((CUstream)s, (CUgraph *)graph))
/* The status is set (None) before anything can fail: hip-python reads it into its enum even
 * from a failed call, and a stray value there raises ValueError instead of the HIP error. */
EXPORT hipError_t hipStreamIsCapturing(hipStream_t s, int *status) {
  API(hipStreamIsCapturing);
  if (!status) RET(hipErrorInvalidValue);
  *status = 0;
  READY();
  CU(p_cuStreamIsCapturing((CUstream)s, (CUstreamCaptureStatus *)status));
}
EXPORT hipError_t hipStreamGetCaptureInfo(hipStream_t s, int *status, unsigned long long *id) {
  API(hipStreamGetCaptureInfo);
  if (!status) RET(hipErrorInvalidValue);
  *status = 0;
  if (id) *id = 0;
  READY();
  cuuint64_t cid = 0;
  /* cuda.h maps the name to _v3 (CUDA 13: edge data too) or _v2 (CUDA 12): the same first
   * three arguments, the rest are optional outputs. */
#if CUDA_VERSION >= 13000
  CUresult r = p_cuStreamGetCaptureInfo((CUstream)s, (CUstreamCaptureStatus *)status, &cid, NULL,
                                        NULL, NULL, NULL);
#else
  CUresult r = p_cuStreamGetCaptureInfo((CUstream)s, (CUstreamCaptureStatus *)status, &cid, NULL,
                                        NULL, NULL);
#endif
  if (id) *id = (unsigned long long)cid;
  CU(r);
}
EXPORT hipError_t hipGraphInstantiate(hipGraphExec_t *exec, hipGraph_t graph,
                                      hipGraphNode_t *error_node, char *log, size_t log_size) {
  API(hipGraphInstantiate);
  if (!exec) RET(hipErrorInvalidValue);
  READY();
  if (error_node) *error_node = NULL; /* CUDA's WithFlags form reports no node or log */
  if (log && log_size) log[0] = '\0';
  CU(p_cuGraphInstantiateWithFlags((CUgraphExec *)exec, (CUgraph)graph, 0));
}
FORWARD(hipGraphInstantiateWithFlags,
        (hipGraphExec_t *exec, hipGraph_t graph, unsigned long long flags), exec,
        p_cuGraphInstantiateWithFlags((CUgraphExec *)exec, (CUgraph)graph, flags))
SIMPLE(hipGraphLaunch, (hipGraphExec_t exec, hipStream_t s),
       p_cuGraphLaunch((CUgraphExec)exec, (CUstream)s))
SIMPLE(hipGraphDestroy, (hipGraph_t graph), p_cuGraphDestroy((CUgraph)graph))
SIMPLE(hipGraphExecDestroy, (hipGraphExec_t exec), p_cuGraphExecDestroy((CUgraphExec)exec))

/* ---- hiprtc over NVRTC ------------------------------------------------------------------ */
static void nv_init_once(void) {
  const char *names[] = {getenv("HIPSHIM_NVRTC"), HIPSHIM_NVRTC_DEFAULT, "libnvrtc.so",
                         "libnvrtc.so.13", "libnvrtc.so.12"};
  g_nv_ok = load_lib(names, 5, kNvSyms, sizeof kNvSyms / sizeof *kNvSyms, "libnvrtc") != NULL;
}
static int nv_ready(void) {
  pthread_once(&g_nv_once, nv_init_once);
  return g_nv_ok;
}
static hiprtcResult from_nv(nvrtcResult r) { /* 0..11 coincide; the rest is NVRTC-only */
  return (int)r >= 0 && (int)r <= 11 ? (hiprtcResult)r : HIPRTC_ERROR_INTERNAL_ERROR;
}
#define NV_READY() do { if (!nv_ready()) RTC_RET(HIPRTC_ERROR_INTERNAL_ERROR); } while (0)
#define NV(call) RTC_RET(from_nv(call))

EXPORT const char *hiprtcGetErrorString(hiprtcResult r) {
  API(hiprtcGetErrorString);
  done(api_, 0);
  if (r >= 0 && r <= 11) return kRtcNames[r];
  return r == HIPRTC_ERROR_LINKING ? "HIPRTC_ERROR_LINKING" : "Invalid HIPRTC error code";
}
EXPORT hiprtcResult hiprtcVersion(int *major, int *minor) {
  API(hiprtcVersion);
  if (!major || !minor) RTC_RET(HIPRTC_ERROR_INVALID_INPUT);
  *major = *minor = 0;
  NV_READY();
  NV(p_nvrtcVersion(major, minor)); /* NVRTC's: it is what compiles (and keys caches) */
}
EXPORT hiprtcResult hiprtcCreateProgram(hiprtcProgram *prog, const char *src, const char *name,
                                        int nh, const char *const *headers,
                                        const char *const *names) {
  API(hiprtcCreateProgram);
  NV_READY();
  NV(p_nvrtcCreateProgram((nvrtcProgram *)prog, src, name, nh, headers, names));
}
/* hiprtc options -> NVRTC: --offload-arch=X -> -arch=X, -ffast-math -> --use_fast_math,
 * -O<n> and AMD-only codegen flags dropped, -std=c++17 added unless a -std is given;
 * everything else (-D, -U, -I, -arch, NVRTC's own options) passes through unchanged. */
static int amd_only(const char *s) {
  static const char *const drop[] = {"-O", "-mcumode", "-mno-cumode", "-mwavefrontsize64",
                                     "-mno-wavefrontsize64", "-fgpu-rdc", "-fno-gpu-rdc"};
  for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
    if (!strncmp(s, drop[i], strlen(drop[i]))) return 1;
  return 0;
}
EXPORT hiprtcResult hiprtcCompileProgram(hiprtcProgram prog, int n, const char *const *opts) {
  API(hiprtcCompileProgram);
  NV_READY();
  if (n < 0 || (n > 0 && !opts)) RTC_RET(HIPRTC_ERROR_INVALID_INPUT);
  const char **o = calloc((size_t)n + 1, sizeof *o);
  char **owned = calloc((size_t)n + 1, sizeof *owned);
  if (!o || !owned) {
    free(o);
    free(owned);
    RTC_RET(1); /* HIPRTC_ERROR_OUT_OF_MEMORY */
  }
  int m = 0, k = 0, has_std = 0;
  for (int i = 0; i < n; i++) {
    const char *s = opts[i];
    if (!s) continue;
    if (!strncmp(s, "--offload-arch=", 15)) {
      size_t len = strlen(s + 15) + 7;
      if ((owned[k] = malloc(len)) != NULL) {
        snprintf(owned[k], len, "-arch=%s", s + 15);
        o[m++] = owned[k++];
      }
    } else if (!strcmp(s, "-ffast-math")) {
      o[m++] = "--use_fast_math";
    } else if (!amd_only(s)) {
      has_std |= !strncmp(s, "-std=", 5) || !strncmp(s, "--std=", 6);
      o[m++] = s;
    }
  }
  if (!has_std) o[m++] = "-std=c++17";
  for (int i = 0; i < m; i++) log_line("# hiprtcCompileProgram option: ", o[i], i);
  nvrtcResult r = p_nvrtcCompileProgram((nvrtcProgram)prog, m, o);
  for (int i = 0; i < k; i++) free(owned[i]);
  free(owned);
  free(o);
  NV(r);
}
EXPORT hiprtcResult hiprtcGetProgramLogSize(hiprtcProgram prog, size_t *size) {
  API(hiprtcGetProgramLogSize);
  NV_READY();
  NV(p_nvrtcGetProgramLogSize((nvrtcProgram)prog, size));
}
EXPORT hiprtcResult hiprtcGetProgramLog(hiprtcProgram prog, char *log) {
  API(hiprtcGetProgramLog);
  NV_READY();
  NV(p_nvrtcGetProgramLog((nvrtcProgram)prog, log));
}
static int has_cubin(hiprtcProgram prog, size_t *size) { /* else PTX (no -arch=sm_XY) */
  *size = 0;
  return p_nvrtcGetCUBINSize((nvrtcProgram)prog, size) == NVRTC_SUCCESS && *size > 0;
}
EXPORT hiprtcResult hiprtcGetCodeSize(hiprtcProgram prog, size_t *size) {
  API(hiprtcGetCodeSize);
  NV_READY();
  if (!size) RTC_RET(HIPRTC_ERROR_INVALID_INPUT);
  if (has_cubin(prog, size)) RTC_RET(HIPRTC_SUCCESS);
  NV(p_nvrtcGetPTXSize((nvrtcProgram)prog, size));
}
EXPORT hiprtcResult hiprtcGetCode(hiprtcProgram prog, char *code) {
  API(hiprtcGetCode);
  NV_READY();
  size_t size;
  if (!code) RTC_RET(HIPRTC_ERROR_INVALID_INPUT);
  if (has_cubin(prog, &size)) NV(p_nvrtcGetCUBIN((nvrtcProgram)prog, code));
  NV(p_nvrtcGetPTX((nvrtcProgram)prog, code));
}
EXPORT hiprtcResult hiprtcDestroyProgram(hiprtcProgram *prog) {
  API(hiprtcDestroyProgram);
  NV_READY();
  NV(p_nvrtcDestroyProgram((nvrtcProgram *)prog));
}
