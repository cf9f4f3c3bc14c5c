// topk_sampling.hip -- rocsample kernel module "topk_sampling", kernel ABI version 1.
//
// Entry point (extern "C"):
//
//   topk_sampling_kernel(const float* probs, long long row_stride, int batch, int vocab,
//                        const int* top_k, int top_k_val,
//                        unsigned long long seed, unsigned long long offset, int* out)
//     env override: TOPK_SAMPLING_HSACO
//     For each row r: k = top_k ? top_k[r] : top_k_val. Keeps every token whose probability
//     is >= the k-th largest (ties kept); k <= 0 or k >= vocab keeps all. Draws one token
//     from the kept tokens in proportion to their (unnormalised) probabilities with
//     Philox4x32-10(key = seed, counter = (offset, r, 0)); writes it to out[r], or -1 for an
//     invalid row (NaN, +-Inf, negative, zero mass).
//
// probs: batch rows of vocab float32, row r at probs + r * row_stride (elements); need not sum
// to 1. vocab <= 2^23. Grid: (batch, 1, 1). Block: (RS_BLOCK, 1, 1). No dynamic shared memory.
// Reads probs[r, 0:vocab] only; writes out[r] only; every loop is bounded by vocab.
#include "rs_common.h"

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
topk_sampling_kernel(const float* probs, long long row_stride, int batch, int vocab,
                     const int* top_k, int top_k_val, unsigned long long seed,
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
    const rs_u32 thr = (k > 0 && k < vocab) ? rs_select_kth(x, vocab, k, &sh) : 0u;
    const int tok = rs_draw(x, vocab, thr, max_exp, rs_philox_u64(seed, offset, row), &sh);
    if (threadIdx.x == 0) out[row] = tok;
}
