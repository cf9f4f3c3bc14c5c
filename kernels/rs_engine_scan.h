// rs_engine_scan.h -- phase 0, every block: the one read of its span, which finds the span's
// maximum and validity and collects what the row's plan needs: nothing more (rs_scan_max),
// the top-p significand histogram (rs_scan_sig; the last block turns it into bounds on each
// bin's mass, rs_hist_bounds), the top-k candidates of each sub-chunk (rs_scan_cand, with
// the bound rs_raise_bound) or the min-p candidates (rs_scan_minp). rs_phase0
// (rs_engine_phase0.h) picks the scan. Relies on rs_engine_block.h (the row context,
// rs_load8), rs_engine_core.h (the histogram adds, rs_sm) and rs_engine_select.h (rs_pick).
#pragma once
#include "rs_engine_select.h"
#include "rs_engine_block.h"

// ---- the top-k candidate bound ----

// The lower edge of the 11-bit key bin that holds the k-th largest of sub-chunk s's keys
// >= T, or T if that is higher. Block-wide; called for a block's first sub-chunk and for one
// with too many candidates (it reads the sub-chunk itself, so that the caller's registers
// need not be addressable; the caller's own load of it then comes from cache).
template <typename E>
__device__ __noinline__ rs_u32 rs_raise_bound(const E* x, int vocab, int s, rs_u32 T,
                                              int k) {
    float v[8];
    bool ok[8];
    rs_load8(x, vocab, s, v, ok);
    rs_u32* cnt = rs_sm.u.h.part[0];  // 32-bit counts (native shared atomics); the union
                                      // is free during phase 0's scan
    for (int d = threadIdx.x; d < RS_HBINS; d += RS_BLOCK) cnt[d] = 0u;
    __syncthreads();
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        const rs_u32 key = rs_key(v[j]);
        const bool in = ok[j] && key >= T && key < 0x7f800000u;  // T >= 1: no zeros
        rs_hist_add(cnt, in ? key >> 20 : 0u, 1u, in);
    }
    __syncthreads();
    rs_u64 above;
    const int bin = rs_pick(cnt, RS_HBINS, true, [&](rs_u64 b, rs_u64 h) {
        return b + h >= (rs_u64)k;
    }, &above, &rs_sm.b);
    const rs_u32 edge = bin > 0 ? (rs_u32)bin << 20 : 0u;
    return edge > T ? edge : T;
}

// ---- maximum and validity only ----

// The result of a block's phase-0 scan of its span.
struct rs_scan { rs_u32 mx, bad; };

// Phase-0 scan without top-k candidates: the maximum and validity of the span.
template <typename E>
__device__ __noinline__ rs_scan rs_scan_max(const E* x, int vocab, const rs_rowctx& t) {
    rs_u32 mx = 0u, bad = 0u;
    // Maximum and validity only: two registers of state, so four sub-chunks (eight
    // 16-byte loads a thread) are in flight at once and nothing spills.
    for (int s = t.s0; s < t.s1; s += RS_DEEP) {
        float v[RS_DEEP][8];
        bool ok[RS_DEEP][8];
#pragma unroll
        for (int q = 0; q < RS_DEEP; ++q) rs_load8(x, s + q < t.s1 ? vocab : 0, s + q, v[q], ok[q]);
#pragma unroll
        for (int q = 0; q < RS_DEEP; ++q) {
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const rs_u32 key = rs_key(v[q][j]);
                if (ok[q][j] && (!(v[q][j] >= 0.0f) || key >= 0x7f800000u)) bad = 1u;
                if (ok[q][j] && key > mx) mx = key;
            }
        }
    }
    return {mx, bad};
}

// ---- top-p: significand histogram, then mass bounds ----

// Phase-0 scan of a row that may need a top-p cut: the maximum and validity of the span, and
// per 11-bit key bin the exact sum of the significands of its elements (rs_sig), added into
// the row's histogram w.hist (zero before the call; a row's only block keeps its sums in
// rs_sm.sel instead and leaves w.hist alone). Two sub-chunks of loads in flight (the
// histogram adds need registers; issuing the next sub-chunk's loads before a sub-chunk's
// adds instead measured no faster on an H200); the shared parts are flushed into 64-bit
// sums every RS_SIGFLUSH sub-chunks. A thread's eight elements are tested and added together
// (rs_hist_add2x8): one vote, and max / min chains instead of a test an element. Bad
// elements (NaN, Inf, negative) add too: their row is invalid and its histogram is cleared by
// the last block.
template <typename E>
__device__ __noinline__ rs_scan rs_scan_sig(const E* x, int vocab, const rs_rowctx& t) {
    constexpr int kOwn = RS_HBINS / RS_BLOCK;  // bins per thread: d = threadIdx.x + i * RS_BLOCK
    rs_u64 acc[kOwn];
#pragma unroll
    for (int i = 0; i < kOwn; ++i) acc[i] = 0ull;
    for (int d = threadIdx.x; d < RS_HBINS; d += RS_BLOCK) {
        rs_sm.u.h.part[0][d] = 0u;
        rs_sm.u.h.part[1][d] = 0u;
    }
    __syncthreads();
    rs_u32 mx = 0u, bad = 0u;
    for (int f0 = t.s0; f0 < t.s1; f0 += RS_SIGFLUSH) {
        const int f1 = f0 + RS_SIGFLUSH < t.s1 ? f0 + RS_SIGFLUSH : t.s1;
        for (int s = f0; s < f1; s += 2) {
            float v[2][8];
            bool ok[2][8];  // padding loads as 0: no significand, no maximum, not bad
#pragma unroll
            for (int q = 0; q < 2; ++q) rs_load8(x, s + q < f1 ? vocab : 0, s + q, v[q], ok[q]);
#pragma unroll
            for (int q = 0; q < 2; ++q) {
                // Per eight: the largest bits (a sign bit on anything but -0.0: a negative or
                // NaN) and the largest key (+Inf, NaN; the maximum).
                rs_u32 key[8], umax = 0u, kmax = 0u;
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    const rs_u32 u = __float_as_uint(v[q][j]);
                    key[j] = rs_key(v[q][j]);
                    umax = u > umax ? u : umax;
                    kmax = key[j] > kmax ? key[j] : kmax;
                }
                if (umax > 0x80000000u || kmax >= 0x7f800000u) bad = 1u;
                mx = kmax > mx ? kmax : mx;
                rs_hist_add2x8<sizeof(E) == 4>(key, kmax);
            }
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < kOwn; ++i) {  // flush the parts into this thread's 64-bit sums
            const int d = threadIdx.x + i * RS_BLOCK;
            acc[i] += (rs_u64)rs_sm.u.h.part[0][d] + ((rs_u64)rs_sm.u.h.part[1][d] << 12);
            rs_sm.u.h.part[0][d] = 0u;
            rs_sm.u.h.part[1][d] = 0u;
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < kOwn; ++i) {  // < 2^47 per bin and row (2^23 significands < 2^24)
        const int d = threadIdx.x + i * RS_BLOCK;
        if (t.ng == 1) rs_sm.sel[d] = acc[i];  // the row's only block: rs_hist_bounds reads it
        else if (acc[i]) atomicAdd(&t.w.hist[d], acc[i]);
    }
    return {mx, bad};
}

// The range [lo, hi] of bins that must hold the top-p cut, from the largest qualifying bins
// + 1 (0: none) found by rs_hist_bounds / rs_phase_cut; packed lo | hi << 16.
// hi always exists for a valid row (the lowest bin with H != 0 has CH = CH_0 >= p CL_0);
// were it missing, every bin would be gathered, which is still exact.
__device__ __forceinline__ rs_u32 rs_bin_range(rs_u32 hi1, rs_u32 lo1) {
    const rs_u32 bhi = hi1 ? hi1 - 1u : RS_HBINS - 1u;
    const rs_u32 blo = lo1 ? (lo1 - 1u < bhi ? lo1 - 1u : bhi) : 0u;
    return blo | bhi << 16;
}

// The last block of phase 0, once the row maximum is known: turns the significand sums S_b
// (w.hist, or rs_sm.sel for a row's only block) into bounds of each bin's mass M_b (the sum
// of its elements' rs_mass). With e the bin's exponent and s = e - max_exp + 16,
// rs_mass(key) = floor(sig * 2^s):
//   s >= 0: M_b = S_b << s exactly;
//   s < 0, d = -s: M_b = sum floor(sig / 2^d) lies in [H_b - n_b, H_b], H_b = floor(S_b / 2^d),
//           n_b the bin's count: n_b <= S_b >> 23 for normal values (sig >= 2^23), <= S_b for
//           denormals (sig >= 1); d >= 24: every mass is 0.
// CH_b = sum of H over bins >= b and CL_b likewise (so CH_0 and CL_0 bound the row's mass).
// With p known (p < 1) it returns RS_RANGE_SET | the cut's bin range (rs_bin_range;
// rs_phase_cut says how it is found) and zeroes w.hist (nothing else reads it); else (the
// top-p stages: p comes with the next launch) it stores CH into w.hist and CL into w.hlow
// for rs_phase_cut and returns 0.
__device__ __noinline__ rs_u32 rs_hist_bounds(const rs_ws& w, int max_exp, bool local, float p) {
    constexpr int kOwn = RS_HBINS / RS_BLOCK;  // thread t: bins 2047 - (kOwn t + j), j < kOwn
    rs_u64 h[kOwn], l[kOwn], sh = 0ull, sl = 0ull;
    const bool stored = !(p < 1.0f);
    if (local) __syncthreads();  // rs_scan_sig's rs_sm.sel stores
#pragma unroll
    for (int j = 0; j < kOwn; ++j) {
        const int b = RS_HBINS - 1 - (kOwn * (int)threadIdx.x + j);
        const rs_u64 S = local ? rs_sm.sel[b] : rs_vld(w.hist + b);
        const int E = b >> 3;
        const int sh_ = (E ? E : 1) - max_exp + 16;  // <= 16: no key exceeds the maximum
        rs_u64 H = 0ull, L = 0ull;
        if (S != 0ull && sh_ >= 0) {
            H = L = S << sh_;  // S < 2^47
        } else if (S != 0ull && sh_ > -24) {
            H = S >> -sh_;
            const rs_u64 n = E ? S >> 23 : S;
            L = H > n ? H - n : 0ull;
        }
        h[j] = H;
        l[j] = L;
        sh += H;
        sl += L;
        if (!local && !stored) w.hist[b] = 0ull;  // read once, by this thread
    }
    rs_u64 all_h, all_l;
    rs_u64 ch = rs_block_scan_u64(sh, &all_h, &rs_sm.b) - sh;  // mass bound above my bins
    rs_u64 cl = rs_block_scan_u64(sl, &all_l, &rs_sm.b) - sl;
    const double tlo = (double)p * (double)all_l, thi = (double)p * (double)all_h;
    rs_u32 hi1 = 0u, lo1 = 0u;
#pragma unroll
    for (int j = 0; j < kOwn; ++j) {
        const rs_u32 b = (rs_u32)(RS_HBINS - 1 - (kOwn * (int)threadIdx.x + j));
        ch += h[j];
        cl += l[j];
        if (stored) {
            w.hist[b] = ch;
            w.hlow[b] = cl;
        } else {  // as rs_phase_cut decides from the stored bounds
            if (h[j] != 0ull && (double)ch >= tlo && b + 1u > hi1) hi1 = b + 1u;
            if (l[j] != 0ull && (double)cl >= thi && b + 1u > lo1) lo1 = b + 1u;
        }
    }
    if (stored) return 0u;
    hi1 = rs_block_max_u32(hi1, &rs_sm.b);
    lo1 = rs_block_max_u32(lo1, &rs_sm.b);
    return RS_RANGE_SET | rs_bin_range(hi1, lo1);
}

// ---- top-k candidates ----

// The rising bound's edge (rs_scan_cand): one wave finds the highest bin b of the window
// whose count and the counts above it sum to at least k, and stores the lower edge of key bin
// tb0 + b (0 if none) in chist[RS_CHB]. Lane l holds the window's l-th run of RS_CHB / RS_WAVE
// bins from the top, so a prefix sum over the lanes is the count above each run.
#define RS_CHB 256
static_assert(RS_CHB % RS_WAVE == 0 && RS_CHB < RS_HBINS,
              "the window: whole runs a lane, in part[1]");
__device__ __noinline__ void rs_chist_edge(rs_u32* chist, rs_u32 tb0, int k) {
    constexpr int per = RS_CHB / RS_WAVE;
    const int lane = (int)threadIdx.x;  // wave 0
    const int top = RS_CHB - 1 - per * lane;  // this lane's highest bin
    rs_u32 c[per];
    rs_u64 sum = 0ull;
#pragma unroll
    for (int j = 0; j < per; ++j) {
        c[j] = chist[top - j];
        sum += c[j];
    }
    rs_u64 above = rs_wave_scan_u64(sum, lane) - sum;  // counts of the bins above the run
    rs_u32 found = 0u;  // bin + 1 of the run's highest qualifying bin
#pragma unroll
    for (int j = 0; j < per; ++j) {
        above += c[j];
        if (found == 0u && above >= (rs_u64)k) found = (rs_u32)(top - j) + 1u;
    }
    found = rs_wave_max_u32(found);
    if (lane == 0) chist[RS_CHB] = found ? (tb0 + found - 1u) << 20 : 0u;
}

// Phase-0 scan with top-k candidates (k <= RS_KCAND): the maximum and validity of the span,
// and the candidates of each sub-chunk into the workspace.
template <typename E, bool Rise, int D = RS_MDEEP>
__device__ __noinline__ rs_scan rs_scan_cand(const E* x, int vocab, const rs_rowctx& t) {
    static_assert(D >= 1 && D <= RS_DEEP, "rs_sm.ncand holds RS_DEEP counters a set");
    const int k = t.k;
    const rs_ws& w = t.w;
    rs_u32 mx = 0u, bad = 0u;
    // Top-k candidates: every nonzero element >= T, where T never exceeds the row's k-th
    // largest (it is the lower edge of the 11-bit key bin that holds some sub-chunk's k-th
    // largest, and a sub-chunk's k-th largest is <= the row's). T starts at the first
    // sub-chunk's bin (below) and rises only when a sub-chunk has more than RS_KSLOT
    // candidates, so most sub-chunks cost one scan.
    // Zeros (and the padding past the row's end, loaded as 0) are never candidates: they
    // carry no mass, so no draw and no cut depends on them; a row with fewer than k nonzero
    // elements keeps every element, as the k-th largest is then 0. A thread reserves room for
    // its candidates with one shared atomic (their order does not matter: the selections
    // see a set, the draw rescans the sub-chunk it picks), so a round of D sub-chunks
    // costs one barrier; rounds alternate between two sets of counters as in rs_scan_plain.
    if (threadIdx.x < 2 * D) rs_sm.ncand[threadIdx.x / D][threadIdx.x % D] = 0u;
    // Rise (k x sub-chunks > RS_SHCAND, rs_phase0): about k candidates a sub-chunk at the
    // first sub-chunk's bound would be too many for the last block's shared-memory copy
    // (rs_topk_shared). So a block whose span has more than one round keeps a histogram of its
    // candidates' 11-bit key bins, in a window of RS_CHB bins from the first bound's (bins
    // above it counted in the top one), in rs_sm.u.h.part[1] (free during the scan:
    // rs_raise_bound takes part[0]). After rounds 1, 2, 4, 8, ... (when more follow) one wave
    // finds the highest bin whose candidates and those above number at least k, and the bound
    // rises to its edge: at least k elements of the row are at or above it, so it is at most
    // the row's k-th largest. Counts only grow, so the edge never falls. The rest of the span
    // then keeps about k / n candidates a sub-chunk after n sub-chunks.
    // H100 against the edge of before (a radix pass over the slots so far, taken when the
    // block's candidates a sub-chunk would overflow the copy), the same tokens: 2-byte rows of
    // 64-512 x 128256-262144 (top-k 128, and top-k 50 of 262144) 0.87-0.99 of the time; float
    // rows mixed, 512 x 262144 top-k 50 0.91-0.94 but top-k 128 at 64-512 rows up to 1.045
    // (bench/results/2026-12-07-session36). With a span of one round (few rows) no bound
    // rises, and the histogram cost 2-6 % there, so those blocks keep none. The other entries
    // (Rise false) never instantiate this: with a rising bound they ran 2-6 % slower
    // (bench/results/2026-12-05-session21).
    const bool hr = Rise && t.s1 - t.s0 > D;  // uniform
    rs_u32* chist = rs_sm.u.h.part[1];  // [RS_CHB] counts, then [RS_CHB] the found edge
    if (hr) {
        for (int b = threadIdx.x; b <= RS_CHB; b += RS_BLOCK) chist[b] = 0u;
    }
    __syncthreads();
    // The bound starts at the bin edge of the first sub-chunk's k-th largest: a sub-chunk of a
    // smooth row has far more than RS_KSLOT nonzero elements, so starting from 0 would write
    // RS_KSLOT candidates, find them too many and come here anyway (H200, 1 x 128256: every
    // block did). With fewer than k nonzero elements the edge is 0 and all of them fit.
    rs_u32 T = t.s0 < t.s1 ? rs_raise_bound(x, vocab, t.s0, 1u, k) : 0u;  // the same in every thread
    rs_u32 d = rs_cand_d(x, T > 1u ? T : 1u);  // rs_cand_valid's, for the bound max(T, 1)
    const rs_u32 tb0 = T >> 20;  // hr's window: bins tb0 .. tb0 + RS_CHB - 1 (every key >= T)
    int par = 0, round = 0;  // round: hr's
    // PRE, the rising-bound scan of packed 2-byte rows: the next round's loads are issued
    // before this round is tested, and held through its barriers. H100, the rising-bound
    // rows of 128-512 x 128256-262144 (top-k 128, and 50 at 262144): 2-12 % faster on top of
    // the candidate writes below, 0.98-1.02 at 1-64 rows; the other scans measured 1-2 %
    // slower with it and load each round at its start (bench/results/2026-12-05-session25).
    constexpr bool pre = Rise && rs_packed<E>::value;
    rs_held8<E> h[D];  // padding loads as 0 (see above)
    if (pre) {
#pragma unroll
        for (int q = 0; q < D; ++q)
            rs_load_held8(x, t.s0 + q < t.s1 ? vocab : 0, t.s0 + q, h[q]);
    }
    for (int s = t.s0; s < t.s1; s += D, par ^= 1) {
        rs_held8<E> nx[D];
#pragma unroll
        for (int q = 0; q < D; ++q) {
            const int sq = pre ? s + D + q : s + q;
            rs_load_held8(x, sq < t.s1 ? vocab : 0, sq, pre ? nx[q] : h[q]);
        }
        // Reserve room and write the candidates of mask m (rs_cand_bit's flags), one
        // iteration a candidate: a warp runs as many as its lane with the most (at most 8).
        // A loop over the eight ran all eight, each a branch, whenever one lane of the warp
        // had a candidate: ncu, H100, top-k 50 of 512 x 128256 bf16 rows, 96 % of the warps
        // of a sub-chunk did, and the scan was 72 % of the kernel's instructions. This way
        // that kernel executes 20 % fewer, and 2-byte rows of 64-512 run 5-10 % faster
        // (bench/results/2026-12-05-session25).
        // count: hr's histogram takes each candidate once (not the rewrite of an overflow,
        // whose candidates it holds).
        auto put = [&](int q, rs_u32 m, bool count) {
            const rs_u32 n = (rs_u32)__popc(m);
            if (n) {
                rs_u32 pos = atomicAdd(&rs_sm.ncand[par][q], n);
                rs_u64* slots = w.cand + (long long)(s + q) * RS_KSLOT;
                for (int i = 0; i < 8 && m != 0u; ++i, ++pos) {  // one flag cleared a turn
                    const int j = rs_cand_elem(__ffs((int)m) - 1);
                    m &= m - 1u;
                    const rs_u32 key = rs_key(h[q].pick(j));
                    if (pos < RS_KSLOT)
                        slots[pos] = ((rs_u64)(rs_u32)rs_index8<E>(s + q, j) << 32) | key;
                    if (hr && count) {
                        const rs_u32 b = (key >> 20) - tb0;  // key >= T >= tb0's edge
                        atomicAdd(&chist[b < RS_CHB - 1 ? b : RS_CHB - 1], 1u);
                    }
                }
            }
        };
        // The same for the keys >= lo, one by one (any values).
        auto put_lo = [&](int q, rs_u32 lo, bool count) { put(q, rs_cand_any(h[q], lo), count); };
        const rs_u32 lo = T > 1u ? T : 1u;
#pragma unroll
        for (int q = 0; q < D; ++q) {
            // Packed 2-byte rows: one maximum of the eight stored patterns first
            // (rs_held_max: three instructions on sm_90). Below 0x7f800000 it is their
            // largest key and every value is valid, and below lo none is a candidate; a
            // thread with one (a sub-chunk keeps at most RS_KSLOT of its RS_CHUNK elements)
            // finds them two an addition (rs_cand_valid). The per-element tests are left to
            // the eights with a bad value. H200, top-k 50 of 128-512 x 128256-262144 rows:
            // bf16 2.5-5 % and f16 6-10 % faster (bench/results/2026-12-05-h200-session19);
            // float and logit rows, whose values are held one a register, measured 1.5-2.5 %
            // slower that way and keep the tests one by one.
            const bool packed = rs_packed<E>::value;
            const rs_u32 raw = packed ? rs_held_max(h[q]) : 0xffffffffu;
            if (raw < 0x7f800000u) {
                mx = raw > mx ? raw : mx;
                if (raw >= lo) put(q, rs_cand_valid(h[q], lo, d), true);
            } else {
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    const float f = h[q].at(j);
                    const rs_u32 key = rs_key(f);
                    // !(f >= 0) catches NaN and negatives; the key test catches +Inf.
                    if (!(f >= 0.0f) || key >= 0x7f800000u) bad = 1u;
                    mx = key > mx ? key : mx;
                }
                put_lo(q, lo, true);
            }
        }
        __syncthreads();
        if (hr) ++round;
        const bool raise = hr && (round & (round - 1)) == 0 && s + D < t.s1;  // uniform
        if (raise && threadIdx.x < RS_WAVE) rs_chist_edge(chist, tb0, k);
        for (int q = 0; q < D; ++q) {
            if (rs_sm.ncand[par][q] > RS_KSLOT && s + q < t.s1) {  // uniform: after a barrier
                // Too many: raise T to the bin edge of this sub-chunk's k-th largest (its
                // barriers come after every thread has read the count) and write again.
                T = rs_raise_bound(x, vocab, s + q, T > 1u ? T : 1u, k);
                const rs_u32 lo2 = T > 1u ? T : 1u;
                d = rs_cand_d(x, lo2);
                if (threadIdx.x == 0) rs_sm.ncand[par][q] = 0u;
                __syncthreads();
                put_lo(q, lo2, false);
                __syncthreads();
            }
        }
        if (threadIdx.x < D) {  // publish and clear (read by every thread above)
            const int q = threadIdx.x;
            if (s + q < t.s1) {
                w.ccnt[s + q] = rs_sm.ncand[par][q];
            }
        }
        __syncthreads();
        if (threadIdx.x < D) rs_sm.ncand[par][threadIdx.x] = 0u;
        if (raise) {  // uniform; the edge was stored before the barrier above
            const rs_u32 edge = chist[RS_CHB];
            if (edge > T) {
                T = edge;
                d = rs_cand_d(x, T);
            }
        }
        if (pre) {
#pragma unroll
            for (int q = 0; q < D; ++q) h[q] = nx[q];
        }
    }
    return {mx, bad};
}

// ---- min-p candidates ----

// Phase-0 scan of a min-p row (no top-k, no top-p cut): the maximum and validity of the span,
// and the candidates of each sub-chunk: its nonzero elements >= min_p x the largest value
// this block has seen (this round's sub-chunks included). That bound never exceeds the row's
// cut (min_p x the row maximum; rs_min_p_key is monotone), so every kept element is a
// candidate. Rounds of D sub-chunks (RS_MDEEP; RS_MPDEEP for packed 2-byte rows, whose held
// values take half the registers), one wave maximum and one barrier for the round's maximum;
// a thread reserves room for its candidates with one shared atomic (their order does not
// matter: the draw rescans the sub-chunk it picks). Packed 2-byte rows take their maxima and
// candidate tests two elements an instruction, as the top-k scan does (rs_held_max,
// rs_cand_valid); a thread whose eight hold a bad value or -0.0 tests them one by one.
// H200, min_p 0.1 of 128-512 x 128256-262144 rows, against the scan of before (a maximum per
// sub-chunk, 2-byte values widened at the load, two sub-chunks a round for every type): bf16
// 0.73-0.82 and f16 0.64-0.78 of its time, float 0.94-0.95 (bench/results/2026-12-06-session33).
// A thread whose eight are all candidates (flat rows) writes them at fixed indices: picked
// one by one from the mask, flat float rows ran 1.05-1.07 of the scan of before; this way
// H100, flat rows of 128-512 x 128256 take 0.92-0.95 of the mask loop's time for every type,
// the other min-p rows 0.98-1.02 (bench/results/2026-12-07-session34).
template <typename E>
__device__ __noinline__ rs_scan rs_scan_minp(const E* x, int vocab, const rs_rowctx& t) {
    constexpr bool packed = rs_packed<E>::value;
    constexpr int D = packed ? RS_MPDEEP : RS_MDEEP;
    static_assert(D >= 1 && D <= RS_DEEP, "rs_sm.ncand holds RS_DEEP counters a set");
    const rs_ws& w = t.w;
    if (threadIdx.x < 2 * D) rs_sm.ncand[threadIdx.x / D][threadIdx.x % D] = 0u;
    if (threadIdx.x < 2) rs_sm.cmax[threadIdx.x][0] = 0u;
    __syncthreads();
    rs_u32 rmax = 0u, bad = 0u;  // the same in every thread (read from shared memory)
    rs_u32 dlo = 0u, d = 0u;     // rs_cand_d(x, dlo), computed when the bound changes
    int par = 0;
    for (int s = t.s0; s < t.s1; s += D, par ^= 1) {
        rs_held8<E> h[D];  // padding loads as 0: never a candidate, no maximum
        rs_u32 raw[D];     // rs_held_max: below 0x7f800000 the eight's largest key
#pragma unroll
        for (int q = 0; q < D; ++q) rs_load_held8(x, s + q < t.s1 ? vocab : 0, s + q, h[q]);
        rs_u32 mx = 0u;  // this thread's largest key of the round; all ones for a bad value
#pragma unroll
        for (int q = 0; q < D; ++q) {
            raw[q] = rs_held_max(h[q]);
            if (raw[q] < 0x7f800000u) {
                mx = raw[q] > mx ? raw[q] : mx;
            } else {  // one by one: -0.0 is valid; negatives, Inf and NaN are not
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    const rs_u32 bits = __float_as_uint(h[q].at(j));
                    const rs_u32 key = bits & 0x7fffffffu;
                    const rs_u32 m = (bits > 0x80000000u || key >= 0x7f800000u) ? 0xffffffffu : key;
                    mx = m > mx ? m : mx;
                }
            }
        }
        mx = rs_wave_max_u32(mx);
        if (threadIdx.x % RS_WAVE == 0 && mx) atomicMax(&rs_sm.cmax[par][0], mx);
        __syncthreads();
        const rs_u32 ck = rs_sm.cmax[par][0];
        if (ck == 0xffffffffu) bad = 1u;
        else rmax = ck > rmax ? ck : rmax;
        const rs_u32 lo0 = rs_min_p_key(t.mp, rmax);
        const rs_u32 lo = lo0 > 1u ? lo0 : 1u;
        if (!bad) {
            if (packed && lo != dlo) {  // uniform: lo is
                d = rs_cand_d(x, lo);
                dlo = lo;
            }
#pragma unroll
            for (int q = 0; q < D; ++q) {
                rs_u32 m = 0u;
                if (raw[q] < 0x7f800000u) {
                    if (raw[q] >= lo) m = packed ? rs_cand_valid(h[q], lo, d) : rs_cand_any(h[q], lo);
                } else {
                    m = rs_cand_any(h[q], lo);
                }
                const rs_u32 n = (rs_u32)__popc(m);
                if (n) {
                    rs_u32 pos = atomicAdd(&rs_sm.ncand[par][q], n);
                    rs_u64* slots = w.cand + (long long)(s + q) * RS_KSLOT;
                    if (n == 8u) {  // all eight (flat rows): fixed indices, no picks
#pragma unroll
                        for (int j = 0; j < 8; ++j)
                            if (pos + j < RS_KSLOT)
                                slots[pos + j] = ((rs_u64)(rs_u32)rs_index8<E>(s + q, j) << 32) |
                                                 rs_key(h[q].at(j));
                    } else {
                        for (int i = 0; i < 8 && m != 0u; ++i, ++pos) {  // one flag cleared a turn
                            const int j = rs_cand_elem(__ffs((int)m) - 1);
                            m &= m - 1u;
                            if (pos < RS_KSLOT)
                                slots[pos] = ((rs_u64)(rs_u32)rs_index8<E>(s + q, j) << 32) |
                                             rs_key(h[q].pick(j));
                        }
                    }
                }
            }
        }
        __syncthreads();
        if (threadIdx.x < D) {  // publish and clear, as in rs_scan_plain
            const int q = threadIdx.x;
            if (s + q < t.s1) w.ccnt[s + q] = rs_sm.ncand[par][q];
            rs_sm.ncand[par][q] = 0u;
            if (q == 0) rs_sm.cmax[par][0] = 0u;
        }
    }
    return {rmax, bad};
}
