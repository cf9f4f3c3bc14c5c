// rs_engine_phase0.h -- phase 0 (rs_phase0): every block scans its span with the scan its
// row needs (rs_engine_scan.h); the row's last block combines the spans' maxima and plans
// the row: it finishes the row at once (top-k or min-p candidates, an invalid row, the
// full-row fallback) or leaves the next phase's state in the workspace head (RS_S_MASS,
// RS_S_HIST). Relies on rs_engine_scan.h, rs_engine_topk.h and rs_engine_select.h
// (rs_slow_row, rs_draw_chunks, rs_select).
#pragma once
#include "rs_engine_scan.h"
#include "rs_engine_topk.h"

// Phase 0: maximum and validity of the span; top-k or min-p candidates of each sub-chunk. The
// last block plans the row.
// Rise: the entries for top-k rows of many candidates (the *_rise entries, in the modules of
// kernels/*_rise.hip): a row whose k x sub-chunks exceeds RS_SHCAND, or whose blocks span at
// least RS_RISE_SPAN2 / RS_RISE_SPAN4 sub-chunks, scans with the rising bound
// (rs_scan_cand<T, true>). The other entries never instantiate that scan, so their code
// is the one without it.
// The top-k candidate scan without the rising bound: rounds of RS_KDEEP sub-chunks for packed
// 2-byte rows whose block spans at least RS_KDEEP_SPAN sub-chunks, of RS_MDEEP otherwise
// (session 28, H200: three a round everywhere made 2-byte top-k 5-15 % faster at 512 rows,
// where a block streams a whole row, and 1-5 % slower at 1-64 rows; float rows were slower at
// 128 rows. Session 29, H100, this rule: 2-byte top-k 20 / 50 at 512 rows 4-6 % faster, the
// other cells within the run's drift; bench/results/2026-12-06-session29).
template <typename T>
__device__ __forceinline__ rs_scan rs_scan_cand_span(const T* x, int vocab, const rs_rowctx& t) {
    if constexpr (rs_packed<T>::value) {
        if (t.s1 - t.s0 >= RS_KDEEP_SPAN) return rs_scan_cand<T, false, RS_KDEEP>(x, vocab, t);
    }
    return rs_scan_cand<T, false>(x, vocab, t);
}

template <typename T, bool Rise = false>
__device__ __noinline__ void rs_phase0(const rs_args& a, const rs_rowctx& t) {
    const int vocab = a.vocab, k = t.k;
    const T* x = rs_px<T>(t);
    const rs_ws& w = t.w;
    const bool kcand = RS_WITH_TOPK && t.topk && k <= RS_KCAND && a.has_rng;
    // min-p alone, one block a row: one read unless a sub-chunk has more candidates than room
    // (then phase 1, in the same launch). With several blocks a row the two phases are faster
    // (H200, 1 x 128256: 22.9 against 26.2 us; 32 rows: 35.2 against 36.4 us).
    const bool mcand = t.ng == 1 && !t.topk && !(t.p < 1.0f) && !a.p_later && t.mp > 0.0f &&
                       a.has_rng;
    const bool cand = kcand || mcand;
    // A row that may need a top-p cut (p comes with the next phase for the top-p stages)
    // gathers the significand histogram: the first of its two reads.
    const bool hist = !t.topk && (a.p_later || t.p < 1.0f);
    const bool ghist = hist && t.ng > 1;  // the histogram went through w.hist
    // k x (sub-chunks) above RS_SHCAND: about k candidates a sub-chunk at the first bound
    // would overflow the last block's shared-memory copy, so the bound may rise (rs_scan_cand).
    // A block of a long span rises too: the candidate writes it saves outweigh the rise's
    // fixed cost there (RS_RISE_SPAN*, the host's rule for these entries).
    const bool rise = Rise && ((long long)k * t.nc > RS_SHCAND ||
                               t.span >= (rs_packed<T>::value ? RS_RISE_SPAN2 : RS_RISE_SPAN4) *
                                             RS_CHUNK);
    const rs_scan sc = kcand ? (rise ? rs_scan_cand<T, Rise>(x, vocab, t)
                                     : rs_scan_cand_span<T>(x, vocab, t))
                             : (mcand ? rs_scan_minp(x, vocab, t)
                                      : (hist ? rs_scan_sig(x, vocab, t) : rs_scan_max(x, vocab, t)));
    rs_u32 mx = sc.mx;
    const rs_u32 bad = sc.bad;
    mx = rs_block_max_u32(bad ? 0xffffffffu : mx, &rs_sm.b);
    for (int c = t.s0 + (int)threadIdx.x; c < t.s1; c += RS_BLOCK) {
        w.smass[c] = 0ull;
        if (hist) w.ccnt[c] = 0ull;  // phase 1 puts each span's mass here
    }
    if (threadIdx.x == 0) w.slot_a[t.g] = mx == 0xffffffffu ? (1ull << 32) : mx;
    if (!rs_last_block(t)) return;

    // ---- the row's last block ----
    rs_u32 rmax = 0u, rbad = 0u;
    for (int g = threadIdx.x; g < t.ng; g += RS_BLOCK) {
        const rs_u64 e = rs_vld(w.slot_a + g);
        rbad |= (rs_u32)(e >> 32);
        rmax = (rs_u32)e > rmax ? (rs_u32)e : rmax;
    }
    const rs_u32 max_key = rs_block_max_u32(rbad ? 0xffffffffu : rmax, &rs_sm.b);
    if (max_key == 0xffffffffu || max_key == 0u) {  // invalid row: NaN, Inf, <0, zero mass
        if (ghist) rs_clear_hist(w);
        rs_finish(a, t, -1);
        return;
    }
    const int max_exp = rs_exp(max_key);
    if (threadIdx.x == 0) {
        w.head[RS_H_MAX] = max_key;
        w.head[RS_H_NCAND] = 0ull;
    }
    if (cand) {
        rs_u32 over = 0u;
        for (int i = threadIdx.x; i < t.nc; i += RS_BLOCK) {
            const rs_u64 n = rs_vld(w.ccnt + i);
            rs_sm.u.f.cnt[i] = (rs_u32)(n < RS_KSLOT ? n : RS_KSLOT);
            over |= n > RS_KSLOT ? 1u : 0u;
        }
        over = rs_block_max_u32(over, &rs_sm.b);
        if (over && kcand) {  // ties beyond the candidate room: the full-row algorithm
            rs_finish(a, t, rs_slow_row(x, vocab, max_key, k, t.p, t.mp, t.r, w));
            return;
        }
        if (!over) {
            const rs_cand_keys list = {w.cand, t.nc};
            rs_u32 thr = 0u;
            if (kcand) {
                const int sh = rs_topk_shared(a, t, max_key);
                if (sh > 0) return;
                // More candidates than the shared copy holds: its recipe over the slots.
                if (sh == 0 && rs_topk_slots(a, t, max_key)) return;
                thr = rs_select<false>(list, 0, 0u, 0u, (rs_u64)k, 0.0, 0ull, max_exp, 0);
                if (rs_topk_small(a, t, thr, max_key, list)) return;
                if (t.p < 1.0f)
                    thr = rs_select<true>(list, 0, 0u, thr, 0ull, -(double)t.p, 0ull, max_exp, 0);
            }
            const rs_u32 mthr = rs_min_p_key(t.mp, max_key);
            thr = mthr > thr ? mthr : thr;
            for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) rs_sm.u.f.mass[c] = 0ull;
            __syncthreads();
            rs_visit_slots(w.cand, t.nc * RS_KSLOT,
                           [](int i) { return i % RS_KSLOT < (int)rs_sm.u.f.cnt[i / RS_KSLOT]; },
                           [&](rs_u64 e, int i) {
                               const rs_u32 key = (rs_u32)e;
                               if (key >= thr)
                                   atomicAdd(&rs_sm.u.f.mass[i / RS_KSLOT], rs_mass(key, max_exp));
                           });
            __syncthreads();
            rs_finish(a, t, rs_draw_chunks(x, vocab, t.nc, thr, max_exp, t.r));
            return;
        }
        // min-p with more candidates than room (flat rows): the kept-mass phase below
    }
    if (RS_WITH_TOPK && t.topk) {  // k > RS_KCAND
        if (a.has_rng) rs_finish(a, t, rs_slow_row(x, vocab, max_key, k, t.p, t.mp, t.r, w));
        return;
    }
    if (t.final_phase && a.has_rng) {  // a one-phase launch of a row that needs more
        if (ghist) rs_clear_hist(w);
        rs_finish(a, t, rs_slow_row(x, vocab, max_key, k, t.p, t.mp, t.r, w));
        return;
    }
    const rs_u32 range =
        hist ? rs_hist_bounds(w, max_exp, t.ng == 1, a.p_later ? 1.0f : t.p) : 0u;
    if (threadIdx.x == 0) {
        if (hist) {
            w.head[RS_H_RANGE] = range;
            w.head[RS_H_STATE] = RS_S_HIST;
        } else {
            w.head[RS_H_THR] = rs_min_p_key(t.mp, max_key);
            w.head[RS_H_STATE] = RS_S_MASS;
        }
    }
}
