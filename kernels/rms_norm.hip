// rms_norm.hip -- rocsample kernel module "rms_norm" (the MLP family), kernel ABI RS_ABI_VERSION.
//
// Entry points (extern "C"):
//
//   rms_norm_kernel(const void* x, const void* weight, void* out, long long rows,
//                   long long hidden, long long x_stride, long long out_stride, float eps,
//                   float weight_offset, int dtype)
//     out[r, i] = x[r, i] * rstd_r * (weight[i] + weight_offset)
//   fused_add_rms_norm_kernel(void* x, void* residual, const void* weight, long long rows,
//                             long long hidden, long long x_stride, long long residual_stride,
//                             float eps, float weight_offset, int dtype)
//     in place: residual[r, i] = residual[r, i] + x[r, i] (rounded to the element type), then
//     x[r, i] = residual[r, i] * rstd_r * (weight[i] + weight_offset), rstd_r that of the new
//     residual row: exactly rms_norm of the residual written back.
//     env override (both): RMS_NORM_HSACO
//
//   rstd_r = 1 / sqrt(sum_i v[r, i]^2 / hidden + eps), v the normalised row (x, or the new
//   residual), the sum in float. weight_offset is 0, or 1 for Gemma's (1 + weight).
//   Row r of x / out / residual starts at its pointer + r * its stride elements (last dim
//   contiguous); weight is `hidden` contiguous elements. dtype: 0 float, 1 __half,
//   2 __nv_bfloat16 (rs_mlp.h), the same for every operand.
//   Rounding: values are widened to float and the result (v * rstd) * (w + weight_offset)
//   is computed in float and rounded to the element type once (FlashInfer's order; vLLM
//   rounds v * rstd to the element type before the weight). rocsample.ops.mlp.rms_norm and
//   fused_add_rms_norm are the numpy twins. out may be exactly x (same pointer and stride):
//   a thread reads each element it writes, the block's barrier between the passes orders
//   the reads of the first pass before any write.
//
// Grid and block: blockDim = (RS_BLOCK, 1, 1), a block a row: block b takes rows b,
// b + gridDim.x, ... (a grid-stride loop, so EVERY row is written whatever the grid;
// rocsample.ops.mlp.rms_norm_grid launches min(rows, 2^32 / RS_BLOCK - 1) blocks). A row of
// at most RS_RMS_CACHE * RS_BLOCK 16-byte groups on the 16-byte path is read once into
// registers, weight included; any other row takes two passes: the sum of squares (fused:
// the add, the residual store), then the scaled store, which re-reads the row its own thread
// read (from cache). Static shared memory: RS_NWAVES floats.
#include "rs_mlp.h"

// 16-byte groups a thread holds in registers on the one-read path: a row of at most
// RS_RMS_CACHE * RS_BLOCK groups (bf16/fp16 hidden <= 8192, fp32 <= 4096 at 512 threads;
// the fused add, which holds the residual too, one group: half that) is read once, its
// weight loaded with it (before the reduction, so a short call waits for memory once, not
// twice), and written from registers. Longer rows take the two-pass loop.
#define RS_RMS_CACHE 2
// Blocks an SM/CU must hold at once (__launch_bounds__' second argument): two, so that one
// block's loads overlap the other's reduction on a long sweep of rows.
#define RS_RMS_MIN_BLOCKS 2

template <typename T, bool FUSED>
__device__ __forceinline__ void rs_rms_norm_row_cached(const T* xr, T* rr, const T* w, T* orow,
                                                       rs_i64 hidden, rs_i64 groups, float eps,
                                                       float woff, float* part) {
    constexpr int N = 16 / sizeof(T);
    constexpr int K = FUSED ? 1 : RS_RMS_CACHE;  // the fused add holds a third operand
    typedef rs_pack<T, N, false> P;  // unpacked: the elements by index (.v)
    const rs_i64 tid = threadIdx.x;
    P xa[K], wa[K], ra[K];
#pragma unroll
    for (int k = 0; k < K; ++k) {
        const rs_i64 j = tid + (rs_i64)k * RS_BLOCK;
        if (j < groups) {
            xa[k] = reinterpret_cast<const P*>(xr)[j];
            wa[k] = reinterpret_cast<const P*>(w)[j];
            if (FUSED) ra[k] = reinterpret_cast<const P*>(rr)[j];
        }
    }
    // The row's last hidden % N elements (fewer than N <= RS_BLOCK): one a thread.
    const rs_i64 ti = groups * N + tid;
    const bool tail = ti < hidden;
    T xt = T(), wt = T();
    if (tail) {
        xt = xr[ti];
        wt = w[ti];
        if (FUSED) {
            xt = rs_down<T>(rs_up(xt) + rs_up(rr[ti]));
            rr[ti] = xt;
        }
    }
    float acc = 0.0f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
        const rs_i64 j = tid + (rs_i64)k * RS_BLOCK;
        if (j < groups) {
            if (FUSED) {
#pragma unroll
                for (int e = 0; e < N; ++e)
                    xa[k].v[e] = rs_down<T>(rs_up(xa[k].v[e]) + rs_up(ra[k].v[e]));
                reinterpret_cast<P*>(rr)[j] = xa[k];
            }
#pragma unroll
            for (int e = 0; e < N; ++e) {
                const float f = rs_up(xa[k].v[e]);
                acc += f * f;
            }
        }
    }
    if (tail) {
        const float f = rs_up(xt);
        acc += f * f;
    }
    const float sum = rs_block_sum(acc, part);
    const float rstd = 1.0f / sqrtf(sum / (float)hidden + eps);
#pragma unroll
    for (int k = 0; k < K; ++k) {
        const rs_i64 j = tid + (rs_i64)k * RS_BLOCK;
        if (j < groups) {
            P y;
#pragma unroll
            for (int e = 0; e < N; ++e)
                y.v[e] = rs_down<T>((rs_up(xa[k].v[e]) * rstd) * (rs_up(wa[k].v[e]) + woff));
            reinterpret_cast<P*>(orow)[j] = y;
        }
    }
    if (tail) orow[ti] = rs_down<T>((rs_up(xt) * rstd) * (rs_up(wt) + woff));
}

template <typename T, bool FUSED>
__device__ __forceinline__ void rs_rms_norm(const T* x, T* res, const T* w, T* out, rs_i64 rows,
                                            rs_i64 hidden, rs_i64 xs, rs_i64 rsd, rs_i64 os,
                                            float eps, float woff) {
    __shared__ float part[RS_NWAVES];
    constexpr int N = 16 / sizeof(T);
    typedef rs_pack<T, N, false> P;  // unpacked: the elements by index (.v)
    const int size = (int)sizeof(T);
    const bool vec = rs_rows_aligned(x, xs, size) && rs_rows_aligned(w, 0, size) &&
                     rs_rows_aligned(out, os, size) && (!FUSED || rs_rows_aligned(res, rsd, size));
    const rs_i64 groups = vec ? hidden / N : 0;
    const rs_i64 tid = threadIdx.x;
    const P* w4 = reinterpret_cast<const P*>(w);
    for (rs_i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * xs;
        T* rr = FUSED ? res + r * rsd : nullptr;
        T* orow = out + r * os;
        if (vec && groups <= (rs_i64)(FUSED ? 1 : RS_RMS_CACHE) * RS_BLOCK) {
            rs_rms_norm_row_cached<T, FUSED>(xr, rr, w, orow, hidden, groups, eps, woff, part);
            continue;
        }
        // Pass 1: the sum of squares of the normalised row (fused: x + residual, stored).
        float acc = 0.0f;
        for (rs_i64 j = tid; j < groups; j += RS_BLOCK) {
            P a = reinterpret_cast<const P*>(xr)[j];
            if (FUSED) {
                const P b = reinterpret_cast<const P*>(rr)[j];
#pragma unroll
                for (int e = 0; e < N; ++e) a.v[e] = rs_down<T>(rs_up(a.v[e]) + rs_up(b.v[e]));
                reinterpret_cast<P*>(rr)[j] = a;
            }
#pragma unroll
            for (int e = 0; e < N; ++e) {
                const float f = rs_up(a.v[e]);
                acc += f * f;
            }
        }
        for (rs_i64 i = groups * N + tid; i < hidden; i += RS_BLOCK) {
            T a = xr[i];
            if (FUSED) {
                a = rs_down<T>(rs_up(a) + rs_up(rr[i]));
                rr[i] = a;
            }
            const float f = rs_up(a);
            acc += f * f;
        }
        const float sum = rs_block_sum(acc, part);
        const float rstd = 1.0f / sqrtf(sum / (float)hidden + eps);
        // Pass 2: (v * rstd) * (w + offset), rounded once.
        const T* src = FUSED ? rr : xr;
        for (rs_i64 j = tid; j < groups; j += RS_BLOCK) {
            const P a = reinterpret_cast<const P*>(src)[j];
            const P ww = w4[j];
            P y;
#pragma unroll
            for (int e = 0; e < N; ++e)
                y.v[e] = rs_down<T>((rs_up(a.v[e]) * rstd) * (rs_up(ww.v[e]) + woff));
            reinterpret_cast<P*>(orow)[j] = y;
        }
        for (rs_i64 i = groups * N + tid; i < hidden; i += RS_BLOCK)
            orow[i] = rs_down<T>((rs_up(src[i]) * rstd) * (rs_up(w[i]) + woff));
    }
}

template <bool FUSED>
__device__ __forceinline__ void rs_rms_norm_any(int dtype, void* x, void* res, const void* w,
                                                void* out, rs_i64 rows, rs_i64 hidden,
                                                rs_i64 xs, rs_i64 rsd, rs_i64 os, float eps,
                                                float woff) {
    switch (dtype) {
        case RS_MLP_F32:
            rs_rms_norm<float, FUSED>((const float*)x, (float*)res, (const float*)w,
                                      (float*)out, rows, hidden, xs, rsd, os, eps, woff);
            break;
        case RS_MLP_F16:
            rs_rms_norm<rs_f16, FUSED>((const rs_f16*)x, (rs_f16*)res, (const rs_f16*)w,
                                       (rs_f16*)out, rows, hidden, xs, rsd, os, eps, woff);
            break;
        case RS_MLP_BF16:
            rs_rms_norm<rs_bf16, FUSED>((const rs_bf16*)x, (rs_bf16*)res, (const rs_bf16*)w,
                                        (rs_bf16*)out, rows, hidden, xs, rsd, os, eps, woff);
            break;
        default:  // the host checks dtype; an unknown code writes nothing
            break;
    }
}

extern "C" __global__ void __launch_bounds__(RS_BLOCK, RS_RMS_MIN_BLOCKS)
    rms_norm_kernel(const void* x, const void* weight, void* out, long long rows,
                    long long hidden, long long x_stride, long long out_stride, float eps,
                    float weight_offset, int dtype) {
    rs_rms_norm_any<false>(dtype, (void*)x, nullptr, weight, out, rows, hidden, x_stride, 0,
                           out_stride, eps, weight_offset);
}

extern "C" __global__ void __launch_bounds__(RS_BLOCK, RS_RMS_MIN_BLOCKS)
    fused_add_rms_norm_kernel(void* x, void* residual, const void* weight, long long rows,
                              long long hidden, long long x_stride, long long residual_stride,
                              float eps, float weight_offset, int dtype) {
    // The result goes back into x: out is x with x's stride.
    rs_rms_norm_any<true>(dtype, x, residual, weight, x, rows, hidden, x_stride,
                          residual_stride, x_stride, eps, weight_offset);
}
