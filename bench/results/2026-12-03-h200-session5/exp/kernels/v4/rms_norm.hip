// rms_norm.hip -- rocsample kernel module "rms_norm" (the MLP family), kernel ABI RS_ABI_VERSION.
//
// Entry points (extern "C"), DT in f32, f16, bf16 (T = float, __half, __nv_bfloat16):
//
//   rms_norm_DT(const T* x, const T* weight, T* out, long long rows, long long hidden,
//               long long x_stride, long long out_stride, float eps, float weight_offset)
//     out[r, i] = x[r, i] * rstd_r * (weight[i] + weight_offset)
//   fused_add_rms_norm_DT(T* x, T* residual, const T* weight, long long rows, long long hidden,
//                         long long x_stride, long long residual_stride, float eps,
//                         float weight_offset)
//     in place: residual[r, i] = residual[r, i] + x[r, i] (rounded to T), then
//     x[r, i] = residual[r, i] * rstd_r * (weight[i] + weight_offset), rstd_r that of the new
//     residual row: exactly rms_norm of the residual written back.
//   rms_norm_kernel(..., float weight_offset, int dtype), fused_add_rms_norm_kernel(...,
//                   int dtype): the same with the element type as a run-time code (0 float,
//                   1 __half, 2 __nv_bfloat16; rs_mlp.h), pointers as void*.
//     env override (all): RMS_NORM_HSACO
//
//   rstd_r = 1 / sqrt(sum_i v[r, i]^2 / hidden + eps), v the normalised row (x, or the new
//   residual), the sum in float. weight_offset is 0, or 1 for Gemma's (1 + weight).
//   Row r of x / out / residual starts at its pointer + r * its stride elements (last dim
//   contiguous); weight is `hidden` contiguous elements.
//   Rounding: values are widened to float and the result (v * rstd) * (w + weight_offset)
//   is computed in float and rounded to the element type once (FlashInfer's order; vLLM
//   rounds v * rstd to the element type before the weight). rocsample.ops.mlp.rms_norm and
//   fused_add_rms_norm are the numpy twins. out may be exactly x (same pointer and stride):
//   a thread writes only elements it has itself read before.
//
// Grid and block: any grid; any blockDim.x (1 to RS_BLOCK, rocsample launches a power of
// two). A row's units (16-byte groups, or elements when an operand is not 16-byte aligned)
// are spread over C threads, C the power of two covering half the units, clamped to
// [8, blockDim.x] (rocsample.ops.mlp.norm_threads), so a block takes R = blockDim.x / C rows
// at once (hidden 2048 bf16: 128 threads a row): block b takes the tile of rows b * R ..
// b * R + R - 1, then tile b + gridDim.x, ... (a loop over tiles, uniform over the block,
// so EVERY row is written whatever the grid; rocsample.ops.mlp.rms_norm_grid). A row's sum of
// squares is one reduction over its C threads (rs_row_sum). Three ways through a row:
// - at most two 16-byte groups a thread (every aligned row of up to 1024 groups: 8192 bf16,
//   4096 fp32): read once into registers. rms_norm keeps a thread's weight in registers for
//   every row it takes and loads its next row while it reduces and writes this one, so a
//   block streams rows (a grid of a few blocks an SM is enough); the fused add loads the
//   weight with each row (three operands would not fit in 64 registers twice).
// - at most four groups a thread, C = blockDim.x (up to 2048 groups at 512 threads): read
//   once; the fused add loads the weight after the reduction, when the residual's registers
//   are free again.
// - longer rows, or an operand not 16-byte aligned: two passes, the sum of squares (fused:
//   the add, the residual store), then the scaled store re-reading what the thread read.
// Static shared memory: 2 x RS_NWAVES floats.
#include "rs_mlp.h"

// Blocks an SM/CU must hold at once (__launch_bounds__' second argument): two, 64 registers
// a thread on sm_90 at 512 threads.
#ifndef RS_RMS_FUSED_K4
#define RS_RMS_FUSED_K4 1
#endif
#ifndef RS_RMS_MIN_BLOCKS
#define RS_RMS_MIN_BLOCKS 2
#endif
#ifndef RS_RMS_FUSED_MIN_BLOCKS
#define RS_RMS_FUSED_MIN_BLOCKS RS_RMS_MIN_BLOCKS
#endif
#ifndef RS_RMS_FUSED_STREAM
#define RS_RMS_FUSED_STREAM 0
#endif
#ifndef RS_RMS_RSQRT
#define RS_RMS_RSQRT 0
#endif
#ifndef RS_RMS_UNROLL
#define RS_RMS_UNROLL 1
#endif
#ifndef RS_RMS_FUSED_UNROLL
#define RS_RMS_FUSED_UNROLL 2
#endif
__device__ __forceinline__ float rs_rstd(float sum, float n, float eps) {
#if RS_RMS_RSQRT
    return rsqrtf(sum / n + eps);
#else
    return 1.0f / sqrtf(sum / n + eps);
#endif
}

// log2 of the threads of a row: the power of two covering half of `units`, clamped to
// [8, blockDim.x] (blockDim.x below 8: to it).
__device__ __forceinline__ int rs_norm_log2(rs_i64 units) {
    const rs_i64 block = (rs_i64)blockDim.x;
    const rs_i64 lo = block < 8 ? block : 8;
    rs_i64 u = (units + 1) / 2;
    u = u < lo ? lo : (u > block ? block : u);
    const int lc = 64 - __clzll((unsigned long long)(u - 1));  // u = 1: 0
    return (1 << lc) > block ? lc - 1 : lc;  // a block that is not a power of two
}

// K 16-byte groups of a row: p[0], p[C], ... for the first `mine` of them.
template <typename P, int K>
__device__ __forceinline__ void rs_load_groups(P (&a)[K], const P* p, int C, int mine) {
#pragma unroll
    for (int k = 0; k < K; ++k)
        if (k < mine) a[k] = p[k * C];
}

// One row's values on the one-read path: its groups (x, and for the fused add the residual)
// and its tail element (hidden % N elements, one a thread).
template <typename T, int K, bool FUSED>
struct rs_norm_row {
    typedef rs_pack<T, 16 / sizeof(T)> P;
    P x[K];
    P r[K];  // the residual (the fused add only)
    T xt, rt;
    __device__ __forceinline__ void load(const T* xr, const T* rr, int lane, int C, int mine,
                                         int ti, bool tail) {
        rs_load_groups<P, K>(x, reinterpret_cast<const P*>(xr) + lane, C, mine);
        if (FUSED) rs_load_groups<P, K>(r, reinterpret_cast<const P*>(rr) + lane, C, mine);
        if (tail) {
            xt = xr[ti];
            if (FUSED) rt = rr[ti];
        }
    }
};

// Rows on the one-read path: K groups a thread at most. STREAM: the weight is loaded once and
// each thread loads its next row before it reduces this one; LATE_W: the weight is loaded
// after the reduction (else with the row).
template <typename T, int K, bool FUSED, bool STREAM, bool LATE_W>
__device__ __forceinline__ void rs_rms_cached(const T* x, T* res, const T* w, T* out,
                                              rs_i64 rows, int hidden, int groups, rs_i64 xs,
                                              rs_i64 rsd, rs_i64 os, float eps, float woff,
                                              int lc, float (*part)[RS_NWAVES]) {
    constexpr int N = 16 / sizeof(T);
    typedef rs_pack<T, N> P;
    const int C = 1 << lc, R = (int)(blockDim.x >> lc);
    const int lane = (int)(threadIdx.x & (C - 1));
    const int sub = (int)(threadIdx.x >> lc);  // >= R: a thread past the last whole row
    const int mine = lane < groups ? ((groups - 1 - lane) >> lc) + 1 : 0;  // <= K
    const int ti = groups * N + lane;
    const bool has_tail = ti < hidden;  // C >= 8 > hidden % N: one tail element a thread
    const P* wp = reinterpret_cast<const P*>(w) + lane;
    P wa[K];
    T wt = T();
    if (STREAM) {
        rs_load_groups<P, K>(wa, wp, C, mine);
        if (has_tail) wt = w[ti];
    }
    const rs_i64 step = (rs_i64)gridDim.x * R;
    rs_i64 r = (rs_i64)blockIdx.x * R + sub;
    const bool in_tile = sub < R;
    rs_norm_row<T, K, FUSED> cur;
    if (STREAM && in_tile && r < rows)
        cur.load(x + r * xs, FUSED ? res + r * rsd : nullptr, lane, C, mine, ti, has_tail);
    int buf = 0;
    for (rs_i64 r0 = (rs_i64)blockIdx.x * R; r0 < rows; r0 += step, r += step) {
        const bool live = in_tile && r < rows;
        rs_norm_row<T, K, FUSED> nxt;
        if (STREAM) {
            if (in_tile && r + step < rows)
                nxt.load(x + (r + step) * xs, FUSED ? res + (r + step) * rsd : nullptr, lane,
                         C, mine, ti, has_tail);
        } else if (live) {
            cur.load(x + r * xs, FUSED ? res + r * rsd : nullptr, lane, C, mine, ti, has_tail);
            if (!LATE_W) {
                rs_load_groups<P, K>(wa, wp, C, mine);
                if (has_tail) wt = w[ti];
            }
        }
        const rs_i64 rl = live ? r : 0;  // a dead row's pointers are formed, never used
        float acc = 0.0f;
#pragma unroll
        for (int k = 0; k < K; ++k) {
            if (live && k < mine) {
                if (FUSED) {
                    float s[N];
#pragma unroll
                    for (int e = 0; e < N; ++e)
                        s[e] = rs_up(cur.x[k].get(e)) + rs_up(cur.r[k].get(e));
                    rs_pack_floats(cur.x[k], s);
                    reinterpret_cast<P*>(res + rl * rsd)[lane + k * C] = cur.x[k];
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
        if (LATE_W && live) {
            rs_load_groups<P, K>(wa, wp, C, mine);
            if (has_tail) wt = w[ti];
        }
        const float rstd = rs_rstd(sum, (float)hidden, eps);
        P* op = reinterpret_cast<P*>(out + rl * os) + lane;
#pragma unroll
        for (int k = 0; k < K; ++k) {
            if (live && k < mine) {
                float y[N];
#pragma unroll
                for (int e = 0; e < N; ++e)
                    y[e] = (rs_up(cur.x[k].get(e)) * rstd) * (rs_up(wa[k].get(e)) + woff);
                P v;
                rs_pack_floats(v, y);
                op[k * C] = v;
            }
        }
        if (tail) out[rl * os + ti] = rs_down<T>((rs_up(cur.xt) * rstd) * (rs_up(wt) + woff));
        if (STREAM) cur = nxt;
    }
}

// Rows on the two-pass path (longer rows, or any operand not 16-byte aligned: then groups
// is 0 and every element goes one at a time).
template <typename T, bool FUSED>
__device__ __forceinline__ void rs_rms_passes(const T* x, T* res, const T* w, T* out,
                                              rs_i64 rows, rs_i64 hidden, rs_i64 groups,
                                              rs_i64 xs, rs_i64 rsd, rs_i64 os, float eps,
                                              float woff, int lc, float (*part)[RS_NWAVES]) {
    constexpr int N = 16 / sizeof(T);
    constexpr int U = FUSED ? RS_RMS_FUSED_UNROLL : RS_RMS_UNROLL;
    typedef rs_pack<T, N> P;
    const int C = 1 << lc, R = (int)(blockDim.x >> lc);
    const int lane = (int)(threadIdx.x & (C - 1));
    const int sub = (int)(threadIdx.x >> lc);
    int buf = 0;
    for (rs_i64 r0 = (rs_i64)blockIdx.x * R; r0 < rows; r0 += (rs_i64)gridDim.x * R) {
        const rs_i64 r = r0 + sub;
        const bool live = sub < R && r < rows;
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
                            float s[N];
#pragma unroll
                            for (int e = 0; e < N; ++e)
                                s[e] = rs_up(a[u].get(e)) + rs_up(b[u].get(e));
                            rs_pack_floats(a[u], s);
                            reinterpret_cast<P*>(rr)[j] = a[u];
                        }
#pragma unroll
                        for (int e = 0; e < N; ++e) {
                            const float f = rs_up(a[u].get(e));
                            acc += f * f;
                        }
                    }
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
        const float sum = rs_row_sum(acc, C, part[buf]);
        buf ^= 1;
        if (!live) continue;
        const float rstd = rs_rstd(sum, (float)hidden, eps);
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
                    float y[N];
#pragma unroll
                    for (int e = 0; e < N; ++e)
                        y[e] = (rs_up(a[u].get(e)) * rstd) * (rs_up(ww[u].get(e)) + woff);
                    P v;
                    rs_pack_floats(v, y);
                    reinterpret_cast<P*>(orow)[j] = v;
                }
            }
        }
#pragma unroll 1
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
    const bool wide = (1 << lc) >= 8;  // the one-read paths' tail rule needs C >= 8
    if (vec && wide && groups <= ((rs_i64)2 << lc))
        rs_rms_cached<T, 2, FUSED, !FUSED || RS_RMS_FUSED_STREAM, false>(x, res, w, out, rows, (int)hidden,
                                                  (int)groups, xs, rsd, os, eps, woff, lc,
                                                  part);
    else if (vec && wide && (!FUSED || RS_RMS_FUSED_K4) && groups <= ((rs_i64)4 << lc))
        rs_rms_cached<T, 4, FUSED, false, FUSED>(x, res, w, out, rows, (int)hidden,
                                                 (int)groups, xs, rsd, os, eps, woff, lc, part);
    else
        rs_rms_passes<T, FUSED>(x, res, w, out, rows, hidden, groups, xs, rsd, os, eps, woff,
                                lc, part);
}

#define RS_RMS_ENTRIES(DT, T)                                                                 \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK, RS_RMS_MIN_BLOCKS)                 \
        rms_norm_##DT(const T* x, const T* weight, T* out, long long rows, long long hidden,  \
                      long long x_stride, long long out_stride, float eps,                    \
                      float weight_offset) {                                                  \
        rs_rms_norm<T, false>(x, nullptr, weight, out, rows, hidden, x_stride, 0, out_stride, \
                              eps, weight_offset);                                            \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK, RS_RMS_FUSED_MIN_BLOCKS)           \
        fused_add_rms_norm_##DT(T* x, T* residual, const T* weight, long long rows,           \
                                long long hidden, long long x_stride,                         \
                                long long residual_stride, float eps, float weight_offset) {  \
        rs_rms_norm<T, true>(x, residual, weight, x, rows, hidden, x_stride, residual_stride, \
                             x_stride, eps, weight_offset);                                   \
    }

RS_RMS_ENTRIES(f32, float)
RS_RMS_ENTRIES(f16, rs_f16)
RS_RMS_ENTRIES(bf16, rs_bf16)

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
