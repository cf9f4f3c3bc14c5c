// unary.hip -- rocsample kernel module "unary" (Candle's unary kernels), kernel ABI RS_ABI_VERSION.
//
// Entry points (extern "C"; the names, argument order and C types of Candle's unary.cu):
//
//   u{op}_{dt}(size_t numel, size_t num_dims, const size_t* info, const T* inp, T* out)
//     op: copy neg recip exp log sin cos tanh erf ceil floor round normcdf abs sqr sqrt gelu
//         gelu_erf relu silu sigmoid sign; dt: f32 f64 f16 bf16 (T = float, double, and the
//         two-byte __half / __nv_bfloat16); ucopy also for u8 (uint8_t), u32 (uint32_t),
//         i64 (int64_t).
//   uelu_{dt}(size_t numel, size_t num_dims, const size_t* info, T param, const T* inp, T* out)
//   upowf_{dt}(... same ...)                  dt: f32 f64 f16 bf16; the parameter comes before
//                                             the input, as in Candle.
//     env override: UNARY_HSACO
//
//   out[i] = op(x) for i in [0, numel), with x the i-th element of inp in row-major order
//   (info: see rs_elementwise.h; NULL = contiguous). inp == NULL works in place: x = out[i].
//   Maths (rocsample.ops.elementwise is the numpy twin): f16/bf16 are computed in float and
//   rounded to nearest even; copy, neg and abs move bits only; round halves away from zero;
//   gelu = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as
//   x / (1 + 2^(-2u / ln 2)) (the same function; float: hardware exp2 and reciprocal,
//   within 2e-6 relative); gelu_erf = x normcdf(x);
//   relu = x > 0 ? x : 0 (NaN gives 0); silu = x / (1 + e^-x); sigmoid = 1 / (1 + e^-x);
//   sign = (x > 0) - (x < 0) (+-0 and NaN give 0); elu = x > 0 ? x : param (e^x - 1);
//   powf = pow(x, param).
//
// Grid and block: any (a grid-stride loop with 64-bit indices), blockDim.x <= 1024 (the
// launch bound: Candle's LaunchConfig::for_num_elems launches 1024); rocsample launches
// blocks of 256 and caps the grid so that gridDim.x * blockDim.x < 2^32. Static shared
// memory: 32 x 33 values of T (the tile walk of a transposed input, rs_elementwise.h).
#include "rs_elementwise.h"

template <typename T, typename Op>
__device__ __forceinline__ void rs_unary(rs_size numel, rs_size num_dims, const rs_size* info,
                                         typename rs_num<T>::C param, const T* inp, T* out) {
    rs_map1(numel, num_dims, info, inp, out, [&](T x) { return Op::run(x, param); });
}

// An op F on the compute type, applied to a stored value.
template <typename F> struct rs_lift {
    template <typename T>
    static __device__ __forceinline__ T run(T v, typename rs_num<T>::C p) {
        return rs_num<T>::down(F::f(rs_num<T>::up(v), p));
    }
};

// Bit-level ops: no conversion, so NaN payloads and f16/bf16 values pass unchanged.
struct rs_op_copy {
    template <typename T, typename C> static __device__ __forceinline__ T run(T v, C) { return v; }
};
struct rs_op_neg {
    static __device__ __forceinline__ float run(float v, float) { return -v; }
    static __device__ __forceinline__ double run(double v, double) { return -v; }
    template <typename H> static __device__ __forceinline__ H run(H v, float) {
        v.bits ^= 0x8000u;
        return v;
    }
};
struct rs_op_abs {
    static __device__ __forceinline__ float run(float v, float) { return fabsf(v); }
    static __device__ __forceinline__ double run(double v, double) { return fabs(v); }
    template <typename H> static __device__ __forceinline__ H run(H v, float) {
        v.bits &= 0x7fffu;
        return v;
    }
};

#define RS_OP(NAME, EXPR)                                                              \
    struct rs_f_##NAME {                                                               \
        template <typename C> static __device__ __forceinline__ C f(C x, C p) {        \
            (void)p;                                                                   \
            return EXPR;                                                               \
        }                                                                              \
    };                                                                                 \
    typedef rs_lift<rs_f_##NAME> rs_op_##NAME;
RS_OP(recip, C(1) / x)
RS_OP(exp, rs_exp(x))
RS_OP(log, rs_log(x))
RS_OP(sin, rs_sin(x))
RS_OP(cos, rs_cos(x))
RS_OP(tanh, rs_tanh(x))
RS_OP(erf, rs_erf(x))
RS_OP(ceil, rs_ceil(x))
RS_OP(floor, rs_floor(x))
RS_OP(round, rs_round(x))
RS_OP(normcdf, rs_normcdf(x))
RS_OP(sqr, x * x)
RS_OP(sqrt, rs_sqrt(x))
// gelu's tanh form as x sigmoid(2u): 0.5 x (1 + tanh(u)) = x / (1 + 2^(-2u log2 e)), a
// hardware exp2 and reciprocal where tanhf took ~18 instructions (the constant is
// -2 sqrt(2/pi) / ln 2). Large |x|: the power overflows to Inf below x = -10 (f32; -20 for
// f64) and x / Inf = -0, the tanh form's 0.5 x (1 - 1); +Inf gives x / 1. (-Inf gives NaN,
// as -Inf x 0 in the tanh form.)
RS_OP(gelu, rs_div_fast(
                x, C(1) + rs_exp2_fast(C(-2.302208198144325) * (x + C(0.044715) * (x * x * x)))))
RS_OP(gelu_erf, x * rs_normcdf(x))
RS_OP(relu, x > C(0) ? x : C(0))
RS_OP(silu, x / (C(1) + rs_exp(-x)))
RS_OP(sigmoid, C(1) / (C(1) + rs_exp(-x)))
RS_OP(sign, C(x > C(0)) - C(x < C(0)))
RS_OP(elu, x > C(0) ? x : p * (rs_exp(x) - C(1)))
RS_OP(powf, rs_pow(x, p))
#undef RS_OP

#define RS_UNARY(NAME, T, OP)                                                           \
    extern "C" __global__ void __launch_bounds__(1024)                                 \
        NAME(rs_size numel, rs_size num_dims, const rs_size* info, const T* inp, T* out) { \
        rs_unary<T, OP>(numel, num_dims, info, rs_num<T>::C(0), inp, out);              \
    }
#define RS_UNARY1(NAME, T, OP)                                                          \
    extern "C" __global__ void __launch_bounds__(1024)                                 \
        NAME(rs_size numel, rs_size num_dims, const rs_size* info, T param, const T* inp, \
             T* out) {                                                                  \
        rs_unary<T, OP>(numel, num_dims, info, rs_num<T>::up(param), inp, out);         \
    }

#define RS_UNARY_FLOAT(DT, T)                          \
    RS_UNARY(ucopy_##DT, T, rs_op_copy)                \
    RS_UNARY(uneg_##DT, T, rs_op_neg)                  \
    RS_UNARY(urecip_##DT, T, rs_op_recip)              \
    RS_UNARY(uexp_##DT, T, rs_op_exp)                  \
    RS_UNARY(ulog_##DT, T, rs_op_log)                  \
    RS_UNARY(usin_##DT, T, rs_op_sin)                  \
    RS_UNARY(ucos_##DT, T, rs_op_cos)                  \
    RS_UNARY(utanh_##DT, T, rs_op_tanh)                \
    RS_UNARY(uerf_##DT, T, rs_op_erf)                  \
    RS_UNARY(uceil_##DT, T, rs_op_ceil)                \
    RS_UNARY(ufloor_##DT, T, rs_op_floor)              \
    RS_UNARY(uround_##DT, T, rs_op_round)              \
    RS_UNARY(unormcdf_##DT, T, rs_op_normcdf)          \
    RS_UNARY(uabs_##DT, T, rs_op_abs)                  \
    RS_UNARY(usqr_##DT, T, rs_op_sqr)                  \
    RS_UNARY(usqrt_##DT, T, rs_op_sqrt)                \
    RS_UNARY(ugelu_##DT, T, rs_op_gelu)                \
    RS_UNARY(ugelu_erf_##DT, T, rs_op_gelu_erf)        \
    RS_UNARY(urelu_##DT, T, rs_op_relu)                \
    RS_UNARY(usilu_##DT, T, rs_op_silu)                \
    RS_UNARY(usigmoid_##DT, T, rs_op_sigmoid)          \
    RS_UNARY(usign_##DT, T, rs_op_sign)                \
    RS_UNARY1(uelu_##DT, T, rs_op_elu)                 \
    RS_UNARY1(upowf_##DT, T, rs_op_powf)

RS_UNARY_FLOAT(f32, float)
RS_UNARY_FLOAT(f64, double)
RS_UNARY_FLOAT(f16, rs_f16)
RS_UNARY_FLOAT(bf16, rs_bf16)
RS_UNARY(ucopy_u8, unsigned char, rs_op_copy)
RS_UNARY(ucopy_u32, unsigned int, rs_op_copy)
RS_UNARY(ucopy_i64, long long, rs_op_copy)
