// rs_common.h -- shared device code for every rocsample kernel module.
//
// Included by the four kernels/*.hip modules; passed to hiprtc/NVRTC as an in-memory header,
// so it must compile with no system headers under: hiprtc (AMD, __HIPCC_RTC__), hipcc on AMD
// (__HIP__), and NVRTC (__CUDACC_RTC__).
//
// Compile-time parameters (the loader passes them; never guessed here):
//   RS_WAVE         lanes per wavefront/warp of the target: 64 on CDNA (gfx9xx), 32 on RDNA
//                   (gfx10xx/11xx, wave32 default) and NVIDIA. Comes from the device.
//   RS_BLOCK        threads per block; every kernel is launched with blockDim = (RS_BLOCK, 1, 1).
//   RS_ABI_VERSION  the kernel argument ABI these sources implement: rocsample.registry's
//                   ABI_VERSION, the one place its number is written (tests/test_contract.py
//                   holds every signature here to that registry).
//
// Numerics shared by all samplers, chosen so every backend draws the same token exactly:
//   * A valid row holds finite values >= 0 (-0.0 counts as 0) with at least one > 0. Anything
//     else (NaN, +-Inf, negative, all zero) makes the row invalid: its token is -1.
//   * Ordering uses the IEEE-754 bit pattern of |x|: for non-negative finite floats the
//     unsigned order of the bits is the numeric order, so radix selection is exact.
//   * Probability mass is an exact integer: x scaled by the power of two that puts the row
//     maximum in [2^39, 2^40), truncated (see rs_mass). Sums of at most 2^23 such terms fit in
//     64 bits, are associative (no float reduction order), and are reproduced bit for bit by
//     numpy. Values below 2^-40 of the row maximum carry no mass.
//   * Plain sampling (no top-k, top-p or min-p filter) takes the mass per sub-chunk instead,
//     so that one read suffices: the row is cut into sub-chunks of 4096 elements (the last
//     may be shorter); sub-chunk c with maximum exponent e_c has mass M_c = the sum of its
//     values' masses at its own scale (rs_mass(key, e_c)), and weighs W_c = M_c >> (e - e_c)
//     in the row, e = the largest e_c. The draw picks t = umulhi64(r, sum W_c), the sub-chunk
//     where the cumulative W passes t, and inside it the first token whose cumulative mass C
//     at its own scale has C >> (e - e_c) > t - (W of the sub-chunks before). Every token's
//     share differs from p / sum(p) by less than 2^-39 of the row maximum, as with the row
//     scale.
//   * min-p keeps x >= min_p * max exactly (see rs_min_p_key).
//   * Randomness: Philox4x32-10. With scalar seed and offset: key = seed, counter = (offset
//     lo, offset hi, row, 0). With per-row seeds and/or offsets (either array given): key =
//     the row's seed (seeds[row] or the scalar), counter = (its offset lo, hi, 0, 0): no row
//     index, so a request's draw depends on its own (seed, offset) only, not on its batch
//     slot, the batch size or the kernel path (rs_row_draw).
//     The 64-bit word (w1 << 32 | w0) picks a point umulhi64(r, total) in [0, total).
#pragma once

#if !defined(RS_WAVE) || !defined(RS_BLOCK) || !defined(RS_ABI_VERSION)
#error "RS_WAVE, RS_BLOCK and RS_ABI_VERSION must be defined by the loader (-D...)"
#endif
#if (RS_BLOCK % RS_WAVE) != 0 || (RS_BLOCK / RS_WAVE) > RS_WAVE
#error "RS_BLOCK must be a multiple of RS_WAVE and at most RS_WAVE * RS_WAVE"
#endif

// The ABI marker: a code object built from these sources defines the symbol
// rocsample_abi_v<N> (N = RS_ABI_VERSION), and the loader reads N from its symbol table
// before loading (a precompiled file of another ABI is refused, never run on this workspace
// layout). A code object written from scratch declares its ABI with the same one line, N
// written out. The name is pasted from RS_ABI_VERSION so that the number is never repeated.
#define RS_PASTE2(a, b) a##b
#define RS_PASTE(a, b) RS_PASTE2(a, b)  // b expanded first: the number, not its name
extern "C" __device__ __attribute__((used)) const unsigned int
    RS_PASTE(rocsample_abi_v, RS_ABI_VERSION) = RS_ABI_VERSION;

#define RS_VOCAB_MAX (1 << 23)  // keeps 64-bit mass sums exact (2^23 * 2^40 < 2^64)
#define RS_NWAVES (RS_BLOCK / RS_WAVE)

typedef unsigned int rs_u32;
typedef unsigned long long rs_u64;

// RS_CUDA: compiled as CUDA (NVRTC, or nvcc without HIP); the one test of it.
#if defined(__CUDACC_RTC__) || (defined(__CUDACC__) && !defined(__HIP__))
#define RS_CUDA 1
#endif

#ifdef RS_CUDA
// CUDA's warp intrinsics need a member mask; HIP's take none. Full-warp masks are right:
// every call site below is reached by all lanes of the warp.
#define RS_SHFL_XOR(v, m) __shfl_xor_sync(0xffffffffu, (v), (m), RS_WAVE)
#define RS_SHFL_UP(v, d) __shfl_up_sync(0xffffffffu, (v), (d), RS_WAVE)
#define RS_SHFL(v, src) __shfl_sync(0xffffffffu, (v), (src), RS_WAVE)
#define RS_ALL(p) __all_sync(0xffffffffu, (p))
#else
#define RS_SHFL_XOR(v, m) __shfl_xor((v), (m), RS_WAVE)
#define RS_SHFL_UP(v, d) __shfl_up((v), (d), RS_WAVE)
#define RS_SHFL(v, src) __shfl((v), (src), RS_WAVE)
#define RS_ALL(p) __all(p)
#endif

// f16 and bf16 values: two bytes, passed and stored like CUDA's __half / __nv_bfloat16, so a
// kernel argument of these types has the same size and alignment as Candle's.
struct rs_f16 { unsigned short bits; };
struct rs_bf16 { unsigned short bits; };

// rs_num<T>: T's compute type C (float for f16/bf16/f32, double for f64) and the conversions.
// f16/bf16 are computed in float and rounded to nearest even once, at the store.
template <typename T> struct rs_num {
    typedef T C;
    static __device__ __forceinline__ C up(T x) { return x; }
    static __device__ __forceinline__ T down(C x) { return x; }
};

template <> struct rs_num<rs_f16> {
    typedef float C;
#ifdef RS_CUDA
    // The conversion instructions; cuda_fp16.h would cost every compile far more than this.
    static __device__ __forceinline__ float up(rs_f16 h) {
        float f;
        asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.bits));
        return f;
    }
    static __device__ __forceinline__ rs_f16 down(float f) {
        rs_f16 h;
        asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(f));
        return h;
    }
#else
    // clang's _Float16 converts with the hardware's round-to-nearest-even instruction.
    union pun { unsigned short u; _Float16 f; };
    static __device__ __forceinline__ float up(rs_f16 h) {
        pun p;
        p.u = h.bits;
        return (float)p.f;
    }
    static __device__ __forceinline__ rs_f16 down(float f) {
        pun p;
        p.f = (_Float16)f;
        rs_f16 h;
        h.bits = p.u;
        return h;
    }
#endif
};

template <> struct rs_num<rs_bf16> {
    typedef float C;
    static __device__ __forceinline__ float up(rs_bf16 b) {
        return __uint_as_float((rs_u32)b.bits << 16);
    }
    // Round to nearest even (the same bits on every target and in numpy); a NaN keeps its
    // sign and top payload and is made quiet, since truncation could turn it into an Inf.
    // NVIDIA sm_80 and later round in hardware (one instruction, against ~8 for the bit
    // arithmetic: bf16 gelu was 33 instructions an element on sm_90, ALU-bound below copy
    // bandwidth); its NaN is the canonical 0x7fff, so a NaN takes the bits of the software
    // rule instead (a predicated shift and or: the result is today's, bit for bit).
    static __device__ __forceinline__ rs_bf16 down(float f) {
        const rs_u32 u = __float_as_uint(f);
        rs_bf16 b;
#if defined(RS_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
        asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(b.bits) : "f"(f));
        if (f != f) b.bits = (unsigned short)((u >> 16) | 0x40u);
#else
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            b.bits = (unsigned short)((u >> 16) | 0x40u);
        } else {
            b.bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        }
#endif
        return b;
    }
};

struct rs_smem {
    rs_u64 wave_u64[RS_NWAVES];
    rs_u32 wave_u32[RS_NWAVES];
    rs_u64 acc;       // a block-wide u64 result (rs_pick)
    int found;        // a block-wide int result (rs_pick, the draw)
    int last;         // this block is the last of its row to finish a phase
};

__device__ __forceinline__ rs_u32 rs_key(float x) {
    return __float_as_uint(x) & 0x7fffffffu;  // -0.0 -> 0; valid rows hold no negatives
}

// Effective binary exponent of a key: denormals share exponent 1 with the smallest normals.
__device__ __forceinline__ int rs_exp(rs_u32 key) {
    int e = (int)(key >> 23);
    return e ? e : 1;
}

// Exact integer mass of a value whose row maximum has effective exponent max_exp: with
// m the 24-bit significand and e the effective exponent of the key, floor(m * 2^(e - max_exp
// + 16)), the maximum in [2^39, 2^40). Computed as the float x * 2^(166 - max_exp) (two
// power-of-two factors, each a float, so neither overflows): multiplying by a power of two is
// exact while the product is a normal float, and a product below 2^-126 truncates to 0 either
// way; the truncating conversion then gives the floor. max_exp is loop-invariant where this is
// called, so the factors are computed once per loop: per element two multiplies and one
// conversion. From max_exp >= RS_MASS_ONE_EXP on (a maximum of at least 2^-88) the second
// factor is 1: the mass is (rs_u64)(x * rs_mass_scale1(max_exp)), one multiply (the plain
// scan's hot loop, rs_engine_plain.h).
#define RS_MASS_BIAS 166                      // the scale is 2^(RS_MASS_BIAS - max_exp)
#define RS_MASS_ONE_EXP (RS_MASS_BIAS - 127)  // 39: from here the scale is <= 2^127
// The scale as one float, for max_exp >= RS_MASS_ONE_EXP.
__device__ __forceinline__ float rs_mass_scale1(int max_exp) {
    return __uint_as_float((rs_u32)(RS_MASS_BIAS - max_exp + 127) << 23);
}
__device__ __forceinline__ rs_u64 rs_mass(rs_u32 key, int max_exp) {
    const int a = RS_MASS_BIAS - max_exp;        // -88 .. 165
    const int a1 = a < 127 ? a : 127;
    const float s1 = __uint_as_float((rs_u32)(a1 + 127) << 23);
    const float s2 = __uint_as_float((rs_u32)(a - a1 + 127) << 23);
    return (rs_u64)((__uint_as_float(key) * s1) * s2);
}

// Sum and maximum over a wave (all lanes take part; every lane gets the result). NVIDIA sm_80
// and later reduce in hardware (redux.sync, 32-bit): the 64-bit sum goes in three 21/21/22-bit
// parts, whose sums over 32 lanes cannot overflow. RS_REDUX is defined here there; a build of
// wave 32 may define it elsewhere if it supplies __reduce_add_sync and __reduce_max_sync (the
// host harness's wave-32 build does: tests/kernel_host/gpu_host.h).
#if !defined(RS_REDUX) && defined(RS_CUDA) && \
    defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800 && RS_WAVE == 32
#define RS_REDUX 1
#endif
#if defined(RS_REDUX) && RS_WAVE != 32
#error "RS_REDUX reduces 32 lanes (a full-warp mask): wave 32 only"
#endif

__device__ __forceinline__ rs_u64 rs_shfl_xor_u64(rs_u64 v, int m);

__device__ __forceinline__ rs_u64 rs_wave_sum_u64(rs_u64 v) {
#ifdef RS_REDUX
    const rs_u32 lo = __reduce_add_sync(0xffffffffu, (rs_u32)v & 0x1fffffu);
    const rs_u32 mid = __reduce_add_sync(0xffffffffu, (rs_u32)(v >> 21) & 0x1fffffu);
    const rs_u32 hi = __reduce_add_sync(0xffffffffu, (rs_u32)(v >> 42));
    return (rs_u64)lo + ((rs_u64)mid << 21) + ((rs_u64)hi << 42);
#else
    for (int m = RS_WAVE / 2; m > 0; m >>= 1) v += rs_shfl_xor_u64(v, m);
    return v;
#endif
}

__device__ __forceinline__ rs_u32 rs_wave_sum_u32(rs_u32 v) {  // the caller keeps it < 2^32
#ifdef RS_REDUX
    return __reduce_add_sync(0xffffffffu, v);
#else
    for (int m = RS_WAVE / 2; m > 0; m >>= 1) v += RS_SHFL_XOR(v, m);
    return v;
#endif
}

__device__ __forceinline__ rs_u32 rs_wave_max_u32(rs_u32 v) {
#ifdef RS_REDUX
    return __reduce_max_sync(0xffffffffu, v);
#else
    for (int m = RS_WAVE / 2; m > 0; m >>= 1) {
        const rs_u32 o = RS_SHFL_XOR(v, m);
        v = o > v ? o : v;
    }
    return v;
#endif
}

__device__ __forceinline__ rs_u64 rs_shfl_xor_u64(rs_u64 v, int m) {
    rs_u32 lo = (rs_u32)v, hi = (rs_u32)(v >> 32);
    lo = RS_SHFL_XOR(lo, m);
    hi = RS_SHFL_XOR(hi, m);
    return ((rs_u64)hi << 32) | lo;
}

__device__ __forceinline__ rs_u64 rs_shfl_up_u64(rs_u64 v, int d) {
    rs_u32 lo = (rs_u32)v, hi = (rs_u32)(v >> 32);
    lo = RS_SHFL_UP(lo, d);
    hi = RS_SHFL_UP(hi, d);
    return ((rs_u64)hi << 32) | lo;
}

// Visit every element of a row exactly once: g4(j, x[4j], x[4j+1], x[4j+2], x[4j+3]) for the
// groups of four j = t, t + RS_BLOCK, ... that thread t owns (in that order), then g1(i, x[i])
// for the tail elements i = 4 * (vocab / 4) + t, ... one at a time: the same elements in the same
// order whatever the row's alignment, so a float sum over them (softmax) does not depend on
// where the row starts (an unaligned row once summed its elements one a thread stride apart,
// and softmax of the same values differed in the last bits). A group is one 16-byte load when
// the row is 16-byte aligned, four scalar loads otherwise.
template <typename G4, typename G1>
__device__ __forceinline__ void rs_for_groups(const float* x, int vocab, G4 g4, G1 g1) {
    const int n4 = vocab >> 2;
    if ((((unsigned long long)x) & 15ull) == 0ull) {
        const float4* x4 = (const float4*)x;
#pragma unroll 2
        for (int j = threadIdx.x; j < n4; j += RS_BLOCK) {
            const float4 v = x4[j];
            g4(j, v.x, v.y, v.z, v.w);
        }
    } else {
        for (int j = threadIdx.x; j < n4; j += RS_BLOCK)
            g4(j, x[4 * j], x[4 * j + 1], x[4 * j + 2], x[4 * j + 3]);
    }
    for (int i = (n4 << 2) + (int)threadIdx.x; i < vocab; i += RS_BLOCK) g1(i, x[i]);
}

// The two 2-byte values of a 32-bit word (the lower address in the low half), widened.
template <typename T>
__device__ __forceinline__ void rs_unpack2(rs_u32 w, float& lo, float& hi) {
    T a, b;
    a.bits = (unsigned short)(w & 0xffffu);
    b.bits = (unsigned short)(w >> 16);
    lo = rs_num<T>::up(a);
    hi = rs_num<T>::up(b);
}

// The same for a row of 2-byte values (rs_f16, rs_bf16), each widened exactly to float: a
// thread visits the same elements in the same order as the float version (groups of four, j =
// threadIdx.x + k * RS_BLOCK, then the tail), so a float sum over them (softmax) is bit for bit
// the float32 path's on the widened row. A group of four halves is one 8-byte load when the
// row is 8-byte aligned, two 4-byte loads when 4-byte aligned, else four 2-byte loads (a
// 16-byte load would hold two threads' groups, and give each thread other elements).
template <typename T, typename G4, typename G1>
__device__ __forceinline__ void rs_for_groups(const T* x, int vocab, G4 g4, G1 g1) {
    static_assert(sizeof(T) == 2, "rs_for_groups: float or a 2-byte type");
    const int n4 = vocab >> 2;
    const unsigned long long at = (unsigned long long)x;
    if ((at & 3ull) == 0ull) {
        const bool by8 = (at & 7ull) == 0ull;  // block-uniform: the same row for every thread
        const rs_u32* w = (const rs_u32*)(const void*)x;
#pragma unroll 2
        for (int j = threadIdx.x; j < n4; j += RS_BLOCK) {
            rs_u32 w0, w1;
            if (by8) {
                const uint2 q = ((const uint2*)(const void*)x)[j];
                w0 = q.x;
                w1 = q.y;
            } else {
                w0 = w[2 * j];
                w1 = w[2 * j + 1];
            }
            float e0, e1, e2, e3;
            rs_unpack2<T>(w0, e0, e1);
            rs_unpack2<T>(w1, e2, e3);
            g4(j, e0, e1, e2, e3);
        }
    } else {
#pragma unroll 2
        for (int j = threadIdx.x; j < n4; j += RS_BLOCK)
            g4(j, rs_num<T>::up(x[4 * j]), rs_num<T>::up(x[4 * j + 1]),
               rs_num<T>::up(x[4 * j + 2]), rs_num<T>::up(x[4 * j + 3]));
    }
    for (int i = (n4 << 2) + (int)threadIdx.x; i < vocab; i += RS_BLOCK)
        g1(i, rs_num<T>::up(x[i]));
}

__device__ __forceinline__ rs_u64 rs_shfl_u64(rs_u64 v, int src) {
    rs_u32 lo = (rs_u32)v, hi = (rs_u32)(v >> 32);
    lo = RS_SHFL(lo, src);
    hi = RS_SHFL(hi, src);
    return ((rs_u64)hi << 32) | lo;
}

// Block-wide max of u32; every thread gets the result. Ends with a barrier-protected read.
__device__ rs_u32 rs_block_max_u32(rs_u32 v, rs_smem* sh) {
    const int lane = threadIdx.x % RS_WAVE, wave = threadIdx.x / RS_WAVE;
    v = rs_wave_max_u32(v);
    __syncthreads();  // wave_u32 may still be read by a previous call
    if (lane == 0) sh->wave_u32[wave] = v;
    __syncthreads();
    rs_u32 r = sh->wave_u32[0];
    for (int w = 1; w < RS_NWAVES; ++w) r = sh->wave_u32[w] > r ? sh->wave_u32[w] : r;
    return r;
}

// Block-wide sum of u64 (exact, order independent); every thread gets the result.
__device__ rs_u64 rs_block_sum_u64(rs_u64 v, rs_smem* sh) {
    const int lane = threadIdx.x % RS_WAVE, wave = threadIdx.x / RS_WAVE;
    v = rs_wave_sum_u64(v);
    __syncthreads();
    if (lane == 0) sh->wave_u64[wave] = v;
    __syncthreads();
    rs_u64 r = 0;
    for (int w = 0; w < RS_NWAVES; ++w) r += sh->wave_u64[w];
    return r;
}

// Block-wide inclusive scan of u64 in thread order; *total receives the block sum.
__device__ __forceinline__ rs_u64 rs_block_scan_u64(rs_u64 v, rs_u64* total, rs_smem* sh) {
    const int lane = threadIdx.x % RS_WAVE, wave = threadIdx.x / RS_WAVE;
    for (int d = 1; d < RS_WAVE; d <<= 1) {
        rs_u64 o = rs_shfl_up_u64(v, d);
        if (lane >= d) v += o;
    }
    __syncthreads();
    if (lane == RS_WAVE - 1) sh->wave_u64[wave] = v;
    __syncthreads();
    rs_u64 before = 0, all = 0;
    for (int w = 0; w < RS_NWAVES; ++w) {
        rs_u64 t = sh->wave_u64[w];
        if (w < wave) before += t;
        all += t;
    }
    *total = all;
    return v + before;
}

// Philox4x32-10 (Salmon et al., SC'11), returning words 0 and 1 as one 64-bit value.
__device__ rs_u64 rs_philox_u64(rs_u64 seed, rs_u64 offset, rs_u32 row) {
    rs_u32 c0 = (rs_u32)offset, c1 = (rs_u32)(offset >> 32), c2 = row, c3 = 0u;
    rs_u32 k0 = (rs_u32)seed, k1 = (rs_u32)(seed >> 32);
    for (int i = 0; i < 10; ++i) {
        rs_u32 hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        rs_u32 hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return ((rs_u64)c1 << 32) | c0;
}

// The 64-bit random word of row `row`: per-row seeds/offsets (device arrays of one u64 per
// row, NULL: the scalar for every row) drop the row index from the counter; both NULL is the
// scalar-seed draw, counter (offset, row, 0) (see the numerics above).
__device__ __forceinline__ rs_u64 rs_row_draw(rs_u64 seed, rs_u64 offset, const rs_u64* seeds,
                                              const rs_u64* offsets, int row) {
    if (seeds == nullptr && offsets == nullptr) return rs_philox_u64(seed, offset, (rs_u32)row);
    return rs_philox_u64(seeds ? seeds[row] : seed, offsets ? offsets[row] : offset, 0u);
}

__device__ __forceinline__ rs_u64 rs_kept(float v, rs_u32 thr, int max_exp) {
    const rs_u32 key = rs_key(v);
    return key >= thr ? rs_mass(key, max_exp) : 0ull;
}

// Wave-level inclusive scan of u64 (all lanes take part).
__device__ __forceinline__ rs_u64 rs_wave_scan_u64(rs_u64 v, int lane) {
    for (int d = 1; d < RS_WAVE; d <<= 1) {
        rs_u64 o = rs_shfl_up_u64(v, d);
        if (lane >= d) v += o;
    }
    return v;
}

// Largest int over the wave (all lanes take part).
__device__ __forceinline__ int rs_wave_max_i32(int v) {
    for (int m = RS_WAVE / 2; m > 0; m >>= 1) {
        int o = RS_SHFL_XOR(v, m);
        v = o > v ? o : v;
    }
    return v;
}

// Group j of a row (elements 4j..4j+3) as floats, in one load: x must be aligned to a group
// (16 bytes for float, 8 for 2-byte values, which are widened exactly).
__device__ __forceinline__ float4 rs_load4(const float* x, int j) {
    return ((const float4*)(const void*)x)[j];
}

template <typename T>
__device__ __forceinline__ float4 rs_load4(const T* x, int j) {
    static_assert(sizeof(T) == 2, "rs_load4: float or a 2-byte type");
    const uint2 q = ((const uint2*)(const void*)x)[j];
    float4 v;
    rs_unpack2<T>(q.x, v.x, v.y);
    rs_unpack2<T>(q.y, v.z, v.w);
    return v;
}

// Exact inverse-CDF draw over keys >= thr in x[begin:end], in index order. Each wave owns one
// contiguous segment of the span (a multiple of 4 elements, so 16-byte loads stay aligned):
// one pass sums each segment's kept mass; the segment holding the target is found from the
// wave sums; that wave alone scans its segment in index order with shuffles. The target is
// umulhi64(r, kept mass of the span) when use_r, else `target` (which must be below the
// span's kept mass). Returns the first token whose cumulative kept mass exceeds the target,
// exactly numpy's searchsorted(cumsum, target, "right"), or -1 when the span keeps nothing
// (or the target is not below its kept mass).
// stage (shared memory of RS_DRAW_STAGE floats, 16-byte aligned, or NULL): a span of at most
// RS_DRAW_STAGE elements is then read from global memory once, every 16-byte load of a lane
// in flight at once, and the owner wave scans the staged copy (H200: the second read of the
// segment was two dependent L2 round trips of a ~3.7 us sub-chunk draw).
#define RS_DRAW_STAGE 4096
template <typename T>
__device__ __noinline__ int rs_draw_span(const T* x, int begin_, int end_, rs_u32 thr, int max_exp,
                            bool use_r, rs_u64 r, rs_u64 target, rs_smem* sh,
                            float4* stage = nullptr) {
    const int lane = threadIdx.x % RS_WAVE, wave = threadIdx.x / RS_WAVE;
    int seg = (end_ - begin_ + RS_NWAVES - 1) / RS_NWAVES;
    seg = (seg + 3) & ~3;
    const int begin = begin_ + wave * seg < end_ ? begin_ + wave * seg : end_;
    const int end = begin + seg < end_ ? begin + seg : end_;
    // Groups of four elements, one load each, when the row is aligned to a group (16 bytes
    // for float, 8 for 2-byte rows, widened to a float4); else the scalar path below. (2-byte
    // rows once always took the scalar path: the owner wave's scan of a sub-chunk was then
    // 4x the dependent rounds, which made plain sampling of bf16 slower than of float32.)
    const bool vec = ((((unsigned long long)x) & (4ull * sizeof(T) - 1ull)) == 0ull) &&
                     ((begin_ & 3) == 0);
    const int vend = vec ? begin + ((end - begin) & ~3) : begin;  // [begin, vend) in groups
    auto kept4 = [&](const float4& v) {
        return rs_kept(v.x, thr, max_exp) + rs_kept(v.y, thr, max_exp) +
               rs_kept(v.z, thr, max_exp) + rs_kept(v.w, thr, max_exp);
    };
    // Block-uniform. The staged float4 j sits at stage[j - begin_ / 4].
    const bool held = stage != nullptr && vec && end_ - begin_ <= RS_DRAW_STAGE;
    const int b4 = begin_ >> 2;

    rs_u64 s = 0ull;
    if (held) {
        // seg <= the rounded segment of a full stage, a multiple of 4 from a multiple of 4
        constexpr int kSeg = (((RS_DRAW_STAGE + RS_NWAVES - 1) / RS_NWAVES) + 3) & ~3;
        constexpr int kHold = (kSeg / 4 + RS_WAVE - 1) / RS_WAVE;
        float4 h[kHold];
#pragma unroll
        for (int u = 0; u < kHold; ++u) {  // every load in flight before any use
            const int j = (begin >> 2) + lane + u * RS_WAVE;
            h[u] = j < (vend >> 2) ? rs_load4(x, j) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        }
#pragma unroll
        for (int u = 0; u < kHold; ++u) {
            const int j = (begin >> 2) + lane + u * RS_WAVE;
            if (j < (vend >> 2)) stage[j - b4] = h[u];
            s += kept4(h[u]);  // zeros keep no mass
        }
    } else {
        for (int j = (begin >> 2) + lane; j < (vend >> 2); j += RS_WAVE)
            s += kept4(rs_load4(x, j));
    }
    for (int i = vend + lane; i < end; i += RS_WAVE)
        s += rs_kept(rs_num<T>::up(x[i]), thr, max_exp);
    s = rs_wave_sum_u64(s);
    __syncthreads();
    if (lane == 0) sh->wave_u64[wave] = s;
    if (threadIdx.x == 0) sh->found = -1;
    __syncthreads();
    rs_u64 total = 0ull;
    for (int w = 0; w < RS_NWAVES; ++w) total += sh->wave_u64[w];
    if (use_r) target = __umul64hi(r, total);  // uniform in [0, total)
    if (target >= total) return -1;  // uniform: every thread computed the same total
    rs_u64 before = 0ull;
    int owner = -1;
    for (int w = 0; w < RS_NWAVES; ++w) {
        const rs_u64 t = sh->wave_u64[w];
        if (target < before + t) { owner = w; break; }
        before += t;
    }
    if (wave == owner) {
        rs_u64 base = before;
        int hit = -1;
        for (int j0 = (begin >> 2); j0 < (vend >> 2) && hit < 0; j0 += RS_WAVE) {
            const int j = j0 + lane;
            float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (j < (vend >> 2)) v = held ? stage[j - b4] : rs_load4(x, j);
            const rs_u64 sum = kept4(v);
            const rs_u64 incl = rs_wave_scan_u64(sum, lane);
            const rs_u64 start = base + incl - sum;  // cumulative mass before this lane
            int mine = -1;
            if (sum != 0ull && start <= target && target < base + incl) {
                rs_u64 c = start + rs_kept(v.x, thr, max_exp);
                mine = 4 * j + (c > target ? 0 : (c += rs_kept(v.y, thr, max_exp)) > target ? 1
                                : (c += rs_kept(v.z, thr, max_exp)) > target ? 2 : 3);
            }
            hit = rs_wave_max_i32(mine);
            base += rs_shfl_u64(incl, RS_WAVE - 1);
        }
        for (int t0 = vend; t0 < end && hit < 0; t0 += RS_WAVE) {
            const int i = t0 + lane;
            const rs_u64 m = i < end ? rs_kept(rs_num<T>::up(x[i]), thr, max_exp) : 0ull;
            const rs_u64 incl = rs_wave_scan_u64(m, lane);
            const int mine = (m != 0ull && base + incl - m <= target && target < base + incl)
                                 ? i : -1;
            hit = rs_wave_max_i32(mine);
            base += rs_shfl_u64(incl, RS_WAVE - 1);
        }
        if (lane == 0) sh->found = hit;
    }
    __syncthreads();
    return sh->found;
}

// The draw over a whole row: target = umulhi64(r, kept mass of the row).
template <typename T>
__device__ __forceinline__ int rs_draw(const T* x, int vocab, rs_u32 thr, int max_exp,
                                       rs_u64 r, rs_smem* sh) {
    return rs_draw_span(x, 0, vocab, thr, max_exp, true, r, 0ull, sh);
}

// The min-p cut as a key: the smallest float >= min_p * max, the product taken exactly.
// A float32 x float32 product is exact in double (48 significant bits, wide exponent range);
// rounding it to float and stepping up one ulp when that rounded down gives the exact cut, so
// no value below min_p * max is ever kept (a float32 product could round onto one).
__device__ __forceinline__ rs_u32 rs_min_p_key(float min_p, rs_u32 max_key) {
    if (!(min_p > 0.0f)) return 0u;
    const double t = (double)min_p * (double)__uint_as_float(max_key);
    const float f = (float)t;
    rs_u32 key = rs_key(f);
    if ((double)f < t) key += 1u;
    return key;
}
