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
//   on both paths a thread writes only elements it has itself read before, so no ordering
//   between threads is needed.
//
// Grid and block: blockDim = (RS_BLOCK, 1, 1); any grid. A row's units (16-byte groups, or
// elements when an operand is not 16-byte aligned) are spread over
// C = max(8, rs_row_threads(ceil(units / 2))) threads (rs_mlp.h), so a block takes
// R = RS_BLOCK / C rows at once (hidden 2048 bf16: 128 threads a row, four rows a block):
// block b takes the tile of rows b * R .. b * R + R - 1, then tile b + gridDim.x, ... (a
// grid-stride loop over tiles of R rows, uniform over the block, so EVERY row is written whatever the grid;
// rocsample.ops.mlp.rms_norm_grid launches min(ceil(rows / R), 2^32 / RS_BLOCK - 1)
// blocks). A row's sum of squares is one reduction over its C threads (rs_row_sum: shuffles
// only when C is at most a wave, one barrier when wider). A row of at most
// RS_RMS_CACHE * C groups (fused: RS_RMS_FUSED_CACHE * C) on the 16-byte path, which is
// every such row up to 8192 fp32 / 16384 bf16 elements (fused: 4096 / 8192), is read once
// into registers, weight included, and written from them; any other row takes two passes:
// the sum of squares (fused: the add, the residual store), then the scaled store, which
// re-reads the elements its own thread read (from cache). Static shared memory:
// 2 x RS_NWAVES floats. Why this rule: FlashInfer's launch (a block of hidden / 8 threads a
// row, up to 1024) keeps several blocks an SM at small hidden; with the block fixed at
// RS_BLOCK, several rows a block does the same, and two groups a thread halve the
// reductions a byte without leaving the latency-bound few-row call short of threads.
#include "rs_mlp.h"

// 16-byte groups a thread may hold in registers on the one-read path (of x, and of the
// weight): four, so that a row of up to 2048 groups (16384 bf16, 8192 fp32) is read once by
// 512 threads; the rule above gives a thread at most two unless the row needs all 512.
// (ptxas, sm_90, 64 registers: 16 bytes of spill with four, none with two.)
#define RS_RMS_CACHE 4
// ... for the fused add, which holds the residual too: two, rows of up to 1024 groups
// (8192 bf16); with three, 176 bytes of spill.
#define RS_RMS_FUSED_CACHE 2
// Blocks an SM/CU must hold at once (__launch_bounds__' second argument): two, so that one
// block's loads overlap the other's reduction on a long sweep of rows (64 registers a thread
// on sm_90).
#define RS_RMS_MIN_BLOCKS 2

// Threads of a block that share a row: at least 8 (16 / sizeof(T) <= 8), so that a row's
// last hidden % (16 / sizeof(T)) elements take one thread each on the one-read path.
__device__ __forceinline__ int rs_norm_threads(rs_i64 units) {
    const int c = rs_row_threads((units + 1) / 2);
    return c < 8 ? 8 : c;
}

// One row on the one-read path (16-byte rows of at most K * C groups). `live`: the row
// exists (a block's last tile may pass `rows`); a dead row loads and stores nothing but
// takes part in the reduction, which every thread of the block must reach.
template <typename T, bool FUSED>
__device__ __forceinline__ void rs_rms_norm_row_cached(const T* xr, T* rr, const T* w, T* orow,
                                                       int hidden, int groups, float eps,
                                                       float woff, bool live, int C, int lane,
                                                       float* part) {
    constexpr int N = 16 / sizeof(T);
    constexpr int K = FUSED ? RS_RMS_FUSED_CACHE : RS_RMS_CACHE;
    typedef rs_pack<T, N> P;  // 2-byte values packed two to a word (get/set)
    // Indices are 32-bit here: such a row has at most K * RS_BLOCK groups.
    const int mine = live ? (groups - lane + C - 1) / C : 0;  // this thread's groups, <= K
    const P* xp = reinterpret_cast<const P*>(xr) + lane;
    const P* wp = reinterpret_cast<const P*>(w) + lane;
    P* rp = FUSED ? reinterpret_cast<P*>(rr) + lane : nullptr;
    P* op = reinterpret_cast<P*>(orow) + lane;
    P xa[K], wa[K], ra[K];
#pragma unroll
    for (int k = 0; k < K; ++k) {
        if (k < mine) {
            xa[k] = xp[k * C];
            wa[k] = wp[k * C];
            if (FUSED) ra[k] = rp[k * C];
        }
    }
    // The row's last hidden % N elements (fewer than N <= 8 <= C): one a thread.
    const int ti = groups * N + lane;
    const bool tail = live && ti < hidden;
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
        if (k < mine) {
            if (FUSED) {
                P s;
#pragma unroll
                for (int e = 0; e < N; ++e)
                    s.set(e, rs_down<T>(rs_up(xa[k].get(e)) + rs_up(ra[k].get(e))));
                xa[k] = s;
                rp[k * C] = s;
            }
#pragma unroll
            for (int e = 0; e < N; ++e) {
                const float f = rs_up(xa[k].get(e));
                acc += f * f;
            }
        }
    }
    if (tail) {
        const float f = rs_up(xt);
        acc += f * f;
    }
    const float sum = rs_row_sum(acc, C, part);
    const float rstd = 1.0f / sqrtf(sum / (float)hidden + eps);
#pragma unroll
    for (int k = 0; k < K; ++k) {
        if (k < mine) {
            P y;
#pragma unroll
            for (int e = 0; e < N; ++e)
                y.set(e, rs_down<T>((rs_up(xa[k].get(e)) * rstd) * (rs_up(wa[k].get(e)) + woff)));
            op[k * C] = y;
        }
    }
    if (tail) orow[ti] = rs_down<T>((rs_up(xt) * rstd) * (rs_up(wt) + woff));
}

// One row on the two-pass path (longer rows, or any operand not 16-byte aligned: then
// groups is 0 and every element goes one at a time). `live` as above.
template <typename T, bool FUSED>
__device__ __forceinline__ void rs_rms_norm_row_passes(const T* xr, T* rr, const T* w, T* orow,
                                                       rs_i64 hidden, rs_i64 groups, float eps,
                                                       float woff, bool live, int C, int lane,
                                                       float* part) {
    constexpr int N = 16 / sizeof(T);
    typedef rs_pack<T, N> P;
    // Pass 1: the sum of squares of the normalised row (fused: x + residual, stored).
    float acc = 0.0f;
    if (live) {
#pragma unroll 1
        for (rs_i64 j = lane; j < groups; j += C) {
            P a = reinterpret_cast<const P*>(xr)[j];
            if (FUSED) {
                const P b = reinterpret_cast<const P*>(rr)[j];
                P s;
#pragma unroll
                for (int e = 0; e < N; ++e)
                    s.set(e, rs_down<T>(rs_up(a.get(e)) + rs_up(b.get(e))));
                a = s;
                reinterpret_cast<P*>(rr)[j] = a;
            }
#pragma unroll
            for (int e = 0; e < N; ++e) {
                const float f = rs_up(a.get(e));
                acc += f * f;
            }
        }
#pragma unroll 1
        for (rs_i64 i = groups * N + lane; i < hidden; i += C) {
            T a = xr[i];
            if (FUSED) {
                a = rs_down<T>(rs_up(a) + rs_up(rr[i]));
                rr[i] = a;
            }
            const float f = rs_up(a);
            acc += f * f;
        }
    }
    const float sum = rs_row_sum(acc, C, part);
    if (!live) return;
    const float rstd = 1.0f / sqrtf(sum / (float)hidden + eps);
    // Pass 2: (v * rstd) * (w + offset), rounded once; a thread re-reads only what it read.
    const T* src = FUSED ? rr : xr;
#pragma unroll 1
    for (rs_i64 j = lane; j < groups; j += C) {
        const P a = reinterpret_cast<const P*>(src)[j];
        const P ww = reinterpret_cast<const P*>(w)[j];
        P y;
#pragma unroll
        for (int e = 0; e < N; ++e)
            y.set(e, rs_down<T>((rs_up(a.get(e)) * rstd) * (rs_up(ww.get(e)) + woff)));
        reinterpret_cast<P*>(orow)[j] = y;
    }
#pragma unroll 1
    for (rs_i64 i = groups * N + lane; i < hidden; i += C)
        orow[i] = rs_down<T>((rs_up(src[i]) * rstd) * (rs_up(w[i]) + woff));
}

template <typename T, bool FUSED>
__device__ __forceinline__ void rs_rms_norm(const T* x, T* res, const T* w, T* out, rs_i64 rows,
                                            rs_i64 hidden, rs_i64 xs, rs_i64 rsd, rs_i64 os,
                                            float eps, float woff) {
    __shared__ float part[2][RS_NWAVES];
    constexpr int N = 16 / sizeof(T);
    const int size = (int)sizeof(T);
    const bool vec = rs_rows_aligned(x, xs, size) && rs_rows_aligned(w, 0, size) &&
                     rs_rows_aligned(out, os, size) && (!FUSED || rs_rows_aligned(res, rsd, size));
    const rs_i64 groups = vec ? hidden / N : 0;
    const int C = rs_norm_threads(vec ? groups : hidden);
    const int R = RS_BLOCK / C;
    const int lane = (int)(threadIdx.x & (C - 1));
    const int sub = (int)(threadIdx.x / C);
    const bool cached = vec && groups <= (rs_i64)(FUSED ? RS_RMS_FUSED_CACHE : RS_RMS_CACHE) * C;
    int buf = 0;
    for (rs_i64 r0 = (rs_i64)blockIdx.x * R; r0 < rows; r0 += (rs_i64)gridDim.x * R) {
        const rs_i64 r = r0 + sub;
        const bool live = r < rows;
        const rs_i64 rl = live ? r : 0;  // a dead row's pointers are formed, never used
        const T* xr = x + rl * xs;
        T* rr = FUSED ? res + rl * rsd : nullptr;
        T* orow = out + rl * os;
        if (cached)
            rs_rms_norm_row_cached<T, FUSED>(xr, rr, w, orow, (int)hidden, (int)groups, eps,
                                             woff, live, C, lane, part[buf]);
        else
            rs_rms_norm_row_passes<T, FUSED>(xr, rr, w, orow, hidden, groups, eps, woff, live, C,
                                             lane, part[buf]);
        buf ^= 1;
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
