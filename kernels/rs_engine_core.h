// rs_engine_core.h -- what every phase of the engine (rs_engine.h) stands on: its constants,
// the workspace layout (rs_ws_words, rs_ws_row), the block's shared memory (rs_sm) and the
// histogram adds. Relies on rs_common.h only (RS_BLOCK and RS_WAVE from the loader, the
// block reductions, a value's key and mass). rocsample.registry mirrors RS_CHUNK, RS_KCAND,
// RS_HBINS, RS_KSLOT, RS_CAPC, RS_WS_HEAD and rs_ws_words: tests/test_contract.py holds them
// equal.
#pragma once
#include "rs_common.h"

// A module whose entries never see a top-k row (topp_sampling.hip: top_k is always 0) defines
// RS_WITH_TOPK 0 before including rs_engine.h: the candidate scan and the top-k selections are
// then never called and not compiled (that module compiles in a third to half less time).
#ifndef RS_WITH_TOPK
#define RS_WITH_TOPK 1
#endif

// ---- constants ----

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
#define RS_MPDEEP 4                                  // ... of packed 2-byte rows
#define RS_KDEEP 3         // ... in the top-k scan of 2-byte rows, for a block's span of
#define RS_KDEEP_SPAN 17   // at least this many sub-chunks (rs_scan_cand_span)
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

// ---- the workspace ----

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
                     // phase 1: a block's span mass at its first sub-chunk (the rest 0)
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

// ---- shared memory ----

struct rs_eshared {
    union {
        struct { rs_u32 part[2][RS_HBINS]; } h;  // top-p histogram (rs_hist_add2x8); counts
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

// Top-k candidates a row may have in all for its last block to copy them into rs_sm.u and
// select from there (rs_topk_shared); rs_scan_cand raises its bound to stay under it.
#define RS_SHCAND ((int)(sizeof(rs_sm.u) / sizeof(rs_u64)))
// Its value as a literal, which the host mirrors (rocsample.registry.RISE_CAND): it launches
// the *_rise entries for rows of k x sub-chunks above it.
#define RS_RISE_CAND 3072
static_assert(RS_SHCAND == RS_RISE_CAND, "RS_RISE_CAND is the shared candidate copy's size");
// Sub-chunks a block spans from which a top-k row of the rise entries rises whatever its
// candidates (float rows / 2-byte rows); mirrored by rocsample.registry.RISE_SPAN, which
// sends such rows to those entries (bench/results/2026-12-07-session39).
#define RS_RISE_SPAN4 40
#define RS_RISE_SPAN2 24

// ---- histogram adds ----

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

// Adds the significands (rs_sig) of a thread's eight keys to their bins (key >> 20) of the two
// 32-bit part histograms rs_sm.u.h.part[0..1] (bits 0-11 and 12 up): 32-bit shared atomics are
// native, 64-bit ones compare-and-swap loops. Over F sub-chunks each part gains less than
// F * 2^24 (F * 4096 adds of < 2^12 for the low part; the high part sums sig / 2^12), so the
// parts must be flushed at least every 255 sub-chunks (RS_SIGFLUSH). kmax is the largest of
// the eight keys (the caller has it). One vote for the eight: when every nonzero key of the
// wave lies in one bin (flat or peaked rows), the wave adds its sums with one atomic a part (a
// lane's eight parts < 2^15, the wave's < 2^21); else every lane adds each key on its own,
// without a branch: a zero key (the padding, the zeros of sparse rows) adds 0 to a word of
// its lane's (any word: adding 0 changes none), so that the zeros of a wave do not queue on
// one address. Low: the keys may have bits below 12 (f32); those of bf16 and f16 values have
// none (7 and 10 fraction bits), so their low part is never added. All lanes must call it.
#define RS_SIGFLUSH 64
template <bool Low>
__device__ __forceinline__ void rs_hist_add2x8(const rs_u32 (&key)[8], rs_u32 kmax) {
    rs_u32 p1[8], s0 = 0u, s1 = 0u;  // rs_sig(key) = (key & 0xfff) + (p1 << 12)
    rs_u32 kmin1 = 0xffffffffu;      // the smallest nonzero key - 1 (key - 1 wraps 0 to the top)
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        p1[j] = rs_sig(key[j]) >> 12;
        s0 += Low ? key[j] & 0xfffu : 0u;
        s1 += p1[j];
        kmin1 = key[j] - 1u < kmin1 ? key[j] - 1u : kmin1;
    }
    const rs_u32 lo = kmax ? (kmin1 + 1u) >> 20 : 0x7ffu, hi = kmax >> 20;  // lo > hi: no keys
    const rs_u32 b0 = RS_SHFL(lo, 0);
    if (RS_ALL(lo > hi || (lo == b0 && hi == b0))) {  // one bin for the wave (or none)
        if (Low) s0 = rs_wave_sum_u32(s0);
        s1 = rs_wave_sum_u32(s1);
        if (threadIdx.x % RS_WAVE == 0) {  // b0 = 0x7ff if lane 0 had none: so had the others,
                                            // or theirs lie in bin 0x7ff
            if (Low && s0) atomicAdd(&rs_sm.u.h.part[0][b0], s0);
            if (s1) atomicAdd(&rs_sm.u.h.part[1][b0], s1);
        }
        return;
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        const rs_u32 at = key[j] ? key[j] >> 20 : threadIdx.x % RS_WAVE;
        if (Low) atomicAdd(&rs_sm.u.h.part[0][at], key[j] & 0xfffu);
        atomicAdd(&rs_sm.u.h.part[1][at], p1[j]);
    }
}

// Adds v over the wave to *dst with one atomic (all lanes must call it).
__device__ __forceinline__ void rs_wave_add(rs_u64* dst, rs_u64 v) {
    v = rs_wave_sum_u64(v);
    if (threadIdx.x % RS_WAVE == 0 && v != 0ull) atomicAdd(dst, v);
}
