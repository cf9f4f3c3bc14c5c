// topk_topp_sampling.hip -- rocsample kernel module "topk_topp_sampling" (ABI RS_ABI_VERSION).
//
// Entry point (extern "C"):
//
//   topk_topp_sampling_kernel(const float* probs, long long row_stride, int batch, int vocab,
//                             const int* top_k, int top_k_val,
//                             const float* top_p, float top_p_val,
//                             const float* min_p, float min_p_val,
//                             unsigned long long seed, unsigned long long offset,
//                             const unsigned long long* seeds,
//                             const unsigned long long* offsets, int* out,
//                             unsigned long long* ws, int phase, int nphase)
//     env override: FUSED_SAMPLING_HSACO
//     Per row r (each parameter from its array when the pointer is non-NULL, else the scalar):
//       1. top-k: keep probabilities >= the k-th largest (ties kept); k <= 0 or >= vocab: all.
//       2. top-p on what top-k kept, renormalised: keep probabilities >= the smallest one in the
//          shortest descending prefix holding >= p of the kept mass; p >= 1 (or NaN): no cut.
//       3. min-p: keep probabilities >= min_p * max (exact product); min_p <= 0: no cut.
//     Then one draw from the kept tokens in proportion to probability, Philox4x32-10 with
//     key = seed and counter = (offset, r, 0), written to out[r]; -1 for an invalid row
//     (NaN, +-Inf, negative, zero mass) or when nothing is kept (min_p > 1).
//     seeds, offsets: batch per-row values in device memory, or NULL. When either is given,
//     row r draws with key = (seeds ? seeds[r] : seed), counter = ((offsets ? offsets[r] :
//     offset), 0, 0): its token depends on its own (seed, offset) only (rs_row_draw).
//     With k = 0, p = 1, min_p = 0 this is plain sampling; it draws the same token as
//     topk_sampling_kernel and the top-p pipeline for the same parameters and (seed, offset).
//
// Launched once per phase, phase = 0 .. nphase-1, in order on one stream with the same
// arguments: nphase = 1 when every row has 0 < k < vocab (k <= 128 reads the row once) or
// no row has any filter (plain sampling reads the row once), else 2 (min-p; top-p without
// top-k reads the row twice). A larger nphase only adds launches that find the rows done.
// Any row still without a token after the last phase is finished by one block.
// With G = 1 the first launch completes every row (it runs the later phases itself); the
// later launches then find every row done and may be skipped.
// On NVIDIA sm_90 and later a launch after the first may be a programmatic dependent launch
// (it may start while the previous one runs): every entry waits for the previous grid before
// it reads ws (griddepcontrol.wait; the module defines rocsample_grid_wait to say so).
// ws: batch * 2049 + batch * rs_ws_words(vocab) unsigned long longs (rs_engine.h); its first
// batch * 2049 words (each row's 2048-bin top-p histogram, then a ticket per row) must be zero
// before the call (the kernels leave them zero); not shared by calls that may overlap.
// probs: batch rows of vocab float32, row r at probs + r * row_stride (elements); need not sum
// to 1. 1 <= vocab <= 2^23. Grid: (batch, G, 1), 1 <= G <= ceil(vocab / 4096), the same G
// for every phase. Block: (RS_BLOCK, 1, 1).
//   topk_topp_sampling_kernel_f16, topk_topp_sampling_kernel_bf16: the same with probs of
//   IEEE binary16 or bfloat16 values (2 bytes, read in place, 16-byte loads when a row is
//   16-byte aligned), each widened exactly to float32: the token is the one the float32 entry
//   draws for the widened probabilities. Companions, optional in a code object
//   (FUSED_SAMPLING_HSACO).
// Included with RS_RISE_MODULE defined (by topk_topp_sampling_rise.hip, module "topk_topp_sampling_rise",
// FUSED_SAMPLING_RISE_HSACO) it defines topk_topp_sampling_rise_kernel{,_f16,_bf16} instead.
// No dynamic shared memory. Reads probs[r, 0:vocab], ws and seeds[r]/offsets[r] only; writes out[r] and ws only;
// every loop is bounded by vocab.
#include "rs_engine.h"

// One entry per element type of probs: float, then the 2-byte companions.
#define RS_FUSED_ENTRY(NAME, T, RISE)                                                         \
    extern "C" __global__ void RS_ENGINE_BOUNDS                                               \
    NAME(const T* probs, long long row_stride, int batch, int vocab, const int* top_k,        \
         int top_k_val, const float* top_p, float top_p_val, const float* min_p,              \
         float min_p_val, unsigned long long seed, unsigned long long offset,                 \
         const unsigned long long* seeds, const unsigned long long* offsets, int* out,        \
         unsigned long long* ws, int phase, int nphase) {                                     \
        rs_args a;                                                                            \
        a.probs = probs;                                                                      \
        a.row_stride = row_stride;                                                            \
        a.batch = batch;                                                                      \
        a.vocab = vocab;                                                                      \
        a.top_k = top_k;                                                                      \
        a.top_k_val = top_k_val;                                                              \
        a.top_p = top_p;                                                                      \
        a.top_p_val = top_p_val;                                                              \
        a.min_p = min_p;                                                                      \
        a.min_p_val = min_p_val;                                                              \
        a.has_rng = true;                                                                     \
        a.p_later = false;                                                                    \
        a.seed = seed;                                                                        \
        a.offset = offset;                                                                    \
        a.seeds = seeds;                                                                      \
        a.offsets = offsets;                                                                  \
        a.out = out;                                                                          \
        a.ws = ws;                                                                            \
        a.phase = phase;                                                                      \
        a.nphase = nphase;                                                                    \
        rs_engine<T, RISE>(a);                                                                \
    }

#ifndef RS_RISE_MODULE
RS_FUSED_ENTRY(topk_topp_sampling_kernel, float, false)
RS_FUSED_ENTRY(topk_topp_sampling_kernel_f16, rs_f16, false)
RS_FUSED_ENTRY(topk_topp_sampling_kernel_bf16, rs_bf16, false)
#else  // the rise module's entries: the rising candidate scan, no other
RS_FUSED_ENTRY(topk_topp_sampling_rise_kernel, float, true)
RS_FUSED_ENTRY(topk_topp_sampling_rise_kernel_f16, rs_f16, true)
RS_FUSED_ENTRY(topk_topp_sampling_rise_kernel_bf16, rs_bf16, true)
#endif
