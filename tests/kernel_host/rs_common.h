// rs_common.h stand-in that lets the elementwise kernels build as host C++ (g++), so that
// tests/test_elementwise.py can run their walks on a CPU: each "thread" of a grid runs the
// kernel body in turn (the kernels share nothing between threads, and a thread writes only
// its own outputs). Not a GPU: it checks index arithmetic, not speed or memory ordering.
// tests/test_mlp.py builds the MLP kernels on it too: swiglu the same way, rms_norm with a
// block's threads as OS threads (RS_HOST_THREADS; rms_norm.cpp supplies the barrier and
// the shuffle).
#pragma once
#include <cmath>
#include <cstring>
typedef unsigned int rs_u32;
typedef unsigned long long rs_u64;
#define __device__
#define __forceinline__ inline
#define __noinline__
#define __global__
#define __launch_bounds__(...)
struct rs_dim3 { unsigned x, y, z; };
#ifdef RS_HOST_THREADS  // a block's threads as OS threads (rms_norm.cpp): each its own index
extern rs_dim3 blockDim, gridDim, blockIdx;
extern thread_local rs_dim3 threadIdx;
#else
extern rs_dim3 blockDim, gridDim, blockIdx, threadIdx;
#endif
inline float __uint_as_float(rs_u32 u) { float f; std::memcpy(&f, &u, 4); return f; }
inline rs_u32 __float_as_uint(float f) { rs_u32 u; std::memcpy(&u, &f, 4); return u; }
inline float normcdff(float x) { return 0.5f * std::erfc(-x * 0.70710678f); }
#define __builtin_amdgcn_rcpf(b) (1.0f / (b))  // the AMD reciprocal instruction
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }  // the hardware's, to ~1 ulp
inline int __clzll(unsigned long long v) { return v ? __builtin_clzll(v) : 64; }
inline int __clz(unsigned v) { return v ? __builtin_clz(v) : 32; }
inline double normcdf(double x) { return 0.5 * std::erfc(-x * 0.7071067811865476); }
