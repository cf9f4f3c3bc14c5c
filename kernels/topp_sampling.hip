// topp_sampling.hip -- rocsample kernel module "topp_sampling" (ABI RS_ABI_VERSION).
//
// Top-p sampling in three stages that share a workspace `ws` of batch * 2049 + batch *
// rs_ws_words(vocab) unsigned long longs (layout in rs_engine.h) whose first batch * 2049
// words (each row's 2048-bin histogram, then a ticket per row) must be zero before stage 1
// (the kernels leave them zero); not shared by calls that may overlap. The stages run in order
// on one stream with the same probs, batch, vocab, ws and grid. Each stage is one phase of
// the chunked engine: grid (batch, G, 1) with 1 <= G <= ceil(vocab / 4096), block (RS_BLOCK,
// 1, 1), no dynamic shared memory.
// On NVIDIA sm_90 and later a launch after the first may be a programmatic dependent launch
// (it may start while the previous one runs): every entry waits for the previous grid before
// it reads ws (griddepcontrol.wait; the module defines rocsample_grid_wait to say so).
//
// Entry points (extern "C"):
//
//   topp_prefix_sum_kernel(const float* probs, long long row_stride, int batch, int vocab,
//                          unsigned long long* ws)                    env: TOPP_PREFIX_SUM_HSACO
//     Reads each row once: validates it (NaN, +-Inf, negative or zero mass -> invalid), finds
//     its maximum (the mass scale) and sums the significands of its elements per 11-bit key
//     bin; from those sums and the maximum, bounds on the cumulative mass of the bins.
//
//   topp_threshold_kernel(const float* probs, long long row_stride, int batch, int vocab,
//                         const float* top_p, float top_p_val,
//                         unsigned long long* ws)                      env: TOPP_THRESHOLD_HSACO
//     p = top_p ? top_p[r] : top_p_val. Reads each row once more: the bins that may hold the
//     cut (every token whose probability is >= the smallest probability in the shortest
//     descending prefix holding >= p of the mass is kept) follow from the bounds; the exact
//     mass above them and of the row is summed, their elements are gathered and the exact cut
//     is found among them, with the kept mass of every 4096-element sub-chunk. p >= 1 (or
//     NaN): no cut, the kept mass of each sub-chunk instead.
//
//   topp_sample_kernel(const float* probs, long long row_stride, int batch, int vocab,
//                      unsigned long long* ws, unsigned long long seed,
//                      unsigned long long offset, const unsigned long long* seeds,
//                      const unsigned long long* offsets, int* out)  env: TOPP_SAMPLE_HSACO
//     Draws one kept token in proportion to probability with Philox4x32-10 (key = seed,
//     counter = (offset, r, 0)), reading only the sub-chunk the draw lands in; out[r] = token,
//     or -1 for an invalid row. seeds, offsets: batch per-row values in device memory, or
//     NULL; when either is given, row r draws with key = (seeds ? seeds[r] : seed), counter =
//     ((offsets ? offsets[r] : offset), 0, 0) (rs_row_draw). Draws the same token as topk_topp_sampling_kernel with k = 0,
//     min_p = 0 and the same p, seed and offset.
//
//   topp_prefix_sum_kernel_f16, topp_threshold_kernel_f16, topp_sample_kernel_f16, and the
//   same three with _bf16: the stages with probs of IEEE binary16 or bfloat16 values (2
//   bytes, read in place), each widened exactly to float32: the token is the one the float32
//   stages draw for the widened probabilities. Companions, optional in a code object (each
//   with its stage's variable); the three stages of one call use one element type.
//
// probs rows need not sum to 1; 1 <= vocab <= 2^23. Each stage reads probs[r, 0:vocab] (the
// third only one 4096-element sub-chunk unless the cut bins were crowded) and ws.
#define RS_WITH_TOPK 0  // no entry here has a top-k row: leave that code out (rs_engine.h)
#include "rs_engine.h"

__device__ __forceinline__ rs_args rs_topp_args(const void* probs, long long row_stride,
                                                int batch, int vocab, unsigned long long* ws,
                                                int phase) {
    rs_args a;
    a.probs = probs;
    a.row_stride = row_stride;
    a.batch = batch;
    a.vocab = vocab;
    a.top_k = 0;
    a.top_k_val = 0;
    a.top_p = 0;
    a.top_p_val = 1.0f;
    a.min_p = 0;
    a.min_p_val = 0.0f;
    a.has_rng = false;
    a.p_later = phase == 0;
    a.seed = 0ull;
    a.offset = 0ull;
    a.seeds = 0;
    a.offsets = 0;
    a.out = 0;
    a.ws = ws;
    a.phase = phase;
    a.nphase = 3;
    return a;
}

// The three stages per element type of probs: float, then the 2-byte companions.
#define RS_TOPP_ENTRIES(PREFIX_SUM, THRESHOLD, SAMPLE, T)                                     \
    extern "C" __global__ void RS_ENGINE_BOUNDS                                               \
    PREFIX_SUM(const T* probs, long long row_stride, int batch, int vocab,                    \
               unsigned long long* ws) {                                                      \
        rs_engine<T>(rs_topp_args(probs, row_stride, batch, vocab, ws, 0));                   \
    }                                                                                         \
    extern "C" __global__ void RS_ENGINE_BOUNDS                                               \
    THRESHOLD(const T* probs, long long row_stride, int batch, int vocab,                     \
              const float* top_p, float top_p_val, unsigned long long* ws) {                  \
        rs_args a = rs_topp_args(probs, row_stride, batch, vocab, ws, 1);                     \
        a.top_p = top_p;                                                                      \
        a.top_p_val = top_p_val;                                                              \
        rs_engine<T>(a);                                                                      \
    }                                                                                         \
    extern "C" __global__ void RS_ENGINE_BOUNDS                                               \
    SAMPLE(const T* probs, long long row_stride, int batch, int vocab,                        \
           unsigned long long* ws, unsigned long long seed, unsigned long long offset,        \
           const unsigned long long* seeds, const unsigned long long* offsets, int* out) {    \
        rs_args a = rs_topp_args(probs, row_stride, batch, vocab, ws, 2);                     \
        a.has_rng = true;                                                                     \
        a.seed = seed;                                                                        \
        a.offset = offset;                                                                    \
        a.seeds = seeds;                                                                      \
        a.offsets = offsets;                                                                  \
        a.out = out;                                                                          \
        rs_engine<T>(a);                                                                      \
    }

RS_TOPP_ENTRIES(topp_prefix_sum_kernel, topp_threshold_kernel, topp_sample_kernel, float)
RS_TOPP_ENTRIES(topp_prefix_sum_kernel_f16, topp_threshold_kernel_f16, topp_sample_kernel_f16,
                rs_f16)
RS_TOPP_ENTRIES(topp_prefix_sum_kernel_bf16, topp_threshold_kernel_bf16,
                topp_sample_kernel_bf16, rs_bf16)
