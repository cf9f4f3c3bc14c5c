// rs_logits.h -- the row softmax's arithmetic, written once for the softmax entries
// (sampling_utils.hip) and the engine's logit rows (logits_sampling.hip): both form a row's
// maximum and sum from the same per-span words and each probability with the same operations,
// so the engine sampling logits draws from exactly the probabilities softmax writes.
// Relies on rs_common.h (rs_u64, rs_u32).
#pragma once
#include "rs_common.h"

#define RS_NEG_INF (-__uint_as_float(0x7f800000u))
#define RS_QNAN __uint_as_float(0x7fc00000u)
#define RS_LOG2E 1.44269504088896341f  // log2(e), rounded to float

__device__ __forceinline__ float rs_row_temperature(const float* t, float t_val, int row) {
    return t ? t[row] : t_val;
}

// exp(x / t) at a temperature t > 0 is exp2(x * c) with c = log2(e) / t, and exp(x / t - m / t)
// is rs_softmax_x(x, c, zc) with zc = m * c: one fused multiply-add and one exp2 an element
// (x / t, a subtraction, expf and a division by the sum once took about 25 instructions and
// three transcendental-unit operations). zc is always rs_softmax_z's product, rounded on its
// own, so every kernel that forms it from the same m and c gets the same bits.
__device__ __forceinline__ float rs_softmax_c(float t) { return RS_LOG2E / t; }
__device__ __forceinline__ float rs_softmax_z(float m, float c) { return __fmul_rn(m, c); }
// 2^x. CUDA: the transcendental unit's ex2 alone, results below 2^-126 flushed to +0 (exp2f
// adds a scaling around it for subnormal results: three more instructions an element in the
// softmax's and the logit engine's inner loops; such a term is below 2^-126 of the row's
// largest and carries no mass the sampler can draw).
__device__ __forceinline__ float rs_exp2(float x) {
#ifdef RS_CUDA
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
#else
    return exp2f(x);
#endif
}
__device__ __forceinline__ float rs_softmax_x(float v, float c, float zc) {
    return rs_exp2(fmaf(v, c, -zc));
}

// A row's softmax: mode 0 an invalid row (NaN or +Inf logits, no finite logit, or a negative
// or NaN temperature: every probability NaN), 1 greedy (T = 0: 1 at the maximum, else 0),
// 2 rs_softmax_x(v, c, zc) * r with c = log2(e) / t, zc = mx * c and r = 1 / s.
struct rs_softmax_row {
    float c, zc, r, mx;
    int mode;
};

__device__ __forceinline__ rs_softmax_row rs_softmax_row_of(float t, float mx, float s) {
    rs_softmax_row r;
    r.mx = mx;
    r.c = rs_softmax_c(t);
    r.zc = rs_softmax_z(mx, r.c);
    r.r = 1.0f / s;
    r.mode = (mx != mx || !(t >= 0.0f) || mx == RS_NEG_INF) ? 0 : t == 0.0f ? 1 : 2;
    return r;
}

// The probability of logit v (widened exactly) in row r: the product rounded on its own, so
// no kernel fuses it into what follows.
__device__ __forceinline__ float rs_softmax_p(const rs_softmax_row& r, float v) {
    if (r.mode == 2) return __fmul_rn(rs_softmax_x(v, r.c, r.zc), r.r);
    if (r.mode == 1) return v == r.mx ? 1.0f : 0.0f;
    return RS_QNAN;
}

// rs_softmax_p of each of N logits, in place (the row's mode tested once, not an element).
template <int N>
__device__ __forceinline__ void rs_softmax_pn(const rs_softmax_row& r, float (&v)[N]) {
    if (r.mode == 2) {
#pragma unroll
        for (int j = 0; j < N; ++j) v[j] = __fmul_rn(rs_softmax_x(v[j], r.c, r.zc), r.r);
    } else {
#pragma unroll
        for (int j = 0; j < N; ++j) v[j] = rs_softmax_p(r, v[j]);
    }
}

// A partial sum s taken at its own maximum m, rescaled to the row's (zc = the row maximum
// times c); 0 when m is -Inf (no finite logit). A product rounded on its own (no fused add
// into a running sum), so a sum of these terms in a fixed order has the same bits however the
// terms were formed (rs_lg_setup forms them a lane each).
__device__ __forceinline__ float rs_softmax_rescale(float m, float s, float c, float zc) {
    return m == RS_NEG_INF ? 0.0f : __fmul_rn(s, rs_softmax_x(m, c, zc));
}

// Span g's share of its row's sum, from its word (bits of its maximum << 32 | bits of its sum
// at that maximum).
__device__ __forceinline__ float rs_softmax_term(rs_u64 word, float c, float zc) {
    return rs_softmax_rescale(__uint_as_float((rs_u32)(word >> 32)),
                              __uint_as_float((rs_u32)word), c, zc);
}

// The row maximum (NaN when a span saw NaN or +Inf) and sum from the G words of a row's spans
// (softmax_stats_kernel's part[r * G + g]): the sum of the terms in order g = 0 .. G-1, so
// every reader gets the same two values.
__device__ __forceinline__ void rs_softmax_parts(const rs_u64* pr, int g_count, float t,
                                                 float* mx_out, float* s_out) {
    float mx = RS_NEG_INF;
    bool bad = false;
    for (int g = 0; g < g_count; ++g) {
        const float m = __uint_as_float((rs_u32)(pr[g] >> 32));
        if (m != m) bad = true;
        else mx = m > mx ? m : mx;
    }
    float s = 0.0f;
    if (!bad && t > 0.0f && mx != RS_NEG_INF) {
        const float c = rs_softmax_c(t), zc = rs_softmax_z(mx, c);
        for (int g = 0; g < g_count; ++g) s = s + rs_softmax_term(pr[g], c, zc);
    }
    *mx_out = bad ? RS_QNAN : mx;
    *s_out = s;
}
