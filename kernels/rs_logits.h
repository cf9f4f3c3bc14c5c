// rs_logits.h -- the row softmax's arithmetic, written once for the softmax entries
// (sampling_utils.hip) and the engine's logit rows (logits_sampling.hip): both form a row's
// maximum and sum from the same per-span words and each probability with the same operations,
// so the engine sampling logits draws from exactly the probabilities softmax writes.
// Relies on rs_common.h (rs_u64, rs_u32).
#pragma once
#include "rs_common.h"

#define RS_NEG_INF (-__uint_as_float(0x7f800000u))
#define RS_QNAN __uint_as_float(0x7fc00000u)

__device__ __forceinline__ float rs_row_temperature(const float* t, float t_val, int row) {
    return t ? t[row] : t_val;
}

// A row's softmax: mode 0 an invalid row (NaN or +Inf logits, no finite logit, or a negative
// or NaN temperature: every probability NaN), 1 greedy (T = 0: 1 at the maximum, else 0),
// 2 exp(x / t - zmax) / s with zmax = mx / t.
struct rs_softmax_row {
    float t, zmax, s, mx;
    int mode;
};

__device__ __forceinline__ rs_softmax_row rs_softmax_row_of(float t, float mx, float s) {
    rs_softmax_row r;
    r.t = t;
    r.mx = mx;
    r.s = s;
    r.zmax = mx / t;
    r.mode = (mx != mx || !(t >= 0.0f) || mx == RS_NEG_INF) ? 0 : t == 0.0f ? 1 : 2;
    return r;
}

// exp(v / t - zmax) / s: the one expression of a probability at T > 0.
__device__ __forceinline__ float rs_softmax_e(float v, float t, float zmax, float s) {
    return expf(v / t - zmax) / s;
}

// The probability of logit v (widened exactly) in row r.
__device__ __forceinline__ float rs_softmax_p(const rs_softmax_row& r, float v) {
    if (r.mode == 2) return rs_softmax_e(v, r.t, r.zmax, r.s);
    if (r.mode == 1) return v == r.mx ? 1.0f : 0.0f;
    return RS_QNAN;
}

// Span g's share of its row's sum: its own sum (taken at its own maximum m) rescaled to the
// row's, 0 for a span without a finite logit. A product rounded on its own (no fused add
// into the running sum), so a sum of these terms in order g has the same bits however the
// terms were formed (rs_lg_setup forms them a lane each).
__device__ __forceinline__ float rs_softmax_term(rs_u64 word, float t, float zmax) {
    const float m = __uint_as_float((rs_u32)(word >> 32));
    return m == RS_NEG_INF ? 0.0f : __fmul_rn(__uint_as_float((rs_u32)word), expf(m / t - zmax));
}

// The row maximum (NaN when a span saw NaN or +Inf) and sum from the G words of a row's spans
// (softmax_stats_kernel's part[r * G + g] = bits of the span's maximum << 32 | bits of its
// sum): the sum of the terms in order g = 0 .. G-1, so every reader gets the same two values.
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
        const float zmax = mx / t;
        for (int g = 0; g < g_count; ++g) s = s + rs_softmax_term(pr[g], t, zmax);
    }
    *mx_out = bad ? RS_QNAN : mx;
    *s_out = s;
}
