// rs_engine_block.h -- what a block of the engine knows and does in every phase: its
// arguments and row context (rs_args, rs_rowctx; rs_engine() fills them once a launch), the
// hand-off to the row's last block (rs_last_block: an atomic ticket, no waiting) and its
// result (rs_finish), and the loads of a sub-chunk (rs_load8, rs_index8).
// Relies on rs_engine_core.h (rs_ws, rs_sm, the workspace head words).
#pragma once
#include "rs_engine_core.h"
#include "rs_logits.h"

// ---- a block, its row, and the row's last block ----

struct rs_args {
    const void* probs;   // float, rs_f16 or rs_bf16: the T of rs_engine<T>
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
    const rs_u64* seeds;   // per-row seeds, or NULL: seed for every row
    const rs_u64* offsets; // per-row offsets, or NULL: offset for every row
    int* out;            // may be NULL: the token stays in the workspace
    rs_u64* ws;
    int phase, nphase;
    // Logit rows (rs_lg<U>, logits_sampling.hip) only: the row's softmax from the G words a
    // row of softmax_stats_kernel (part + row * part_g) and the row's temperature.
    const rs_u64* part;
    int part_g;
    const float* temperature;
    float temperature_val;
};

// Everything a block knows about its row and span.
struct rs_rowctx {
    int row, g, ng, nc, s0, s1, span, k;  // sub-chunks [s0, s1); span = elements per block
    float p, mp;
    const void* x;       // the row: rs_px<T>(t)
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

// ---- sub-chunk loads ----

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

// ---- logit rows ----

// rs_lg<U>: a logit of type U (float, rs_f16, rs_bf16) in a row the engine samples from its
// softmax (logits_sampling.hip). Same size as U; every load of the engine widens it to the
// probability softmax_write_kernel would have written for it (rs_softmax_p of the launch's
// row, rs_lg_row), so a logit row draws exactly the token its softmax row draws, without the
// softmax being written. The padding of a sub-chunk past vocab is probability +0, as in a
// probability row.
template <typename U> struct rs_lg;
template <> struct rs_lg<float> { float v; };
template <> struct rs_lg<rs_f16> { unsigned short bits; };
template <> struct rs_lg<rs_bf16> { unsigned short bits; };

// The softmax of the launch's row: the first wave sets it (rs_lg_setup) before the block's
// first barrier; nothing else writes it.
__shared__ rs_softmax_row rs_lg_row;

__device__ __forceinline__ float rs_lg_wide(rs_lg<float> x) { return x.v; }
template <typename U>
__device__ __forceinline__ float rs_lg_wide(rs_lg<U> x) {
    U e;
    e.bits = x.bits;
    return rs_num<U>::up(e);
}
template <typename U> struct rs_num<rs_lg<U>> {
    typedef float C;
    static __device__ __forceinline__ float up(rs_lg<U> x) {
        return rs_softmax_p(rs_lg_row, rs_lg_wide(x));
    }
};

// The first wave: the row's softmax for a logit row (nothing for a probability row). Lane j
// reads words j, j + RS_WAVE, ... of the row's G; the maximum and NaN by shuffles (a maximum
// does not depend on the order), then the terms summed in order g (rs_softmax_parts' sum: the
// same bits) from shuffles. (Thread 0 alone once read the G words one after another, every
// block of every launch: 2G dependent L2 round trips, ~15 us at one row with G = 32.)
template <typename T>
__device__ __forceinline__ void rs_lg_setup(const rs_args&, int) {}
template <typename U>
__device__ __forceinline__ void rs_lg_setup_row(const rs_args& a, int row) {
    const int lane = (int)threadIdx.x, G = a.part_g;
    const rs_u64* pr = a.part + (long long)row * G;
    const float t = rs_row_temperature(a.temperature, a.temperature_val, row);
    float mx = RS_NEG_INF;
    int bad = 0;
    for (int g = lane; g < G; g += RS_WAVE) {
        const float m = __uint_as_float((rs_u32)(pr[g] >> 32));
        if (m != m) bad = 1;
        else mx = m > mx ? m : mx;
    }
    for (int o = RS_WAVE / 2; o > 0; o >>= 1) {
        const float y = RS_SHFL_XOR(mx, o);
        mx = y > mx ? y : mx;
        bad |= RS_SHFL_XOR(bad, o);
    }
    float s = 0.0f;
    if (!bad && t > 0.0f && mx != RS_NEG_INF) {
        const float c = rs_softmax_c(t), zc = rs_softmax_z(mx, c);
        for (int g0 = 0; g0 < G; g0 += RS_WAVE) {
            const float term = g0 + lane < G ? rs_softmax_term(pr[g0 + lane], c, zc) : 0.0f;
            const int n = G - g0 < RS_WAVE ? G - g0 : RS_WAVE;
            for (int j = 0; j < n; ++j) s = s + RS_SHFL(term, j);
        }
    }
    if (lane == 0) rs_lg_row = rs_softmax_row_of(t, bad ? RS_QNAN : mx, s);
}
template <> __device__ __forceinline__ void rs_lg_setup<rs_lg<float>>(const rs_args& a, int r) {
    rs_lg_setup_row<float>(a, r);
}
template <> __device__ __forceinline__ void rs_lg_setup<rs_lg<rs_f16>>(const rs_args& a, int r) {
    rs_lg_setup_row<rs_f16>(a, r);
}
template <> __device__ __forceinline__ void rs_lg_setup<rs_lg<rs_bf16>>(const rs_args& a, int r) {
    rs_lg_setup_row<rs_bf16>(a, r);
}
// A float logit row loads as a float row does, each element then made its probability
// (padding stays +0).
__device__ __forceinline__ void rs_load8(const rs_lg<float>* x, int vocab, int s,
                                         float (&v)[8], bool (&ok)[8]) {
    rs_load8((const float*)(const void*)x, vocab, s, v, ok);
    const rs_softmax_row r = rs_lg_row;
    rs_softmax_pn(r, v);
    if ((s + 1) * RS_CHUNK > vocab) {  // the row's last sub-chunk (or past it): padding
#pragma unroll
        for (int j = 0; j < 8; ++j) v[j] = ok[j] ? v[j] : 0.0f;
    }
}

// Group j of a float logit row (rs_load4's contract), each element its probability.
__device__ __forceinline__ float4 rs_load4(const rs_lg<float>* x, int j) {
    const float4 v = rs_load4((const float*)(const void*)x, j);
    return make_float4(rs_softmax_p(rs_lg_row, v.x), rs_softmax_p(rs_lg_row, v.y),
                       rs_softmax_p(rs_lg_row, v.z), rs_softmax_p(rs_lg_row, v.w));
}

// The row of a block's context as the entry's element type.
template <typename T>
__device__ __forceinline__ const T* rs_px(const rs_rowctx& t) { return (const T*)t.x; }

// Value i of four (i known only at run time) by selects on values passed one by one: an
// array indexed at run time is placed in local memory, and selects among an array's
// elements can be folded into such an index (hipcc did: the eights of rs_held8 below went to
// scratch every round of the top-k scan).
template <typename V>
__device__ __forceinline__ V rs_sel4(int i, V a0, V a1, V a2, V a3) {
    const bool o = (i & 1) != 0;
    const V lo = o ? a1 : a0, hi = o ? a3 : a2;
    return (i & 2) ? hi : lo;
}

// The 8 elements of a sub-chunk that a thread owns, as loaded (rs_load_held8): float rows
// hold the values; 2-byte probability rows (rs_f16, rs_bf16) hold them packed two to a word
// and widen one where it is used (at), so a loop can keep twice the 2-byte values in flight
// in the registers that float's take (rs_scan_plain_halves, the top-k scan); logit rows of any size
// hold the probabilities, formed once at the load. at(j) takes j known at compile time (an
// unrolled loop's), pick(j) j known only at run time (rs_sel4).
template <typename T>
struct rs_held8 {
    float v[8];
    __device__ __forceinline__ float at(int j) const { return v[j]; }
    __device__ __forceinline__ float pick(int j) const {
        const float a = rs_sel4(j & 3, v[0], v[1], v[2], v[3]);
        const float b = rs_sel4(j & 3, v[4], v[5], v[6], v[7]);
        return (j & 4) ? b : a;
    }
};

template <typename T>
struct rs_held8_2 {  // element j in the low (even j) or high half of word j / 2
    rs_u32 w[4];
    __device__ __forceinline__ float at(int j) const {
        T e;
        e.bits = (unsigned short)((j & 1) ? (w[j >> 1] >> 16) : (w[j >> 1] & 0xffffu));
        return rs_num<T>::up(e);
    }
    __device__ __forceinline__ float pick(int j) const {
        const rs_u32 word = rs_sel4(j >> 1, w[0], w[1], w[2], w[3]);
        T e;
        e.bits = (unsigned short)((j & 1) ? (word >> 16) : (word & 0xffffu));
        return rs_num<T>::up(e);
    }
};
template <> struct rs_held8<rs_f16> : rs_held8_2<rs_f16> {};
template <> struct rs_held8<rs_bf16> : rs_held8_2<rs_bf16> {};

// The largest bit pattern of a thread's 8 values as floats (rs_scan_plain's maxima): below
// 0x7f800000 exactly when every value is finite and its sign bit clear, and then it is their
// largest key. Anything else (a negative value, -0.0 included, Inf or NaN) returns at least
// 0x7f800000, and the caller takes the keys one by one. Packed 2-byte rows on NVIDIA sm_90
// and later compare two elements an instruction (max.u16x2 on the stored bits, whose order
// for values with the sign bit clear is the values' and their widened floats'): three
// instructions for 8 values where the widening and the comparison took two a value.
template <typename H>
__device__ __forceinline__ rs_u32 rs_held_max(const H& h) {
    rs_u32 raw = 0u;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        const rs_u32 b = __float_as_uint(h.at(j));
        raw = b > raw ? b : raw;
    }
    return raw;
}
// RS_PACKED_MAX: rs_held_max of packed 2-byte rows by rs_held_max2 below. Defined here on
// NVIDIA sm_90 and later; a build may define it elsewhere, where the portable rs_max_u16x2
// serves (the host harness's wave-32 device does: tests/kernel_device.py, so that the
// H200's maxima run on the CPU too).
#if defined(RS_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && !defined(RS_PACKED_MAX)
#define RS_PACKED_MAX 1
#endif
#ifdef RS_PACKED_MAX
// The larger 16-bit half of a and b, each half on its own (unsigned).
__device__ __forceinline__ rs_u32 rs_max_u16x2(rs_u32 a, rs_u32 b) {
#if defined(RS_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    rs_u32 d;
    asm("max.u16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
#else
    const rs_u32 lo = (a & 0xffffu) > (b & 0xffffu) ? a & 0xffffu : b & 0xffffu;
    const rs_u32 hi = (a >> 16) > (b >> 16) ? a >> 16 : b >> 16;
    return lo | hi << 16;
#endif
}
template <typename T>
__device__ __forceinline__ rs_u32 rs_held_max2(const rs_held8_2<T>& h) {
    const rs_u32 m = rs_max_u16x2(rs_max_u16x2(h.w[0], h.w[1]), rs_max_u16x2(h.w[2], h.w[3]));
    const rs_u32 lo = m & 0xffffu, hi = m >> 16;
    T e;
    e.bits = (unsigned short)(hi > lo ? hi : lo);
    if (e.bits >= 0x8000u) return 0xffffffffu;  // a sign bit set: negative, or -0.0
    return __float_as_uint(rs_num<T>::up(e));  // Inf and NaN widen to 0x7f800000 and up
}
// Overloads, not a template on rs_held8_2: an exact match, so they win over the one above.
__device__ __forceinline__ rs_u32 rs_held_max(const rs_held8<rs_f16>& h) {
    return rs_held_max2(h);
}
__device__ __forceinline__ rs_u32 rs_held_max(const rs_held8<rs_bf16>& h) {
    return rs_held_max2(h);
}
#endif

// ---- top-k candidate masks (rs_scan_cand) ----

// Element j's flag in a candidate mask: bit j for even j, bit 15 + j for odd j (where the
// packed test below leaves it: word k's low element at bit 2k, its high one at bit 16 + 2k).
__device__ __forceinline__ rs_u32 rs_cand_bit(int j) {
    return 1u << ((j & 1) ? 15 + j : j);
}
// The element whose flag is bit b of a candidate mask (rs_cand_bit's inverse).
__device__ __forceinline__ int rs_cand_elem(int b) { return b < 16 ? b : b - 15; }

// The mask of a thread's eight whose key is >= lo, one by one: any values.
template <typename H>
__device__ __forceinline__ rs_u32 rs_cand_any(const H& h, rs_u32 lo) {
    rs_u32 m = 0u;
#pragma unroll
    for (int j = 0; j < 8; ++j) m |= rs_key(h.at(j)) >= lo ? rs_cand_bit(j) : 0u;
    return m;
}

// The same mask when rs_held_max(h) < 0x7f800000 (every value finite, its sign bit clear),
// with d = rs_cand_d(x, lo). Other rows test one by one (rs_scan_cand calls it for packed
// rows only); packed 2-byte rows test two elements an addition: with thr their smallest
// stored pattern whose key is >= lo (in [1, 0x7f80]) and d = (0x8000 - thr) x 0x10001, each
// half of word + d reaches 0x8000 (its top bit) exactly when the element's pattern is
// >= thr, without a carry into the other half (both halves stay <= 0x7fff + 0x7fff). Four
// additions and the masks, where widening and comparing took three instructions an element.
template <typename H>
__device__ __forceinline__ rs_u32 rs_cand_valid(const H& h, rs_u32 lo, rs_u32) {
    return rs_cand_any(h, lo);
}
template <typename T>
__device__ __forceinline__ rs_u32 rs_cand_valid2(const rs_held8_2<T>& h, rs_u32 d) {
    rs_u32 m = 0u;
#pragma unroll
    for (int k = 0; k < 4; ++k) m |= ((h.w[k] + d) & 0x80008000u) >> (15 - 2 * k);
    return m;
}
// Overloads, not a template on rs_held8_2 (as rs_held_max's).
__device__ __forceinline__ rs_u32 rs_cand_valid(const rs_held8<rs_f16>& h, rs_u32, rs_u32 d) {
    return rs_cand_valid2(h, d);
}
__device__ __forceinline__ rs_u32 rs_cand_valid(const rs_held8<rs_bf16>& h, rs_u32, rs_u32 d) {
    return rs_cand_valid2(h, d);
}

// rs_cand_valid's d for a row of x's type and bound lo (1 <= lo < 0x7f800000): 0 where the
// test is one by one; for 2-byte rows from the smallest pattern thr whose widened key is
// >= lo, by bisection (15 steps: widening is monotone over patterns with the sign bit clear,
// and +Inf's pattern, 0x7c00 or 0x7f80, has a key above lo).
template <typename E>
__device__ __forceinline__ rs_u32 rs_cand_d(const E*, rs_u32) { return 0u; }
template <typename T>
__device__ __forceinline__ rs_u32 rs_cand_d2(rs_u32 lo, rs_u32 inf) {
    rs_u32 a = 1u, b = inf;  // the answer lies in [a, b]
    while (a < b) {  // at most 15 steps: b - a < 2^15 halves each time
        const rs_u32 mid = (a + b) >> 1;
        T e;
        e.bits = (unsigned short)mid;
        if (__float_as_uint(rs_num<T>::up(e)) >= lo) b = mid;
        else a = mid + 1u;
    }
    return (0x8000u - a) * 0x10001u;
}
__device__ __forceinline__ rs_u32 rs_cand_d(const rs_f16*, rs_u32 lo) {
    return rs_cand_d2<rs_f16>(lo, 0x7c00u);
}
__device__ __forceinline__ rs_u32 rs_cand_d(const rs_bf16*, rs_u32 lo) {
    return rs_cand_d2<rs_bf16>(lo, 0x7f80u);
}

// Whether T's rs_held8 holds its values packed (then a loop keeps more sub-chunks in flight).
// Logit rows of either size are not: each element becomes its probability once, at the load
// (held packed, the plain scan formed it twice, for the maxima and for the masses).
template <typename T> struct rs_packed {
    static constexpr bool value = sizeof(rs_held8<T>) < 8 * sizeof(float);
};

__device__ __forceinline__ void rs_load_held8(const float* x, int vocab, int s,
                                              rs_held8<float>& h) {
    bool ok[8];  // unused: padding is 0
    rs_load8(x, vocab, s, h.v, ok);
}

__device__ __forceinline__ void rs_load_held8(const rs_lg<float>* x, int vocab, int s,
                                              rs_held8<rs_lg<float>>& h) {
    bool ok[8];  // unused: padding is 0
    rs_load8(x, vocab, s, h.v, ok);
}

// 2-byte rows: the 8 elements of sub-chunk s that this thread owns are contiguous, element j
// at s * RS_CHUNK + 8 * threadIdx.x + j (8 * RS_BLOCK == RS_CHUNK): one 16-byte load when the
// row is 16-byte aligned, two 8-byte or four 4-byte loads when it is 8- or 4-byte aligned (a
// strided row of odd length), 2-byte loads only for a 2-byte aligned row or the row's last
// elements. Elements at or past vocab are +0 (bits 0 in both types: no mass, no maximum).
// rs_load_held8_at: the same for the 8 elements from i (a multiple of 8) on.
template <typename T>
__device__ __forceinline__ void rs_load_held8_at(const T* x, int vocab, int i, rs_held8<T>& h) {
    static_assert(sizeof(T) == 2, "rs_load_held8_at: 2-byte rows");
    const unsigned long long at = (unsigned long long)(x + i);  // x's alignment: i % 8 == 0
    const void* p = (const void*)(x + i);
    if (i + 7 < vocab && (at & 15ull) == 0ull) {
        const uint4 q = *(const uint4*)p;
        h.w[0] = q.x; h.w[1] = q.y; h.w[2] = q.z; h.w[3] = q.w;
    } else if (i + 7 < vocab && (at & 7ull) == 0ull) {
        const uint2 a = ((const uint2*)p)[0], b = ((const uint2*)p)[1];
        h.w[0] = a.x; h.w[1] = a.y; h.w[2] = b.x; h.w[3] = b.y;
    } else if (i + 7 < vocab && (at & 3ull) == 0ull) {
#pragma unroll
        for (int k = 0; k < 4; ++k) h.w[k] = ((const rs_u32*)p)[k];
    } else {
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const rs_u32 lo = i + 2 * k < vocab ? x[i + 2 * k].bits : 0u;
            const rs_u32 hi = i + 2 * k + 1 < vocab ? x[i + 2 * k + 1].bits : 0u;
            h.w[k] = lo | (hi << 16);
        }
    }
}
template <typename T>
__device__ __forceinline__ void rs_load_held8(const T* x, int vocab, int s, rs_held8<T>& h) {
    static_assert(sizeof(T) == 2 && 8 * RS_BLOCK == RS_CHUNK, "rs_load_held8: 2-byte rows");
    rs_load_held8_at(x, vocab, s * RS_CHUNK + 8 * (int)threadIdx.x, h);
}

// The same eight of a 2-byte logit row (rs_lg<rs_f16>, rs_lg<rs_bf16>), each made its
// probability at the load; the padding past vocab is +0 (no mass, no maximum).
template <typename U>
__device__ __forceinline__ void rs_load_held8(const rs_lg<U>* x, int vocab, int s,
                                              rs_held8<rs_lg<U>>& h) {
    rs_held8<U> raw;
    rs_load_held8((const U*)(const void*)x, vocab, s, raw);
#pragma unroll
    for (int j = 0; j < 8; ++j) h.v[j] = raw.at(j);
    const rs_softmax_row r = rs_lg_row;
    rs_softmax_pn(r, h.v);
    const int i = s * RS_CHUNK + 8 * (int)threadIdx.x;
    if (i + 7 >= vocab) {  // padding
#pragma unroll
        for (int j = 0; j < 8; ++j) h.v[j] = i + j < vocab ? h.v[j] : 0.0f;
    }
}

// The same eight of a 2-byte row, widened (rs_load8's element order for these rows).
template <typename T>
__device__ __forceinline__ void rs_load8(const T* x, int vocab, int s, float (&v)[8],
                                         bool (&ok)[8]) {
    rs_held8<T> h;
    rs_load_held8(x, vocab, s, h);
    const int i = s * RS_CHUNK + 8 * (int)threadIdx.x;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        v[j] = h.at(j);
        ok[j] = i + j < vocab;
    }
}

// The index of element j of rs_load8's eight (float rows, or 2-byte rows).
template <typename T>
__device__ __forceinline__ int rs_index8(int s, int j) {
    if (sizeof(T) == 2) return s * RS_CHUNK + 8 * (int)threadIdx.x + j;
    return s * RS_CHUNK + 4 * ((j >> 2) * RS_BLOCK + (int)threadIdx.x) + (j & 3);
}
