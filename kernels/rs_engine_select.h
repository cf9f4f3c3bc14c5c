// rs_engine_select.h -- exact selection and draws: the tools a row's last block finishes
// with in every phase. rs_pick (the first bin at which a running sum meets a condition),
// rs_select (radix selection of the want-th largest key, or of the top-p cut, over the keys
// a visitor presents), the visitors (the whole row, the top-k candidate slots, the gathered
// top-p list), rs_slow_row (the full-row algorithm for the rows no fast path serves), and
// rs_wave_pick / rs_draw_chunks (the draw once each sub-chunk's kept mass is known).
// Relies on rs_engine_core.h and rs_common.h (rs_draw, rs_draw_span, the block scans);
// rs_plain_row, defined in rs_engine_plain.h, is declared here for rs_slow_row.
#pragma once
#include "rs_engine_core.h"

// ---- block-wide pick and radix selection ----

// Scans n bins in order (descending index when desc) and returns the first bin d where
// pred(before, hist[d]) holds, before = the sum of the bins scanned ahead of d, or -1.
// *before_out receives that sum. Block-wide; every thread gets the result. The bins are
// 64-bit masses or 32-bit counts (read as they are: no widening pass, no barrier for it).
template <typename H, typename P>
__device__ int rs_pick(const H* hist, int n, bool desc, P pred, rs_u64* before_out,
                       rs_smem* sh) {
    const int per = (n + RS_BLOCK - 1) / RS_BLOCK;
    const int first = (int)threadIdx.x * per;
    rs_u64 s = 0ull;
    for (int j = 0; j < per; ++j) {
        const int pos = first + j;
        if (pos < n) s += hist[desc ? n - 1 - pos : pos];
    }
    rs_u64 all;
    rs_u64 before = rs_block_scan_u64(s, &all, sh) - s;
    int hit = 0x7fffffff;
    rs_u64 hit_before = 0ull;
    for (int j = 0; j < per; ++j) {
        const int pos = first + j;
        if (pos >= n) break;
        const rs_u64 h = (rs_u64)hist[desc ? n - 1 - pos : pos];
        if (pred(before, h)) { hit = pos; hit_before = before; break; }
        before += h;
    }
    __syncthreads();
    if (threadIdx.x == 0) sh->found = 0x7fffffff;
    __syncthreads();
    if (hit != 0x7fffffff) atomicMin(&sh->found, hit);
    __syncthreads();
    const int best = sh->found;
    if (best != 0x7fffffff && hit == best) sh->acc = hit_before;  // one thread owns best
    __syncthreads();
    *before_out = sh->acc;
    const int d = best == 0x7fffffff ? -1 : (desc ? n - 1 - best : best);
    __syncthreads();
    return d;
}

// Exact radix selection over a set of keys that visit(f) presents (each thread calls f(key)
// for its share; keys are finite, non-negative). Digits: bits 30..20, 19..10, 9..0. Keys
// outside the current prefix or below floor_key are ignored. Starting at `level` (0, 1 or 2)
// with `prefix` holding the bits already fixed.
//   MASS = false: the want-th largest key (want >= 1 and <= the number of keys).
//   MASS = true:  the largest key v (of nonzero mass) with before + mass(keys >= v) >=
//                 target, before = the mass of keys above the prefix. A negative target means
//                 "p * the mass of all keys", p = -target, found from the first level.
//                 *kept receives before + mass(keys >= v).
// Every thread gets the result.
template <bool MASS, typename V>
__device__ __noinline__ rs_u32 rs_select(V visit, int level, rs_u32 prefix, rs_u32 floor_key, rs_u64 want,
                            double target, rs_u64 before, int max_exp,
                            rs_u64* kept, int stop = 3) {
    const int shifts[3] = {20, 10, 0};
    const int widths[3] = {11, 10, 10};
#pragma unroll 1
    for (; level < stop; ++level) {  // stop < 3: the lower edge of the level's digit
        const int shift = shifts[level];
        const int nb = 1 << widths[level];
        const rs_u32 mask = level == 0 ? 0u : (0xffffffffu << shifts[level - 1]);
        // Counts go to 32-bit bins in the upper half of sel (native shared atomics; 64-bit
        // ones are compare-and-swap loops), which rs_pick reads as they are.
        rs_u32* cnt = (rs_u32*)(rs_sm.sel + RS_HBINS / 2);
        for (int d = threadIdx.x; d < nb; d += RS_BLOCK) {
            if (MASS) rs_sm.sel[d] = 0ull;
            else cnt[d] = 0u;
        }
        __syncthreads();
        // Masses: a thread holds its adds to one digit until its next key falls in another.
        // The 64-bit adds are compare-and-swap loops, so where most keys share a digit (a flat
        // or quantised row, which the one-block fallbacks over the row are for) one add a key
        // has every lane of the block spin on one address (H100, 1 x 128256 flat f32 rows:
        // 7.2 ms); held, the block adds about once a thread (0.18 ms). A held sum is at most
        // the row's mass (< 2^63): exact. Counts keep one native 32-bit add a key (holding
        // them made flat top-k rows 3-10 % slower).
        rs_u32 hd = 0xffffffffu;  // the held digit (none yet)
        rs_u64 hw = 0ull;         // its mass
        visit([&](rs_u32 key) {
            if ((key & mask) == prefix && key >= floor_key) {
                const rs_u32 d = (key >> shift) & (rs_u32)(nb - 1);
                if (!MASS) {
                    atomicAdd(&cnt[d], 1u);
                } else {
                    const rs_u64 w = rs_mass(key, max_exp);
                    if (w == 0ull) return;
                    if (d != hd) {
                        if (hw) atomicAdd(&rs_sm.sel[hd], hw);
                        hd = d;
                        hw = 0ull;
                    }
                    hw += w;
                }
            }
        });
        if (MASS && hw) atomicAdd(&rs_sm.sel[hd], hw);
        __syncthreads();
        if (MASS && target < 0.0) {  // the mass of every key: sum the first level
            rs_u64 s = 0ull;
            for (int d = threadIdx.x; d < nb; d += RS_BLOCK) s += rs_sm.sel[d];
            target = -target * (double)rs_block_sum_u64(s, &rs_sm.b);
        }
        rs_u64 above;
        int d;
        if (MASS) {
            const double t = target;
            const rs_u64 b0 = before;
            d = rs_pick(rs_sm.sel, nb, true, [&](rs_u64 a, rs_u64 h) {
                return h != 0ull && (double)(b0 + a + h) >= t;
            }, &above, &rs_sm.b);
        } else {
            const rs_u64 wnt = want, b0 = before;
            d = rs_pick(cnt, nb, true, [&](rs_u64 a, rs_u64 h) {
                return b0 + a + h >= wnt;
            }, &above, &rs_sm.b);
        }
        if (d < 0) d = 0;  // unreachable for consistent inputs; keeps the result a key
        if (MASS && level == 2 && kept) *kept = before + above + rs_sm.sel[d];
        before += above;
        prefix |= (rs_u32)d << shift;
        __syncthreads();
    }
    return prefix;
}

// ---- key visitors ----

// Visitor over a whole row (the one-block fallback; kept small: it is rarely taken).
template <typename T>
struct rs_row_keys {
    const T* x;
    int vocab;
    template <typename F>
    __device__ void operator()(F f) const {
        for (int i = threadIdx.x; i < vocab; i += RS_BLOCK) f(rs_key(rs_num<T>::up(x[i])));
    }
};

// Calls f(entry, i) for every workspace slot i in [0, n) with ok(i); a slot's entry is index
// << 32 | key. Each thread loads 8 slots before using any, so their round trips to L2
// overlap instead of following one another.
template <typename OK, typename F>
__device__ __forceinline__ void rs_visit_slots(const rs_u64* cl, int n, OK ok, F f) {
    for (int i0 = threadIdx.x; i0 < n; i0 += 8 * RS_BLOCK) {
        rs_u64 e[8];
#pragma unroll
        for (int u = 0; u < 8; ++u) {
            const int i = i0 + u * RS_BLOCK;
            e[u] = (i < n && ok(i)) ? rs_vld(cl + i) : ~0ull;
        }
#pragma unroll
        for (int u = 0; u < 8; ++u)
            if (e[u] != ~0ull) f(e[u], i0 + u * RS_BLOCK);  // keys are < 0x7f800000
    }
}

// Visitor over the top-k candidates of every sub-chunk (counts in rs_sm.u.f.cnt).
struct rs_cand_keys {
    const rs_u64* cl;
    int nc;
    template <typename F>
    __device__ void operator()(F f) const {  // f(key): for rs_select
        rs_visit_slots(cl, nc * RS_KSLOT,
                       [](int i) { return i % RS_KSLOT < (int)rs_sm.u.f.cnt[i / RS_KSLOT]; },
                       [&](rs_u64 e, int) { f((rs_u32)e); });
    }
    template <typename F>
    __device__ void gather(F f) const {  // f(index << 32 | key): for rs_topk_small
        rs_visit_slots(cl, nc * RS_KSLOT,
                       [](int i) { return i % RS_KSLOT < (int)rs_sm.u.f.cnt[i / RS_KSLOT]; },
                       [&](rs_u64 e, int) { f(e); });
    }
};

// Visitor over the n gathered elements of the top-p cut bin.
struct rs_list_keys {
    const rs_u64* cl;
    int n;
    template <typename F>
    __device__ void operator()(F f) const {
        rs_visit_slots(cl, n, [](int) { return true; }, [&](rs_u64 e, int) { f((rs_u32)e); });
    }
};

// ---- the full-row fallback ----

template <typename T>
__device__ __noinline__ int rs_plain_row(const T* x, int vocab, const rs_ws& w, rs_u64 r);

// One block does everything for a row: the full-row algorithm (a few reads of the row).
template <typename T>
__device__ __noinline__ int rs_slow_row(const T* x, int vocab, rs_u32 max_key, int k, float p,
                                        float mp, rs_u64 r, const rs_ws& w) {
    if (!(k > 0 && k < vocab) && !(p < 1.0f) && !(mp > 0.0f)) return rs_plain_row(x, vocab, w, r);
    const int max_exp = rs_exp(max_key);
    const rs_row_keys<T> all = {x, vocab};
    rs_u32 thr = 0u;
    if (k > 0 && k < vocab)
        thr = rs_select<false>(all, 0, 0u, 0u, (rs_u64)k, 0.0, 0ull, max_exp, 0);
    if (p < 1.0f)
        thr = rs_select<true>(all, 0, 0u, thr, 0ull, -(double)p, 0ull, max_exp, 0);
    const rs_u32 mthr = rs_min_p_key(mp, max_key);
    thr = mthr > thr ? mthr : thr;
    return rs_draw(x, vocab, thr, max_exp, r, &rs_sm.b);
}

// ---- draws ----

// The entry of n <= RS_WAVE_PICK weights (weight(i), i < n) that holds target = umulhi64(r, their
// sum): the first i with target < (weights before i) + weight(i). Every wave computes it
// alone from two entries a lane (a wave scan), so no barrier is needed (H200: the block-wide
// sum and pick were ~1 us of a draw). -1 when the sum is 0; *before / *target as named.
template <typename W>
__device__ __forceinline__ int rs_wave_pick(int n, W weight, rs_u64 r, rs_u64* before,
                                            rs_u64* target) {
    const int lane = threadIdx.x % RS_WAVE;
    const rs_u64 m0 = 2 * lane < n ? weight(2 * lane) : 0ull;
    const rs_u64 m1 = 2 * lane + 1 < n ? weight(2 * lane + 1) : 0ull;
    const rs_u64 incl = rs_wave_scan_u64(m0 + m1, lane);
    const rs_u64 total = rs_shfl_u64(incl, RS_WAVE - 1);
    const rs_u64 t = __umul64hi(r, total);
    *target = t;
    if (total == 0ull) return -1;
    // Cumulative sums rise with the lane: the lanes whose sums stay <= t come first.
    const int at = rs_wave_max_i32(incl <= t ? lane + 1 : 0);  // t < total: at < RS_WAVE
    const rs_u64 start = incl - (m0 + m1);  // weights before this lane's pair
    const int i = t < start + m0 ? 2 * lane : 2 * lane + 1;
    const rs_u64 b = t < start + m0 ? start : start + m0;
    *before = rs_shfl_u64(b, at);
    return RS_SHFL(i, at);
}

// The draw once the kept mass of every sub-chunk is in rs_sm.u.f.mass[0..nc): the target
// picks the sub-chunk, one block scans its 4096 elements. -1 when nothing is kept.
template <typename T>
__device__ __noinline__ int rs_draw_chunks(const T* x, int vocab, int nc, rs_u32 thr,
                                           int max_exp, rs_u64 r) {
    const rs_u64* mass = rs_sm.u.f.mass;
    rs_u64 before = 0ull, target;
    int c = -1;
    if (nc <= RS_WAVE_PICK) {
        c = rs_wave_pick(nc, [&](int i) { return mass[i]; }, r, &before, &target);
    } else {
        rs_u64 s = 0ull;
        for (int i = threadIdx.x; i < nc; i += RS_BLOCK) s += mass[i];
        const rs_u64 total = rs_block_sum_u64(s, &rs_sm.b);
        if (total == 0ull) return -1;
        target = __umul64hi(r, total);
        c = rs_pick(mass, nc, false, [&](rs_u64 b, rs_u64 h) { return target < b + h; },
                    &before, &rs_sm.b);
    }
    if (c < 0) return -1;
    const int ce = (c + 1) * RS_CHUNK < vocab ? (c + 1) * RS_CHUNK : vocab;
    return rs_draw_span(x, c * RS_CHUNK, ce, thr, max_exp, false, 0ull, target - before,
                        &rs_sm.b, (float4*)rs_sm.sel);
}
