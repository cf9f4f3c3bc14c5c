// row8_variants.hip -- session 14 experiment (issue 22), not a library module: ways to hold a
// long row in registers, against the library's entries, compiled with kernels/rms_norm.hip
// (included: its entries are in the same code object).
//   exp_row8s_DT  rms_norm, eight groups a thread at C = RS_BLOCK, a block an SM: the
//                 weight held for every row the block takes and the next row loaded while
//                 this one is reduced and written (the general entries' two-group stream);
//   exp_row4s_DT  the same at four groups a thread, two blocks an SM (64 registers);
//   exp_row4b2_DT / exp_frow4b2_DT  rms_norm / the fused add's row4 entry bounded to two
//                 blocks an SM (64 registers) instead of one;
//   exp_row8d_DT / exp_frow8d_DT  the row8 entries with the weight loaded after the row's
//                 sum (not held through the reduction), bounded to two blocks an SM.
// Same arguments as rms_norm_DT (fused: fused_add_rms_norm_DT). Grid: stream variants
// min(rows, blocks an SM x SMs) blocks of RS_BLOCK; the others a block a row.
#include "rms_norm.hip"

template <typename T, int K>
__device__ __forceinline__ void exp_stream(const T* x, const T* w, T* out, rs_i64 rows,
                                           rs_i64 hidden, rs_i64 xs, rs_i64 os, float eps,
                                           float woff) {
    __shared__ float part[2][RS_NWAVES];
    constexpr int N = 16 / sizeof(T);
    const int groups = (int)((rs_u32)hidden / N);
    const int C = rs_norm_threads(groups);
    int lc = 0;
    while ((1 << lc) < C) ++lc;
    if (!rs_row_call_ok<T, false>(x, nullptr, w, out, xs, 0, os, hidden, K * RS_BLOCK) ||
        groups > K * C || (int)blockDim.x != C)
        return;
    rs_rms_cached<T, K, false, true>(x, nullptr, w, out, rows, (int)hidden, groups, xs, 0, os,
                                     eps, woff, lc, part);
}

// rs_rms_norm_row<T, 8, FUSED> with the weight loaded after the reduction.
template <typename T, bool FUSED>
__device__ __forceinline__ void exp_row8d(const T* x, T* res, const T* w, T* out, rs_i64 rows,
                                          rs_i64 hidden, rs_i64 xs, rs_i64 rsd, rs_i64 os,
                                          float eps, float woff) {
    constexpr int K = 8;
    __shared__ float part[2][RS_NWAVES];
    constexpr int N = 16 / sizeof(T);
    typedef rs_pack<T, N> P;
    const int groups = (int)((rs_u32)hidden / N);
    const int C = rs_norm_threads(groups);
    const bool ok = rs_row_call_ok<T, FUSED>(x, res, w, out, xs, rsd, os, hidden,
                                             RS_RMS_ROW8_GROUPS) &&
                    groups <= K * C && (int)blockDim.x >= C;
    const int t = (int)threadIdx.x;
    bool has[K];
#pragma unroll
    for (int k = 0; k < K; ++k) has[k] = ok && t < C && t + k * C < groups;
    const P* wp = reinterpret_cast<const P*>(w) + t;
    int buf = 0;
    for (rs_i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const P* xp = reinterpret_cast<const P*>(x + r * xs) + t;
        P* rp = FUSED ? reinterpret_cast<P*>(res + r * rsd) + t : nullptr;
        P a[K], b[K];
#pragma unroll
        for (int k = 0; k < K; ++k) {
            if (has[k]) {
                a[k] = xp[k * C];
                if (FUSED) b[k] = rp[k * C];
            }
        }
        float acc = 0.0f;
#pragma unroll
        for (int k = 0; k < K; ++k) {
            if (has[k]) {
                if (FUSED) {
                    float s[N];
#pragma unroll
                    for (int e = 0; e < N; ++e) s[e] = rs_up(a[k].get(e)) + rs_up(b[k].get(e));
                    rs_pack_floats(a[k], s);
                    rp[k * C] = a[k];
                }
                acc += rs_group_sq<T, N>(a[k]);
            }
        }
        const float sum = rs_row_sum(acc, C, part[buf]);
        buf ^= 1;
        const float rstd = rs_rstd(sum, (float)hidden, eps);
        P* op = reinterpret_cast<P*>(out + r * os) + t;
#pragma unroll
        for (int k = 0; k < K; ++k) {
            if (has[k]) {
                const P wv = wp[k * C];
                float y[N];
#pragma unroll
                for (int e = 0; e < N; ++e)
                    y[e] = (rs_up(a[k].get(e)) * rstd) * (rs_up(wv.get(e)) + woff);
                P v;
                rs_pack_floats(v, y);
                op[k * C] = v;
            }
        }
    }
}

#define EXP_ENTRIES(DT, T)                                                                    \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK, 1)                                 \
        exp_row8s_##DT(const T* x, const T* w, T* out, long long rows, long long hidden,      \
                       long long xs, long long os, float eps, float woff) {                   \
        exp_stream<T, 8>(x, w, out, rows, hidden, xs, os, eps, woff);                         \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK, 2)                                 \
        exp_row4s_##DT(const T* x, const T* w, T* out, long long rows, long long hidden,      \
                       long long xs, long long os, float eps, float woff) {                   \
        exp_stream<T, 4>(x, w, out, rows, hidden, xs, os, eps, woff);                         \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK, 2)                                 \
        exp_row4b2_##DT(const T* x, const T* w, T* out, long long rows, long long hidden,     \
                        long long xs, long long os, float eps, float woff) {                  \
        rs_rms_norm_row<T, 4, false>(x, nullptr, w, out, rows, hidden, xs, 0, os, eps, woff); \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK, 2)                                 \
        exp_frow4b2_##DT(T* x, T* res, const T* w, long long rows, long long hidden,          \
                         long long xs, long long rsd, float eps, float woff) {                \
        rs_rms_norm_row<T, 4, true>(x, res, w, x, rows, hidden, xs, rsd, xs, eps, woff);      \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK, 2)                                 \
        exp_row8d_##DT(const T* x, const T* w, T* out, long long rows, long long hidden,      \
                       long long xs, long long os, float eps, float woff) {                   \
        exp_row8d<T, false>(x, nullptr, w, out, rows, hidden, xs, 0, os, eps, woff);          \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK, 2)                                 \
        exp_frow8d_##DT(T* x, T* res, const T* w, long long rows, long long hidden,           \
                        long long xs, long long rsd, float eps, float woff) {                 \
        exp_row8d<T, true>(x, res, w, x, rows, hidden, xs, rsd, xs, eps, woff);               \
    }

EXP_ENTRIES(f32, float)
EXP_ENTRIES(bf16, rs_bf16)
