// sampling_utils.hip -- rocsample kernel module "sampling_utils" (ABI RS_ABI_VERSION).
//
// Entry points (extern "C"; argument order and C types are the ABI users build against):
//
//   softmax_kernel(const float* logits, long long in_stride, float* out, long long out_stride,
//                  int batch, int vocab, const float* temperature, float temperature_val)
//     env override: SAMPLING_UTILS_HSACO
//     out[r, :] = softmax(logits[r, :] / T_r), T_r = temperature ? temperature[r] : temperature_val.
//     T_r == 0 (greedy): out[r, i] = 1 where logits[r, i] equals the row maximum, else 0.
//     -Inf logits are masked tokens (probability 0). A row with NaN or +Inf, a negative or NaN
//     temperature, or no finite logit is written as NaN, which every sampler maps to token -1.
//     Grid: (batch, 1, 1): one block a row.
//
//   softmax_stats_kernel(const float* logits, long long in_stride, int batch, int vocab,
//                        const float* temperature, float temperature_val,
//                        unsigned long long* part)
//   softmax_write_kernel(const float* logits, long long in_stride, float* out,
//                        long long out_stride, int batch, int vocab, const float* temperature,
//                        float temperature_val, const unsigned long long* part)
//     loaded from the same code object as softmax_kernel (SAMPLING_UTILS_HSACO), optional
//     there: a code object without them gets one block a row.
//     The same softmax with G blocks a row, in two launches on one stream, both with grid
//     (batch, G, 1), 1 <= G: block (r, g) works on span g of row r (rs_split_span). The first
//     writes part[r * G + g] = (bits of the span's maximum logit << 32) | bits of
//     sum(exp(x / T - max / T)) over the span, each term exp2(x * c - max * c) with
//     c = log2(e) / T (rs_logits.h; maximum NaN: the span holds NaN or +Inf;
//     -Inf: no finite logit); the second combines the G words of its row in order g = 0..G-1
//     (every block gets the same row maximum and sum) and writes its span. part holds batch * G
//     words and needs no initialisation.
//
//   temperature_scale_kernel(const float* logits, long long in_stride, float* out,
//                            long long out_stride, int batch, int vocab,
//                            const float* temperature, float temperature_val)
//     env override: TEMPERATURE_SCALE_HSACO
//     out[r, i] = logits[r, i] / T_r (IEEE division); T_r == 0 copies the row unchanged
//     (greedy is decided by the sampler); T_r < 0 or NaN writes NaN.
//     Grid: (batch, G, 1), any G >= 1: block (r, g) writes span g of row r.
//
//   softmax_kernel_f16, softmax_stats_kernel_f16, softmax_write_kernel_f16,
//   temperature_scale_kernel_f16, and the same four with _bf16
//     the entries above with `logits` of IEEE binary16 (_f16) or bfloat16 (_bf16) values
//     (2 bytes each, read in place: loads of four when a row is 8-byte aligned, each thread
//     summing the elements it would sum in the float32 entry); each value is widened exactly
//     to float32 and everything after is the float32 entry's arithmetic, so the output
//     (always float32) is bit for bit the float32 entry's on the widened logits, whatever
//     either row's alignment (every entry sums a row in the same order at any alignment:
//     rs_for_groups). Companions, optional in a code object: loaded from the same one as
//     softmax_kernel (SAMPLING_UTILS_HSACO) or temperature_scale_kernel
//     (TEMPERATURE_SCALE_HSACO); without them half-precision logits are refused by name.
//
//   softmax_kernel_f16_f16, softmax_write_kernel_f16_f16, temperature_scale_kernel_f16_f16,
//   and the same three with _bf16_bf16
//     the half-precision entries above writing `out` in the logits' own type (T* out, 2 bytes
//     an element; stores of four when out is 8-byte aligned): every value is the float32
//     result, bit for bit the float32 entry's, rounded once to nearest even (rs_num<T>::down;
//     a value beyond the type's range becomes +-Inf, a NaN stays NaN), so the written bytes
//     are half the float32 result's. softmax_stats_kernel_DT serves both (it writes no out).
//     Companions, optional in a code object like the half-input entries (an override built
//     without them serves float32 results only).
//
// Strides are in elements. temperature may be NULL (then temperature_val applies to all rows).
// Block: (RS_BLOCK, 1, 1). No dynamic shared memory. out may alias logits only when
// in_stride == out_stride (a block reads an element of its span before writing it, and no
// block reads another's span after the first launch).
#include "rs_common.h"
#include "rs_logits.h"

__device__ float rs_block_max_f32(float v, rs_smem* sh) {
    // Order-preserving map of floats to u32 so the u32 max reduction can be reused.
    rs_u32 b = __float_as_uint(v);
    b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    b = rs_block_max_u32(b, sh);
    b = (b & 0x80000000u) ? (b & 0x7fffffffu) : ~b;
    return __uint_as_float(b);
}

__device__ float rs_block_sum_f32(float v, rs_smem* sh) {
    // Fixed shape (strided per-thread sums, then a fixed tree) -> the same result every run.
    const int lane = threadIdx.x % RS_WAVE, wave = threadIdx.x / RS_WAVE;
    for (int m = RS_WAVE / 2; m > 0; m >>= 1) v += RS_SHFL_XOR(v, m);
    __syncthreads();
    if (lane == 0) sh->wave_u32[wave] = __float_as_uint(v);
    __syncthreads();
    float r = 0.0f;
    for (int w = 0; w < RS_NWAVES; ++w) r += __uint_as_float(sh->wave_u32[w]);
    return r;
}

#define RS_SPLIT 4096  // the spans of a split row are whole multiples of this many elements

// Span g of gridDim.y of a row: [*lo, *lo + *n). The row is cut into ceil(vocab / RS_SPLIT)
// pieces and each block gets ceil(pieces / G) consecutive ones (trailing blocks may get none),
// so every span but the last starts 16-byte aligned when the row does.
__device__ __forceinline__ void rs_split_span(int vocab, int* lo, int* n) {
    const int pieces = (vocab + RS_SPLIT - 1) / RS_SPLIT;
    const int per = (pieces + (int)gridDim.y - 1) / (int)gridDim.y;
    const long long a = (long long)blockIdx.y * per * RS_SPLIT;
    const long long b = a + (long long)per * RS_SPLIT;
    *lo = (int)(a < vocab ? a : vocab);
    *n = (int)(b < vocab ? b : vocab) - *lo;
}

// Stores of the result type O: float, or the input's 2-byte type (rounded to nearest even).
__device__ __forceinline__ void rs_put(float* y, int i, float v) { y[i] = v; }
template <typename O>
__device__ __forceinline__ void rs_put(O* y, int i, float v) { y[i] = rs_num<O>::down(v); }
__device__ __forceinline__ void rs_put4(float* y, int j, float4 v) { ((float4*)y)[j] = v; }
template <typename O>
__device__ __forceinline__ void rs_put4(O* y, int j, float4 v) {
    static_assert(sizeof(O) == 2, "rs_put4: float or a 2-byte type");
    uint2 q;
    q.x = (rs_u32)rs_num<O>::down(v.x).bits | ((rs_u32)rs_num<O>::down(v.y).bits << 16);
    q.y = (rs_u32)rs_num<O>::down(v.z).bits | ((rs_u32)rs_num<O>::down(v.w).bits << 16);
    ((uint2*)(void*)y)[j] = q;
}

// y[i] = f(x[i]) (x widened exactly, y of type O) for i in [0, n): element by element, so
// the order is free. Groups of four (one load of four, one store of four) when x and y are
// each aligned to a group (16 bytes for float, 8 for 2-byte values), then the rest one at a
// time. (2-byte logits once went one 2-byte load and one 4-byte store an element: H200, bf16
// softmax and temperature_scale took 0.79-0.94x the float32 time where the bytes say 0.75x.)
// An aliased y == x (the same type, in_stride == out_stride) is safe: a thread reads its
// group before it writes it.
template <typename T, typename O, typename F>
__device__ __forceinline__ void rs_map_row(const T* x, O* y, int n, F f) {
    const bool vec = ((((unsigned long long)x) & (4ull * sizeof(T) - 1ull)) == 0ull) &&
                     ((((unsigned long long)y) & (4ull * sizeof(O) - 1ull)) == 0ull);
    const int n4 = vec ? n >> 2 : 0;
    for (int j = threadIdx.x; j < n4; j += RS_BLOCK) {
        const float4 v = rs_load4(x, j);
        rs_put4(y, j, make_float4(f(v.x), f(v.y), f(v.z), f(v.w)));
    }
    for (int i = (n4 << 2) + (int)threadIdx.x; i < n; i += RS_BLOCK)
        rs_put(y, i, f(rs_num<T>::up(x[i])));
}

// One read of x[0, n) (widened exactly; T: float, rs_f16 or rs_bf16): its largest logit into
// *mx_out (-Inf when none is finite; NaN when x holds NaN or +Inf) and, at t > 0, its sum
// sum(exp(x / t - mx / t)) into *s_out (0 otherwise). Each thread keeps its own maximum m and
// its sum at that maximum, rescaling the sum when a group of four raises m (online softmax:
// the maximum and the sum in one pass, where a pass for each once read the row twice; the
// test a group, not an element, as a branch an element cost the loop a third of its
// instructions); the block then takes the largest m and sums the threads' sums rescaled to
// it (rs_softmax_rescale) in a fixed shape, so the result is the same every run and, as
// rs_for_groups gives every thread the same elements in the same order at any alignment and
// type, the same for a half row as for its widened float row. At t > 0 a NaN or +Inf logit
// makes its thread's sum NaN (its term, or every term after it became the maximum, is
// exp2(NaN) or exp2(Inf - Inf)), which marks the row; a finite row's sum is finite.
template <typename T>
__device__ void rs_softmax_stats_of(const T* x, int n, float t, rs_smem* sh, float* mx_out,
                                    float* s_out) {
    float m = RS_NEG_INF, s = 0.0f;
    rs_u32 bad = 0u;
    if (t > 0.0f) {
        const float c = rs_softmax_c(t);
        float zc = 0.0f;  // m * c once m is finite; 0 keeps -Inf elements at 0 before that
        auto group = [&](int, float a, float b, float d, float e) {
            const float gm = fmaxf(fmaxf(a, b), fmaxf(d, e));  // NaN only if all four are
            if (gm > m) {
                const float z = rs_softmax_z(gm, c);
                s = __fmul_rn(s, rs_softmax_x(m, c, z));  // m = -Inf: 0 (s is 0)
                m = gm;
                zc = z;
            }
            s += rs_softmax_x(a, c, zc);
            s += rs_softmax_x(b, c, zc);
            s += rs_softmax_x(d, c, zc);
            s += rs_softmax_x(e, c, zc);
        };
        rs_for_groups(x, n, group,
                      [&](int i, float v) { group(i, v, RS_NEG_INF, RS_NEG_INF, RS_NEG_INF); });
        bad = s != s;
    } else {
        auto one = [&](int, float v) {
            if (v != v || v == -RS_NEG_INF) bad = 1u;
            else m = v > m ? v : m;
        };
        rs_for_groups(x, n, [&](int j, float a, float b, float d, float e) {
            one(j, a);
            one(j, b);
            one(j, d);
            one(j, e);
        }, one);
    }
    bad = rs_block_max_u32(bad, sh);
    const float mx = rs_block_max_f32(bad ? RS_NEG_INF : m, sh);
    float sum = 0.0f;
    if (!bad && t > 0.0f && mx != RS_NEG_INF) {
        const float c = rs_softmax_c(t);
        sum = rs_block_sum_f32(rs_softmax_rescale(m, s, c, rs_softmax_z(mx, c)), sh);
    }
    *mx_out = bad ? RS_QNAN : mx;
    *s_out = sum;
}

// y[0, n) for a row with maximum mx (NaN: invalid row) and sum s at temperature t.
template <typename T, typename O>
__device__ void rs_softmax_write(const T* x, O* y, int n, float t, float mx, float s) {
    if (mx != mx || !(t >= 0.0f) || mx == RS_NEG_INF) {
        for (int i = threadIdx.x; i < n; i += RS_BLOCK) rs_put(y, i, RS_QNAN);
    } else if (t == 0.0f) {
        rs_map_row(x, y, n, [&](float v) { return v == mx ? 1.0f : 0.0f; });
    } else {
        const rs_softmax_row r = rs_softmax_row_of(t, mx, s);
        rs_map_row(x, y, n, [&](float v) { return rs_softmax_p(r, v); });
    }
}

template <typename T, typename O>
__device__ __forceinline__ void rs_softmax_rows(const T* logits, long long in_stride, O* out,
                                                long long out_stride, int batch, int vocab,
                                                const float* temperature,
                                                float temperature_val) {
    __shared__ rs_smem sh;
    const int row = blockIdx.x;
    if (row >= batch) return;
    const T* x = logits + (long long)row * in_stride;
    const float t = rs_row_temperature(temperature, temperature_val, row);
    float mx, s;
    rs_softmax_stats_of(x, vocab, t, &sh, &mx, &s);
    rs_softmax_write(x, out + (long long)row * out_stride, vocab, t, mx, s);
}

template <typename T>
__device__ __forceinline__ void rs_softmax_stats(const T* logits, long long in_stride, int batch,
                                                 int vocab, const float* temperature,
                                                 float temperature_val, rs_u64* part) {
    __shared__ rs_smem sh;
    const int row = blockIdx.x;
    if (row >= batch) return;
    int lo, n;
    rs_split_span(vocab, &lo, &n);
    const T* x = logits + (long long)row * in_stride + lo;
    const float t = rs_row_temperature(temperature, temperature_val, row);
    float mx, s;
    rs_softmax_stats_of(x, n, t, &sh, &mx, &s);
    if (threadIdx.x == 0)
        part[(long long)row * gridDim.y + blockIdx.y] =
            ((rs_u64)__float_as_uint(mx) << 32) | __float_as_uint(s);
}

template <typename T, typename O>
__device__ __forceinline__ void rs_softmax_combine(const T* logits, long long in_stride,
                                                   O* out, long long out_stride, int batch,
                                                   int vocab, const float* temperature,
                                                   float temperature_val, const rs_u64* part) {
    const int row = blockIdx.x;
    if (row >= batch) return;
    int lo, n;
    rs_split_span(vocab, &lo, &n);
    const float t = rs_row_temperature(temperature, temperature_val, row);
    float mx, s;
    rs_softmax_parts(part + (long long)row * gridDim.y, (int)gridDim.y, t, &mx, &s);
    rs_softmax_write(logits + (long long)row * in_stride + lo,
                     out + (long long)row * out_stride + lo, n, t, mx, s);
}

template <typename T, typename O>
__device__ __forceinline__ void rs_temperature_rows(const T* logits, long long in_stride,
                                                    O* out, long long out_stride, int batch,
                                                    int vocab, const float* temperature,
                                                    float temperature_val) {
    const int row = blockIdx.x;
    if (row >= batch) return;
    int lo, n;
    rs_split_span(vocab, &lo, &n);
    const T* x = logits + (long long)row * in_stride + lo;
    O* y = out + (long long)row * out_stride + lo;
    const float t = rs_row_temperature(temperature, temperature_val, row);
    if (!(t >= 0.0f)) {
        for (int i = threadIdx.x; i < n; i += RS_BLOCK) rs_put(y, i, RS_QNAN);
    } else if (t == 0.0f) {
        rs_map_row(x, y, n, [](float v) { return v; });
    } else {
        rs_map_row(x, y, n, [&](float v) { return v / t; });
    }
}

// ---- the entries: float32, then the same four for f16 and bf16 logits (companions) ----

#define RS_ROWS_ENTRIES(SUFFIX, T)                                                            \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK)                                    \
    softmax_kernel##SUFFIX(const T* logits, long long in_stride, float* out,                  \
                           long long out_stride, int batch, int vocab,                        \
                           const float* temperature, float temperature_val) {                 \
        rs_softmax_rows<T, float>(logits, in_stride, out, out_stride, batch, vocab,           \
                                  temperature, temperature_val);                              \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK)                                    \
    softmax_stats_kernel##SUFFIX(const T* logits, long long in_stride, int batch, int vocab,  \
                                 const float* temperature, float temperature_val,             \
                                 rs_u64* part) {                                              \
        rs_softmax_stats<T>(logits, in_stride, batch, vocab, temperature, temperature_val,    \
                            part);                                                            \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK)                                    \
    softmax_write_kernel##SUFFIX(const T* logits, long long in_stride, float* out,            \
                                 long long out_stride, int batch, int vocab,                  \
                                 const float* temperature, float temperature_val,             \
                                 const rs_u64* part) {                                        \
        rs_softmax_combine<T, float>(logits, in_stride, out, out_stride, batch, vocab,        \
                                     temperature, temperature_val, part);                     \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK)                                    \
    temperature_scale_kernel##SUFFIX(const T* logits, long long in_stride, float* out,        \
                                     long long out_stride, int batch, int vocab,              \
                                     const float* temperature, float temperature_val) {       \
        rs_temperature_rows<T, float>(logits, in_stride, out, out_stride, batch, vocab,       \
                                      temperature, temperature_val);                          \
    }

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
softmax_kernel(const float* logits, long long in_stride, float* out, long long out_stride,
               int batch, int vocab, const float* temperature, float temperature_val) {
    rs_softmax_rows<float, float>(logits, in_stride, out, out_stride, batch, vocab, temperature,
                                  temperature_val);
}

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
softmax_stats_kernel(const float* logits, long long in_stride, int batch, int vocab,
                     const float* temperature, float temperature_val, rs_u64* part) {
    rs_softmax_stats<float>(logits, in_stride, batch, vocab, temperature, temperature_val,
                            part);
}

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
softmax_write_kernel(const float* logits, long long in_stride, float* out, long long out_stride,
                     int batch, int vocab, const float* temperature, float temperature_val,
                     const rs_u64* part) {
    rs_softmax_combine<float, float>(logits, in_stride, out, out_stride, batch, vocab,
                                     temperature, temperature_val, part);
}

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
temperature_scale_kernel(const float* logits, long long in_stride, float* out,
                         long long out_stride, int batch, int vocab, const float* temperature,
                         float temperature_val) {
    rs_temperature_rows<float, float>(logits, in_stride, out, out_stride, batch, vocab,
                                      temperature, temperature_val);
}

RS_ROWS_ENTRIES(_f16, rs_f16)
RS_ROWS_ENTRIES(_bf16, rs_bf16)

// The 2-byte entries writing their own type (no stats entry: softmax_stats_kernel_DT's words
// do not depend on the result's type).
#define RS_HALF_OUT_ENTRIES(SUFFIX, T)                                                        \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK)                                    \
    softmax_kernel##SUFFIX##SUFFIX(const T* logits, long long in_stride, T* out,              \
                                   long long out_stride, int batch, int vocab,                \
                                   const float* temperature, float temperature_val) {         \
        rs_softmax_rows<T, T>(logits, in_stride, out, out_stride, batch, vocab, temperature,  \
                              temperature_val);                                               \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK)                                    \
    softmax_write_kernel##SUFFIX##SUFFIX(const T* logits, long long in_stride, T* out,        \
                                         long long out_stride, int batch, int vocab,          \
                                         const float* temperature, float temperature_val,     \
                                         const rs_u64* part) {                                \
        rs_softmax_combine<T, T>(logits, in_stride, out, out_stride, batch, vocab,            \
                                 temperature, temperature_val, part);                         \
    }                                                                                         \
    extern "C" __global__ void __launch_bounds__(RS_BLOCK)                                    \
    temperature_scale_kernel##SUFFIX##SUFFIX(const T* logits, long long in_stride, T* out,    \
                                             long long out_stride, int batch, int vocab,      \
                                             const float* temperature,                        \
                                             float temperature_val) {                         \
        rs_temperature_rows<T, T>(logits, in_stride, out, out_stride, batch, vocab,           \
                                  temperature, temperature_val);                              \
    }

RS_HALF_OUT_ENTRIES(_f16, rs_f16)
RS_HALF_OUT_ENTRIES(_bf16, rs_bf16)
