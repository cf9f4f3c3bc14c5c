// logits_sampling.hip -- rocsample kernel module "logits_sampling" (ABI RS_ABI_VERSION).
//
// Entry point (extern "C"):
//
//   logits_sampling_kernel(const float* logits, long long row_stride, int batch, int vocab,
//                          const float* temperature, float temperature_val,
//                          const unsigned long long* part, int part_g,
//                          const int* top_k, int top_k_val,
//                          const float* top_p, float top_p_val,
//                          const float* min_p, float min_p_val,
//                          unsigned long long seed, unsigned long long offset,
//                          const unsigned long long* seeds,
//                          const unsigned long long* offsets, int* out,
//                          unsigned long long* ws, int phase, int nphase)
//     env override: LOGITS_SAMPLING_HSACO
//     topk_topp_sampling_kernel (topk_topp_sampling.hip: the filters, the draw, the phases, the
//     workspace, the grid, token -1 for an invalid row) applied to the rows of
//     softmax(logits[r, :] / T_r), T_r = temperature ? temperature[r] : temperature_val, without
//     that softmax being written: every element the engine loads is made the probability
//     softmax_write_kernel (sampling_utils.hip) writes for it, by the same operations
//     (rs_logits.h), from the row's maximum and sum that softmax_stats_kernel left in
//     part[r * part_g .. r * part_g + part_g - 1] (launched before on the same stream with grid
//     (batch, part_g, 1); part is only read). The token is therefore exactly the one
//     topk_topp_sampling_kernel draws from softmax_write_kernel's output, and the row is read
//     once a phase (twice in all with softmax_stats_kernel for plain and top-k sampling, where
//     writing the softmax and sampling it read it twice and write it once in float32).
//     T_r == 0 is greedy as in softmax_kernel (1 at the row maximum, ties drawn among).
//     1 <= part_g; logits need not be finite (an invalid row draws -1).
//   logits_sampling_kernel_f16, logits_sampling_kernel_bf16: the same with logits of IEEE
//     binary16 or bfloat16 values (2 bytes, read in place and widened exactly; part from the
//     matching softmax_stats_kernel_f16/_bf16): the token is the float32 entry's for the
//     widened logits. Companions, optional in a code object (LOGITS_SAMPLING_HSACO).
// Included with RS_RISE_MODULE defined (by logits_sampling_rise.hip, module "logits_sampling_rise",
// LOGITS_SAMPLING_RISE_HSACO) it defines logits_sampling_rise_kernel{,_f16,_bf16} instead.
// No dynamic shared memory. Reads logits[r, 0:vocab], part, temperature[r], the filter arrays,
// ws and seeds[r]/offsets[r] only; writes out[r] and ws only; every loop is bounded by vocab or
// part_g.
#include "rs_engine.h"

// One entry per element type of the logits: float, then the 2-byte companions.
#define RS_LOGITS_ENTRY(NAME, U, RISE)                                                        \
    extern "C" __global__ void RS_ENGINE_BOUNDS                                               \
    NAME(const U* logits, long long row_stride, int batch, int vocab,                         \
         const float* temperature, float temperature_val, const unsigned long long* part,     \
         int part_g, const int* top_k, int top_k_val, const float* top_p, float top_p_val,    \
         const float* min_p, float min_p_val, unsigned long long seed,                        \
         unsigned long long offset, const unsigned long long* seeds,                          \
         const unsigned long long* offsets, int* out, unsigned long long* ws, int phase,      \
         int nphase) {                                                                        \
        if (part_g < 1) {  /* no row softmax to sample from */                                \
            if (blockIdx.y == 0 && threadIdx.x == 0 && out && (int)blockIdx.x < batch)        \
                out[blockIdx.x] = -1;                                                         \
            return;                                                                           \
        }                                                                                     \
        rs_args a;                                                                            \
        a.probs = logits;                                                                     \
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
        a.part = part;                                                                        \
        a.part_g = part_g;                                                                    \
        a.temperature = temperature;                                                          \
        a.temperature_val = temperature_val;                                                  \
        rs_engine<rs_lg<U>, RISE>(a);                                                         \
    }

#ifndef RS_RISE_MODULE
RS_LOGITS_ENTRY(logits_sampling_kernel, float, false)
RS_LOGITS_ENTRY(logits_sampling_kernel_f16, rs_f16, false)
RS_LOGITS_ENTRY(logits_sampling_kernel_bf16, rs_bf16, false)
#else  // the rise module's entries: the rising candidate scan, no other
RS_LOGITS_ENTRY(logits_sampling_rise_kernel, float, true)
RS_LOGITS_ENTRY(logits_sampling_rise_kernel_f16, rs_f16, true)
RS_LOGITS_ENTRY(logits_sampling_rise_kernel_bf16, rs_bf16, true)
#endif
