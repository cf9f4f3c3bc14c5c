// rs_engine_topk.h -- phase 0, the last block of a top-k row (k <= RS_KCAND) whose
// candidates are few: the k-th largest, then the top-p cut and min-p among the ~k candidates
// at or above it, and the draw, with no further pass over the row or the workspace
// (rs_topk_small; rs_topk_shared first copies the candidate slots into shared memory).
// Not called in a module built with RS_WITH_TOPK 0. Relies on rs_engine_block.h (the row
// context, rs_finish) and rs_engine_select.h (rs_select, the visitors).
#pragma once
#include "rs_engine_select.h"
#include "rs_engine_block.h"

// ---- among the candidates at or above the k-th largest ----

// After the k-th largest key kth of a row is known: gathers the candidates >= kth (about k of
// them unless there are ties) into shared memory (rs_sm.sel, free after the selection) as
// index << 32 | key, then finds the top-p cut among them, applies min-p and draws among them:
// no further pass over the row or the workspace. With RS_SMALL == RS_BLOCK each thread owns
// at most one gathered element and loops once over the list for its rank (the number of
// keys >= its own, ties included) and the mass of those keys, and once more, after the cut,
// for the kept mass of the elements before it in index order.
//   * With rank, kth is only a lower bound of the k-th largest (the edge of its 11-bit bin):
//     the k-th largest is the largest gathered key with at least k keys >= it (every key >=
//     the bound is there, so those counts are the row's).
//   * The top-p cut is the largest key v of nonzero mass with mass(keys >= v) >= p x
//     mass(keys >= kth), the comparison in double: what rs_select<true> finds digit by digit.
//   * The draw: with T the kept mass and t = umulhi64(r, T), the kept element whose kept
//     mass before it in index order is <= t and whose own mass takes the sum past t: the
//     first token whose cumulative kept mass exceeds t, as rs_draw_chunks finds by scanning.
// src.gather(f) calls f(index << 32 | key) once for every candidate. False (nothing done)
// when more than RS_SMALL candidates reach kth.
#define RS_SMALL RS_BLOCK
template <typename S>
__device__ __noinline__ bool rs_topk_small(const rs_args& a, const rs_rowctx& t, rs_u32 kth,
                                           rs_u32 max_key, S src, bool rank = false) {
    const int max_exp = rs_exp(max_key);
    rs_u64* list = rs_sm.sel;
    if (threadIdx.x == 0) rs_sm.nkept = 0;
    __syncthreads();
    src.gather([&](rs_u64 e) {
        if ((rs_u32)e >= kth) {
            const int pos = atomicAdd(&rs_sm.nkept, 1);
            if (pos < RS_SMALL) list[pos] = e;
        }
    });
    __syncthreads();
    const int n = rs_sm.nkept;
    if (n > RS_SMALL) return false;
    const bool mine = (int)threadIdx.x < n;
    const rs_u64 ei = mine ? list[threadIdx.x] : 0ull;
    const rs_u32 ki = (rs_u32)ei;  // 0 (no mass, below every cut) for a thread without one
    const rs_u64 mi = rs_mass(ki, max_exp);
    int ge = 0;
    rs_u64 above = 0ull;  // mass of the keys >= ki, ties included
    if (mine) {
        for (int j = 0; j < n; ++j) {
            const rs_u32 kj = (rs_u32)list[j];
            if (kj >= ki) {
                ++ge;
                above += rs_mass(kj, max_exp);
            }
        }
    }
    if (rank) kth = rs_block_max_u32(mine && ge >= t.k ? ki : 0u, &rs_sm.b);
    rs_u32 thr = kth;
    if (t.p < 1.0f) {
        const double target =
            (double)t.p * (double)rs_block_sum_u64(mine && ki >= kth ? mi : 0ull, &rs_sm.b);
        const bool cut = mine && ki >= kth && mi != 0ull && (double)above >= target;
        const rs_u32 best = rs_block_max_u32(cut ? ki : 0u, &rs_sm.b);
        thr = best > thr ? best : thr;
    }
    const rs_u32 mthr = rs_min_p_key(t.mp, max_key);
    thr = mthr > thr ? mthr : thr;
    const bool kept = mine && ki >= thr;
    if (threadIdx.x == 0) rs_sm.b.found = -1;
    const rs_u64 total = rs_block_sum_u64(kept ? mi : 0ull, &rs_sm.b);  // has barriers
    if (total != 0ull && kept && mi != 0ull) {
        const rs_u64 target = __umul64hi(t.r, total);
        const rs_u32 idx = (rs_u32)(ei >> 32);
        rs_u64 before = 0ull;
        for (int j = 0; j < n; ++j) {
            const rs_u64 ej = list[j];
            if ((rs_u32)ej >= thr && (rs_u32)(ej >> 32) < idx) before += rs_mass((rs_u32)ej, max_exp);
        }
        if (before <= target && target < before + mi) rs_sm.b.found = (int)idx;  // exactly one
    }
    __syncthreads();
    rs_finish(a, t, rs_sm.b.found);  // -1 when nothing is kept (min_p > 1)
    return true;
}

// The k-th largest of the candidates that keys visits (and their gather), and the row finished
// from them: the 11-bit bin of the k-th largest (one radix level), then the k-th largest
// itself by rank among the candidates at or above that bin's edge (about k plus the bin's
// own; rs_topk_small). False, nothing finished, when more than RS_SMALL reach the bin.
template <typename S>
__device__ __forceinline__ bool rs_topk_rank(const rs_args& a, const rs_rowctx& t,
                                             rs_u32 max_key, S keys) {
    const rs_u32 edge = rs_select<false>(keys, 0, 0u, 0u, (rs_u64)t.k, 0.0, 0ull,
                                         rs_exp(max_key), 0, 1);
    return rs_topk_small(a, t, edge, max_key, keys, true);
}

// ---- from a shared-memory copy of the candidates ----

// The last block of a top-k row with at most RS_SHCAND candidates in all: copies them from
// the workspace slots into shared memory once (rs_sm.u, as index << 32 | key), then selects
// the k-th largest and finishes the row (rs_topk_small) from there: every later pass over the
// candidates is a shared-memory loop instead of a round of L2 loads, and one radix level plus
// a rank among the ~k candidates at or above its bin replace three levels. The copy maps
// list position p to its sub-chunk by a binary search over the exclusive prefix sums of the
// per-sub-chunk counts, so each thread loads up to 8 candidates at once and every thread has
// some (H200, 1 x 128256, k = 50: the three radix levels over the workspace slots took 11.4
// of the kernel's 27.4 us; a copy in which each thread loaded its own slot range, most of them
// empty, 4.2). Returns 1 when the row is finished; otherwise the caller works on the slots,
// with rs_sm.u.f.cnt as it was: 0 when the candidates do not fit (rs_sm.u untouched; then
// rs_topk_slots), -1 when more than RS_SMALL of them reach the bin of the k-th largest (ties,
// crowded bins; the counts restored).

struct rs_shared_keys {  // visitor over the shared-memory candidate list
    int n;
    template <typename F>
    __device__ void operator()(F f) const {  // f(key): for rs_select
        const rs_u64* l = (const rs_u64*)&rs_sm.u;
        for (int i = threadIdx.x; i < n; i += RS_BLOCK) f((rs_u32)l[i]);
    }
    template <typename F>
    __device__ void gather(F f) const {  // f(index << 32 | key): for rs_topk_small
        const rs_u64* l = (const rs_u64*)&rs_sm.u;
        for (int i = threadIdx.x; i < n; i += RS_BLOCK) f(l[i]);
    }
};

__device__ __noinline__ int rs_topk_shared(const rs_args& a, const rs_rowctx& t,
                                           rs_u32 max_key) {
    rs_u32* off = (rs_u32*)rs_sm.sel;  // exclusive prefix sums of the counts
    const int per = (t.nc + RS_BLOCK - 1) / RS_BLOCK;  // a run of sub-chunks per thread
    const int c0 = (int)threadIdx.x * per;
    rs_u64 s = 0ull;
    for (int j = 0; j < per; ++j)
        if (c0 + j < t.nc) s += rs_sm.u.f.cnt[c0 + j];
    rs_u64 all;
    rs_u64 o = rs_block_scan_u64(s, &all, &rs_sm.b) - s;
    if (all > (rs_u64)RS_SHCAND) return 0;  // uniform; rs_sm.u untouched
    for (int j = 0; j < per; ++j) {
        if (c0 + j < t.nc) {
            off[c0 + j] = (rs_u32)o;
            o += rs_sm.u.f.cnt[c0 + j];
        }
    }
    __syncthreads();  // every count is read before the list overwrites rs_sm.u
    rs_u64* l = (rs_u64*)&rs_sm.u;
    const int n = (int)all;
    for (int p0 = threadIdx.x; p0 < n; p0 += 8 * RS_BLOCK) {  // 8 loads in flight a thread
        rs_u64 e[8];
#pragma unroll
        for (int u = 0; u < 8; ++u) {
            const int p = p0 + u * RS_BLOCK;
            e[u] = 0ull;
            if (p < n) {
                int lo = 0, hi = t.nc;  // the last sub-chunk c with off[c] <= p (off[0] = 0)
                while (hi - lo > 1) {  // at most 11 steps (nc <= 2048)
                    const int mid = (lo + hi) >> 1;
                    if ((int)off[mid] <= p) lo = mid;
                    else hi = mid;
                }
                e[u] = rs_vld(t.w.cand + (long long)lo * RS_KSLOT + (p - (int)off[lo]));
            }
        }
#pragma unroll
        for (int u = 0; u < 8; ++u)
            if (p0 + u * RS_BLOCK < n) l[p0 + u * RS_BLOCK] = e[u];
    }
    __syncthreads();
    if (rs_topk_rank(a, t, max_key, rs_shared_keys{n})) return 1;
    for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) {  // the slots' counts, as they were
        const rs_u64 cnt = rs_vld(t.w.ccnt + c);
        rs_sm.u.f.cnt[c] = (rs_u32)(cnt < RS_KSLOT ? cnt : RS_KSLOT);
    }
    __syncthreads();
    return -1;
}

// ---- from the slots, when the candidates do not fit ----

// The workspace slots as rs_topk_slots visits them: rs_cand_keys under a type of its own, so
// that this path calls instantiations of rs_select and rs_topk_small of its own, and those of
// the three-level path over the slots (rs_phase0) keep their constant arguments.
struct rs_slot_keys : rs_cand_keys {};

// The last block of a top-k row with more candidates than rs_topk_shared holds: rows of k x
// sub-chunks above RS_SHCAND whose blocks scan too few sub-chunks each to raise a bound
// (one-row calls of top-k 128, or of 50 at 262144). The copy's recipe (rs_topk_rank) over the
// slots, instead of three radix levels over them and then the gather.
// H200, against those three levels: 1-row top-k 128 at 128256-151936 0.79-0.83, 1-row top-k
// 50 and 128 at 262144 0.73-0.77, 512 x 262144 top-k 50 0.94-0.96, the same tokens in all 180
// cells of the sweep (bench/results/2026-12-07-session35). Written in rs_phase0 itself, over
// rs_cand_keys, it changed ptxas's figures for the 2-byte entries, and the rows that fit the
// copy ran 1-3 % slower at 128 rows in three runs (H100 and H200, an A/A control at 1.000);
// this way ptxas gives the figures of before, and those rows' medians are 1.00-1.02
// (bench/results/2026-12-07-session36). True when the row is finished; false, with the slots
// and counts as they were, when more than RS_SMALL candidates reach the bin.
__device__ __noinline__ bool rs_topk_slots(const rs_args& a, const rs_rowctx& t,
                                           rs_u32 max_key) {
    rs_slot_keys list;
    list.cl = t.w.cand;
    list.nc = t.nc;
    return rs_topk_rank(a, t, max_key, list);
}
