// sampling_utils.hip -- rocsample kernel module "sampling_utils", kernel ABI version 1.
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
//
//   temperature_scale_kernel(const float* logits, long long in_stride, float* out,
//                            long long out_stride, int batch, int vocab,
//                            const float* temperature, float temperature_val)
//     env override: TEMPERATURE_SCALE_HSACO
//     out[r, i] = logits[r, i] / T_r (IEEE division); T_r == 0 copies the row unchanged
//     (greedy is decided by the sampler); T_r < 0 or NaN writes NaN.
//
// Strides are in elements. temperature may be NULL (then temperature_val applies to all rows).
// Grid: (batch, 1, 1). Block: (RS_BLOCK, 1, 1). No dynamic shared memory. out may alias logits
// only when in_stride == out_stride.
#include "rs_common.h"

__device__ __forceinline__ float rs_row_temperature(const float* t, float t_val, int row) {
    return t ? t[row] : t_val;
}

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

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
softmax_kernel(const float* logits, long long in_stride, float* out, long long out_stride,
               int batch, int vocab, const float* temperature, float temperature_val) {
    __shared__ rs_smem sh;
    const int row = blockIdx.x;
    if (row >= batch) return;
    const float* x = logits + (long long)row * in_stride;
    float* y = out + (long long)row * out_stride;
    const float t = rs_row_temperature(temperature, temperature_val, row);

    float mx = -__uint_as_float(0x7f800000u);
    rs_u32 bad = 0u;
    rs_for_each(x, vocab, [&](int, float v) {
        if (v != v || v == __uint_as_float(0x7f800000u)) bad = 1u;
        else mx = v > mx ? v : mx;
    });
    bad = rs_block_max_u32(bad, &sh);
    mx = rs_block_max_f32(mx, &sh);
    const bool invalid = bad || !(t >= 0.0f) || mx == -__uint_as_float(0x7f800000u);
    if (invalid) {
        for (int i = threadIdx.x; i < vocab; i += RS_BLOCK) y[i] = __uint_as_float(0x7fc00000u);
        return;
    }
    if (t == 0.0f) {
        for (int i = threadIdx.x; i < vocab; i += RS_BLOCK) y[i] = (x[i] == mx) ? 1.0f : 0.0f;
        return;
    }
    const float zmax = mx / t;
    float s = 0.0f;
    rs_for_each(x, vocab, [&](int, float v) { s += expf(v / t - zmax); });
    s = rs_block_sum_f32(s, &sh);
    for (int i = threadIdx.x; i < vocab; i += RS_BLOCK) y[i] = expf(x[i] / t - zmax) / s;
}

extern "C" __global__ void __launch_bounds__(RS_BLOCK)
temperature_scale_kernel(const float* logits, long long in_stride, float* out,
                         long long out_stride, int batch, int vocab, const float* temperature,
                         float temperature_val) {
    const int row = blockIdx.x;
    if (row >= batch) return;
    const float* x = logits + (long long)row * in_stride;
    float* y = out + (long long)row * out_stride;
    const float t = rs_row_temperature(temperature, temperature_val, row);
    if (!(t >= 0.0f)) {
        for (int i = threadIdx.x; i < vocab; i += RS_BLOCK) y[i] = __uint_as_float(0x7fc00000u);
    } else if (t == 0.0f) {
        for (int i = threadIdx.x; i < vocab; i += RS_BLOCK) y[i] = x[i];
    } else {
        for (int i = threadIdx.x; i < vocab; i += RS_BLOCK) y[i] = x[i] / t;
    }
}
