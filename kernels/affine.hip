// affine.hip -- rocsample kernel module "affine" (Candle's affine kernels), kernel ABI RS_ABI_VERSION.
//
// Entry points (extern "C"; the names, argument order and C types of Candle's affine.cu):
//
//   affine_{dt}(size_t numel, size_t num_dims, const size_t* info, const T* inp, T* out,
//               T mul, T add)
//     dt: f32 (float), f64 (double), f16 / bf16 (the two-byte __half / __nv_bfloat16),
//         u8 (uint8_t), u32 (uint32_t), i16 (int16_t), i32 (int32_t), i64 (int64_t)
//     env override: AFFINE_HSACO
//
//   out[i] = x * mul + add for i in [0, numel), x the i-th element of inp in row-major order
//   (info: see rs_elementwise.h; NULL = contiguous). inp == NULL works in place, on the strided
//   path too: x = out[i]. Floats: one fused multiply-add (f32/f64 rounded once; f16/bf16 in
//   float, where the product is exact, then rounded to nearest even), so the result is within
//   1 ulp whatever the cancellation, and numpy reproduces it bit for bit. Integers wrap modulo
//   2^bits (computed unsigned: signed overflow would be undefined in C++).
//
// Grid and block: any (a grid-stride loop with 64-bit indices), blockDim.x <= 1024 (the
// launch bound: Candle launches 1024); rocsample launches blocks of 256 and caps the grid
// so that gridDim.x * blockDim.x < 2^32. Static shared memory: 32 x 33 values of T (the tile
// walk of a transposed input, rs_elementwise.h).
#include "rs_elementwise.h"

template <typename T> struct rs_affine_op {  // f32, f64, f16, bf16
    typedef typename rs_num<T>::C C;
    static __device__ __forceinline__ T run(T x, C mul, C add) {
        return rs_num<T>::down(rs_fma(rs_num<T>::up(x), mul, add));
    }
};
template <typename T, typename U> struct rs_affine_int {
    typedef T C;
    static __device__ __forceinline__ T run(T x, T mul, T add) {
        return (T)((U)x * (U)mul + (U)add);
    }
};
template <> struct rs_affine_op<unsigned char> : rs_affine_int<unsigned char, rs_u32> {};
template <> struct rs_affine_op<unsigned int> : rs_affine_int<unsigned int, rs_u32> {};
template <> struct rs_affine_op<short> : rs_affine_int<short, rs_u32> {};
template <> struct rs_affine_op<int> : rs_affine_int<int, rs_u32> {};
template <> struct rs_affine_op<long long> : rs_affine_int<long long, rs_u64> {};

template <typename T>
__device__ __forceinline__ void rs_affine(rs_size numel, rs_size num_dims, const rs_size* info,
                                          const T* inp, T* out, T mul_, T add_) {
    typedef rs_affine_op<T> Op;
    const typename Op::C mul = rs_num<T>::up(mul_), add = rs_num<T>::up(add_);
    rs_map1(numel, num_dims, info, inp, out, [&](T x) { return Op::run(x, mul, add); });
}

#define RS_AFFINE(DT, T)                                                                 \
    extern "C" __global__ void __launch_bounds__(1024)                                  \
        affine_##DT(rs_size numel, rs_size num_dims, const rs_size* info, const T* inp,  \
                    T* out, T mul, T add) {                                              \
        rs_affine<T>(numel, num_dims, info, inp, out, mul, add);                         \
    }
RS_AFFINE(f32, float)
RS_AFFINE(f64, double)
RS_AFFINE(f16, rs_f16)
RS_AFFINE(bf16, rs_bf16)
RS_AFFINE(u8, unsigned char)
RS_AFFINE(u32, unsigned int)
RS_AFFINE(i16, short)
RS_AFFINE(i32, int)
RS_AFFINE(i64, long long)
