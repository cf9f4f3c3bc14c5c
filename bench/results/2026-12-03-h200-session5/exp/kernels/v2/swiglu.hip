// swiglu.hip -- rocsample kernel module "swiglu" (the MLP family), kernel ABI RS_ABI_VERSION.
//
// Entry point (extern "C"):
//
//   swiglu_kernel(const void* gate, const void* up, void* out, long long rows, long long d,
//                 long long gate_stride, long long up_stride, long long out_stride, int dtype)
//     env override: SWIGLU_HSACO
//
//   out[r, i] = silu(gate[r, i]) * up[r, i] for r < rows, i < d, silu(g) = g / (1 + e^-g);
//   row r of an operand starts at its pointer + r * stride elements (last dim contiguous).
//   The silu_and_mul layout (x of shape [..., 2d], gate its first half, up its second) is
//   gate = x, up = x + d, gate_stride = up_stride = x's row stride.
//   dtype: 0 float, 1 __half, 2 __nv_bfloat16 (rs_mlp.h), the same for the three operands.
//   Rounding: gate and up are widened to float, silu(g) * u is computed in float and rounded
//   to the element type once (FlashInfer's silu_and_mul order; vLLM rounds silu(g) to the
//   element type first). rocsample.ops.mlp.swiglu is the numpy twin.
//   out may be exactly gate or up (same pointer and stride; a thread reads an element before
//   it writes it); any other overlap is undefined.
//
// Grid and block: blockDim = (RS_BLOCK, 1, 1); any grid. A row's units (16-byte groups, or
// elements when an operand is not 16-byte aligned) are spread over
// C = rs_row_threads(ceil(units / RS_SWIGLU_UNROLL)) threads (rs_mlp.h), so a block takes
// R = RS_BLOCK / C rows at once: thread t takes row
// blockIdx.y * R + t / C (then + gridDim.y * R, ...) and the units blockIdx.x * C + t % C
// (then + gridDim.x * C, ...). Both are grid-stride loops, so every element is written
// whatever the grid (rocsample.ops.mlp.swiglu_grid: gridDim.y = min(ceil(rows / R), 65535),
// gridDim.x enough blocks for a row's groups: one group a thread when the call is too small
// to fill the device, else RS_SWIGLU_UNROLL). No shared memory, no barrier: threads
// share nothing, so a block's rows may end at different points.
#include "rs_mlp.h"

// Groups a thread keeps in flight per operand (loads of all before any store). A row's
// threads are sized for this many groups each (C = rs_row_threads(ceil(units / U))), so a
// thread of a long sweep of rows has U loads of each operand in flight: with two, 2 x 2 x 16
// bytes a thread, 64 KiB an SM at two blocks, what FlashInfer's 2048 threads of one 16-byte
// load each keep in flight. Four would need more than 64 registers on sm_90.
#ifndef RS_SWIGLU_UNROLL
#define RS_SWIGLU_UNROLL 2
#endif
// Blocks an SM/CU must hold at once (__launch_bounds__' second argument): two, 64 registers
// a thread on sm_90. The precise division's slow path (a call, rarely taken) then spills 12
// bytes; with one group in flight 56 registers and no spill, with four 176 bytes of spill.
#ifndef RS_SWIGLU_MIN_BLOCKS
#define RS_SWIGLU_MIN_BLOCKS 2
#endif

#ifndef RS_SWIGLU_FAST
#define RS_SWIGLU_FAST 1
#endif
template <typename T>
__device__ __forceinline__ T rs_silu_mul(T g, T u) {
    const float x = rs_up(g);
#if RS_SWIGLU_FAST
    // t = e^-|x| in (0, 1]: 1 + t in [1, 2] never overflows; x < 0: x e^x / (1 + e^x).
    const float t = rs_exp2_fast(-1.4426950408889634f * fabsf(x));
    return rs_down<T>(rs_div_fast(x >= 0.0f ? x : x * t, 1.0f + t) * rs_up(u));
#else
    return rs_down<T>(x / (1.0f + expf(-x)) * rs_up(u));
#endif
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
    const int lc = rs_row_log2(((vec ? groups : d) + U - 1) / U);
    const int C = 1 << lc;
    const int R = RS_BLOCK >> lc;
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
                    P y;
#pragma unroll
                    for (int e = 0; e < N; ++e) y.set(e, rs_silu_mul(a[k].get(e), b[k].get(e)));
                    o4[j] = y;
                }
            }
        }
        for (rs_i64 i = groups * N + first; i < d; i += step) o[i] = rs_silu_mul(g[i], u[i]);
    }
}

extern "C" __global__ void __launch_bounds__(RS_BLOCK, RS_SWIGLU_MIN_BLOCKS)
    swiglu_kernel(const void* gate, const void* up, void* out, long long rows, long long d,
                  long long gate_stride, long long up_stride, long long out_stride, int dtype) {
#ifdef RS_EXP_DT
    dtype = RS_EXP_DT;
#endif
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
