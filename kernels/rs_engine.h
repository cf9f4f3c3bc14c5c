// rs_engine.h -- the chunked sampling engine behind every sampling entry (ABI version 3).
//
// A row is cut into sub-chunks of RS_CHUNK elements. The grid is (batch, G), 1 <= G <= the
// number of sub-chunks nc: block (r, g) works on G's share of row r, a run of S = ceil(nc / G)
// consecutive sub-chunks (its "span"), so one row keeps up to nc SMs/CUs busy when rows are
// few, and large batches use few, long blocks. Work that needs the whole row is done by the
// last block of the row to finish a phase (an atomic ticket per row after a memory fence;
// no block ever waits for another, so nothing assumes co-residency and nothing can hang).
// The host launches the entry once per phase (phase = 0 .. nphase-1) on one stream:
//   * top-k with k <= RS_KCAND (with or without top-p / min-p): 1 phase, one read of the
//     row. Each sub-chunk keeps its nonzero elements at or above the 11-bit key bin that
//     holds the k-th largest of some sub-chunk of its block (never above the row's k-th
//     largest, so a superset of its share of the row's top-k); the last block selects
//     exactly among those candidates, finds the top-p cut among the ~k at or above the k-th
//     largest, and draws.
//   * plain sampling (no filter): 1 phase, one read of the row. Each sub-chunk's mass is
//     taken at the sub-chunk's own scale (rs_common.h: plain sampling), so no pass has to
//     find the row maximum first; the last block aligns the sub-chunk sums and draws.
//   * min-p alone: 2 phases (the row maximum, which fixes the cut and the mass scale; the
//     kept mass of each span, then the draw inside the one span that holds the target). A
//     row with one block reads once when no sub-chunk has more than RS_KSLOT elements >=
//     min_p x the largest value the block has seen (candidates, as for top-k).
//   * top-p: 2 reads. Phase 0: the maximum, and per 11-bit key bin (key >> 20) the exact
//     sum of the significands of its elements. A bin's elements share one exponent, so once
//     the maximum is known its mass (the sum of the truncated masses of rs_common.h) lies
//     within a proven interval of that sum, shifted (rs_hist_bounds); from the bins'
//     cumulative bounds and p the last block finds the range of bins [lo, hi] that must hold
//     the cut (the top-p stages, whose p comes with the next launch, store the bounds and
//     every phase-1 block finds the range). Phase 1 sums the exact mass above hi and of the
//     row, and gathers the elements of [lo, hi]; the last block finds the exact cut among
//     them and draws (or leaves the draw to a third launch when it has no seed: the stages).
// Rows the fast paths cannot serve (more than RS_KSLOT top-k candidates in a sub-chunk, k >
// RS_KCAND, more than RS_CAPC elements in the cut bin) are finished by one block with the
// full-row algorithm (min-p rows with too many candidates take the two phases instead); every
// path draws the same token (the semantics are in rs_common.h).
//
// Workspace ws (unsigned long longs): batch x RS_HBINS histogram words (row r's at ws + r *
// RS_HBINS: where they are depends on nothing but r), then batch ticket words, then
// rs_ws_words(vocab) per row, row r at ws + batch * (RS_HBINS + 1) + r * rs_ws_words(vocab).
// The first batch * (RS_HBINS + 1) words (histograms and tickets) must be zero before a call;
// the kernels leave them zero after every complete call (tickets after every phase). The rest
// needs no initialisation. Calls that may run at the same time need their own workspaces.
#pragma once
#include "rs_common.h"

// Phases may overlap (programmatic dependent launch, NVIDIA sm_90 and later): the host may
// launch phase n > 0 with permission to start while phase n - 1 is still running. Every entry
// of the engine lets the next launch start early (rs_grid_release) and, in phase n > 0, waits
// until the previous grid has completed and its writes are visible (rs_grid_wait) before it
// reads the workspace; until then a block only sets up its row context from the arguments.
// Both are no-ops for a grid launched without that permission, and on HIP. The loader
// launches a code object that way only if it defines this symbol (rocsample.codeobject), so
// a code object from other sources is never overlapped with a phase it must wait for.
extern "C" __device__ __attribute__((used)) const unsigned int rocsample_grid_wait = 1;

// A module whose entries never see a top-k row (topp_sampling.hip: top_k is always 0) defines
// RS_WITH_TOPK 0 before including this file: the candidate scan and the top-k selections are
// then never called and not compiled (that module compiles in a third to half less time).
#ifndef RS_WITH_TOPK
#define RS_WITH_TOPK 1
#endif
#if defined(RS_CUDA) && \
    defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define RS_GRID_DEP 1
#endif
__device__ __forceinline__ void rs_grid_release() {
#ifdef RS_GRID_DEP
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void rs_grid_wait() {
#ifdef RS_GRID_DEP
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

#define RS_CHUNK 4096                                // elements per sub-chunk
static_assert(RS_CHUNK <= RS_DRAW_STAGE, "a sub-chunk draw stages its span in rs_sm.sel");
#define RS_PER (RS_CHUNK / RS_BLOCK)                 // elements per thread per sub-chunk
#define RS_KCAND 128                                 // largest k of the one-read top-k path
#define RS_KSLOT 256                                 // candidate room per sub-chunk
#define RS_HBINS 2048                                // top-p histogram bins: key >> 20
#define RS_CAPC 8192                                 // top-p cut-bin capacity
#define RS_FEWCUT (RS_BLOCK / 2)                     // top-p: cut found one element a thread
#define RS_CUTREG 4                                  // ... gathered elements a thread holds
#define RS_DEEP 4                                    // sub-chunks in flight: streaming loops
#define RS_MDEEP 2                                   // ... in the min-p candidate scan
#define RS_MAX_CHUNKS ((RS_VOCAB_MAX + RS_CHUNK - 1) / RS_CHUNK)
#define RS_WS_HEAD 16
#define RS_WAVE_PICK (2 * RS_WAVE)  // up to this many sub-chunks, every wave picks the draw's
                                    // sub-chunk alone (rs_wave_pick)

// Entry points of the engine ask for two resident blocks per SM on NVIDIA (at most 64
// registers a thread): the phases stream memory and need the threads in flight. HIP's second
// __launch_bounds__ argument means something else (waves per EU), so AMD gets the first only.
#ifdef RS_CUDA
#define RS_ENGINE_BOUNDS __launch_bounds__(RS_BLOCK, 2)
#else
#define RS_ENGINE_BOUNDS __launch_bounds__(RS_BLOCK)
#endif

#if RS_PER != 8 || (RS_HBINS % RS_BLOCK) != 0
#error "the engine loads 8 elements per thread per sub-chunk (RS_CHUNK = 8 * RS_BLOCK) and splits the histograms evenly over the threads"
#endif

// Workspace head words.
#define RS_H_STATE 1    // what the row needs next (RS_S_*)
#define RS_H_MAX 2      // key of the row maximum
#define RS_H_THR 3      // the cut key for the kept-mass phase and the draw
#define RS_H_TOKEN 4    // the row's token once done
#define RS_H_RANGE 5    // top-p: RS_RANGE_SET | the cut's bin range (lo | hi << 16) when
                        // phase 0 knew p; 0 when it stored the bounds (the top-p stages)
#define RS_RANGE_SET 0x80000000u
#define RS_H_NCAND 8    // top-p: elements gathered from the cut bins

#define RS_S_DONE 1
#define RS_S_MASS 2
#define RS_S_HIST 3     // top-p: the bins' mass bounds are in hist / hlow
#define RS_S_DRAW 5
#define RS_S_PDRAW 6    // plain: sub-chunk masses and maxima are in smass / ccnt

__device__ __forceinline__ int rs_nchunks(int vocab) { return (vocab + RS_CHUNK - 1) / RS_CHUNK; }

__device__ __forceinline__ long long rs_cand_words(int vocab) {
    const long long c = (long long)rs_nchunks(vocab) * RS_KSLOT;
    return c > RS_CAPC ? c : RS_CAPC;
}

// Workspace words per row: head, three u64 per sub-chunk, the lower mass bounds of the
// top-p bins (2048 u64), the candidates. rocsample.registry.ws_words mirrors this.
__device__ __forceinline__ long long rs_ws_words(int vocab) {
    return RS_WS_HEAD + 3LL * rs_nchunks(vocab) + RS_HBINS + rs_cand_words(vocab);
}

struct rs_ws {
    rs_u64* head;
    rs_u64* slot_a;  // per block: phase 0 (bad << 32 | max key)
    rs_u64* smass;   // per sub-chunk: kept mass (zeroed by phase 0, summed by warp atomics)
    rs_u64* ccnt;    // per sub-chunk: phase 0 candidate count; plain: the maximum key; top-p
                     // phase 1: the sub-chunk's mass
    rs_u64* hist;    // RS_HBINS, zero between calls: top-p significand sums, then the bins'
                     // cumulative upper mass bounds (from the top)
    rs_u64* hlow;    // RS_HBINS: ... the cumulative lower bounds
    rs_u64* cand;    // (index << 32 | key)
    rs_u32* ticket;
};

__device__ __forceinline__ rs_ws rs_ws_row(rs_u64* ws, int batch, int row, int vocab) {
    rs_ws w;
    const int nc = rs_nchunks(vocab);
    w.hist = ws + (long long)row * RS_HBINS;
    w.ticket = (rs_u32*)(ws + (long long)batch * RS_HBINS + row);
    w.head = ws + (long long)batch * (RS_HBINS + 1) + (long long)row * rs_ws_words(vocab);
    w.slot_a = w.head + RS_WS_HEAD;
    w.smass = w.slot_a + nc;
    w.ccnt = w.smass + nc;
    w.hlow = w.ccnt + nc;
    w.cand = w.hlow + RS_HBINS;
    return w;
}

// Zeroes the row's top-p histogram (every block of the row is done with it).
__device__ __forceinline__ void rs_clear_hist(const rs_ws& w) {
    for (int d = threadIdx.x; d < RS_HBINS; d += RS_BLOCK) w.hist[d] = 0ull;
}

// Reads of data other blocks wrote in this launch go around the (incoherent) L1.
__device__ __forceinline__ rs_u64 rs_vld(const rs_u64* p) { return *(const volatile rs_u64*)p; }
__device__ __forceinline__ rs_u32 rs_vld32(const rs_u32* p) {
    return *(const volatile rs_u32*)p;
}

struct rs_eshared {
    union {
        struct { rs_u32 part[2][RS_HBINS]; } h;  // top-p histogram (rs_hist_add2); counts
        struct { rs_u64 mass[RS_MAX_CHUNKS]; rs_u32 cnt[RS_MAX_CHUNKS]; } f;  // finishers
    } u;
    alignas(16) rs_u64 sel[RS_HBINS];  // radix selection histogram; the draw's stage (float4)
    rs_u64 wsum[2][RS_DEEP][RS_NWAVES];  // plain scan: per round, sub-chunk and wave
    rs_u32 cmax[2][RS_DEEP];
    rs_u32 ncand[2][RS_DEEP];             // candidate scans: candidates per sub-chunk in flight
    int nkept;                            // top-k: candidates at or above the k-th largest
    rs_smem b;
};

// The engine's shared memory: one object per block, at file scope so that every function
// below addresses it directly (no generic pointers) and each kernel allocates it once.
__shared__ rs_eshared rs_sm;

// Adds w to hist[bin] for every lane with valid set; all lanes of the wave must call it.
// When the whole wave hits one bin (flat or peaked rows) one atomic replaces RS_WAVE.
template <typename T>
__device__ __forceinline__ void rs_hist_add(T* hist, rs_u32 bin, T w, bool valid) {
    const rs_u32 b0 = RS_SHFL(bin, 0);
    if (RS_ALL(valid && bin == b0)) {
        const rs_u64 s = rs_wave_sum_u64((rs_u64)w);
        if (threadIdx.x % RS_WAVE == 0) atomicAdd(&hist[b0], (T)s);
    } else if (valid) {
        atomicAdd(&hist[bin], w);
    }
}

// The 24-bit significand of a key (the implicit bit included for normal values): a value is
// rs_sig(key) * 2^(rs_exp(key) - 150), and every key of an 11-bit bin (key >> 20) has the same
// exponent.
__device__ __forceinline__ rs_u32 rs_sig(rs_u32 key) {
    return (key >> 23) ? ((key & 0x7fffffu) | 0x800000u) : key;
}

// Adds a significand sig < 2^24 to bin `bin` of the two 32-bit part histograms
// rs_sm.u.h.part[0..1] (bits 0-11 and 12 up): 32-bit shared atomics are native, 64-bit ones
// compare-and-swap loops. Over F sub-chunks each part gains less than F * 2^24 (F * 4096
// calls of < 2^12 for the low part; the high part sums sig / 2^12), so the parts must be
// flushed at least every 255 sub-chunks (RS_SIGFLUSH). All lanes must call it.
#define RS_SIGFLUSH 64
__device__ __forceinline__ void rs_hist_add2(rs_u32 bin, rs_u32 sig) {
    const rs_u32 b0 = RS_SHFL(bin, 0);
    rs_u32 b = bin;
    if (RS_ALL(sig == 0u || bin == b0)) {  // one bin for the wave: one add (< 2^29)
        sig = rs_wave_sum_u32(sig);
        if (threadIdx.x % RS_WAVE != 0) sig = 0u;
        b = b0;
    }
    if (sig == 0u) return;
    atomicAdd(&rs_sm.u.h.part[0][b], sig & 0xfffu);
    if (sig >> 12) atomicAdd(&rs_sm.u.h.part[1][b], sig >> 12);
}

// Adds v over the wave to *dst with one atomic (all lanes must call it).
__device__ __forceinline__ void rs_wave_add(rs_u64* dst, rs_u64 v) {
    v = rs_wave_sum_u64(v);
    if (threadIdx.x % RS_WAVE == 0 && v != 0ull) atomicAdd(dst, v);
}

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
        visit([&](rs_u32 key) {
            if ((key & mask) == prefix && key >= floor_key) {
                const rs_u32 d = (key >> shift) & (rs_u32)(nb - 1);
                if (!MASS) {
                    atomicAdd(&cnt[d], 1u);
                } else {
                    const rs_u64 w = rs_mass(key, max_exp);
                    if (w) atomicAdd(&rs_sm.sel[d], w);
                }
            }
        });
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

// Visitor over a whole row (the one-block fallback; kept small: it is rarely taken).
struct rs_row_keys {
    const float* x;
    int vocab;
    template <typename F>
    __device__ void operator()(F f) const {
        for (int i = threadIdx.x; i < vocab; i += RS_BLOCK) f(rs_key(x[i]));
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

__device__ __noinline__ int rs_plain_row(const float* x, int vocab, const rs_ws& w, rs_u64 r);

// One block does everything for a row: the full-row algorithm (a few reads of the row).
__device__ __noinline__ int rs_slow_row(const float* x, int vocab, rs_u32 max_key, int k, float p,
                                        float mp, rs_u64 r, const rs_ws& w) {
    if (!(k > 0 && k < vocab) && !(p < 1.0f) && !(mp > 0.0f)) return rs_plain_row(x, vocab, w, r);
    const int max_exp = rs_exp(max_key);
    const rs_row_keys all = {x, vocab};
    rs_u32 thr = 0u;
    if (k > 0 && k < vocab)
        thr = rs_select<false>(all, 0, 0u, 0u, (rs_u64)k, 0.0, 0ull, max_exp, 0);
    if (p < 1.0f)
        thr = rs_select<true>(all, 0, 0u, thr, 0ull, -(double)p, 0ull, max_exp, 0);
    const rs_u32 mthr = rs_min_p_key(mp, max_key);
    thr = mthr > thr ? mthr : thr;
    return rs_draw(x, vocab, thr, max_exp, r, &rs_sm.b);
}

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
__device__ __noinline__ int rs_draw_chunks(const float* x, int vocab, int nc, rs_u32 thr,
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

struct rs_args {
    const float* probs;
    long long row_stride;
    int batch, vocab;
    const int* top_k;
    int top_k_val;
    const float* top_p;
    float top_p_val;
    const float* min_p;
    float min_p_val;
    bool has_rng;        // seed/offset given: this launch may draw
    bool p_later;        // top-p stage 1: p comes with the next phase (plan for a cut)
    rs_u64 seed, offset;
    int* out;            // may be NULL: the token stays in the workspace
    rs_u64* ws;
    int phase, nphase;
};

// Everything a block knows about its row and span.
struct rs_rowctx {
    int row, g, ng, nc, s0, s1, span, k;  // sub-chunks [s0, s1); span = elements per block
    float p, mp;
    const float* x;
    rs_ws w;
    rs_u32* ticket;
    rs_u64 r;
    bool final_phase, topk;
    rs_u32 max_key, mthr;  // phases 1 and 2
};

// Ends the block's part of a phase; true for the last block of the row, which then sees
// every other block's writes.
__device__ __forceinline__ bool rs_last_block(const rs_rowctx& t) {
    if (t.ng == 1) {  // the row's only block: a barrier makes its writes visible to itself
        __syncthreads();
        return true;
    }
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0)
        rs_sm.b.last = atomicInc(t.ticket, (rs_u32)(t.ng - 1)) == (rs_u32)(t.ng - 1);
    __syncthreads();
    const bool last = rs_sm.b.last != 0;
    if (last) __threadfence();
    return last;
}

__device__ __forceinline__ void rs_finish(const rs_args& a, const rs_rowctx& t, int tok) {
    if (threadIdx.x == 0) {
        t.w.head[RS_H_TOKEN] = (rs_u64)(rs_u32)tok;
        t.w.head[RS_H_STATE] = RS_S_DONE;
        if (a.out) a.out[t.row] = tok;
    }
}

// Loads the 8 elements of sub-chunk s that this thread owns: element j is at index
// s * RS_CHUNK + 4 * ((j / 4) * RS_BLOCK + threadIdx.x) + j % 4 (16-byte loads when aligned).
__device__ __forceinline__ void rs_load8(const float* x, int vocab, int s, float (&v)[8],
                                         bool (&ok)[8]) {
    const bool vec = ((((unsigned long long)x) & 15ull) == 0ull);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int i = s * RS_CHUNK + 4 * (h * RS_BLOCK + (int)threadIdx.x);
        float4 q = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (vec && i + 3 < vocab) {
            q = *(const float4*)(x + i);
        } else {
            if (i < vocab) q.x = x[i];
            if (i + 1 < vocab) q.y = x[i + 1];
            if (i + 2 < vocab) q.z = x[i + 2];
            if (i + 3 < vocab) q.w = x[i + 3];
        }
        v[4 * h] = q.x;
        v[4 * h + 1] = q.y;
        v[4 * h + 2] = q.z;
        v[4 * h + 3] = q.w;
#pragma unroll
        for (int j = 0; j < 4; ++j) ok[4 * h + j] = i + j < vocab;
    }
}

__device__ __forceinline__ int rs_index8(int s, int j) {
    return s * RS_CHUNK + 4 * ((j >> 2) * RS_BLOCK + (int)threadIdx.x) + (j & 3);
}

// ---- plain sampling: one read (the plain mass of rs_common.h) ----

// Each sub-chunk of [s0, s1): its maximum key into ccnt[c] (0xffffffff when it holds NaN, Inf
// or a negative value) and its mass at its own scale (its maximum in [2^39, 2^40)) into
// smass[c], and both into rs_sm.u.f.cnt[c] / mass[c] as well. Rounds of two sub-chunks,
// each with one block-wide maximum per sub-chunk (a wave reduction, one shared atomic per
// wave) and one block-wide sum (a slot per wave), two
// barriers; the next round's loads are issued before this round's work, so they are in
// flight across its barriers (H200, 128 x 128256: 43.7 -> 40.3 us against four sub-chunks
// loaded and then worked on).
// (Measured on an H200: finishing each 128-element group within its wave instead, with no
// barrier, was slower: more instructions per element and a longer draw.)
__device__ __noinline__ void rs_scan_plain(const float* x, int vocab, int s0, int s1,
                                           const rs_ws& w) {
    constexpr int D = 2;  // sub-chunks a round; the next round's loads fly during this one's
    if (threadIdx.x < 2 * RS_DEEP) rs_sm.cmax[threadIdx.x / RS_DEEP][threadIdx.x % RS_DEEP] = 0u;
    __syncthreads();
    int par = 0;
    float va[D][8], vb[D][8];
    bool ok[D][8];  // unused: padding loads as 0, which adds no mass
    auto load = [&](float (&v)[D][8], int s) {
#pragma unroll
        for (int q = 0; q < D; ++q) rs_load8(x, s + q < s1 ? vocab : 0, s + q, v[q], ok[q]);
    };
    auto round = [&](const float (&v)[D][8], int s) {
#pragma unroll
        for (int q = 0; q < D; ++q) {
            rs_u32 mx = 0u, raw = 0u;
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const rs_u32 bits = __float_as_uint(v[q][j]);
                const rs_u32 key = bits & 0x7fffffffu;
                mx = key > mx ? key : mx;
                raw = bits > raw ? bits : raw;
            }
            // The largest key, and the largest raw bit pattern: above 0x80000000 exactly
            // when some value is negative (-0.0 is 0x80000000); a key >= 0x7f800000 is Inf
            // or NaN: a bad sub-chunk.
            if (raw > 0x80000000u || mx >= 0x7f800000u) mx = 0xffffffffu;
            mx = rs_wave_max_u32(mx);
            if (threadIdx.x % RS_WAVE == 0 && mx) atomicMax(&rs_sm.cmax[par][q], mx);
        }
        __syncthreads();
#pragma unroll
        for (int q = 0; q < D; ++q) {
            const rs_u32 ck = rs_sm.cmax[par][q];
            const int ce = rs_exp(ck);
            rs_u64 m = 0ull;
            if (ck != 0xffffffffu) {
#pragma unroll
                for (int j = 0; j < 8; ++j) m += rs_mass(rs_key(v[q][j]), ce);
            }
            m = rs_wave_sum_u64(m);
            // A slot per wave: 64-bit shared atomics are compare-and-swap loops.
            if (threadIdx.x % RS_WAVE == 0) rs_sm.wsum[par][q][threadIdx.x / RS_WAVE] = m;
        }
        __syncthreads();
        // Thread q publishes sub-chunk q of the round and clears its maximum; the next round
        // uses the other buffers, and the round after that starts behind this round's
        // barriers.
        if (threadIdx.x < D) {
            const int q = threadIdx.x;
            rs_u64 m = 0ull;
            for (int u = 0; u < RS_NWAVES; ++u) m += rs_sm.wsum[par][q][u];
            if (s + q < s1) {
                w.smass[s + q] = m;
                w.ccnt[s + q] = rs_sm.cmax[par][q];
                rs_sm.u.f.mass[s + q] = m;  // a row's only block draws from these
                rs_sm.u.f.cnt[s + q] = rs_sm.cmax[par][q];
            }
            rs_sm.cmax[par][q] = 0u;
        }
        par ^= 1;
    };
    load(va, s0);
    for (int s = s0; s < s1; s += 2 * D) {
        load(vb, s + D);
        round(va, s);
        if (s + D >= s1) break;
        load(va, s + 2 * D);
        round(vb, s + D);
    }
}

// The plain draw once every sub-chunk of the row is in smass / ccnt (rs_scan_plain): the
// row's exponent is the largest sub-chunk exponent; sub-chunk c weighs smass[c] >> (row
// exponent - its exponent); the target picks the sub-chunk and one block scans it at its own
// scale. -1 for an invalid row. local: this block scanned every sub-chunk, so they are in
// rs_sm.u.f already (else one pass copies them there: H200, the three dependent passes over
// the workspace were ~1.5 us of a one-block row).
__device__ __noinline__ int rs_plain_draw(const float* x, int vocab, int nc, const rs_ws& w,
                                          rs_u64 r, bool local) {
    rs_u32* ck = rs_sm.u.f.cnt;
    rs_u64* cm = rs_sm.u.f.mass;
    if (!local) {
        for (int c = threadIdx.x; c < nc; c += RS_BLOCK) {
            const rs_u64 k = rs_vld(w.ccnt + c), m = rs_vld(w.smass + c);
            ck[c] = (rs_u32)k;
            cm[c] = m;
        }
    }
    __syncthreads();
    const bool by_wave = nc <= RS_WAVE_PICK;  // every wave alone (rs_wave_pick)
    rs_u32 mk = 0u;
    if (by_wave) {
        const int lane = threadIdx.x % RS_WAVE;
        for (int c = lane; c < nc; c += RS_WAVE) mk = ck[c] > mk ? ck[c] : mk;
        mk = rs_wave_max_u32(mk);  // a bad sub-chunk's 0xffffffff wins
    } else {
        for (int c = threadIdx.x; c < nc; c += RS_BLOCK) mk = ck[c] > mk ? ck[c] : mk;
        mk = rs_block_max_u32(mk, &rs_sm.b);
    }
    if (mk == 0xffffffffu || mk == 0u) return -1;  // NaN, Inf, < 0, or zero mass
    const int emax = rs_exp(mk);
    auto weight = [&](int c) {
        const int d = emax - rs_exp(ck[c]);
        return d < 64 ? cm[c] >> d : 0ull;
    };
    rs_u64 before = 0ull, target;
    int c = -1;
    if (by_wave) {  // the sum is > 0: the maximum's sub-chunk
        c = rs_wave_pick(nc, weight, r, &before, &target);
    } else {
        rs_u64 s = 0ull;
        for (int i = threadIdx.x; i < nc; i += RS_BLOCK) {
            const rs_u64 m = weight(i);
            cm[i] = m;  // this thread's own entry, read just above
            s += m;
        }
        const rs_u64 total = rs_block_sum_u64(s, &rs_sm.b);  // its barriers publish cm
        target = __umul64hi(r, total);
        c = rs_pick(cm, nc, false, [&](rs_u64 b, rs_u64 h) { return target < b + h; },
                    &before, &rs_sm.b);
    }
    if (c < 0) return -1;
    const int ce = rs_exp(ck[c]);
    const int d = emax - ce;  // < 64: the sub-chunk has weight
    // The first token whose cumulative mass at the sub-chunk's scale, shifted right by d,
    // exceeds target - before: the first whose cumulative mass exceeds this local target.
    const rs_u64 local_target = ((target - before + 1ull) << d) - 1ull;
    const int end = (c + 1) * RS_CHUNK < vocab ? (c + 1) * RS_CHUNK : vocab;
    return rs_draw_span(x, c * RS_CHUNK, end, 0u, ce, false, 0ull, local_target, &rs_sm.b,
                        (float4*)rs_sm.sel);
}

// A plain row by one block (the fallback when a launch left it unfinished).
__device__ __noinline__ int rs_plain_row(const float* x, int vocab, const rs_ws& w, rs_u64 r) {
    const int nc = rs_nchunks(vocab);
    rs_scan_plain(x, vocab, 0, nc, w);
    __syncthreads();  // thread 0's stores are visible to the block
    return rs_plain_draw(x, vocab, nc, w, r, true);
}

// The plain phase: the span's sub-chunks; the row's last block draws (or leaves the draw to
// a later launch when this one has no seed).
__device__ __noinline__ void rs_phase_plain(const rs_args& a, const rs_rowctx& t,
                                            bool clear = false) {  // clear: as rs_phase_mass
    rs_scan_plain(t.x, a.vocab, t.s0, t.s1, t.w);
    if (!rs_last_block(t)) return;
    if (clear) rs_clear_hist(t.w);
    if (a.has_rng) {
        rs_finish(a, t, rs_plain_draw(t.x, a.vocab, t.nc, t.w, t.r, t.ng == 1));
    } else if (threadIdx.x == 0) {
        t.w.head[RS_H_STATE] = RS_S_PDRAW;
    }
}

// The lower edge of the 11-bit key bin that holds the k-th largest of sub-chunk s's keys
// >= T, or T if that is higher. Block-wide; called for a block's first sub-chunk and for one
// with too many candidates (it reads the sub-chunk itself, so that the caller's registers
// need not be addressable; the caller's own load of it then comes from cache).
__device__ __noinline__ rs_u32 rs_raise_bound(const float* x, int vocab, int s, rs_u32 T,
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

// The result of a block's phase-0 scan of its span.
struct rs_scan { rs_u32 mx, bad; };

// Phase-0 scan without top-k candidates: the maximum and validity of the span.
__device__ __noinline__ rs_scan rs_scan_max(const float* x, int vocab, const rs_rowctx& t) {
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

// Phase-0 scan of a row that may need a top-p cut: the maximum and validity of the span, and
// per 11-bit key bin the exact sum of the significands of its elements (rs_sig), added into
// the row's histogram w.hist (zero before the call; a row's only block keeps its sums in
// rs_sm.sel instead and leaves w.hist alone). Two sub-chunks of loads in flight (the
// histogram adds need registers; issuing the next sub-chunk's loads before a sub-chunk's
// adds instead measured no faster on an H200); the shared parts are flushed into 64-bit
// sums every RS_SIGFLUSH sub-chunks. Bad elements (NaN, Inf, negative) add too: their row
// is invalid and its histogram is cleared by the last block.
__device__ __noinline__ rs_scan rs_scan_sig(const float* x, int vocab, const rs_rowctx& t) {
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
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    const rs_u32 key = rs_key(v[q][j]);
                    // !(v >= 0) catches NaN and negatives; the key test catches +Inf.
                    if (!(v[q][j] >= 0.0f) || key >= 0x7f800000u) bad = 1u;
                    mx = key > mx ? key : mx;
                    rs_hist_add2(key >> 20, rs_sig(key));
                }
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

// Phase-0 scan with top-k candidates (k <= RS_KCAND): the maximum and validity of the span,
// and the candidates of each sub-chunk into the workspace.
__device__ __noinline__ rs_scan rs_scan_cand(const float* x, int vocab, const rs_rowctx& t) {
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
    // see a set, the draw rescans the sub-chunk it picks), so a round of RS_MDEEP sub-chunks
    // costs one barrier; rounds alternate between two sets of counters as in rs_scan_plain.
    if (threadIdx.x < 2 * RS_MDEEP) rs_sm.ncand[threadIdx.x / RS_MDEEP][threadIdx.x % RS_MDEEP] = 0u;
    __syncthreads();
    // The bound starts at the bin edge of the first sub-chunk's k-th largest: a sub-chunk of a
    // smooth row has far more than RS_KSLOT nonzero elements, so starting from 0 would write
    // RS_KSLOT candidates, find them too many and come here anyway (H200, 1 x 128256: every
    // block did). With fewer than k nonzero elements the edge is 0 and all of them fit.
    rs_u32 T = t.s0 < t.s1 ? rs_raise_bound(x, vocab, t.s0, 1u, k) : 0u;  // the same in every thread
    int par = 0;
    for (int s = t.s0; s < t.s1; s += RS_MDEEP, par ^= 1) {
        float v[RS_MDEEP][8];
        bool ok[RS_MDEEP][8];  // unused: padding loads as 0 (see above)
#pragma unroll
        for (int q = 0; q < RS_MDEEP; ++q) rs_load8(x, s + q < t.s1 ? vocab : 0, s + q, v[q], ok[q]);
        auto put = [&](int q, rs_u32 lo) {  // reserve room, write the candidates
            rs_u32 n = 0u;
#pragma unroll
            for (int j = 0; j < 8; ++j) n += rs_key(v[q][j]) >= lo ? 1u : 0u;
            if (n) {
                rs_u32 pos = atomicAdd(&rs_sm.ncand[par][q], n);
                rs_u64* slots = w.cand + (long long)(s + q) * RS_KSLOT;
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    const rs_u32 key = rs_key(v[q][j]);
                    if (key >= lo) {
                        if (pos < RS_KSLOT)
                            slots[pos] = ((rs_u64)(rs_u32)rs_index8(s + q, j) << 32) | key;
                        ++pos;
                    }
                }
            }
        };
        const rs_u32 lo = T > 1u ? T : 1u;
#pragma unroll
        for (int q = 0; q < RS_MDEEP; ++q) {
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const rs_u32 key = rs_key(v[q][j]);
                // !(v >= 0) catches NaN and negatives; the key test catches +Inf.
                if (!(v[q][j] >= 0.0f) || key >= 0x7f800000u) bad = 1u;
                mx = key > mx ? key : mx;
            }
            put(q, lo);
        }
        __syncthreads();
        for (int q = 0; q < RS_MDEEP; ++q) {
            if (rs_sm.ncand[par][q] > RS_KSLOT && s + q < t.s1) {  // uniform: after a barrier
                // Too many: raise T to the bin edge of this sub-chunk's k-th largest (its
                // barriers come after every thread has read the count) and write again.
                T = rs_raise_bound(x, vocab, s + q, T > 1u ? T : 1u, k);
                if (threadIdx.x == 0) rs_sm.ncand[par][q] = 0u;
                __syncthreads();
                put(q, T > 1u ? T : 1u);
                __syncthreads();
            }
        }
        if (threadIdx.x < RS_MDEEP) {  // publish and clear (read by every thread above)
            const int q = threadIdx.x;
            if (s + q < t.s1) w.ccnt[s + q] = rs_sm.ncand[par][q];
        }
        __syncthreads();
        if (threadIdx.x < RS_MDEEP) rs_sm.ncand[par][threadIdx.x] = 0u;
    }
    return {mx, bad};
}

// Phase-0 scan of a min-p row (no top-k, no top-p cut): the maximum and validity of the span,
// and the candidates of each sub-chunk: its nonzero elements >= min_p x the largest value
// this block has seen (this round's sub-chunks included). That bound never exceeds the row's
// cut (min_p x the row maximum; rs_min_p_key is monotone), so every kept element is a
// candidate. Rounds of RS_MDEEP sub-chunks as in rs_scan_plain (fewer in flight: the
// candidate writes need registers); a thread reserves room for its candidates with one
// shared atomic (their order does not matter: the draw rescans the sub-chunk it picks).
__device__ __noinline__ rs_scan rs_scan_minp(const float* x, int vocab, const rs_rowctx& t) {
    const rs_ws& w = t.w;
    if (threadIdx.x < 2 * RS_MDEEP) {
        rs_sm.cmax[threadIdx.x / RS_MDEEP][threadIdx.x % RS_MDEEP] = 0u;
        rs_sm.ncand[threadIdx.x / RS_MDEEP][threadIdx.x % RS_MDEEP] = 0u;
    }
    __syncthreads();
    rs_u32 rmax = 0u, bad = 0u;  // the same in every thread (read from shared memory)
    int par = 0;
    for (int s = t.s0; s < t.s1; s += RS_MDEEP, par ^= 1) {
        float v[RS_MDEEP][8];
        bool ok[RS_MDEEP][8];  // unused: padding loads as 0, never a candidate
#pragma unroll
        for (int q = 0; q < RS_MDEEP; ++q) rs_load8(x, s + q < t.s1 ? vocab : 0, s + q, v[q], ok[q]);
#pragma unroll
        for (int q = 0; q < RS_MDEEP; ++q) {
            rs_u32 mx = 0u, raw = 0u;  // as in rs_scan_plain
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const rs_u32 bits = __float_as_uint(v[q][j]);
                const rs_u32 key = bits & 0x7fffffffu;
                mx = key > mx ? key : mx;
                raw = bits > raw ? bits : raw;
            }
            if (raw > 0x80000000u || mx >= 0x7f800000u) mx = 0xffffffffu;
            mx = rs_wave_max_u32(mx);
            if (threadIdx.x % RS_WAVE == 0 && mx) atomicMax(&rs_sm.cmax[par][q], mx);
        }
        __syncthreads();
#pragma unroll
        for (int q = 0; q < RS_MDEEP; ++q) {
            const rs_u32 ck = rs_sm.cmax[par][q];
            if (ck == 0xffffffffu) bad = 1u;
            else rmax = ck > rmax ? ck : rmax;
        }
        const rs_u32 lo0 = rs_min_p_key(t.mp, rmax);
        const rs_u32 lo = lo0 > 1u ? lo0 : 1u;
        if (!bad) {
#pragma unroll
            for (int q = 0; q < RS_MDEEP; ++q) {
                rs_u32 n = 0u;
#pragma unroll
                for (int j = 0; j < 8; ++j) n += rs_key(v[q][j]) >= lo ? 1u : 0u;
                if (n) {
                    rs_u32 pos = atomicAdd(&rs_sm.ncand[par][q], n);
                    rs_u64* slots = w.cand + (long long)(s + q) * RS_KSLOT;
#pragma unroll
                    for (int j = 0; j < 8; ++j) {
                        const rs_u32 key = rs_key(v[q][j]);
                        if (key >= lo) {
                            if (pos < RS_KSLOT)
                                slots[pos] = ((rs_u64)(rs_u32)rs_index8(s + q, j) << 32) | key;
                            ++pos;
                        }
                    }
                }
            }
        }
        __syncthreads();
        if (threadIdx.x < RS_MDEEP) {  // publish and clear, as in rs_scan_plain
            const int q = threadIdx.x;
            if (s + q < t.s1) w.ccnt[s + q] = rs_sm.ncand[par][q];
            rs_sm.ncand[par][q] = 0u;
            rs_sm.cmax[par][q] = 0u;
        }
    }
    return {rmax, bad};
}

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

// The last block of a top-k row with at most RS_SHCAND candidates in all: copies them from
// the workspace slots into shared memory once (rs_sm.u, as index << 32 | key), then selects
// the k-th largest and finishes the row (rs_topk_small) from there: every later pass over the
// candidates is a shared-memory loop instead of a round of L2 loads, and one radix level plus
// a rank among the ~k candidates at or above its bin replace three levels. The copy maps
// list position p to its sub-chunk by a binary search over the exclusive prefix sums of the
// per-sub-chunk counts, so each thread loads up to 8 candidates at once and every thread has
// some (H200, 1 x 128256, k = 50: the three radix levels over the workspace slots took 11.4
// of the kernel's 27.4 us; a copy in which each thread loaded its own slot range, most of them
// empty, 4.2). False, with rs_sm.u.f.cnt as it was, when the candidates do not fit or more
// than RS_SMALL of them reach the bin of the k-th largest (ties, crowded bins): the caller
// then works on the slots.
#define RS_SHCAND ((int)(sizeof(rs_sm.u) / sizeof(rs_u64)))

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

__device__ __noinline__ bool rs_topk_shared(const rs_args& a, const rs_rowctx& t,
                                            rs_u32 max_key) {
    rs_u32* off = (rs_u32*)rs_sm.sel;  // exclusive prefix sums of the counts
    const int per = (t.nc + RS_BLOCK - 1) / RS_BLOCK;  // a run of sub-chunks per thread
    const int c0 = (int)threadIdx.x * per;
    rs_u64 s = 0ull;
    for (int j = 0; j < per; ++j)
        if (c0 + j < t.nc) s += rs_sm.u.f.cnt[c0 + j];
    rs_u64 all;
    rs_u64 o = rs_block_scan_u64(s, &all, &rs_sm.b) - s;
    if (all > (rs_u64)RS_SHCAND) return false;  // uniform; rs_sm.u untouched
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
    // The 11-bit bin of the k-th largest (one radix level), then the k-th largest itself by
    // rank among the candidates at or above that bin's edge (about k plus the bin's own).
    const rs_u32 edge = rs_select<false>(rs_shared_keys{n}, 0, 0u, 0u, (rs_u64)t.k, 0.0, 0ull,
                                         rs_exp(max_key), 0, 1);
    if (rs_topk_small(a, t, edge, max_key, rs_shared_keys{n}, true)) return true;
    for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) {  // the slots' counts, as they were
        const rs_u64 cnt = rs_vld(t.w.ccnt + c);
        rs_sm.u.f.cnt[c] = (rs_u32)(cnt < RS_KSLOT ? cnt : RS_KSLOT);
    }
    __syncthreads();
    return false;
}

// Phase 0: maximum and validity of the span; top-k or min-p candidates of each sub-chunk. The
// last block plans the row.
__device__ __noinline__ void rs_phase0(const rs_args& a, const rs_rowctx& t) {
    const int vocab = a.vocab, k = t.k;
    const float* x = t.x;
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
    const rs_scan sc = kcand ? rs_scan_cand(x, vocab, t)
                             : (mcand ? rs_scan_minp(x, vocab, t)
                                      : (hist ? rs_scan_sig(x, vocab, t) : rs_scan_max(x, vocab, t)));
    rs_u32 mx = sc.mx;
    const rs_u32 bad = sc.bad;
    mx = rs_block_max_u32(bad ? 0xffffffffu : mx, &rs_sm.b);
    for (int c = t.s0 + (int)threadIdx.x; c < t.s1; c += RS_BLOCK) {
        w.smass[c] = 0ull;
        if (hist) w.ccnt[c] = 0ull;  // phase 1 sums each sub-chunk's mass here
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
                if (rs_topk_shared(a, t, max_key)) return;
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

// Kept mass of each sub-chunk, then the draw.
// clear: the row's top-p histogram is zeroed by the last block (a top-p phase 1 that found
// min-p or p = 1 deciding).
__device__ __noinline__ void rs_phase_mass(const rs_args& a, const rs_rowctx& t, rs_u32 thr,
                                           bool clear = false) {
    const int max_exp = rs_exp(t.max_key);
    for (int s = t.s0; s < t.s1; s += RS_DEEP) {  // RS_DEEP sub-chunks of loads in flight
        float v[RS_DEEP][8];
        bool ok[RS_DEEP][8];
#pragma unroll
        for (int q = 0; q < RS_DEEP; ++q) rs_load8(t.x, s + q < t.s1 ? a.vocab : 0, s + q, v[q], ok[q]);
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
    rs_finish(a, t, rs_draw_chunks(t.x, a.vocab, t.nc, thr, max_exp, t.r));
}

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

// Top-p gathers of a block with more elements in the cut's bins than rs_phase_cut's shared
// stage holds (RS_STAGE): its span again, each element straight into the workspace.
#define RS_STAGE ((int)(sizeof(rs_sm.u) / sizeof(rs_u64)))
__device__ __noinline__ void rs_gather_span(const rs_rowctx& t, int vocab, rs_u32 blo,
                                            rs_u32 bhi, int max_exp) {
    rs_u32* ncand = (rs_u32*)(t.w.head + RS_H_NCAND);
    for (int s = t.s0; s < t.s1; ++s) {
        float v[8];
        bool ok[8];
        rs_load8(t.x, vocab, s, v, ok);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const rs_u32 key = rs_key(v[j]);
            const rs_u32 bin = key >> 20;
            if (ok[j] && bin <= bhi && bin >= blo && rs_mass(key, max_exp) != 0ull) {
                const rs_u32 slot = atomicAdd(ncand, 1u);
                if (slot < RS_CAPC)
                    t.w.cand[slot] = ((rs_u64)(rs_u32)rs_index8(s, j) << 32) | key;
            }
        }
    }
}

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
// Usually lo = hi. The blocks then sum, per sub-chunk, the exact mass above hi (smass) and
// of everything (ccnt), and gather the elements of [lo, hi]; the last block clears the
// stored bounds (if any), finds the exact cut among the gathered elements (the mass above hi
// is exact, so the selection over them is the row's) and draws, or leaves the draw to the
// next launch.
// When min-p cuts above hi, or p says no cut, the phase is the kept-mass phase instead.
__device__ __noinline__ void rs_phase_cut(const rs_args& a, const rs_rowctx& t) {
    const rs_ws& w = t.w;
    if (!(t.p < 1.0f)) {  // the top-p stages planned a cut; p says none
        if (t.mthr == 0u) rs_phase_plain(a, t, true);
        else rs_phase_mass(a, t, t.mthr, true);
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
        rs_phase_mass(a, t, t.mthr, clear);
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
    auto load = [&](float (&v)[8], int s) { rs_load8(t.x, s < t.s1 ? a.vocab : 0, s, v, ok); };
    auto work = [&](const float (&v)[8], int s) {
        rs_u64 m = 0ull, all = 0ull;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const rs_u32 key = rs_key(v[j]);
            const rs_u64 mj = rs_mass(key, max_exp);
            all += mj;
            if ((key >> 20) > bhi) {
                m += mj;
            } else if ((key >> 20) >= blo && mj != 0ull) {
                const int at = atomicAdd(&rs_sm.nkept, 1);
                if (at < RS_STAGE) stage[at] = ((rs_u64)(rs_u32)rs_index8(s, j) << 32) | key;
            }
        }
        rs_wave_add(w.smass + s, m);
        rs_wave_add(w.ccnt + s, all);
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
    __syncthreads();
    const int staged = rs_sm.nkept;
    if (staged > RS_STAGE) {
        rs_gather_span(t, a.vocab, blo, bhi, max_exp);
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
                  ? rs_select<true>(rs_row_keys{t.x, a.vocab}, 1, bhi << 20, 0u, 0ull, target,
                                    above, max_exp, &kept)
                  : rs_select<true>(rs_row_keys{t.x, a.vocab}, 0, 0u, 0u, 0ull, target, 0ull,
                                    max_exp, &kept);
        thr = t.mthr > thr ? t.mthr : thr;
        if (threadIdx.x == 0) w.head[RS_H_NCAND] = 0ull;
        for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) w.smass[c] = 0ull;  // for S_MASS
        if (a.has_rng) {
            rs_finish(a, t, rs_draw(t.x, a.vocab, thr, max_exp, t.r, &rs_sm.b));
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
    rs_finish(a, t, rs_draw_chunks(t.x, a.vocab, t.nc, thr, max_exp, t.r));
}

// The block's arguments and row context live in shared memory. Every phase function takes
// them by reference, and a reference to a per-thread object puts that object on each thread's
// stack: ~360 bytes a thread written to local memory (through L2) on every launch, which ncu
// showed as more store traffic than the row's own reads at 264 x 32000 (H200).
__shared__ rs_args rs_sa;
__shared__ rs_rowctx rs_st;

__device__ __forceinline__ void rs_engine(const rs_args a_in) {
    const int vocab = a_in.vocab;
    if ((int)blockIdx.x >= a_in.batch || vocab <= 0 || vocab > RS_VOCAB_MAX) return;
    if ((int)gridDim.y > rs_nchunks(vocab)) {  // more blocks a row than sub-chunks: invalid
        if (blockIdx.y == 0 && threadIdx.x == 0 && a_in.out) a_in.out[blockIdx.x] = -1;
        return;
    }
    if (threadIdx.x == 0) {  // block-uniform values, computed once
        rs_sa = a_in;
        rs_rowctx& t = rs_st;
        t.row = blockIdx.x;
        t.g = blockIdx.y;
        t.ng = gridDim.y;
        t.nc = rs_nchunks(vocab);
        const int per = (t.nc + t.ng - 1) / t.ng;
        t.s0 = t.g * per < t.nc ? t.g * per : t.nc;
        t.s1 = t.s0 + per < t.nc ? t.s0 + per : t.nc;
        t.span = per * RS_CHUNK;
        t.x = a_in.probs + (long long)t.row * a_in.row_stride;
        t.w = rs_ws_row(a_in.ws, a_in.batch, t.row, vocab);
        t.ticket = t.w.ticket;
        t.k = a_in.top_k ? a_in.top_k[t.row] : a_in.top_k_val;
        t.p = a_in.top_p ? a_in.top_p[t.row] : a_in.top_p_val;
        t.mp = a_in.min_p ? a_in.min_p[t.row] : a_in.min_p_val;
        t.final_phase = a_in.phase == a_in.nphase - 1;
        t.r = a_in.has_rng ? rs_philox_u64(a_in.seed, a_in.offset, (rs_u32)t.row) : 0ull;
        t.topk = RS_WITH_TOPK && t.k > 0 && t.k < vocab;
        t.max_key = 0u;
        t.mthr = 0u;
    }
    rs_grid_release();
    if (a_in.phase > 0) rs_grid_wait();  // before any read of the workspace
    __syncthreads();
    const rs_args& a = rs_sa;
    rs_rowctx& t = rs_st;
    if (a.phase == 0) {
        if (!t.topk && !(t.p < 1.0f) && !(t.mp > 0.0f) && !a.p_later) {  // plain: one phase
            rs_phase_plain(a, t);
            return;
        }
        rs_phase0(a, t);
        if (t.ng != 1 || a.p_later) return;
        // A row with one block: that block carries on with the next phases in this launch,
        // while the row is still in L2 (the later launches find the row done).
        __syncthreads();
    }

    // ---- phases 1 and 2 (or chained): the state the previous phase left ----
    const rs_ws& w = t.w;
    for (int step = 0; step < 3; ++step) {
        if (step > 0) {
            if (t.ng != 1) return;
            __syncthreads();  // the state written by this block's thread 0 is visible
        }
        rs_u64 state = w.head[RS_H_STATE];
        if (state == RS_S_DONE) {
            if (a.phase > 0 && step == 0 && t.g == 0 && threadIdx.x == 0 && a.out)
                a.out[t.row] = (int)(rs_u32)w.head[RS_H_TOKEN];
            return;
        }
        if (state == RS_S_PDRAW) {  // a plain row without its draw
            if (t.g != 0 || !a.has_rng) return;
            rs_finish(a, t, rs_plain_draw(t.x, vocab, t.nc, t.w, t.r, false));
            return;
        }
        const rs_u32 max_key = (rs_u32)w.head[RS_H_MAX];
        if (state == RS_S_DRAW) {  // everything but the draw is known
            if (t.g != 0 || !a.has_rng) return;
            for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) rs_sm.u.f.mass[c] = w.smass[c];
            __syncthreads();
            rs_finish(a, t, rs_draw_chunks(t.x, vocab, t.nc, (rs_u32)w.head[RS_H_THR],
                                           rs_exp(max_key), t.r));
            return;
        }
        const rs_u32 thr_mass = (rs_u32)w.head[RS_H_THR];
        __syncthreads();  // every thread has read the state before thread 0 updates rs_st
        if (threadIdx.x == 0) {
            t.max_key = max_key;
            t.mthr = rs_min_p_key(t.mp, max_key);
        }
        __syncthreads();
        if (state == RS_S_MASS && thr_mass == 0u) {  // no cut at all: plain sampling
            rs_phase_plain(a, t);
        } else if (state == RS_S_MASS) {
            rs_phase_mass(a, t, thr_mass);
        } else if (state == RS_S_HIST) {
            rs_phase_cut(a, t);
        } else {
            if (t.g == 0 && threadIdx.x == 0 && a.out)
                a.out[t.row] = -1;  // an unknown state: the workspace was not prepared
            return;
        }
    }
}
