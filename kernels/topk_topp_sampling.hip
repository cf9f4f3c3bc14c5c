// topk_topp_sampling.hip -- rocsample kernel module "topk_topp_sampling", kernel ABI version 1.
//
// Entry point (extern "C"):
//
//   topk_topp_sampling_kernel(const float* probs, long long row_stride, int batch, int vocab,
//                             const int* top_k, int top_k_val,
//                             const float* top_p, float top_p_val,
//                             const float* min_p, float min_p_val,
//                             unsigned long long seed, unsigned long long offset, int* out)
//     env override: FUSED_SAMPLING_HSACO
//     Per row r (each parameter from its array when the pointer is non-NULL, else the scalar):
//       1. top-k: keep probabilities >= the k-th largest (ties kept); k <= 0 or >= vocab: all.
//       2. top-p on what top-k kept, renormalised: keep probabilities >= the smallest one in the
//          shortest descending prefix holding >= p of the kept mass; p >= 1 (or NaN): no cut.
//       3. min-p: keep probabilities >= min_p * max (exact product); min_p <= 0: no cut.
//     Then one draw from the kept tokens in proportion to probability, Philox4x32-10 with
//     key = seed and counter = (offset, r, 0), written to out[r]; -1 for an invalid row
//     (NaN, +-Inf, negative, zero mass) or when nothing is kept (min_p > 1).
//     With k = 0, p = 1, min_p = 0 this is plain sampling; it draws the same token as
//     topk_sampling_kernel and the top-p pipeline for the same parameters and (seed, offset).
//
// probs: batch rows of vocab float32, row r at probs + r * row_stride (elements); need not sum
// to 1. vocab <= 2^23. Grid: (batch, 1, 1). Block: (RS_BLOCK, 1, 1). No dynamic shared memory.
// Reads probs[r, 0:vocab] only; writes out[r] only; every loop is bounded by vocab.
#include "rs_common.h"

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
topk_topp_sampling_kernel(const float* probs, long long row_stride, int batch, int vocab,
                          const int* top_k, int top_k_val, const float* top_p, float top_p_val,
                          const float* min_p, float min_p_val, unsigned long long seed,
                          unsigned long long offset, int* out) {
    __shared__ rs_smem sh;
    const int row = blockIdx.x;
    if (row >= batch) return;
    const float* x = probs + (long long)row * row_stride;
    const rs_u32 max_key = rs_row_max_key(x, vocab, &sh);
    if (max_key == 0xffffffffu) {
        if (threadIdx.x == 0) out[row] = -1;
        return;
    }
    const int max_exp = rs_exp(max_key);
    const int k = top_k ? top_k[row] : top_k_val;
    const float p = top_p ? top_p[row] : top_p_val;
    const float mp = min_p ? min_p[row] : min_p_val;
    rs_u32 thr = (k > 0 && k < vocab) ? rs_select_kth(x, vocab, k, &sh) : 0u;
    if (p < 1.0f) {
        rs_u64 kept;
        thr = rs_select_mass(x, vocab, thr, p, max_exp, &sh, &kept, 0ull, 0);
    }
    const rs_u32 mthr = rs_min_p_key(mp, max_key);
    thr = mthr > thr ? mthr : thr;
    const int tok = rs_draw(x, vocab, thr, max_exp, rs_philox_u64(seed, offset, row), &sh);
    if (threadIdx.x == 0) out[row] = tok;
}
