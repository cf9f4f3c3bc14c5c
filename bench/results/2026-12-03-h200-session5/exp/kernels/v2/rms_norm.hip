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

#ifndef RS_RMS_CACHE
#define RS_RMS_CACHE 4
#endif
#ifndef RS_RMS_FUSED_CACHE
#define RS_RMS_FUSED_CACHE 2
#endif
#ifndef RS_RMS_MIN_BLOCKS
#define RS_RMS_MIN_BLOCKS 2
#endif
// Groups a thread of a two-pass row keeps in flight.
#ifndef RS_RMS_UNROLL
#define RS_RMS_UNROLL 1
#endif
// 1: a thread loads its next row while it reduces and writes this one (rows of <= 2 groups
// a thread).
#ifndef RS_RMS_PREFETCH
#define RS_RMS_PREFETCH 1
#endif
#ifndef RS_RMS_FUSED_PREFETCH
#define RS_RMS_FUSED_PREFETCH 0
#endif

// log2 of the threads of a block that share a row: the power of two covering half the row's
// units, clamped to [8, RS_BLOCK] (rocsample.ops.mlp.norm_threads is the host's copy).
__device__ __forceinline__ int rs_norm_log2(rs_i64 units) {
    rs_i64 u = (units + 1) / 2;
    u = u < 8 ? 8 : (u > RS_BLOCK ? RS_BLOCK : u);
    return 64 - __clzll((unsigned long long)(u - 1));
}

// One row's values in registers (the one-read path): its groups (x, and for the fused add
// the residual) and its tail element (hidden % N elements, one a thread).
template <typename T, int K, bool FUSED>
struct rs_norm_regs {
    typedef rs_pack<T, 16 / sizeof(T)> P;
    P x[K];
    P r[FUSED ? K : 1];
    T xt, rt;
    __device__ __forceinline__ void load(const T* xr, const T* rr, int lane, int C, int mine,
                                         int ti, bool tail) {
        const P* xp = reinterpret_cast<const P*>(xr) + lane;
        const P* rp = reinterpret_cast<const P*>(rr) + lane;
#pragma unroll
        for (int k = 0; k < K; ++k) {
            if (k < mine) {
                x[k] = xp[k * C];
                if (FUSED) r[k] = rp[k * C];
            }
        }
        if (tail) {
            xt = xr[ti];
            if (FUSED) rt = rr[ti];
        }
    }
};

template <typename T, int K, bool FUSED, bool PREFETCH>
__device__ __forceinline__ void rs_rms_norm_cached(const T* x, T* res, const T* w, T* out,
                                                   rs_i64 rows, int hidden, int groups,
                                                   rs_i64 xs, rs_i64 rsd, rs_i64 os, float eps,
                                                   float woff, int lc, float (*part)[RS_NWAVES]) {
    constexpr int N = 16 / sizeof(T);
    typedef rs_pack<T, N> P;
    const int C = 1 << lc, R = RS_BLOCK >> lc;
    const int lane = (int)(threadIdx.x & (C - 1));
    const int sub = (int)(threadIdx.x >> lc);
    const int mine = lane < groups ? ((groups - 1 - lane) >> lc) + 1 : 0;  // <= K
    const int ti = groups * N + lane;
    const bool has_tail = ti < hidden;
    // The weight: with PREFETCH once for every row this thread takes, else with each row.
    P wa[K];
    T wt = T();
    const P* wp = reinterpret_cast<const P*>(w) + lane;
    if (PREFETCH) {
#pragma unroll
        for (int k = 0; k < K; ++k)
            if (k < mine) wa[k] = wp[k * C];
        if (has_tail) wt = w[ti];
    }
    const rs_i64 step = (rs_i64)gridDim.x * R;
    rs_i64 r = (rs_i64)blockIdx.x * R + sub;
    rs_norm_regs<T, K, FUSED> cur;
    if (PREFETCH && r < rows)
        cur.load(x + r * xs, FUSED ? res + r * rsd : nullptr, lane, C, mine, ti, has_tail);
    int buf = 0;
    for (rs_i64 r0 = (rs_i64)blockIdx.x * R; r0 < rows; r0 += step, r += step) {
        const bool live = r < rows;
        const rs_i64 rn = r + step;
        rs_norm_regs<T, K, FUSED> nxt;
        if (PREFETCH) {
            if (rn < rows)
                nxt.load(x + rn * xs, FUSED ? res + rn * rsd : nullptr, lane, C, mine, ti,
                         has_tail);
        } else if (live) {
            cur.load(x + r * xs, FUSED ? res + r * rsd : nullptr, lane, C, mine, ti, has_tail);
#pragma unroll
            for (int k = 0; k < K; ++k)
                if (k < mine) wa[k] = wp[k * C];
            if (has_tail) wt = w[ti];
        }
        const rs_i64 rl = live ? r : 0;
        P* op = reinterpret_cast<P*>(out + rl * os) + lane;
        P* rp = FUSED ? reinterpret_cast<P*>(res + rl * rsd) + lane : nullptr;
        float acc = 0.0f;
#pragma unroll
        for (int k = 0; k < K; ++k) {
            if (live && k < mine) {
                if (FUSED) {
                    P s;
#pragma unroll
                    for (int e = 0; e < N; ++e)
                        s.set(e, rs_down<T>(rs_up(cur.x[k].get(e)) + rs_up(cur.r[k].get(e))));
                    cur.x[k] = s;
                    rp[k * C] = s;
                }
#pragma unroll
                for (int e = 0; e < N; ++e) {
                    const float f = rs_up(cur.x[k].get(e));
                    acc += f * f;
                }
            }
        }
        const bool tail = live && has_tail;
        if (tail) {
            if (FUSED) {
                cur.xt = rs_down<T>(rs_up(cur.xt) + rs_up(cur.rt));
                res[rl * rsd + ti] = cur.xt;
            }
            const float f = rs_up(cur.xt);
            acc += f * f;
        }
        const float sum = rs_row_sum(acc, C, part[buf]);
        buf ^= 1;
        const float rstd = 1.0f / sqrtf(sum / (float)hidden + eps);
#pragma unroll
        for (int k = 0; k < K; ++k) {
            if (live && k < mine) {
                P y;
#pragma unroll
                for (int e = 0; e < N; ++e)
                    y.set(e, rs_down<T>((rs_up(cur.x[k].get(e)) * rstd) *
                                        (rs_up(wa[k].get(e)) + woff)));
                op[k * C] = y;
            }
        }
        if (tail) out[rl * os + ti] = rs_down<T>((rs_up(cur.xt) * rstd) * (rs_up(wt) + woff));
        if (PREFETCH) cur = nxt;
    }
}

// Rows on the two-pass path (longer rows, or any operand not 16-byte aligned: then groups
// is 0 and every element goes one at a time): U groups of a thread in flight a step.
template <typename T, bool FUSED>
__device__ __forceinline__ void rs_rms_norm_passes(const T* x, T* res, const T* w, T* out,
                                                   rs_i64 rows, rs_i64 hidden, rs_i64 groups,
                                                   rs_i64 xs, rs_i64 rsd, rs_i64 os, float eps,
                                                   float woff, int lc,
                                                   float (*part)[RS_NWAVES]) {
    constexpr int N = 16 / sizeof(T);
    constexpr int U = RS_RMS_UNROLL;
    typedef rs_pack<T, N> P;
    const int C = 1 << lc, R = RS_BLOCK >> lc;
    const int lane = (int)(threadIdx.x & (C - 1));
    const int sub = (int)(threadIdx.x >> lc);
    int buf = 0;
    for (rs_i64 r0 = (rs_i64)blockIdx.x * R; r0 < rows; r0 += (rs_i64)gridDim.x * R) {
        const rs_i64 r = r0 + sub;
        const bool live = r < rows;
        const rs_i64 rl = live ? r : 0;
        const T* xr = x + rl * xs;
        T* rr = FUSED ? res + rl * rsd : nullptr;
        T* orow = out + rl * os;
        float acc = 0.0f;
        if (live) {
            for (rs_i64 j0 = lane; j0 < groups; j0 += (rs_i64)U * C) {
                P a[U], b[U];
#pragma unroll
                for (int u = 0; u < U; ++u) {
                    const rs_i64 j = j0 + (rs_i64)u * C;
                    if (j < groups) {
                        a[u] = reinterpret_cast<const P*>(xr)[j];
                        if (FUSED) b[u] = reinterpret_cast<const P*>(rr)[j];
                    }
                }
#pragma unroll
                for (int u = 0; u < U; ++u) {
                    const rs_i64 j = j0 + (rs_i64)u * C;
                    if (j < groups) {
                        if (FUSED) {
                            P s;
#pragma unroll
                            for (int e = 0; e < N; ++e)
                                s.set(e, rs_down<T>(rs_up(a[u].get(e)) + rs_up(b[u].get(e))));
                            a[u] = s;
                            reinterpret_cast<P*>(rr)[j] = s;
                        }
#pragma unroll
                        for (int e = 0; e < N; ++e) {
                            const float f = rs_up(a[u].get(e));
                            acc += f * f;
                        }
                    }
                }
            }
#pragma unroll 4
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
        const float sum = rs_row_sum(acc, C, part[buf]);
        buf ^= 1;
        if (!live) continue;
        const float rstd = 1.0f / sqrtf(sum / (float)hidden + eps);
        const T* src = FUSED ? rr : xr;
        for (rs_i64 j0 = lane; j0 < groups; j0 += (rs_i64)U * C) {
            P a[U], ww[U];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const rs_i64 j = j0 + (rs_i64)u * C;
                if (j < groups) {
                    a[u] = reinterpret_cast<const P*>(src)[j];
                    ww[u] = reinterpret_cast<const P*>(w)[j];
                }
            }
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const rs_i64 j = j0 + (rs_i64)u * C;
                if (j < groups) {
                    P y;
#pragma unroll
                    for (int e = 0; e < N; ++e)
                        y.set(e, rs_down<T>((rs_up(a[u].get(e)) * rstd) *
                                            (rs_up(ww[u].get(e)) + woff)));
                    reinterpret_cast<P*>(orow)[j] = y;
                }
            }
        }
#pragma unroll 4
        for (rs_i64 i = groups * N + lane; i < hidden; i += C)
            orow[i] = rs_down<T>((rs_up(src[i]) * rstd) * (rs_up(w[i]) + woff));
    }
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
    const int lc = rs_norm_log2(vec ? groups : hidden);
    constexpr int K = FUSED ? RS_RMS_FUSED_CACHE : RS_RMS_CACHE;
    if (vec && groups <= (2 << lc))
        rs_rms_norm_cached<T, 2, FUSED, (FUSED ? RS_RMS_FUSED_PREFETCH : RS_RMS_PREFETCH) != 0>(
            x, res, w, out, rows, (int)hidden, (int)groups, xs, rsd, os, eps, woff, lc, part);
    else if (K > 2 && vec && groups <= ((rs_i64)K << lc))
        rs_rms_norm_cached<T, (K > 2 ? K : 2), FUSED, false>(
            x, res, w, out, rows, (int)hidden, (int)groups, xs, rsd, os, eps, woff, lc, part);
    else
        rs_rms_norm_passes<T, FUSED>(x, res, w, out, rows, hidden, groups, xs, rsd, os, eps,
                                     woff, lc, part);
}

template <bool FUSED>
__device__ __forceinline__ void rs_rms_norm_any(int dtype, void* x, void* res, const void* w,
                                                void* out, rs_i64 rows, rs_i64 hidden,
                                                rs_i64 xs, rs_i64 rsd, rs_i64 os, float eps,
                                                float woff) {
#ifdef RS_EXP_DT
    dtype = RS_EXP_DT;
#endif
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
