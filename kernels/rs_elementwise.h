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
//
// Speed (what the grid-stride loops below do; the results are the same on every path):
// - each thread keeps RS_EW_UNROLL accesses in flight (loads first, then the stores), which the
//   memory system needs to stream; rocsample's grid gives a thread that many elements, or
//   groups (rocsample.ops.elementwise.elements_per_thread); Candle's grid (a thread per
//   element) leaves one to each.
// - contiguous, 16-byte aligned operands and a grid with fewer threads than elements: each
//   thread moves 16 bytes of every operand per access (of the widest operand, for where),
//   rs_groups<N> of them in flight, the tail element by element.
// - strided with numel < 2^32: an element's coordinates come from 32-bit divisions (every
//   index and dim is below 2^32), none for the outermost dim; else 64-bit division.

#pragma once

#include "rs_common.h"

typedef rs_u64 rs_size;  // size_t of the ABI: 8 bytes on every target we build for

// rs_f16, rs_bf16 and rs_num<T> (the conversions) are in rs_common.h: the sampling family
// reads half-precision rows with them too.

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

// N elements of T moved as one access: 16 bytes (or N * sizeof(T) when smaller), aligned so.
template <typename T, int N>
struct alignas(N * sizeof(T) < 16 ? N * sizeof(T) : 16) rs_pack {
    T v[N];
};

template <typename P>
__device__ __forceinline__ bool rs_aligned(const void* p) {
    return ((rs_u64)p & (alignof(P) - 1)) == 0;
}

// Single elements a thread keeps in flight on the strided and element-by-element walks.
#define RS_EW_UNROLL 4

// Groups of N elements a thread keeps in flight: 4 groups of 4-byte (or 8-byte) values, one
// group of 2-byte or 1-byte ones. Narrow values are held one to a register once unpacked:
// two groups of f16/bf16 took 44 registers on sm_90 (one 1024-thread block an SM) and spilled
// for f16 sigmoid, silu and recip; one group takes 32 (two blocks an SM) and spills nothing.
template <int N>
struct rs_groups {
    static constexpr int value = N >= 8 ? 1 : 4;
};

// load(j, u) then store(j, u) for every j < count on a grid-stride walk from `first`; a thread
// issues the loads of U items (u = 0..U-1) before their stores.
template <int U, typename L, typename S>
__device__ __forceinline__ void rs_unrolled(rs_size count, rs_size first, rs_size step, L load,
                                            S store) {
    for (rs_size base = first; base < count; base += step * U) {
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const rs_size j = base + (rs_size)u * step;
            if (j < count) load(j, u);
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const rs_size j = base + (rs_size)u * step;
            if (j < count) store(j, u);
        }
    }
}

// The offsets of element i < 2^32 in NOPS operands of one layout (dims, one stride row each).
template <int NOPS>
__device__ __forceinline__ void rs_offsets32(rs_u32 i, rs_size num_dims, const rs_size* dims,
                                             const rs_size* const (&strides)[NOPS],
                                             rs_size (&off)[NOPS]) {
    for (int o = 0; o < NOPS; ++o) off[o] = 0;
    if (num_dims == 0) return;
    for (rs_size d = num_dims - 1; d > 0; --d) {
        const rs_u32 n = (rs_u32)dims[d];
        const rs_u32 q = i / n;
        const rs_size r = i - q * n;
        for (int o = 0; o < NOPS; ++o) off[o] += r * strides[o][d];
        i = q;
    }
    for (int o = 0; o < NOPS; ++o) off[o] += (rs_size)i * strides[o][0];
}

// out[i] = fn(x_i) for one strided operand: x_i = inp at the layout's offset of i, or out[i]
// when inp is null (Candle's in-place rule, whatever info says). The unary and affine kernels.
template <typename T, typename Fn>
__device__ __forceinline__ void rs_map1(rs_size numel, rs_size num_dims, const rs_size* info,
                                        const T* inp, T* out, Fn fn) {
    const rs_size step = (rs_size)blockDim.x * gridDim.x;
    const rs_size first = (rs_size)blockIdx.x * blockDim.x + threadIdx.x;
    if (inp == nullptr || info == nullptr || rs_is_contiguous(num_dims, info, info + num_dims)) {
        constexpr int N = 16 / sizeof(T);
        typedef rs_pack<T, N> P;
        const T* src = inp ? inp : out;
        rs_size done = 0;
        if (rs_aligned<P>(src) && rs_aligned<P>(out) && step < numel) {
            const P* s = reinterpret_cast<const P*>(src);
            P* o = reinterpret_cast<P*>(out);
            constexpr int U = rs_groups<N>::value;
            P x[U];
            rs_unrolled<U>(
                numel / N, first, step, [&](rs_size j, int u) { x[u] = s[j]; },
                [&](rs_size j, int u) {
                    P y;
#pragma unroll
                    for (int k = 0; k < N; ++k) y.v[k] = fn(x[u].v[k]);
                    o[j] = y;
                });
            done = numel / N * N;
        }
        T v[RS_EW_UNROLL];
        rs_unrolled<RS_EW_UNROLL>(
            numel - done, first, step, [&](rs_size j, int u) { v[u] = src[done + j]; },
            [&](rs_size j, int u) { out[done + j] = fn(v[u]); });
        return;
    }
    if (numel <= 0xffffffffull) {
        const rs_size* const strides[1] = {info + num_dims};
        T v[RS_EW_UNROLL];
        rs_unrolled<RS_EW_UNROLL>(
            numel, first, step,
            [&](rs_size i, int u) {
                rs_size off[1];
                rs_offsets32<1>((rs_u32)i, num_dims, info, strides, off);
                v[u] = inp[off[0]];
            },
            [&](rs_size i, int u) { out[i] = fn(v[u]); });
    } else {
        rs_each_element(numel, [&](rs_size i) {
            out[i] = fn(inp[rs_strided_index(i, num_dims, info, info + num_dims)]);
        });
    }
}

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
