// rs_engine_block.h -- what a block of the engine knows and does in every phase: its
// arguments and row context (rs_args, rs_rowctx; rs_engine() fills them once a launch), the
// hand-off to the row's last block (rs_last_block: an atomic ticket, no waiting) and its
// result (rs_finish), and the loads of a sub-chunk (rs_load8, rs_index8).
// Relies on rs_engine_core.h (rs_ws, rs_sm, the workspace head words).
#pragma once
#include "rs_engine_core.h"

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

// The row of a block's context as the entry's element type.
template <typename T>
__device__ __forceinline__ const T* rs_px(const rs_rowctx& t) { return (const T*)t.x; }

// 2-byte rows (rs_f16, rs_bf16): the 8 elements of sub-chunk s that this thread owns are
// contiguous, element j at s * RS_CHUNK + 8 * threadIdx.x + j: one 16-byte load when aligned
// (8 * RS_BLOCK == RS_CHUNK), each value widened exactly to float.
template <typename T>
__device__ __forceinline__ void rs_load8(const T* x, int vocab, int s, float (&v)[8],
                                         bool (&ok)[8]) {
    static_assert(sizeof(T) == 2 && 8 * RS_BLOCK == RS_CHUNK, "rs_load8: 2-byte rows");
    const int i = s * RS_CHUNK + 8 * (int)threadIdx.x;
    if (((((unsigned long long)(x + i)) & 15ull) == 0ull) && i + 7 < vocab) {
        const uint4 q = *(const uint4*)(const void*)(x + i);
        const rs_u32 w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int h = 0; h < 4; ++h) {
            T lo, hi;
            lo.bits = (unsigned short)(w[h] & 0xffffu);
            hi.bits = (unsigned short)(w[h] >> 16);
            v[2 * h] = rs_num<T>::up(lo);
            v[2 * h + 1] = rs_num<T>::up(hi);
        }
    } else {
#pragma unroll
        for (int j = 0; j < 8; ++j) v[j] = i + j < vocab ? rs_num<T>::up(x[i + j]) : 0.0f;
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) ok[j] = i + j < vocab;
}

// The index of element j of rs_load8's eight (float rows, or 2-byte rows).
template <typename T>
__device__ __forceinline__ int rs_index8(int s, int j) {
    if (sizeof(T) == 2) return s * RS_CHUNK + 8 * (int)threadIdx.x + j;
    return s * RS_CHUNK + 4 * ((j >> 2) * RS_BLOCK + (int)threadIdx.x) + (j & 3);
}
