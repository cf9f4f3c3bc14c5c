// Experiment (session 7, issue 22): compact entries for calls of few rows, to test whether
// the general kernels' code size (rms_norm_bf16: 38.6 KB of SASS, fused 29.3 KB, swiglu_bf16
// 8.7 KB) costs the latency-bound small calls their last 0.2-0.4 us against FlashInfer (its
// kernels are small and single-path). Not a library module.
//
//   rmsrow_DT(x, w, out, rows, hidden, xs, os, eps, woff): a block a row (grid-stride over
//     rows), every thread at most two 16-byte groups held in registers (needs 2 blockDim.x >=
//     hidden / N, hidden % N == 0, 16-byte aligned rows).
//   fusedrow_DT(x, res, w, rows, hidden, xs, rs, eps, woff): the same, residual += x first.
//   rmsloop_DT / fusedloop_DT: FlashInfer's shape: a block a row, a loop over the row's
//     groups (any block), the sum of squares, then a second loop re-reading the row (cache).
//   siluflat_DT(x, out, rows, d, xs, os): grid (groups / blockDim, rows), a group a thread.
#include "rs_mlp.h"

#define RS_SB 1024
#define RS_SW (RS_SB / RS_WAVE)

// Sum over the block (any blockDim.x that is a multiple of the wave), to every thread.
__device__ __forceinline__ float rs_bsum(float v, float* sh) {
    for (int m = RS_WAVE / 2; m > 0; m >>= 1) v += RS_SHFL_XOR(v, m);
    const int waves = (int)(blockDim.x / RS_WAVE);
    if (waves == 1) return v;
    if (threadIdx.x % RS_WAVE == 0) sh[threadIdx.x / RS_WAVE] = v;
    __syncthreads();
    float s = 0.0f;
    for (int k = 0; k < waves; ++k) s += sh[k];
    __syncthreads();  // sh is free again for the next row
    return s;
}

template <typename T, bool FUSED>
__device__ __forceinline__ void rs_rms_row(const T* x, T* res, const T* w, T* out, rs_i64 rows,
                                           int hidden, rs_i64 xs, rs_i64 rsd, rs_i64 os,
                                           float eps, float woff) {
    __shared__ float sh[RS_SW];
    constexpr int N = 16 / sizeof(T);
    typedef rs_pack<T, N> P;
    const int groups = hidden / N;
    const int j0 = (int)threadIdx.x, j1 = j0 + (int)blockDim.x;
    const bool h0 = j0 < groups, h1 = j1 < groups;
    const P* wp = reinterpret_cast<const P*>(w);
    for (rs_i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const P* xp = reinterpret_cast<const P*>(x + r * xs);
        P* rp = reinterpret_cast<P*>(res + (FUSED ? r * rsd : 0));
        P a0, a1, b0, b1, w0, w1;
        if (h0) {
            a0 = xp[j0];
            if (FUSED) b0 = rp[j0];
            w0 = wp[j0];
        }
        if (h1) {
            a1 = xp[j1];
            if (FUSED) b1 = rp[j1];
            w1 = wp[j1];
        }
        float acc = 0.0f;
        if (h0) {
            if (FUSED) {
                float s[N];
#pragma unroll
                for (int e = 0; e < N; ++e) s[e] = rs_up(a0.get(e)) + rs_up(b0.get(e));
                rs_pack_floats(a0, s);
                rp[j0] = a0;
            }
#pragma unroll
            for (int e = 0; e < N; ++e) acc += rs_up(a0.get(e)) * rs_up(a0.get(e));
        }
        if (h1) {
            if (FUSED) {
                float s[N];
#pragma unroll
                for (int e = 0; e < N; ++e) s[e] = rs_up(a1.get(e)) + rs_up(b1.get(e));
                rs_pack_floats(a1, s);
                rp[j1] = a1;
            }
#pragma unroll
            for (int e = 0; e < N; ++e) acc += rs_up(a1.get(e)) * rs_up(a1.get(e));
        }
        const float rstd = rsqrtf(rs_bsum(acc, sh) / (float)hidden + eps);
        P* op = reinterpret_cast<P*>(out + r * os);
        if (h0) {
            float y[N];
#pragma unroll
            for (int e = 0; e < N; ++e) y[e] = (rs_up(a0.get(e)) * rstd) * (rs_up(w0.get(e)) + woff);
            P v;
            rs_pack_floats(v, y);
            op[j0] = v;
        }
        if (h1) {
            float y[N];
#pragma unroll
            for (int e = 0; e < N; ++e) y[e] = (rs_up(a1.get(e)) * rstd) * (rs_up(w1.get(e)) + woff);
            P v;
            rs_pack_floats(v, y);
            op[j1] = v;
        }
    }
}

template <typename T, bool FUSED>
__device__ __forceinline__ void rs_rms_loop(const T* x, T* res, const T* w, T* out, rs_i64 rows,
                                            int hidden, rs_i64 xs, rs_i64 rsd, rs_i64 os,
                                            float eps, float woff) {
    __shared__ float sh[RS_SW];
    constexpr int N = 16 / sizeof(T);
    typedef rs_pack<T, N> P;
    const int groups = hidden / N;
    const P* wp = reinterpret_cast<const P*>(w);
    for (rs_i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const P* xp = reinterpret_cast<const P*>(x + r * xs);
        P* rp = reinterpret_cast<P*>(res + (FUSED ? r * rsd : 0));
        float acc = 0.0f;
        for (int j = threadIdx.x; j < groups; j += blockDim.x) {
            P a = xp[j];
            if (FUSED) {
                const P b = rp[j];
                float s[N];
#pragma unroll
                for (int e = 0; e < N; ++e) s[e] = rs_up(a.get(e)) + rs_up(b.get(e));
                rs_pack_floats(a, s);
                rp[j] = a;
            }
#pragma unroll
            for (int e = 0; e < N; ++e) acc += rs_up(a.get(e)) * rs_up(a.get(e));
        }
        const float rstd = rsqrtf(rs_bsum(acc, sh) / (float)hidden + eps);
        const P* src = FUSED ? rp : xp;
        P* op = reinterpret_cast<P*>(out + r * os);
        for (int j = threadIdx.x; j < groups; j += blockDim.x) {
            const P a = src[j], wv = wp[j];
            float y[N];
#pragma unroll
            for (int e = 0; e < N; ++e) y[e] = (rs_up(a.get(e)) * rstd) * (rs_up(wv.get(e)) + woff);
            P v;
            rs_pack_floats(v, y);
            op[j] = v;
        }
    }
}

template <typename T>
__device__ __forceinline__ void rs_silu_flat(const T* x, T* out, rs_i64 rows, int d, rs_i64 xs,
                                             rs_i64 os) {
    constexpr int N = 16 / sizeof(T);
    typedef rs_pack<T, N> P;
    const int groups = d / N;
    const int j = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (j >= groups) return;
    for (rs_i64 r = blockIdx.y; r < rows; r += gridDim.y) {
        const P g = reinterpret_cast<const P*>(x + r * xs)[j];
        const P u = reinterpret_cast<const P*>(x + r * xs + d)[j];
        float y[N];
#pragma unroll
        for (int e = 0; e < N; ++e) {
            const float a = rs_up(g.get(e));  // swiglu.hip's rs_silu_mul_f
            const float t = rs_exp2_fast(-1.4426950408889634f * fabsf(a));
            y[e] = rs_div_fast(a >= 0.0f ? a : a * t, 1.0f + t) * rs_up(u.get(e));
        }
        P v;
        rs_pack_floats(v, y);
        reinterpret_cast<P*>(out + r * os)[j] = v;
    }
}

#define RS_SMALL(DT, T)                                                                        \
    extern "C" __global__ void __launch_bounds__(RS_SB)                                        \
        rmsrow_##DT(const T* x, const T* w, T* out, long long rows, long long hidden,          \
                    long long xs, long long os, float eps, float woff) {                       \
        rs_rms_row<T, false>(x, nullptr, w, out, rows, (int)hidden, xs, 0, os, eps, woff);    \
    }                                                                                          \
    extern "C" __global__ void __launch_bounds__(RS_SB)                                        \
        fusedrow_##DT(T* x, T* res, const T* w, long long rows, long long hidden,              \
                      long long xs, long long rsd, float eps, float woff) {                    \
        rs_rms_row<T, true>(x, res, w, x, rows, (int)hidden, xs, rsd, xs, eps, woff);         \
    }                                                                                          \
    extern "C" __global__ void __launch_bounds__(RS_SB)                                        \
        rmsloop_##DT(const T* x, const T* w, T* out, long long rows, long long hidden,         \
                     long long xs, long long os, float eps, float woff) {                      \
        rs_rms_loop<T, false>(x, nullptr, w, out, rows, (int)hidden, xs, 0, os, eps, woff);   \
    }                                                                                          \
    extern "C" __global__ void __launch_bounds__(RS_SB)                                        \
        fusedloop_##DT(T* x, T* res, const T* w, long long rows, long long hidden,             \
                       long long xs, long long rsd, float eps, float woff) {                   \
        rs_rms_loop<T, true>(x, res, w, x, rows, (int)hidden, xs, rsd, xs, eps, woff);        \
    }                                                                                          \
    extern "C" __global__ void __launch_bounds__(RS_SB)                                        \
        siluflat_##DT(const T* x, T* out, long long rows, long long d, long long xs,           \
                      long long os) {                                                          \
        rs_silu_flat<T>(x, out, rows, (int)d, xs, os);                                         \
    }

RS_SMALL(f32, float)
RS_SMALL(bf16, rs_bf16)
