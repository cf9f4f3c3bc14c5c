// swiglu.hip -- rocsample kernel module "swiglu" (the MLP family), kernel ABI RS_ABI_VERSION.
//
// Entry points (extern "C"), DT in f32, f16, bf16 (T = float, __half, __nv_bfloat16):
//
//   swiglu_DT(const T* gate, const T* up, T* out, long long rows, long long d,
//             long long gate_stride, long long up_stride, long long out_stride)
//   swiglu_kernel(const void* gate, const void* up, void* out, long long rows, long long d,
//                 long long gate_stride, long long up_stride, long long out_stride, int dtype)
//     the same with the element type as a run-time code (0 float, 1 __half, 2 __nv_bfloat16).
//   swiglu_flat_DT(the arguments of swiglu_DT)
//     the same results, bit for bit, from a kernel of one 16-byte group a thread, for calls
//     whose operands' rows are all 16-byte aligned (rs_mlp.h) with d a multiple of
//     N = 16 / sizeof(T) (rocsample.ops.mlp picks it for those): thread t of block (bx, by)
//     takes group bx * blockDim.x + t (then + gridDim.x * blockDim.x, ...) of rows by,
//     by + gridDim.y, ... No row tiles, tails or unrolled loads: on an H200 (L2 flushed)
//     1 x 14336 bf16 takes 4.85 us against 5.20, 1024 x 14336 26.5 against 28.8, 8192 x
//     14336 166 against 176 (rocsample.ops.mlp.swiglu_entry). A call outside those
//     conditions writes nothing.
//     env override: SWIGLU_HSACO
//
//   out[r, i] = silu(gate[r, i]) * up[r, i] for r < rows, i < d, silu(g) = g / (1 + e^-g);
//   row r of an operand starts at its pointer + r * stride elements (last dim contiguous).
//   The silu_and_mul layout (x of shape [..., 2d], gate its first half, up its second) is
//   gate = x, up = x + d, gate_stride = up_stride = x's row stride.
//   Rounding: gate and up are widened to float, silu(g) * u is computed in float and rounded
//   to the element type once (FlashInfer's silu_and_mul order; vLLM rounds silu(g) to the
//   element type first). silu in float: with t = 2^(-|g| log2 e) = e^-|g| (hardware exp2),
//   g / (1 + t) for g >= 0 and g t / (1 + t) below (hardware reciprocal), within 6e-6
//   relative of g / (1 + e^-g) for |g| < 88 and never overflowing (1 + t is in [1, 2]);
//   rocsample.ops.mlp.swiglu is the numpy twin (exact division: the two agree within that).
//   out may be exactly gate or up (same pointer and stride; a thread reads an element before
//   it writes it); any other overlap is undefined.
//
// Grid and block: any grid, any blockDim.x from 1 to RS_BLOCK (rocsample launches a power
// of two: RS_BLOCK, or for a call of few rows one row's threads). A row's units (16-byte
// groups, or elements when an operand is not 16-byte aligned) are spread over
// C = min(blockDim.x, the power of two >= ceil(units / RS_SWIGLU_UNROLL)) threads, so a
// block takes R = blockDim.x / C rows at once (a thread past the last whole row does
// nothing): thread t takes row blockIdx.y * R + t / C
// (then + gridDim.y * R, ...) and the units blockIdx.x * C + t % C (then + gridDim.x * C,
// ...). Both are grid-stride loops, so every element is written whatever the grid
// (rocsample.ops.mlp.swiglu_launch: one group a thread when the call is too small to fill
// the device, else RS_SWIGLU_UNROLL, and at most 8 blocks an SM along y, so that a block
// goes on to further rows instead of ending after one round of loads: 8192 x 14336 bf16
// 176 us against 184 with a block a tile). swiglu_flat_DT: any grid and block too
// (grid-stride loops in both dims; rocsample.ops.mlp.swiglu_flat_launch). No shared memory,
// no barrier.
#include "rs_mlp.h"

// Groups a thread keeps in flight per operand (loads of all before any store): two (one is
// faster for a single row by 0.1-0.2 us, slower for many by up to 9 %).
#define RS_SWIGLU_UNROLL 2
// Blocks an SM/CU must hold at once (__launch_bounds__' second argument): two, 64 registers
// a thread on sm_90 at 512 threads.
#define RS_SWIGLU_MIN_BLOCKS 2

// silu(g) * u in float (see above).
template <typename T>
__device__ __forceinline__ float rs_silu_mul_f(T g, T u) {
    const float x = rs_up(g);
    const float t = rs_exp2_fast(-1.4426950408889634f * fabsf(x));
    return rs_div_fast(x >= 0.0f ? x : x * t, 1.0f + t) * rs_up(u);
}

template <typename T>
__device__ __forceinline__ void rs_swiglu(const T* gate, const T* up, T* out, rs_i64 rows,
                                          rs_i64 d, rs_i64 gs, rs_i64 us, rs_i64 os) {
    constexpr int N = 16 / sizeof(T);
    constexpr int U = RS_SWIGLU_UNROLL;
    typedef rs_pack<T, N> P;  // 2-byte values packed two to a word (get/set)
    const int size = (int)sizeof(T);
    const bool vec = rs_rows_aligned(gate, gs, size) && rs_rows_aligned(up, us, size) &&
                     rs_rows_aligned(out, os, size);
    const rs_i64 groups = vec ? d / N : 0;
    const int lc = rs_row_log2(((vec ? groups : d) + U - 1) / U, 1);
    const int C = 1 << lc;
    const int R = (int)(blockDim.x >> lc);
    if ((int)(threadIdx.x >> lc) >= R) return;  // past the block's last whole row
    const rs_i64 first = (rs_i64)blockIdx.x * C + (threadIdx.x & (C - 1));
    const rs_i64 step = (rs_i64)gridDim.x * C;
    for (rs_i64 r = (rs_i64)blockIdx.y * R + (threadIdx.x >> lc); r < rows;
         r += (rs_i64)gridDim.y * R) {
        const T* g = gate + r * gs;
        const T* u = up + r * us;
        T* o = out + r * os;
        const P* g4 = reinterpret_cast<const P*>(g);
        const P* u4 = reinterpret_cast<const P*>(u);
        P* o4 = reinterpret_cast<P*>(o);
        for (rs_i64 j0 = first; j0 < groups; j0 += step * U) {
            P a[U], b[U];
#pragma unroll
            for (int k = 0; k < U; ++k) {
                const rs_i64 j = j0 + k * step;
                if (j < groups) {
                    a[k] = g4[j];
                    b[k] = u4[j];
                }
            }
#pragma unroll
            for (int k = 0; k < U; ++k) {
                const rs_i64 j = j0 + k * step;
                if (j < groups) {
                    float y[N];
#pragma unroll
                    for (int e = 0; e < N; ++e) y[e] = rs_silu_mul_f(a[k].get(e), b[k].get(e));
                    P v;
                    rs_pack_floats(v, y);
                    o4[j] = v;
                }
            }
        }
        for (rs_i64 i = groups * N + first; i < d; i += step)
            o[i] = rs_down<T>(rs_silu_mul_f(g[i], u[i]));
    }
}

#define RS_SWIGLU_ENTRY(DT, T)                                                                \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK, RS_SWIGLU_MIN_BLOCKS)              \
        swiglu_##DT(const T* gate, const T* up, T* out, long long rows, long long d,           \
                    long long gate_stride, long long up_stride, long long out_stride) {        \
        rs_swiglu<T>(gate, up, out, rows, d, gate_stride, up_stride, out_stride);             \
    }

RS_SWIGLU_ENTRY(f32, float)
RS_SWIGLU_ENTRY(f16, rs_f16)
RS_SWIGLU_ENTRY(bf16, rs_bf16)

// The flat entries: one group a thread (see the ABI above), silu(g) * u as in rs_swiglu.
template <typename T>
__device__ __forceinline__ void rs_swiglu_flat(const T* gate, const T* up, T* out, rs_i64 rows,
                                               rs_i64 d, rs_i64 gs, rs_i64 us, rs_i64 os) {
    constexpr int N = 16 / sizeof(T);
    typedef rs_pack<T, N> P;
    const int size = (int)sizeof(T);
    const bool fits = rs_rows_aligned(gate, gs, size) && rs_rows_aligned(up, us, size) &&
                      rs_rows_aligned(out, os, size) && d % N == 0;
    const rs_i64 groups = d / N;
    const rs_i64 first = (rs_i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (!fits || first >= groups) return;  // the host launches swiglu_DT for other calls
    const rs_i64 step = (rs_i64)gridDim.x * blockDim.x;
    for (rs_i64 r = blockIdx.y; r < rows; r += gridDim.y) {
        const P* g4 = reinterpret_cast<const P*>(gate + r * gs);
        const P* u4 = reinterpret_cast<const P*>(up + r * us);
        P* o4 = reinterpret_cast<P*>(out + r * os);
        for (rs_i64 j = first; j < groups; j += step) {
            const P a = g4[j], b = u4[j];
            float y[N];
#pragma unroll
            for (int e = 0; e < N; ++e) y[e] = rs_silu_mul_f(a.get(e), b.get(e));
            P v;
            rs_pack_floats(v, y);
            o4[j] = v;
        }
    }
}

#define RS_SWIGLU_FLAT_ENTRY(DT, T)                                                           \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK)                                    \
        swiglu_flat_##DT(const T* gate, const T* up, T* out, long long rows, long long d,      \
                         long long gate_stride, long long up_stride, long long out_stride) {   \
        rs_swiglu_flat<T>(gate, up, out, rows, d, gate_stride, up_stride, out_stride);        \
    }

RS_SWIGLU_FLAT_ENTRY(f32, float)
RS_SWIGLU_FLAT_ENTRY(f16, rs_f16)
RS_SWIGLU_FLAT_ENTRY(bf16, rs_bf16)

extern "C" __global__ void __launch_bounds__(RS_BLOCK, RS_SWIGLU_MIN_BLOCKS)
    swiglu_kernel(const void* gate, const void* up, void* out, long long rows, long long d,
                  long long gate_stride, long long up_stride, long long out_stride, int dtype) {
    switch (dtype) {
        case RS_MLP_F32:
            rs_swiglu((const float*)gate, (const float*)up, (float*)out, rows, d, gate_stride,
                      up_stride, out_stride);
            break;
        case RS_MLP_F16:
            rs_swiglu((const rs_f16*)gate, (const rs_f16*)up, (rs_f16*)out, rows, d,
                      gate_stride, up_stride, out_stride);
            break;
        case RS_MLP_BF16:
            rs_swiglu((const rs_bf16*)gate, (const rs_bf16*)up, (rs_bf16*)out, rows, d,
                      gate_stride, up_stride, out_stride);
            break;
        default:  // the host checks dtype; an unknown code writes nothing
            break;
    }
}
