// rs_engine_cut.h -- top-p phase 1 (state RS_S_HIST, rs_phase_cut): p is known. From the
// bins' mass bounds, every block sums the exact mass above the range of bins that holds the
// cut and gathers the elements inside it; the row's last block finds the exact cut among
// them (rs_cut_among, or rs_select over the list) and draws, or leaves the draw to the third
// top-p stage. Relies on rs_engine_scan.h (rs_bin_range), rs_engine_mass.h and
// rs_engine_plain.h (the phases it becomes when min-p or p decides instead) and
// rs_engine_select.h (rs_select, rs_pick, rs_draw_chunks).
#pragma once
#include "rs_engine_scan.h"
#include "rs_engine_mass.h"
#include "rs_engine_plain.h"

// ---- the cut among few keys ----

// The top-p cut among n <= RS_BLOCK keys lk[] of nonzero masses lm[] (shared memory): the
// largest key v with base + the mass of the listed keys >= v reaching target, in the
// comparison rs_select makes; thread i < n tests key i in one loop over the list. 0 if no key
// qualifies. Every thread gets the result.
__device__ __forceinline__ rs_u32 rs_cut_among(const rs_u32* lk, const rs_u64* lm, int n,
                                               rs_u64 base, double target) {
    rs_u32 best = 0u;
    if ((int)threadIdx.x < n) {
        const rs_u32 key = lk[threadIdx.x];
        rs_u64 cum = 0ull;
        for (int j = 0; j < n; ++j) cum += lk[j] >= key ? lm[j] : 0ull;
        if ((double)(base + cum) >= target) best = key;
    }
    return rs_block_max_u32(best, &rs_sm.b);
}

// ---- crowded cut bins ----

// Top-p gathers of a block with more elements in the cut's bins than rs_phase_cut's shared
// stage holds (RS_STAGE): its span again, each element straight into the workspace.
#define RS_STAGE ((int)(sizeof(rs_sm.u) / sizeof(rs_u64)))
template <typename T>
__device__ __noinline__ void rs_gather_span(const rs_rowctx& t, int vocab, rs_u32 blo,
                                            rs_u32 bhi, int max_exp) {
    rs_u32* ncand = (rs_u32*)(t.w.head + RS_H_NCAND);
    for (int s = t.s0; s < t.s1; ++s) {
        float v[8];
        bool ok[8];
        rs_load8(rs_px<T>(t), vocab, s, v, ok);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const rs_u32 key = rs_key(v[j]);
            const rs_u32 bin = key >> 20;
            if (ok[j] && bin <= bhi && bin >= blo && rs_mass(key, max_exp) != 0ull) {
                const rs_u32 slot = atomicAdd(ncand, 1u);
                if (slot < RS_CAPC)
                    t.w.cand[slot] = ((rs_u64)(rs_u32)rs_index8<T>(s, j) << 32) | key;
            }
        }
    }
}

// ---- the phase ----

// Top-p phase 1 (p is known). The range of bins [lo, hi] that must hold the cut bin b* is in
// the head (RS_H_RANGE, found by phase 0's last block), or, after the top-p stages' phase 0,
// every block finds it from the bounds in hist / hlow (the largest bin of
// nonzero mass with mass(bins >= b*) >= p x the row's mass): with CH / CL the cumulative
// upper / lower bounds and T in [CL_0, CH_0],
//   hi = the largest bin with H != 0 and CH >= p CL_0: above it either a bin has no mass or
//        even its upper bound stays under the smallest possible target;
//   lo = the largest bin with L != 0 and CL >= p CH_0 (0 if none): it has mass and passes
//        the largest possible target, so b* >= lo.
// (The comparisons are made in double as the exact rule makes them; rounding is monotone.)
// Usually lo = hi. The blocks then sum the exact mass above hi per sub-chunk (smass) and the
// exact mass of their span (into ccnt at the span's first sub-chunk: only the row's total is
// read), and gather the elements of [lo, hi]; the last block clears the stored bounds (if
// any), finds the exact cut among the gathered elements (the mass above hi is exact, so the
// selection over them is the row's) and draws, or leaves the draw to the next launch.
// When min-p cuts above hi, or p says no cut, the phase is the kept-mass phase instead.
template <typename T>
__device__ __noinline__ void rs_phase_cut(const rs_args& a, const rs_rowctx& t) {
    const rs_ws& w = t.w;
    if (!(t.p < 1.0f)) {  // the top-p stages planned a cut; p says none
        if (t.mthr == 0u) rs_phase_plain<T>(a, t, true);
        else rs_phase_mass<T>(a, t, t.mthr, true);
        return;
    }
    rs_u32 range = (rs_u32)rs_vld(w.head + RS_H_RANGE);
    const bool clear = !(range & RS_RANGE_SET);  // stored bounds: cleared once all have read
    if (!clear) {  // phase 0 knew p and found the range
        range &= ~RS_RANGE_SET;
    } else {
        constexpr int kOwn = RS_HBINS / RS_BLOCK;  // thread t: bins kOwn t + j, j < kOwn
        rs_u64 ch[kOwn + 1], cl[kOwn + 1];
        const int d0 = kOwn * (int)threadIdx.x;
#pragma unroll
        for (int j = 0; j <= kOwn; ++j) {
            const int d = d0 + j;
            ch[j] = d < RS_HBINS ? rs_vld(w.hist + d) : 0ull;
            cl[j] = d < RS_HBINS ? rs_vld(w.hlow + d) : 0ull;
        }
        const double tlo = (double)t.p * (double)rs_vld(w.hlow);
        const double thi = (double)t.p * (double)rs_vld(w.hist);
        rs_u32 hi1 = 0u, lo1 = 0u;  // bin + 1 of the largest qualifying bin; 0: none
#pragma unroll
        for (int j = 0; j < kOwn; ++j) {
            if (ch[j] != ch[j + 1] && (double)ch[j] >= tlo) hi1 = (rs_u32)(d0 + j + 1);
            if (cl[j] != cl[j + 1] && (double)cl[j] >= thi) lo1 = (rs_u32)(d0 + j + 1);
        }
        hi1 = rs_block_max_u32(hi1, &rs_sm.b);
        lo1 = rs_block_max_u32(lo1, &rs_sm.b);
        range = rs_bin_range(hi1, lo1);
    }
    const rs_u32 bhi = range >> 16, blo = range & 0xffffu;
    if ((t.mthr >> 20) > bhi) {  // min-p cuts above every possible top-p cut: min-p decides
        rs_phase_mass<T>(a, t, t.mthr, clear);
        return;
    }
    const int max_exp = rs_exp(t.max_key);
    rs_u32* ncand = (rs_u32*)(w.head + RS_H_NCAND);
    // The block gathers into shared memory (rs_sm.u, free until the last block's steps) and
    // moves its list to the workspace with one reservation at the end: a reservation of its
    // own in the workspace (a global atomic with a result) held a thread, and so its wave,
    // for an L2 round trip in most sub-chunks. A block that gathers more than the stage holds
    // (crowded cut bins) reads its span again and gathers straight into the workspace.
    rs_u64* stage = (rs_u64*)&rs_sm.u;
    if (threadIdx.x == 0) rs_sm.nkept = 0;
    __syncthreads();
    float va[8], vb[8];
    bool ok[8];  // unused: padding loads as 0, which has no mass and is never gathered
    rs_u64 all = 0ull;  // the mass of the block's span: only the row's total is needed
    auto load = [&](float (&v)[8], int s) { rs_load8(rs_px<T>(t), s < t.s1 ? a.vocab : 0, s, v, ok); };
    auto work = [&](const float (&v)[8], int s) {
        rs_u64 m = 0ull;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const rs_u32 key = rs_key(v[j]);
            const rs_u64 mj = rs_mass(key, max_exp);
            all += mj;
            if ((key >> 20) > bhi) {
                m += mj;
            } else if ((key >> 20) >= blo && mj != 0ull) {
                const int at = atomicAdd(&rs_sm.nkept, 1);
                if (at < RS_STAGE) stage[at] = ((rs_u64)(rs_u32)rs_index8<T>(s, j) << 32) | key;
            }
        }
        rs_wave_add(w.smass + s, m);
    };
    // The next sub-chunk's loads are in flight while this one is summed.
    load(va, t.s0);
    for (int s = t.s0; s < t.s1; s += 2) {
        load(vb, s + 1);
        work(va, s);
        if (s + 1 >= t.s1) break;
        load(va, s + 2);
        work(vb, s + 1);
    }
    // The span's mass, into its first sub-chunk's slot (zeroed in phase 0; the others stay 0).
    all = rs_block_sum_u64(all, &rs_sm.b);
    if (threadIdx.x == 0 && t.s0 < t.s1) w.ccnt[t.s0] = all;
    __syncthreads();
    const int staged = rs_sm.nkept;
    if (staged > RS_STAGE) {
        rs_gather_span<T>(t, a.vocab, blo, bhi, max_exp);
    } else if (staged > 0) {
        if (threadIdx.x == 0) {  // a row's only block owns the count: no atomic needed
            rs_u32 base;
            if (t.ng == 1) {
                base = rs_vld32(ncand);
                *ncand = base + (rs_u32)staged;
            } else {
                base = atomicAdd(ncand, (rs_u32)staged);
            }
            rs_sm.b.acc = base;
        }
        __syncthreads();
        const rs_u32 base = (rs_u32)rs_sm.b.acc;
        for (int l = threadIdx.x; l < staged; l += RS_BLOCK)
            if (base + (rs_u32)l < RS_CAPC) w.cand[base + l] = stage[l];
    }
    if (!rs_last_block(t)) return;

    if (clear) rs_clear_hist(w);  // every block of the row has read the bounds
    rs_u64 sa = 0ull, st = 0ull;
    for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) {
        sa += rs_vld(w.smass + c);
        st += rs_vld(w.ccnt + c);
    }
    const rs_u64 above = rs_block_sum_u64(sa, &rs_sm.b);
    const double target = (double)t.p * (double)rs_block_sum_u64(st, &rs_sm.b);
    const rs_u32 n0 = rs_vld32(ncand);
    rs_u64 kept;
    rs_u32 thr;
    if (n0 > RS_CAPC) {  // crowded cut bins: one block selects over the whole row
        thr = blo == bhi
                  ? rs_select<true>(rs_row_keys<T>{rs_px<T>(t), a.vocab}, 1, bhi << 20, 0u, 0ull, target,
                                    above, max_exp, &kept)
                  : rs_select<true>(rs_row_keys<T>{rs_px<T>(t), a.vocab}, 0, 0u, 0u, 0ull, target, 0ull,
                                    max_exp, &kept);
        thr = t.mthr > thr ? t.mthr : thr;
        if (threadIdx.x == 0) w.head[RS_H_NCAND] = 0ull;
        for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) w.smass[c] = 0ull;  // for S_MASS
        if (a.has_rng) {
            rs_finish(a, t, rs_draw(rs_px<T>(t), a.vocab, thr, max_exp, t.r, &rs_sm.b));
        } else if (threadIdx.x == 0) {
            w.head[RS_H_THR] = thr;
            w.head[RS_H_STATE] = RS_S_MASS;  // no draw here: the next phase sums and draws
        }
        return;
    }
    // The cut among few gathered elements, without the radix selection's passes over the list
    // (each thread holds elements i + u RS_BLOCK, u < RS_CUTREG, in registers):
    //   * up to RS_FEWCUT (~90 at V = 32000 for p = 0.9 on a smooth row): rs_cut_among over
    //     all of them (H200, 264 x 32000: 6.8 -> 3.7 us against rs_select);
    //   * one bin (blo == bhi) and up to RS_CUTREG x RS_BLOCK (~400 at V = 128256): the mass
    //     of each 10-bit digit (key bits 19..10) and the digit that holds the cut, as the
    //     first level of rs_select picks it; then rs_cut_among over that digit's elements
    //     (usually a handful), or rs_select's last level if more than a block share it.
    //     The keys above that digit are exactly the gathered keys the selection counts as
    //     "before" it, so the cut is rs_select's.
    // Else, or if no key qualifies, rs_select over the list in the workspace.
    const int i = threadIdx.x;
    const bool held = n0 <= RS_CUTREG * RS_BLOCK;  // block-uniform
    rs_u64 e[RS_CUTREG];  // gathered element i + u RS_BLOCK (index << 32 | key), or 0
#pragma unroll
    for (int u = 0; u < RS_CUTREG; ++u) {
        const int l = i + u * RS_BLOCK;
        e[u] = held && l < (int)n0 ? rs_vld(w.cand + l) : 0ull;  // a gathered key has mass
    }
    rs_u32* lk = (rs_u32*)(rs_sm.sel + RS_HBINS / 2);  // rs_cut_among's keys and masses, above
    rs_u64* lm = rs_sm.sel + RS_HBINS / 2 + RS_BLOCK / 2;  // the digit sums in sel[0, 1024)
    const rs_list_keys list = {w.cand, (int)n0};
    // Where rs_select starts if it is needed: the gathered keys lie in bins [blo, bhi]; with
    // one bin the selection starts at its second digit.
    int level = blo == bhi ? 1 : 0;
    rs_u32 prefix = blo == bhi ? bhi << 20 : 0u;
    rs_u64 before = above;
    thr = 0u;
    if (n0 <= RS_FEWCUT) {
        if (i < (int)n0) {
            lk[i] = (rs_u32)e[0];
            lm[i] = rs_mass((rs_u32)e[0], max_exp);
        }
        __syncthreads();
        thr = rs_cut_among(lk, lm, (int)n0, above, target);
    } else if (held && blo == bhi) {
        for (int d = i; d < 1024; d += RS_BLOCK) rs_sm.sel[d] = 0ull;
        if (i == 0) rs_sm.nkept = 0;
        __syncthreads();
#pragma unroll
        for (int u = 0; u < RS_CUTREG; ++u) {
            const rs_u32 key = (rs_u32)e[u];
            if (e[u]) atomicAdd(&rs_sm.sel[(key >> 10) & 1023u], rs_mass(key, max_exp));
        }
        __syncthreads();
        rs_u64 digit_before;
        const double tg = target;
        const rs_u64 b0 = above;
        const int d = rs_pick(rs_sm.sel, 1024, true, [&](rs_u64 a, rs_u64 hd) {
            return hd != 0ull && (double)(b0 + a + hd) >= tg;
        }, &digit_before, &rs_sm.b);
        if (d >= 0) {
#pragma unroll
            for (int u = 0; u < RS_CUTREG; ++u) {
                const rs_u32 key = (rs_u32)e[u];
                if (e[u] && ((key >> 10) & 1023u) == (rs_u32)d) {
                    const int slot = atomicAdd(&rs_sm.nkept, 1);
                    if (slot < RS_BLOCK) {
                        lk[slot] = key;
                        lm[slot] = rs_mass(key, max_exp);
                    }
                }
            }
            __syncthreads();
            const int nd = rs_sm.nkept;
            if (nd <= RS_BLOCK) {
                thr = rs_cut_among(lk, lm, nd, above + digit_before, target);
            } else {  // ties: the selection's last level within the digit
                level = 2;
                prefix = bhi << 20 | (rs_u32)d << 10;
                before = above + digit_before;
            }
        }
    }
    // The kept mass of each sub-chunk: the mass above bhi plus the gathered keys >= thr.
    auto masses = [&] {
        thr = t.mthr > thr ? t.mthr : thr;  // min-p at most in bin bhi (see above)
        for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) rs_sm.u.f.mass[c] = rs_vld(w.smass + c);
        __syncthreads();
    };
    if (thr != 0u) {  // the registers hold the gathered elements
        masses();
#pragma unroll
        for (int u = 0; u < RS_CUTREG; ++u) {
            const rs_u32 key = (rs_u32)e[u];
            if (e[u] && key >= thr)
                atomicAdd(&rs_sm.u.f.mass[(int)(e[u] >> 32) / RS_CHUNK], rs_mass(key, max_exp));
        }
    } else {
        thr = rs_select<true>(list, level, prefix, level == 0 ? blo << 20 : 0u, 0ull, target,
                              before, max_exp, &kept);
        masses();
        for (int l = threadIdx.x; l < list.n; l += RS_BLOCK) {
            const rs_u64 el = rs_vld(w.cand + l);
            const rs_u32 key = (rs_u32)el;
            if (key >= thr)
                atomicAdd(&rs_sm.u.f.mass[(int)(el >> 32) / RS_CHUNK], rs_mass(key, max_exp));
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        w.head[RS_H_THR] = thr;
        w.head[RS_H_NCAND] = 0ull;
    }
    if (!a.has_rng) {
        for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) w.smass[c] = rs_sm.u.f.mass[c];
        if (threadIdx.x == 0) w.head[RS_H_STATE] = RS_S_DRAW;
        return;
    }
    rs_finish(a, t, rs_draw_chunks(rs_px<T>(t), a.vocab, t.nc, thr, max_exp, t.r));
}
