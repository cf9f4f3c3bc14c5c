// topp_sampling.hip -- rocsample kernel module "topp_sampling", kernel ABI version 1.
//
// Top-p sampling in three stages that share a per-row workspace `ws` of
// RS_TOPP_WS_STRIDE (= 260) unsigned long longs, row r at ws + r * 260:
//   ws[0]        key (float bits) of the row maximum, or 0xffffffffffffffff for an invalid row
//   ws[1]        total mass of the row (exact integer mass, see rs_common.h)
//   ws[2 + d]    for top byte d = 0..255 of the key: mass of all tokens whose top byte is > d
//                (the descending prefix sum of mass over coarse value bins)
//   ws[258]      stage 2's cut: the smallest kept key
//   ws[259]      stage 2's kept mass (informative; stage 3 recomputes it exactly)
// The stages must run in order on one stream with the same probs, batch and vocab.
//
// Entry points (extern "C"):
//
//   topp_prefix_sum_kernel(const float* probs, long long row_stride, int batch, int vocab,
//                          unsigned long long* ws)                    env: TOPP_PREFIX_SUM_HSACO
//     Validates each row (NaN, +-Inf, negative or zero mass -> invalid) and writes ws[0..257].
//
//   topp_threshold_kernel(const float* probs, long long row_stride, int batch, int vocab,
//                         const float* top_p, float top_p_val,
//                         unsigned long long* ws)                      env: TOPP_THRESHOLD_HSACO
//     p = top_p ? top_p[r] : top_p_val. Finds the exact cut: every token whose probability is
//     >= the smallest probability in the shortest descending prefix holding >= p of the mass
//     is kept; p >= 1 (or NaN) keeps all. Writes ws[258], ws[259].
//
//   topp_sample_kernel(const float* probs, long long row_stride, int batch, int vocab,
//                      const unsigned long long* ws, unsigned long long seed,
//                      unsigned long long offset, int* out)            env: TOPP_SAMPLE_HSACO
//     Draws one kept token in proportion to probability with Philox4x32-10 (key = seed,
//     counter = (offset, r, 0)); out[r] = token, or -1 for an invalid row. Draws the same token
//     as topk_topp_sampling_kernel with k = 0, min_p = 0 and the same p, seed and offset.
//
// probs rows need not sum to 1; vocab <= 2^23. Grid: (batch, 1, 1). Block: (RS_BLOCK, 1, 1).
// No dynamic shared memory. Each stage reads probs[r, 0:vocab] and its own ws row only.
#include "rs_common.h"

#define RS_WS_INVALID 0xffffffffffffffffull

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
topp_prefix_sum_kernel(const float* probs, long long row_stride, int batch, int vocab,
                       unsigned long long* ws) {
    __shared__ rs_smem sh;
    const int row = blockIdx.x;
    if (row >= batch) return;
    const float* x = probs + (long long)row * row_stride;
    rs_u64* w = ws + (long long)row * RS_TOPP_WS_STRIDE;
    const rs_u32 max_key = rs_row_max_key(x, vocab, &sh);
    if (max_key == 0xffffffffu) {
        if (threadIdx.x == 0) w[0] = RS_WS_INVALID;
        return;
    }
    const int max_exp = rs_exp(max_key);
    for (int d = threadIdx.x; d < 256; d += RS_BLOCK) sh.mass_hist[d] = 0ull;
    __syncthreads();
    rs_for_each(x, vocab, [&](int, float v) {
        rs_u32 key = rs_key(v);
        atomicAdd(&sh.mass_hist[key >> 24], rs_mass(key, max_exp));
    });
    __syncthreads();
    if (threadIdx.x == 0) {
        rs_u64 above = 0ull;
        for (int d = 255; d >= 0; --d) {
            w[2 + d] = above;
            above += sh.mass_hist[d];
        }
        w[0] = max_key;
        w[1] = above;
    }
}

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
topp_threshold_kernel(const float* probs, long long row_stride, int batch, int vocab,
                      const float* top_p, float top_p_val, unsigned long long* ws) {
    __shared__ rs_smem sh;
    const int row = blockIdx.x;
    if (row >= batch) return;
    const float* x = probs + (long long)row * row_stride;
    rs_u64* w = ws + (long long)row * RS_TOPP_WS_STRIDE;
    const rs_u64 state = w[0];
    if (state == RS_WS_INVALID) return;
    const rs_u32 max_key = (rs_u32)state;
    const float p = top_p ? top_p[row] : top_p_val;
    rs_u32 thr = 0u;
    rs_u64 kept = w[1];
    if (p < 1.0f) thr = rs_select_mass(x, vocab, 0u, p, rs_exp(max_key), &sh, &kept, w[1], w + 2);
    if (threadIdx.x == 0) {
        w[258] = thr;
        w[259] = kept;
    }
}

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
topp_sample_kernel(const float* probs, long long row_stride, int batch, int vocab,
                   const unsigned long long* ws, unsigned long long seed,
                   unsigned long long offset, int* out) {
    __shared__ rs_smem sh;
    const int row = blockIdx.x;
    if (row >= batch) return;
    const float* x = probs + (long long)row * row_stride;
    const rs_u64* w = ws + (long long)row * RS_TOPP_WS_STRIDE;
    const rs_u64 state = w[0];
    if (state == RS_WS_INVALID) {
        if (threadIdx.x == 0) out[row] = -1;
        return;
    }
    const int max_exp = rs_exp((rs_u32)state);
    const int tok = rs_draw(x, vocab, (rs_u32)w[258], max_exp,
                            rs_philox_u64(seed, offset, row), &sh);
    if (threadIdx.x == 0) out[row] = tok;
}
