// ternary.hip -- rocsample kernel module "ternary" (Candle's where kernels), kernel ABI
// RS_ABI_VERSION.
//
// Entry points (extern "C"; the names, argument order and C types of Candle's ternary.cu):
//
//   where_{it}_{dt}(size_t numel, size_t num_dims, const size_t* info, const I* ids,
//                   const T* t, const T* f, T* out)
//     it (I): u8 (uint8_t), u32 (uint32_t), i64 (int64_t)
//     dt (T): f32, f64, f16, bf16 (two bytes), u8, u32, i64
//     env override: TERNARY_HSACO
//
//   out[i] = ids[i] != 0 ? t[i] : f[i] for i in [0, numel), each operand read in row-major
//   order through its own strides. info is never NULL: [dims, ids strides, t strides,
//   f strides], 4 * num_dims 64-bit values; when all three operands are contiguous (Candle's
//   rule, rs_elementwise.h) they are read linearly. Values are copied bit for bit.
//
//   where2_{it}_{dt}(size_t numel, size_t d0, size_t d1, size_t si0, size_t si1,
//                    size_t st0, size_t st1, size_t sf0, size_t sf1, const I* ids,
//                    const T* t, const T* f, T* out)
//     rocsample's own entries, not Candle's: where_{it}_{dt} with info = [d0, d1, si0, si1,
//     st0, st1, sf0, sf1] passed by value (a layout of at most two dims; one dim is d0 = 1,
//     si0 = st0 = sf0 = 0), so the walk starts without loading its layout from memory or
//     testing it for contiguity (H200, a broadcast condition and a transposed value, f32:
//     10.5 against 12.9 us at 1M elements, 24.4 against 29.2 at 4M; torch 10.9 and 28.6).
//     Optional companions in the same code object: rocsample's recipe takes them for a
//     strided layout of at most two dims after merging, where the code object has them.
//
// Grid and block: any (a grid-stride loop with 64-bit indices), blockDim.x <= 1024 (the
// launch bound: Candle launches 1024); rocsample launches blocks of 256 and caps the grid
// so that gridDim.x * blockDim.x < 2^32.
#include "rs_elementwise.h"

// The strided path of rs_where.
template <typename I, typename T>
__device__ __forceinline__ void rs_where_strided(rs_size numel, rs_size num_dims,
                                              const rs_size* info, const I* ids, const T* t,
                                              const T* f, T* out) {
    const rs_size* const strides[3] = {info + num_dims, info + 2 * num_dims, info + 3 * num_dims};
    T v[RS_EW_UNROLL];
    // No row walk (UROW 0): its three 64-bit row strides cost where_u8_f32 and others 6 to 8
    // registers on sm_90 (38 -> 44: 6 -> 5 blocks of 256 an SM), on every path.
    rs_strided_walk<3, 0>(
        numel, num_dims, info, strides,
        // Only the chosen operand is read: the other may be a broadcast never used.
        [&](const rs_size(&off)[3], int u) { v[u] = ids[off[0]] != I(0) ? t[off[1]] : f[off[2]]; },
        [&](rs_size i, int u) { out[i] = v[u]; });
}

template <typename I, typename T>
__device__ __forceinline__ void rs_where(rs_size numel, rs_size num_dims, const rs_size* info,
                                         const I* ids, const T* t, const T* f, T* out) {
    if (numel == 0) return;
    const rs_size* dims = info;
    if (!(rs_is_contiguous(num_dims, dims, info + num_dims) &&
          rs_is_contiguous(num_dims, dims, info + 2 * num_dims) &&
          rs_is_contiguous(num_dims, dims, info + 3 * num_dims))) {
        rs_where_strided(numel, num_dims, info, ids, t, f, out);
        return;
    }
    const rs_size step = (rs_size)blockDim.x * gridDim.x;
    const rs_size first = (rs_size)blockIdx.x * blockDim.x + threadIdx.x;
    // 16 bytes of the wider of the condition and the values a group
    constexpr int N = 16 / (sizeof(I) > sizeof(T) ? sizeof(I) : sizeof(T));
    // three operands: half the groups in flight of a one-operand kernel (registers)
    constexpr int U = RS_EW_GROUPS / 2;
    typedef rs_pack<I, N> PI;
    typedef rs_pack<T, N> P;
    rs_size done = 0;
    if (rs_aligned<PI>(ids) && rs_aligned<P>(t) && rs_aligned<P>(f) && rs_aligned<P>(out) &&
        step < numel) {
        const PI* c = reinterpret_cast<const PI*>(ids);
        const P* a = reinterpret_cast<const P*>(t);
        const P* b = reinterpret_cast<const P*>(f);
        P* o = reinterpret_cast<P*>(out);
        PI cs[U];
        P as[U], bs[U];
        rs_unrolled<U>(
            numel / N, first, step,
            [&](rs_size j, int u) {
                cs[u] = c[j];
                as[u] = a[j];
                bs[u] = b[j];
            },
            [&](rs_size j, int u) {
                P y;
#pragma unroll
                for (int k = 0; k < N; ++k) {
                    y.set(k, cs[u].get(k) != I(0) ? as[u].get(k) : bs[u].get(k));
                }
                o[j] = y;
            });
        done = numel / N * N;
    }
    T v[RS_EW_UNROLL];
    rs_unrolled<RS_EW_UNROLL>(
        numel - done, first, step,
        [&](rs_size j, int u) {
            const rs_size i = done + j;
            v[u] = ids[i] != I(0) ? t[i] : f[i];
        },
        [&](rs_size j, int u) { out[done + j] = v[u]; });
}

// where2: the layout of two dims from the parameters (any layout of two dims is right here;
// the walk over them is rs_strided_walk's, the same as where's strided path).
template <typename I, typename T>
__device__ __forceinline__ void rs_where2(rs_size numel, const rs_size (&dims)[2],
                                          const rs_size (&si)[2], const rs_size (&st)[2],
                                          const rs_size (&sf)[2], const I* ids, const T* t,
                                          const T* f, T* out) {
    if (numel == 0) return;
    const rs_size* const strides[3] = {si, st, sf};
    T v[RS_EW_UNROLL];
    rs_strided_walk<3, 0>(
        numel, 2, dims, strides,
        [&](const rs_size(&off)[3], int u) { v[u] = ids[off[0]] != I(0) ? t[off[1]] : f[off[2]]; },
        [&](rs_size i, int u) { out[i] = v[u]; });
}

#define RS_WHERE(IT, I, DT, T)                                                            \
    extern "C" __global__ void __launch_bounds__(1024)                                   \
        where_##IT##_##DT(rs_size numel, rs_size num_dims, const rs_size* info,           \
                          const I* ids, const T* t, const T* f, T* out) {                 \
        rs_where<I, T>(numel, num_dims, info, ids, t, f, out);                            \
    }                                                                                     \
    extern "C" __global__ void __launch_bounds__(1024)                                   \
        where2_##IT##_##DT(rs_size numel, rs_size d0, rs_size d1, rs_size si0,            \
                           rs_size si1, rs_size st0, rs_size st1, rs_size sf0,            \
                           rs_size sf1, const I* ids, const T* t, const T* f, T* out) {   \
        const rs_size dims[2] = {d0, d1}, si[2] = {si0, si1}, st[2] = {st0, st1},         \
                      sf[2] = {sf0, sf1};                                                 \
        rs_where2<I, T>(numel, dims, si, st, sf, ids, t, f, out);                         \
    }
#define RS_WHERE_ALL(IT, I)                  \
    RS_WHERE(IT, I, f32, float)              \
    RS_WHERE(IT, I, f64, double)             \
    RS_WHERE(IT, I, f16, rs_f16)             \
    RS_WHERE(IT, I, bf16, rs_bf16)           \
    RS_WHERE(IT, I, u8, unsigned char)       \
    RS_WHERE(IT, I, u32, unsigned int)       \
    RS_WHERE(IT, I, i64, long long)
RS_WHERE_ALL(u8, unsigned char)
RS_WHERE_ALL(u32, unsigned int)
RS_WHERE_ALL(i64, long long)
