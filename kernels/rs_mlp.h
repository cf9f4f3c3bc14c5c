// rs_mlp.h -- shared device code of the MLP modules (swiglu.hip, rms_norm.hip).
//
// Passed to hiprtc/NVRTC as an in-memory header after rs_common.h (RS_WAVE, RS_BLOCK, the
// ABI marker, the wave shuffles) and rs_elementwise.h (the two-byte float storage types and
// their conversions: rs_num<T>::up to float, ::down rounding to nearest even).
//
// Element types: every module has one entry a type (name_f32, name_f16, name_bf16, what
// rocsample launches: each gets registers and code of its own) and one entry taking the type
// as a run-time code (the branch uniform over the grid): RS_MLP_F32 float, RS_MLP_F16
// __half, RS_MLP_BF16 __nv_bfloat16. Every value is widened to float, computed in float (sums
// of squares included), and rounded to the element type once, at the store (rs_pack_floats:
// two 2-byte values a conversion instruction where the target has one).
//
// Values: an operand's 16-byte group is held as rs_pack<T, 16 / sizeof(T)>, whose 2-byte
// values stay packed two to a 32-bit word (get unpacks one value): 16 bytes are
// 4 registers for every element type, where one register a value (rs_pack<T, N, false>)
// made bf16/fp16 groups cost 8 and limited the loads a thread could keep in flight.
//
// Layout: a 2-d view of `rows` rows of `cols` elements, the last dim contiguous, row r at
// base + r * stride elements (64-bit: rows * stride may pass 2^31 and 2^32). An operand moves
// 16 bytes per access (rs_pack) when its base and its row stride in bytes are multiples of 16
// (every row start is then 16-byte aligned); the launch takes the vector path only when every
// operand of the call qualifies, else element by element; a row's last cols % (16 / size)
// elements are always taken one at a time.
#pragma once

#include "rs_elementwise.h"

#define RS_MLP_F32 0
#define RS_MLP_F16 1
#define RS_MLP_BF16 2

typedef long long rs_i64;

// log2 of C, the threads of a block that share one row: the smallest power of two >= units,
// clamped to [min(lo, blockDim.x), blockDim.x] (rounded down to a power of two for a block
// that is not one). A block takes blockDim.x / C rows at once, so a short row does not leave
// most of a block idle (hidden 2048 bf16 is 256 groups: two rows a block of 512, not one and
// 256 idle threads); at or below the wave a row's lanes stay in one wave for any wave size.
// rocsample.ops.mlp.row_threads is the host's copy (the grid rules).
__device__ __forceinline__ int rs_row_log2(rs_i64 units, rs_i64 lo) {
    const rs_i64 block = (rs_i64)blockDim.x;
    if (lo > block) lo = block;
    const rs_i64 u = units < lo ? lo : (units > block ? block : units);
    const int lc = 64 - __clzll((unsigned long long)(u - 1));  // u = 1: __clzll(0) = 64
    return (1 << lc) > block ? lc - 1 : lc;
}

// Whether every row of an operand starts on a 16-byte boundary.
__device__ __forceinline__ bool rs_rows_aligned(const void* base, rs_i64 stride, int size) {
    return (((rs_u64)base | (rs_u64)(stride * size)) & 15ull) == 0ull;
}

// The sum of v over the C threads of a row (C = a power of two, the same for the whole
// block; a row's threads are C consecutive threads starting at a multiple of C), returned to
// each of them. Every thread of the block must call it: when C is wider than a wave it holds
// one barrier. The order of the additions is fixed (a shuffle tree in each wave, then the
// row's wave sums in wave order), so a row's sum does not depend on timing. `part` holds
// RS_NWAVES floats; the caller alternates between two such arrays from one row to the next
// (the barrier of the next call then orders this call's reads before that call's writes).
__device__ __forceinline__ float rs_row_sum(float v, int C, float* part) {
    const int width = C < RS_WAVE ? C : RS_WAVE;
    for (int m = width / 2; m > 0; m >>= 1) v += RS_SHFL_XOR(v, m);  // lanes of one row
    if (C <= RS_WAVE) return v;  // uniform over the block: C is
    if (threadIdx.x % RS_WAVE == 0) part[threadIdx.x / RS_WAVE] = v;
    __syncthreads();
    const int waves = C / RS_WAVE, first = (int)(threadIdx.x / C) * waves;
    float s = 0.0f;
    for (int k = 0; k < waves; ++k) s += part[first + k];  // waves <= RS_NWAVES
    return s;
}

template <typename T>
__device__ __forceinline__ float rs_up(T v) { return rs_num<T>::up(v); }
template <typename T>
__device__ __forceinline__ T rs_down(float v) { return rs_num<T>::down(v); }

// Two floats rounded to T (rs_num<T>::down) and packed into one 32-bit word, `lo` in the low
// half: one instruction on NVIDIA sm_80 and later (cvt.rn.{bf16,f16}x2.f32) where two
// conversions and the packing took several; the same bits as two rs_down. For bf16 that holds
// for every value the MLP kernels round, each the result of a float multiply or add: on NVIDIA
// such a NaN is the canonical 0x7fffffff, whose software-rule bits (rs_num<rs_bf16>::down:
// top half, made quiet) are cvt's 0x7fff, so the NaN test rs_num<rs_bf16>::down makes is left
// out (with it, or with selects in its place, rms_norm_row1_bf16 took 0.1-0.2 us longer a
// call of few rows on an H200: bench/experiments/mlp-row1, run 4, v0 and v32 against v4).
// A caller that passes a value loaded as is (a NaN with its own payload) must use rs_down.
template <typename T>
__device__ __forceinline__ rs_u32 rs_down2(float lo, float hi) {
    return (rs_u32)rs_num<T>::down(lo).bits | ((rs_u32)rs_num<T>::down(hi).bits << 16);
}
#if defined(RS_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
template <>
__device__ __forceinline__ rs_u32 rs_down2<rs_bf16>(float lo, float hi) {
    rs_u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
template <>
__device__ __forceinline__ rs_u32 rs_down2<rs_f16>(float lo, float hi) {
    rs_u32 r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
#endif

// p = the N floats f rounded to T; two-byte values two at a time (rs_down2).
template <typename T, int N, bool TWO = (sizeof(T) == 2)>
struct rs_packer {
    static __device__ __forceinline__ void put(rs_pack<T, N>& p, const float (&f)[N]) {
#pragma unroll
        for (int e = 0; e < N; ++e) p.set(e, rs_down<T>(f[e]));
    }
};
template <typename T, int N>
struct rs_packer<T, N, true> {
    static __device__ __forceinline__ void put(rs_pack<T, N>& p, const float (&f)[N]) {
#pragma unroll
        for (int e = 0; e < N; e += 2) p.w[e / 2] = rs_down2<T>(f[e], f[e + 1]);
    }
};
template <typename T, int N>
__device__ __forceinline__ void rs_pack_floats(rs_pack<T, N>& p, const float (&f)[N]) {
    rs_packer<T, N>::put(p, f);
}
