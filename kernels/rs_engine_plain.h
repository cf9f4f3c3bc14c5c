// rs_engine_plain.h -- plain sampling (no filter): a phase that reads the row once. Each
// sub-chunk's mass is taken at its own scale (rs_scan_plain), so no pass finds the row
// maximum first; the row's last block aligns the sub-chunk sums and draws (rs_plain_draw).
// Also the one-block plain row (rs_plain_row) that rs_slow_row falls back to, and the phase
// the top-p phase 1 takes when p says no cut after all (rs_phase_plain).
// Relies on rs_engine_block.h (the row context, rs_load8, rs_last_block) and
// rs_engine_select.h (rs_wave_pick, rs_pick).
#pragma once
#include "rs_engine_select.h"
#include "rs_engine_block.h"

// ---- plain sampling: one read (the plain mass of rs_common.h) ----

// Each sub-chunk of [s0, s1): its maximum key into ccnt[c] (0xffffffff when it holds NaN, Inf
// or a negative value) and its mass at its own scale (its maximum in [2^39, 2^40)) into
// smass[c], and both into rs_sm.u.f.cnt[c] / mass[c] as well. Rounds of two sub-chunks, each
// with one block-wide maximum per sub-chunk (a wave reduction, one shared atomic per wave)
// and one block-wide sum (a slot per wave), two barriers; the next round's loads are issued
// during this round, so they are in flight across its barriers (H200, 128 x 128256: 43.7 ->
// 40.3 us against four sub-chunks loaded and then worked on). Float and logit rows
// (rs_scan_plain_body): the whole block on each sub-chunk of the round, 8 values a thread.
// Packed 2-byte probability rows (rs_scan_plain_halves): each half of the block on one
// sub-chunk, 16 values a thread.
// For packed rows the next round's loads are issued once this round's maxima are taken
// (between maxima() and finish()): issued before the maxima, they shared the load scoreboards
// with this round's loads on sm_90 and bf16 rows stalled on the round's first widening (ncu,
// bench/results/2026-12-03-h200-session6/run4); after them, bf16 plain sampling is 6-12 %
// faster at 128 and 512 rows, f16 1-3 % (bench/results/2026-12-03-h200-session7). Float rows
// keep the loads before the maxima: after them they were 2-3 % slower at 128 rows. Plain
// lambdas, not one taking the prefetch as an auto parameter: NVRTC 13.0 segfaulted on that
// (make nvrtc-compat).
// (Measured on an H200: finishing each 128-element group within its wave instead, with no
// barrier, was slower: more instructions per element and a longer draw.)
// The rare cases of rs_scan_plain_body's maxima and masses.
// The largest key of a thread's 8 values, or 0xffffffff when one is negative (-0.0 is not:
// 0x80000000 is the largest raw pattern it can have), Inf or NaN: the largest raw pattern is
// above 0x80000000 exactly when some value is negative, and a key >= 0x7f800000 is Inf or NaN.
template <typename H>
__device__ __forceinline__ rs_u32 rs_keys_max(const H& v) {
    rs_u32 mx = 0u, raw = 0u;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        const rs_u32 bits = __float_as_uint(v.at(j));
        const rs_u32 key = bits & 0x7fffffffu;
        mx = key > mx ? key : mx;
        raw = bits > raw ? bits : raw;
    }
    return raw > 0x80000000u || mx >= 0x7f800000u ? 0xffffffffu : mx;
}
// The sum of the 8 values' rs_mass at a sub-chunk maximum's exponent ce below RS_MASS_ONE_EXP
// (a maximum below 2^-88: rs_mass's two factors).
template <typename H>
__device__ __forceinline__ rs_u64 rs_mass_of(const H& v, int ce) {
    rs_u64 m = 0ull;
#pragma unroll
    for (int j = 0; j < 8; ++j) m += rs_mass(rs_key(v.at(j)), ce);
    return m;
}
// The same out of line for packed 2-byte rows: the 8 values from element i on (a multiple of
// 8), reloaded (from cache; padding past vocab is 0 as in the scan). Inlined in the scan's
// rounds, the two loops grew each 2-byte engine entry's code by 11 KB, and top-k sampling of
// bf16 rows, which never runs them, was 0.6-1 us slower at 1 x 128256 (H200,
// bench/results/2026-12-04-h200-session14, runs 2 and 3); out of line for float and logit
// rows instead, plain sampling of float32 was 3-4 % slower and sample_from_logits at one
// row 0.5 us (their scan's calls cost register saves).
template <typename T>
__device__ __noinline__ rs_u32 rs_keys_max8(const T* x, int vocab, int i) {
    rs_held8<T> v;
    rs_load_held8_at(x, vocab, i, v);
    return rs_keys_max(v);
}
template <typename T>
__device__ __noinline__ rs_u64 rs_mass8(const T* x, int vocab, int i, int ce) {
    rs_held8<T> v;
    rs_load_held8_at(x, vocab, i, v);
    return rs_mass_of(v, ce);
}

// Packed 2-byte probability rows: the block's two halves take a sub-chunk each, so a thread
// holds 16 of its values, not 8, and pays the per-sub-chunk work (the maximum's and the
// mass's wave reductions, the scale, the tests) once per 16 values. A round is a pair of
// sub-chunks (s + h for half h): one wave maximum and one shared atomic per wave, a barrier,
// the masses at the sub-chunk's scale, a slot per wave, a barrier and the publication; the
// next pair's loads fly during the round. A thread's two groups of 8 are half a sub-chunk
// apart, so each of a wave's loads covers contiguous memory. A sub-chunk's maximum and mass
// are the integers a block of 8 values a thread finds (a sum of the same truncated values):
// the tokens do not depend on the split.
// Against three sub-chunks a round at 8 values a thread, on an H100 (p x y p x y, tokens the
// same; bench/results/2026-12-06-session32/run2): bf16 plain sampling 128 x 128256 22.2 ->
// 19.2 us, 512 x 128256 65.7 -> 61.9, 512 x 262144 110.6 -> 105.3; rows not 16-byte aligned
// (V 50257, 151937) 0.92-0.96 of the time; float rows, top-k and min-p unchanged. With 16
// adjacent values a thread instead (run1), the rows not 16-byte aligned were 7-13 % slower.
template <typename T>
__device__ __forceinline__ void rs_scan_plain_halves(const T* x, int vocab, int s0, int s1,
                                                     const rs_ws& w) {
    constexpr int HALF = RS_BLOCK / 2;
    constexpr int HW = RS_NWAVES / 2;  // waves a half
    static_assert(HALF % RS_WAVE == 0 && 16 * HALF == RS_CHUNK, "two halves of whole waves");
    const int half = (int)threadIdx.x / HALF;
    const int off = 8 * ((int)threadIdx.x % HALF);  // this thread's first 8 (and RS_CHUNK / 2 on)
    if (threadIdx.x < 2 * RS_DEEP) rs_sm.cmax[threadIdx.x / RS_DEEP][threadIdx.x % RS_DEEP] = 0u;
    __syncthreads();
    int par = 0;
    rs_held8<T> va[2], vb[2];  // padding loads as 0, which adds no mass
    auto load = [&](rs_held8<T> (&v)[2], int s) {  // sub-chunk s + half
        const int sc = s + half, n = sc < s1 ? vocab : 0, i = sc * RS_CHUNK + off;
        rs_load_held8_at(x, n, i, v[0]);
        rs_load_held8_at(x, n, i + RS_CHUNK / 2, v[1]);
    };
    auto maxima = [&](const rs_held8<T> (&v)[2], int s) {
        const int sc = s + half, n = sc < s1 ? vocab : 0, i = sc * RS_CHUNK + off;
        rs_u32 m0 = rs_held_max(v[0]), m1 = rs_held_max(v[1]);
        if (m0 >= 0x7f800000u) m0 = rs_keys_max8(x, n, i);
        if (m1 >= 0x7f800000u) m1 = rs_keys_max8(x, n, i + RS_CHUNK / 2);
        rs_u32 mx = m0 > m1 ? m0 : m1;  // a bad group's 0xffffffff wins
        mx = rs_wave_max_u32(mx);
        if (threadIdx.x % RS_WAVE == 0 && mx) atomicMax(&rs_sm.cmax[par][half], mx);
    };
    auto finish = [&](const rs_held8<T> (&v)[2], int s) {
        __syncthreads();
        const int sc = s + half, n = sc < s1 ? vocab : 0, i = sc * RS_CHUNK + off;
        const rs_u32 ck = rs_sm.cmax[par][half];
        const int ce = rs_exp(ck);
        rs_u64 m = 0ull;
        if (ck != 0xffffffffu && ce >= RS_MASS_ONE_EXP) {  // as rs_scan_plain_body
            const float sc1 = rs_mass_scale1(ce);
#pragma unroll
            for (int j = 0; j < 8; ++j) m += (rs_u64)(v[0].at(j) * sc1);
#pragma unroll
            for (int j = 0; j < 8; ++j) m += (rs_u64)(v[1].at(j) * sc1);
        } else if (ck != 0xffffffffu && ck != 0u) {
            m = rs_mass8(x, n, i, ce) + rs_mass8(x, n, i + RS_CHUNK / 2, ce);
        }
        m = rs_wave_sum_u64(m);
        if (threadIdx.x % RS_WAVE == 0) rs_sm.wsum[par][half][threadIdx.x / RS_WAVE] = m;
        __syncthreads();
        if (threadIdx.x < 2) {  // thread q publishes sub-chunk s + q
            const int q = threadIdx.x;
            rs_u64 t = 0ull;
            for (int u = q * HW; u < (q + 1) * HW; ++u) t += rs_sm.wsum[par][q][u];
            if (s + q < s1) {
                w.smass[s + q] = t;
                w.ccnt[s + q] = rs_sm.cmax[par][q];
                rs_sm.u.f.mass[s + q] = t;
                rs_sm.u.f.cnt[s + q] = rs_sm.cmax[par][q];
            }
            rs_sm.cmax[par][q] = 0u;
        }
        par ^= 1;
    };
    load(va, s0);
    for (int s = s0; s < s1; s += 4) {
        maxima(va, s);
        load(vb, s + 2);
        finish(va, s);
        if (s + 2 >= s1) break;
        maxima(vb, s + 2);
        load(va, s + 4);
        finish(vb, s + 2);
    }
}

// Inlined into its two callers (rs_scan_plain below), except for float probability rows: as
// a function of its own it saved 25 registers per call on NVRTC 13.0 for 2-byte logit rows
// (512 x 128256 bf16 sample_from_logits 147.0 -> 140.8 us inlined, bf16 plain sampling
// 68.7 -> 65.6), while inlined into the float entry's phase it made that phase save 22
// (float plain sampling 79.2 -> 92.2 us; bench/results/2026-12-04-h200-session12).
template <typename T>
__device__ __forceinline__ void rs_scan_plain_body(const T* x, int vocab, int s0, int s1,
                                                   const rs_ws& w) {
    // Sub-chunks a round; the next round's loads fly during this one's. (Packed 2-byte rows
    // take rs_scan_plain_halves.)
    static_assert(!rs_packed<T>::value, "rs_scan_plain_body: float and logit rows");
    constexpr int D = 2;
    static_assert(D <= RS_DEEP, "rs_sm.cmax and wsum hold RS_DEEP sub-chunks a round");
    if (threadIdx.x < 2 * RS_DEEP) rs_sm.cmax[threadIdx.x / RS_DEEP][threadIdx.x % RS_DEEP] = 0u;
    __syncthreads();
    int par = 0;
    rs_held8<T> va[D], vb[D];  // padding loads as 0, which adds no mass
    auto load = [&](rs_held8<T> (&v)[D], int s) {
#pragma unroll
        for (int q = 0; q < D; ++q) rs_load_held8(x, s + q < s1 ? vocab : 0, s + q, v[q]);
    };
    // The round in two parts; the next round's loads go before them (see above).
    auto maxima = [&](const rs_held8<T> (&v)[D], int s) {
#pragma unroll
        for (int q = 0; q < D; ++q) {
            // The largest raw bit pattern is the largest key when it is below 0x7f800000
            // (rs_held_max: every value finite, its sign bit clear); else the keys one by
            // one: the largest, and the largest raw pattern, above 0x80000000 exactly when
            // some value is negative (-0.0 is 0x80000000); a key >= 0x7f800000 is Inf or
            // NaN: a bad sub-chunk. (One comparison a value where the key, its maximum and
            // the raw maximum took three; the figures are the mass's, below.)
            rs_u32 mx = rs_held_max(v[q]);
            if (mx >= 0x7f800000u)
                mx = rs_keys_max(v[q]);
            mx = rs_wave_max_u32(mx);
            if (threadIdx.x % RS_WAVE == 0 && mx) atomicMax(&rs_sm.cmax[par][q], mx);
        }
    };
    auto finish = [&](const rs_held8<T> (&v)[D], int s) {
        __syncthreads();
#pragma unroll
        for (int q = 0; q < D; ++q) {
            const rs_u32 ck = rs_sm.cmax[par][q];
            const int ce = rs_exp(ck);
            rs_u64 m = 0ull;
            // rs_mass of each value: x * 2^(RS_MASS_BIAS - ce), truncated. A valid sub-chunk
            // holds no negative value but -0.0, whose product truncates to 0 as its key's
            // does, so the value stands for its key; and from ce >= RS_MASS_ONE_EXP on (a
            // sub-chunk maximum of at least 2^-88) the scale is one float, rs_mass_scale1:
            // one multiply a value. With the maxima above, on an H200 (session 14, runs 2
            // and 3, same process): bf16 plain sampling 512 x 128256 65.8 -> 59.2 us
            // (0.84 -> 0.76 of float32), 512 x 262144 114.3 -> 100.7, f16 62.7 -> 59.1;
            // sample_from_logits bf16 512 x 262144 250.4 -> 242.6.
            if (ck != 0xffffffffu && ce >= RS_MASS_ONE_EXP) {
                const float sc = rs_mass_scale1(ce);
#pragma unroll
                for (int j = 0; j < 8; ++j) m += (rs_u64)(v[q].at(j) * sc);
            } else if (ck != 0xffffffffu && ck != 0u) {
                // ck 0, a sub-chunk of zeros or padding past the span, has mass 0: not this
                // path (nor the reload of packed rows). When bf16 rows took rounds of three
                // sub-chunks here, a row of one sub-chunk a block had two padding slots a
                // round; skipping this path for them took bf16 plain sampling at 1 x 128256
                // 10.9 -> 10.4 us, 512 x 262144 101.5 -> 99.1 (H200, session 15, run 4).
                // Skipping padding sub-chunks' maxima and masses altogether (`continue`,
                // run 3) made 128 to 512 rows 6-20 % slower.
                m = rs_mass_of(v[q], ce);
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
    // Rows held as floats: the next round's loads before this round's maxima (see above).
    load(va, s0);
    for (int s = s0; s < s1; s += 2 * D) {
        load(vb, s + D);
        maxima(va, s);
        finish(va, s);
        if (s + D >= s1) break;
        load(va, s + 2 * D);
        maxima(vb, s + D);
        finish(vb, s + D);
    }
}

template <typename T> struct rs_scan_plain_at {  // inlined
    static __device__ __forceinline__ void run(const T* x, int vocab, int s0, int s1,
                                               const rs_ws& w) {
        if constexpr (rs_packed<T>::value)
            rs_scan_plain_halves(x, vocab, s0, s1, w);
        else
            rs_scan_plain_body(x, vocab, s0, s1, w);
    }
};
template <> struct rs_scan_plain_at<float> {  // a call
    static __device__ __noinline__ void run(const float* x, int vocab, int s0, int s1,
                                            const rs_ws& w) {
        rs_scan_plain_body(x, vocab, s0, s1, w);
    }
};
template <typename T>
__device__ __forceinline__ void rs_scan_plain(const T* x, int vocab, int s0, int s1,
                                              const rs_ws& w) {
    rs_scan_plain_at<T>::run(x, vocab, s0, s1, w);
}

// The plain draw once every sub-chunk of the row is in smass / ccnt (rs_scan_plain): the
// row's exponent is the largest sub-chunk exponent; sub-chunk c weighs smass[c] >> (row
// exponent - its exponent); the target picks the sub-chunk and one block scans it at its own
// scale. -1 for an invalid row. local: this block scanned every sub-chunk, so they are in
// rs_sm.u.f already (else one pass copies them there: H200, the three dependent passes over
// the workspace were ~1.5 us of a one-block row).
template <typename T>
__device__ __noinline__ int rs_plain_draw(const T* x, int vocab, int nc, const rs_ws& w,
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
template <typename T>
__device__ __noinline__ int rs_plain_row(const T* x, int vocab, const rs_ws& w, rs_u64 r) {
    const int nc = rs_nchunks(vocab);
    rs_scan_plain(x, vocab, 0, nc, w);
    __syncthreads();  // thread 0's stores are visible to the block
    return rs_plain_draw(x, vocab, nc, w, r, true);
}

// The plain phase: the span's sub-chunks; the row's last block draws (or leaves the draw to
// a later launch when this one has no seed).
template <typename T>
__device__ __noinline__ void rs_phase_plain(const rs_args& a, const rs_rowctx& t,
                                            bool clear = false) {  // clear: as rs_phase_mass
    rs_scan_plain(rs_px<T>(t), a.vocab, t.s0, t.s1, t.w);
    if (!rs_last_block(t)) return;
    if (clear) rs_clear_hist(t.w);
    if (a.has_rng) {
        rs_finish(a, t, rs_plain_draw(rs_px<T>(t), a.vocab, t.nc, t.w, t.r, t.ng == 1));
    } else if (threadIdx.x == 0) {
        t.w.head[RS_H_STATE] = RS_S_PDRAW;
    }
}
