// Experiment (session 7, issue 20): where over a layout of at most two dims passed BY VALUE,
// against Candle's where_u8_f32, which reads its layout (`info`) from device memory before
// any element. The one strided case left below torch is where with a broadcast condition and
// a transposed value, f32, 1M-4M elements (0.93-0.95x): torch keeps its offsets in kernel
// parameters. Not a library module.
//
//   where2_u8_f32(size_t numel, size_t d0, size_t d1, size_t si0, size_t si1, size_t st0,
//                 size_t st1, size_t sf0, size_t sf1, const uint8_t* ids, const float* t,
//                 const float* f, float* out)
//     the same result as where_u8_f32 with info = [d0, d1, si0, si1, st0, st1, sf0, sf1]:
//     the same walk (rs_strided_walk: the 2-dim walk for numel < 2^32), its dims and strides
//     from the kernel's parameters instead of a global load.
#include "rs_elementwise.h"

extern "C" __global__ void __launch_bounds__(1024)
    where2_u8_f32(rs_size numel, rs_size d0, rs_size d1, rs_size si0, rs_size si1, rs_size st0,
                  rs_size st1, rs_size sf0, rs_size sf1, const unsigned char* ids,
                  const float* t, const float* f, float* out) {
    if (numel == 0) return;
    const rs_size dims[2] = {d0, d1};
    const rs_size s_ids[2] = {si0, si1}, s_t[2] = {st0, st1}, s_f[2] = {sf0, sf1};
    const rs_size* const strides[3] = {s_ids, s_t, s_f};
    float v[RS_EW_UNROLL];
    rs_strided_walk<3, 0>(
        numel, 2, dims, strides,
        [&](const rs_size(&off)[3], int u) { v[u] = ids[off[0]] != 0 ? t[off[1]] : f[off[2]]; },
        [&](rs_size i, int u) { out[i] = v[u]; });
}
