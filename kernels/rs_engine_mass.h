// rs_engine_mass.h -- the kept-mass phase (state RS_S_MASS: min-p's second phase; also top-p
// phase 1 when min-p or p = 1 decides): every block sums, per sub-chunk of its span, the
// mass at or above the cut; the row's last block draws (rs_draw_chunks) or, without a seed,
// leaves the draw to the next launch (RS_S_DRAW). Relies on rs_engine_block.h (the row
// context, rs_load8, rs_last_block) and rs_engine_select.h (rs_draw_chunks).
#pragma once
#include "rs_engine_select.h"
#include "rs_engine_block.h"

// Kept mass of each sub-chunk, then the draw.
// clear: the row's top-p histogram is zeroed by the last block (a top-p phase 1 that found
// min-p or p = 1 deciding).
template <typename T>
__device__ __noinline__ void rs_phase_mass(const rs_args& a, const rs_rowctx& t, rs_u32 thr,
                                           bool clear = false) {
    const int max_exp = rs_exp(t.max_key);
    for (int s = t.s0; s < t.s1; s += RS_DEEP) {  // RS_DEEP sub-chunks of loads in flight
        float v[RS_DEEP][8];
        bool ok[RS_DEEP][8];
#pragma unroll
        for (int q = 0; q < RS_DEEP; ++q) rs_load8(rs_px<T>(t), s + q < t.s1 ? a.vocab : 0, s + q, v[q], ok[q]);
#pragma unroll
        for (int q = 0; q < RS_DEEP; ++q) {
            rs_u64 m = 0ull;
#pragma unroll
            for (int j = 0; j < 8; ++j)
                if (ok[q][j]) m += rs_kept(v[q][j], thr, max_exp);
            if (s + q < t.s1) rs_wave_add(t.w.smass + s + q, m);  // uniform over the block
        }
    }
    if (!rs_last_block(t)) return;
    if (clear) rs_clear_hist(t.w);
    for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) rs_sm.u.f.mass[c] = rs_vld(t.w.smass + c);
    __syncthreads();
    if (!a.has_rng) {
        if (threadIdx.x == 0) {
            t.w.head[RS_H_THR] = thr;
            t.w.head[RS_H_STATE] = RS_S_DRAW;
        }
        return;
    }
    rs_finish(a, t, rs_draw_chunks(rs_px<T>(t), a.vocab, t.nc, thr, max_exp, t.r));
}
