// FlashInfer's RMSNorm, fused-add RMSNorm and SiLU-and-mul kernels, built from the headers of
// the flashinfer-python wheel (never committed here: `make flashinfer-ref` unpacks them into
// .fi/), behind a plain C ABI that rocsample's MLP benchmark calls through ctypes with torch's
// pointers and stream. This file is ours; the kernels are FlashInfer's, launched the way its
// Python package launches them (norm: its own host launchers; activation: the rule its JIT
// template writes, restated below), so the comparison times FlashInfer's code, not a copy.
//
// ABI (every function returns the cudaError_t of the launch; dtype 0 = bf16, 1 = fp16):
//   int fi_rmsnorm(int dtype, void* x, void* w, void* out, unsigned rows, unsigned d,
//                  unsigned stride_x, unsigned stride_out, float eps, int gemma, void* stream)
//   int fi_fused_add_rmsnorm(int dtype, void* x, void* residual, void* w, unsigned rows,
//                  unsigned d, unsigned stride_x, unsigned stride_res, float eps, int gemma,
//                  void* stream)
//   int fi_silu_and_mul(int dtype, void* out, const void* in, long long rows, int d,
//                  int num_sms, void* stream)
// FlashInfer's Python API serves these for fp16 and bf16 only; so does this file.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include <flashinfer/activation.cuh>
#include <flashinfer/norm.cuh>

namespace {

__device__ __forceinline__ float fi_ref_silu(const float& v) { return v / (1.0f + __expf(-v)); }

template <typename T>
int rmsnorm(void* x, void* w, void* out, unsigned rows, unsigned d, unsigned sx, unsigned so,
            float eps, int gemma, cudaStream_t s) {
  T* xi = static_cast<T*>(x);
  T* wi = static_cast<T*>(w);
  T* oi = static_cast<T*>(out);
  return gemma ? flashinfer::norm::GemmaRMSNorm<T>(xi, wi, oi, rows, d, sx, so, eps, false, s)
               : flashinfer::norm::RMSNorm<T>(xi, wi, oi, rows, d, sx, so, eps, false, s);
}

template <typename T>
int fused_add(void* x, void* r, void* w, unsigned rows, unsigned d, unsigned sx, unsigned sr,
              float eps, int gemma, cudaStream_t s) {
  T* xi = static_cast<T*>(x);
  T* ri = static_cast<T*>(r);
  T* wi = static_cast<T*>(w);
  return gemma ? flashinfer::norm::GemmaFusedAddRMSNorm<T>(xi, ri, wi, rows, d, sx, sr, eps,
                                                           false, s)
               : flashinfer::norm::FusedAddRMSNorm<T>(xi, ri, wi, rows, d, sx, sr, eps, false, s);
}

// The launch FlashInfer's silu_and_mul makes (its JIT template, restated): the widest vector
// that divides d; blocks of min(d / vec, 256) threads; one block a row, except that fewer rows
// than two blocks per SM split each row over more blocks (about two per SM, up to four while
// a thread would hold more than two vectors), with two vectors a thread in flight when each
// thread still has two or more.
template <typename T, uint32_t VEC>
int silu_vec(T* out, const T* in, long long rows, int d, int num_sms, cudaStream_t s) {
  const uint32_t block = std::min<uint32_t>(d / VEC, 256u);
  const uint32_t nvec = d / VEC;
  uint32_t split = 1;
  bool unroll = false;
  if (nvec > 0 && rows > 0 && rows < 2 * num_sms) {
    const uint32_t r = static_cast<uint32_t>(rows);
    const uint32_t spread = 2 * num_sms / r;
    const uint32_t fit = std::min<uint32_t>((nvec + 2 * block - 1) / (2 * block), 4 * num_sms / r);
    split = std::min<uint32_t>(std::max(spread, fit), (nvec + block - 1) / block);
    unroll = (nvec + block * split - 1) / (block * split) >= 2;
  }
  if (split == 1 && !unroll) {
    flashinfer::activation::act_and_mul_kernel<T, fi_ref_silu, VEC>
        <<<static_cast<unsigned>(rows), block, 0, s>>>(out, in, d);
  } else if (unroll) {
    flashinfer::activation::act_and_mul_split_kernel<T, fi_ref_silu, VEC, 2>
        <<<static_cast<unsigned>(rows * split), block, 0, s>>>(out, in, d, split);
  } else {
    flashinfer::activation::act_and_mul_split_kernel<T, fi_ref_silu, VEC, 1>
        <<<static_cast<unsigned>(rows * split), block, 0, s>>>(out, in, d, split);
  }
  return cudaGetLastError();
}

template <typename T>
int silu_and_mul(void* out, const void* in, long long rows, int d, int num_sms, cudaStream_t s) {
  T* o = static_cast<T*>(out);
  const T* i = static_cast<const T*>(in);
  constexpr uint32_t kMax = 16 / sizeof(T);
  if (d % kMax == 0) return silu_vec<T, kMax>(o, i, rows, d, num_sms, s);
  if (d % 4 == 0) return silu_vec<T, 4>(o, i, rows, d, num_sms, s);
  if (d % 2 == 0) return silu_vec<T, 2>(o, i, rows, d, num_sms, s);
  return silu_vec<T, 1>(o, i, rows, d, num_sms, s);
}

}  // namespace

extern "C" int fi_rmsnorm(int dtype, void* x, void* w, void* out, unsigned rows, unsigned d,
                          unsigned sx, unsigned so, float eps, int gemma, void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  return dtype == 0 ? rmsnorm<__nv_bfloat16>(x, w, out, rows, d, sx, so, eps, gemma, s)
                    : rmsnorm<__half>(x, w, out, rows, d, sx, so, eps, gemma, s);
}

extern "C" int fi_fused_add_rmsnorm(int dtype, void* x, void* r, void* w, unsigned rows,
                                    unsigned d, unsigned sx, unsigned sr, float eps, int gemma,
                                    void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  return dtype == 0 ? fused_add<__nv_bfloat16>(x, r, w, rows, d, sx, sr, eps, gemma, s)
                    : fused_add<__half>(x, r, w, rows, d, sx, sr, eps, gemma, s);
}

extern "C" int fi_silu_and_mul(int dtype, void* out, const void* in, long long rows, int d,
                               int num_sms, void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  return dtype == 0 ? silu_and_mul<__nv_bfloat16>(out, in, rows, d, num_sms, s)
                    : silu_and_mul<__half>(out, in, rows, d, num_sms, s);
}
