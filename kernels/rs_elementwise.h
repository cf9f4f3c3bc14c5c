// rs_elementwise.h -- shared device code of the elementwise modules (unary, affine, ternary),
// the kernels Candle's CUDA backend calls (candle-kernels/src/{unary,affine,ternary}.cu), with
// the same names and arguments so that a Candle ROCm backend can call ours.
//
// Passed to hiprtc/NVRTC as an in-memory header after rs_common.h (which supplies RS_CUDA, the
// ABI marker and the integer typedefs); no system header is included.
//
// Layout (Candle's convention, also rocsample.ops.elementwise.layout_info):
//   info == NULL: every operand is contiguous. Otherwise info holds num_dims dims followed by
//   num_dims strides per strided operand, all 64-bit and in elements; start offsets are already
//   in the base pointers. A layout counts as contiguous when, walking the dims from the last,
//   every dim of size > 1 has the running product of the later dims as its stride (size-1
//   dims may have any stride). The output is always contiguous.
// Indices are 64-bit throughout: with numel close to 2^32 the grid-stride step plus the index
// passes 2^32, and a strided offset (row stride x row) can pass it for any numel.
#pragma once

#include "rs_common.h"

typedef rs_u64 rs_size;  // size_t of the ABI: 8 bytes on every target we build for

// f16 and bf16 values: two bytes, passed and stored like CUDA's __half / __nv_bfloat16, so a
// kernel argument of these types has the same size and alignment as Candle's.
struct rs_f16 { unsigned short bits; };
struct rs_bf16 { unsigned short bits; };

// rs_num<T>: T's compute type C (float for f16/bf16/f32, double for f64) and the conversions.
// f16/bf16 are computed in float and rounded to nearest even once, at the store.
template <typename T> struct rs_num {
    typedef T C;
    static __device__ __forceinline__ C up(T x) { return x; }
    static __device__ __forceinline__ T down(C x) { return x; }
};

template <> struct rs_num<rs_f16> {
    typedef float C;
#ifdef RS_CUDA
    // The conversion instructions; cuda_fp16.h would cost every compile far more than this.
    static __device__ __forceinline__ float up(rs_f16 h) {
        float f;
        asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.bits));
        return f;
    }
    static __device__ __forceinline__ rs_f16 down(float f) {
        rs_f16 h;
        asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(f));
        return h;
    }
#else
    // clang's _Float16 converts with the hardware's round-to-nearest-even instruction.
    union pun { unsigned short u; _Float16 f; };
    static __device__ __forceinline__ float up(rs_f16 h) {
        pun p;
        p.u = h.bits;
        return (float)p.f;
    }
    static __device__ __forceinline__ rs_f16 down(float f) {
        pun p;
        p.f = (_Float16)f;
        rs_f16 h;
        h.bits = p.u;
        return h;
    }
#endif
};

template <> struct rs_num<rs_bf16> {
    typedef float C;
    static __device__ __forceinline__ float up(rs_bf16 b) {
        return __uint_as_float((rs_u32)b.bits << 16);
    }
    // Round to nearest even on the bits (the same on every target and in numpy); a NaN keeps
    // its sign and top payload and is made quiet, since truncation could turn it into an Inf.
    static __device__ __forceinline__ rs_bf16 down(float f) {
        rs_u32 u = __float_as_uint(f);
        rs_bf16 b;
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            b.bits = (unsigned short)((u >> 16) | 0x40u);
        } else {
            u += 0x7fffu + ((u >> 16) & 1u);
            b.bits = (unsigned short)(u >> 16);
        }
        return b;
    }
};

// Candle's contiguity rule over one operand's strides.
__device__ __forceinline__ bool rs_is_contiguous(rs_size num_dims, const rs_size* dims,
                                                 const rs_size* strides) {
    rs_size acc = 1;
    for (rs_size d = num_dims; d-- > 0;) {
        if (dims[d] > 1 && strides[d] != acc) return false;
        acc *= dims[d];
    }
    return true;
}

// Offset, in elements, of the i-th element in row-major order of a strided operand.
__device__ __forceinline__ rs_size rs_strided_index(rs_size i, rs_size num_dims,
                                                    const rs_size* dims, const rs_size* strides) {
    rs_size off = 0;
    for (rs_size d = num_dims; d-- > 0;) {
        const rs_size n = dims[d];
        off += (i % n) * strides[d];
        i /= n;
    }
    return off;
}

// f(i) for every i in [0, numel): a grid-stride loop, correct for any grid and block.
template <typename F>
__device__ __forceinline__ void rs_each_element(rs_size numel, F f) {
    const rs_size step = (rs_size)blockDim.x * gridDim.x;
    for (rs_size i = (rs_size)blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += step) f(i);
}

// Maths of the compute types, one name for float and double.
#define RS_MATH1(NAME, FN_F, FN_D)                                              \
    __device__ __forceinline__ float NAME(float x) { return FN_F(x); }           \
    __device__ __forceinline__ double NAME(double x) { return FN_D(x); }
RS_MATH1(rs_exp, expf, exp)
RS_MATH1(rs_log, logf, log)
RS_MATH1(rs_sin, sinf, sin)
RS_MATH1(rs_cos, cosf, cos)
RS_MATH1(rs_tanh, tanhf, tanh)
RS_MATH1(rs_erf, erff, erf)
RS_MATH1(rs_ceil, ceilf, ceil)
RS_MATH1(rs_floor, floorf, floor)
RS_MATH1(rs_round, roundf, round)  // halves away from zero
RS_MATH1(rs_sqrt, sqrtf, sqrt)
RS_MATH1(rs_normcdf, normcdff, normcdf)
#undef RS_MATH1
__device__ __forceinline__ float rs_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double rs_pow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ float rs_fma(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double rs_fma(double a, double b, double c) { return fma(a, b, c); }
