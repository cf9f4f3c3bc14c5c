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
// - contiguous, 16-byte aligned operands and a grid with fewer threads than elements (the grid
//   rocsample launches: rocsample.ops.elementwise.elements_per_thread): each thread moves 16
//   bytes of every operand at a time, the tail element by element. Candle's own grid (a thread
//   per element) takes the element-by-element loop.
// - strided with numel < 2^32 and at most RS_EW_FAST_DIMS dims: a block first puts the dims
//   (as multiply-shift dividers) and strides in shared memory; each element then splits its
//   index into coordinates once, with 32-bit multiply-high instead of 64-bit division, and
//   takes every operand's offset from those coordinates. Otherwise 64-bit division.
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

// N elements of T moved as one access: 16 bytes (or N * sizeof(T) when smaller), aligned so.
template <typename T, int N>
struct alignas(N * sizeof(T) < 16 ? N * sizeof(T) : 16) rs_pack {
    T v[N];
};

template <typename P>
__device__ __forceinline__ bool rs_aligned(const void* p) {
    return ((rs_u64)p & (alignof(P) - 1)) == 0;
}

// f(i) for every i < numel. With `packed` (contiguous operands, each aligned for its rs_pack)
// and fewer threads in the grid than elements, each thread first takes whole groups of N
// elements through g(j) (elements N j .. N j + N - 1), then the tail goes element by element.
template <int N, typename G, typename F>
__device__ __forceinline__ void rs_each_group(rs_size numel, bool packed, G g, F f) {
    const rs_size step = (rs_size)blockDim.x * gridDim.x;
    const rs_size first = (rs_size)blockIdx.x * blockDim.x + threadIdx.x;
    rs_size done = 0;
    if (packed && step < numel) {
        const rs_size groups = numel / N;
        for (rs_size j = first; j < groups; j += step) g(j);
        done = groups * N;
    }
    for (rs_size i = done + first; i < numel; i += step) f(i);
}

// Division of 32-bit x by a fixed d in [1, 2^32) with one multiply-high (Granlund and
// Montgomery 1994, "round-up" variant): s = ceil(log2 d), m = floor(2^32 (2^s - d) / d) + 1
// (< 2^32), q = (mulhi(x, m) + x) >> s, the sum taken in 64 bits so every x < 2^32 is exact.
// rocsample.ops.elementwise.fastdiv is the same arithmetic, checked against // on the CPU.
struct rs_fastdiv {
    rs_u32 d, m, s;
};

__device__ __forceinline__ rs_fastdiv rs_fastdiv_make(rs_u64 d64) {
    rs_fastdiv f;
    // A dim of a launch with 0 < numel < 2^32 lies in [1, numel]; anything else (dims that do
    // not multiply to numel: a caller's bug) divides by 1 rather than by 0.
    f.d = (d64 == 0 || d64 > 0xffffffffull) ? 1u : (rs_u32)d64;
    rs_u32 s = 0;
    while (s < 32u && ((rs_u64)1 << s) < f.d) ++s;  // at most 32 steps
    f.s = s;
    f.m = (rs_u32)(((((rs_u64)1 << s) - f.d) << 32) / f.d + 1);
    return f;
}

__device__ __forceinline__ rs_u32 rs_fastdiv_q(const rs_fastdiv& f, rs_u32 x) {
    return (rs_u32)(((rs_u64)__umulhi(x, f.m) + x) >> f.s);
}

#define RS_EW_FAST_DIMS 16

// The dims of a strided launch as dividers and the strides of its NOPS strided operands,
// in shared memory for the block.
template <int NOPS>
struct rs_layout {
    rs_fastdiv div[RS_EW_FAST_DIMS];
    rs_size stride[NOPS][RS_EW_FAST_DIMS];
};

// Fills `L` from info = [dims, NOPS x strides] when the fast path applies and says whether it
// does. Every thread of the block must call it (it synchronises the block).
template <int NOPS>
__device__ __forceinline__ bool rs_layout_load(rs_layout<NOPS>& L, rs_size numel,
                                               rs_size num_dims, const rs_size* info) {
    const bool fast = numel > 0 && numel <= 0xffffffffull && num_dims <= RS_EW_FAST_DIMS;
    if (fast) {
        for (rs_u32 d = threadIdx.x; d < num_dims; d += blockDim.x) {
            L.div[d] = rs_fastdiv_make(info[d]);
            for (int o = 0; o < NOPS; ++o) L.stride[o][d] = info[(rs_size)(o + 1) * num_dims + d];
        }
    }
    __syncthreads();
    return fast;
}

// The offsets of element i (< 2^32) in each operand: its coordinates, found once.
template <int NOPS>
__device__ __forceinline__ void rs_layout_offsets(const rs_layout<NOPS>& L, rs_size num_dims,
                                                  rs_u32 i, rs_size (&off)[NOPS]) {
    for (int o = 0; o < NOPS; ++o) off[o] = 0;
    for (rs_size d = num_dims; d-- > 0;) {
        const rs_u32 q = rs_fastdiv_q(L.div[d], i);
        const rs_size r = i - q * L.div[d].d;
        for (int o = 0; o < NOPS; ++o) off[o] += r * L.stride[o][d];
        i = q;
    }
}

// out[i] = fn(x_i) for one strided operand: x_i = inp at the layout's offset of i, or out[i]
// when inp is null (Candle's in-place rule, whatever info says). The unary and affine kernels.
template <typename T, typename Fn>
__device__ __forceinline__ void rs_map1(rs_size numel, rs_size num_dims, const rs_size* info,
                                        const T* inp, T* out, Fn fn) {
    if (inp == nullptr || info == nullptr || rs_is_contiguous(num_dims, info, info + num_dims)) {
        constexpr int N = 16 / sizeof(T);
        typedef rs_pack<T, N> P;
        const T* src = inp ? inp : out;
        const bool packed = rs_aligned<P>(src) && rs_aligned<P>(out);
        rs_each_group<N>(
            numel, packed,
            [&](rs_size j) {
                const P x = reinterpret_cast<const P*>(src)[j];
                P y;
#pragma unroll
                for (int k = 0; k < N; ++k) y.v[k] = fn(x.v[k]);
                reinterpret_cast<P*>(out)[j] = y;
            },
            [&](rs_size i) { out[i] = fn(src[i]); });
        return;
    }
    __shared__ rs_layout<1> L;
    if (rs_layout_load<1>(L, numel, num_dims, info)) {
        rs_each_element(numel, [&](rs_size i) {
            rs_size off[1];
            rs_layout_offsets<1>(L, num_dims, (rs_u32)i, off);
            out[i] = fn(inp[off[0]]);
        });
    } else {
        rs_each_element(numel, [&](rs_size i) {
            out[i] = fn(inp[rs_strided_index(i, num_dims, info, info + num_dims)]);
        });
    }
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
