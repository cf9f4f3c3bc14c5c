// Runs the RMSNorm entries (rms_norm_kernel, fused_add_rms_norm_kernel and the per-type
// rms_norm_DT, fused_add_rms_norm_DT) as host code: each block's threads (RS_BLOCK, or a
// smaller power of two down to 32, as rocsample launches few rows) are OS threads, __syncthreads a std::barrier and the wave shuffle an exchange
// through an array between two barriers (the kernels call both uniformly over the block, as
// a GPU needs). Random shapes (both the one-read and the two-pass path, tails), row strides,
// alignments, in-place output and grids; every output within one unit in the last place of
// a reference that sums the squares in double (fp32: rtol 1e-5), the fused residual exact,
// nothing else written. Built with AddressSanitizer by tests/test_mlp.py with -DRS_WAVE and
// -DRS_BLOCK (a small block keeps the thread count down; the index rules do not depend on
// it): each operand lives in an allocation of exactly its extent, so a read past it aborts.
// Prints "cases N bad M"; exits 1 when M > 0.
#define RS_HOST_THREADS 1
#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>
#define RS_NWAVES (RS_BLOCK / RS_WAVE)
#define __shared__ static  // one block runs at a time: a static is the block's memory
static std::barrier<>* rs_bar;
inline void __syncthreads() { rs_bar->arrive_and_wait(); }
static float rs_slot[RS_BLOCK];
#include "rs_elementwise.h"  // the stand-in rs_common.h (with the real 2-byte types) first
rs_dim3 blockDim, gridDim, blockIdx;
thread_local rs_dim3 threadIdx;
inline float rs_shfl_xor_host(float v, int m) {
    rs_slot[threadIdx.x] = v;
    rs_bar->arrive_and_wait();
    const float r = rs_slot[threadIdx.x ^ m];
    rs_bar->arrive_and_wait();
    return r;
}
#define RS_SHFL_XOR(v, m) rs_shfl_xor_host((v), (m))
#include "rms_norm.hip"

template <typename F> static void launch(unsigned grid, unsigned block, F body) {
    gridDim.x = grid;
    blockDim.x = block;
    for (blockIdx.x = 0; blockIdx.x < grid; ++blockIdx.x) {
        std::barrier<> bar(block);
        rs_bar = &bar;
        std::vector<std::thread> ts;
        for (unsigned t = 0; t < block; ++t)
            ts.emplace_back([t, &body] {
                threadIdx.x = t;
                body();
            });
        for (auto& t : ts) t.join();
    }
}

template <typename T> static void fill(std::vector<T>& v, std::mt19937_64& rng) {
    for (auto& e : v) {
        rs_u32 bits = (rs_u32)rng();
        if (sizeof(T) == 4) bits = __float_as_uint((float)((int)(bits % 2001) - 1000) / 500.0f);
        else bits = (bits & 0x83ffu) | 0x3c00u;  // finite, of either sign
        std::memcpy(&e, &bits, sizeof(T));
    }
}

template <typename T> static bool near(T got, float want_f) {
    const T want = rs_down<T>(want_f);
    if (sizeof(T) == 4) {
        const float g = rs_up(got);
        return std::fabs(g - want_f) <= 1e-5f * std::fabs(want_f) + 1e-30f;
    }
    unsigned short a, b;
    std::memcpy(&a, &got, 2);
    std::memcpy(&b, &want, 2);
    const int d = (int)(a & 0x7fff) - (int)(b & 0x7fff);
    return (a & 0x8000) == (b & 0x8000) ? (d >= -1 && d <= 1) : ((a | b) & 0x7fff) <= 1;
}

#define RS_TYPED(DT, T)                                                                       \
    static void typed(const T* x, const T* w, T* out, long long rows, long long hidden,        \
                      long long xs, long long os, float eps, float woff) {                     \
        rms_norm_##DT(x, w, out, rows, hidden, xs, os, eps, woff);                             \
    }                                                                                          \
    static void typed_fused(T* x, T* res, const T* w, long long rows, long long hidden,        \
                            long long xs, long long rsd, float eps, float woff) {              \
        fused_add_rms_norm_##DT(x, res, w, rows, hidden, xs, rsd, eps, woff);                  \
    }
RS_TYPED(f32, float)
RS_TYPED(f16, rs_f16)
RS_TYPED(bf16, rs_bf16)

template <typename T, bool FUSED>
static long run_case(std::mt19937_64& rng, long long rows, long long hidden, int code) {
    const long long pick[3] = {hidden, hidden + 1, 2 * hidden + 8};
    long long xs = pick[rng() % 3], os = pick[rng() % 3], rsd = pick[rng() % 3];
    const long long xo = rng() % 5 == 0 ? 1 : 0, oo = rng() % 5 == 0 ? 1 : 0;
    const long long ro = rng() % 5 == 0 ? 1 : 0;
    const bool in_place = !FUSED && rng() % 3 == 0;
    std::vector<T> xb(xo + (rows - 1) * xs + hidden), rb(ro + (rows - 1) * rsd + hidden),
        ob(oo + (rows - 1) * os + hidden), wb(hidden);
    fill(xb, rng);
    fill(rb, rng);
    fill(ob, rng);
    fill(wb, rng);
    const std::vector<T> x0 = xb, r0 = rb, o0 = ob;
    const float eps = 1e-6f, woff = rng() % 2 ? 1.0f : 0.0f;
    T* x = xb.data() + xo;
    T* res = rb.data() + ro;
    T* out = in_place ? x : ob.data() + oo;
    if (in_place) os = xs;
    const unsigned blocks[3] = {RS_BLOCK, RS_BLOCK / 2, 32};
    const unsigned block = blocks[rng() % 3];
    const bool generic = rng() % 2;
    launch(1 + rng() % 3, block, [&] {
        if (FUSED && generic)
            fused_add_rms_norm_kernel(x, res, wb.data(), rows, hidden, xs, rsd, eps, woff, code);
        else if (FUSED)
            typed_fused(x, res, wb.data(), rows, hidden, xs, rsd, eps, woff);
        else if (generic)
            rms_norm_kernel(x, wb.data(), out, rows, hidden, xs, os, eps, woff, code);
        else
            typed(x, wb.data(), out, rows, hidden, xs, os, eps, woff);
    });
    // The expected contents of the written buffer (x for fused and in place, else out) and,
    // for fused, of residual; everything outside the rows must be as it was.
    std::vector<T> want_r = r0;
    long bad = 0;
    const std::vector<T>& wbuf = FUSED || in_place ? xb : ob;
    std::vector<char> written(wbuf.size(), 0);
    const long long wo = FUSED || in_place ? xo : oo, ws = FUSED || in_place ? xs : os;
    for (long long r = 0; r < rows; ++r) {
        std::vector<float> v(hidden);
        double ss = 0.0;
        for (long long i = 0; i < hidden; ++i) {
            T e = x0[xo + r * xs + i];
            if (FUSED) {
                e = rs_down<T>(rs_up(e) + rs_up(r0[ro + r * rsd + i]));
                want_r[ro + r * rsd + i] = e;
            }
            v[i] = rs_up(e);
            ss += (double)v[i] * v[i];
        }
        const float rstd = 1.0f / std::sqrt((float)ss / (float)hidden + eps);
        for (long long i = 0; i < hidden; ++i) {
            const long long at = wo + r * ws + i;
            written[at] = 1;
            if (!near(wbuf[at], (v[i] * rstd) * (rs_up(wb[i]) + woff))) ++bad;
        }
    }
    const std::vector<T>& before = FUSED || in_place ? x0 : o0;
    for (size_t i = 0; i < wbuf.size(); ++i)
        if (!written[i] && std::memcmp(&wbuf[i], &before[i], sizeof(T)) != 0) ++bad;
    if (FUSED && std::memcmp(rb.data(), want_r.data(), rb.size() * sizeof(T)) != 0) ++bad;
    if (!FUSED && !in_place && std::memcmp(xb.data(), x0.data(), xb.size() * sizeof(T)) != 0)
        ++bad;
    if (bad)
        std::printf("bad %ld: fused %d rows %lld hidden %lld size %d strides %lld %lld %lld "
                    "offs %lld %lld %lld in_place %d block %u generic %d\n", bad, (int)FUSED,
                    rows, hidden, (int)sizeof(T), xs, os, rsd, xo, oo, ro, (int)in_place, block,
                    (int)generic);
    return bad;
}

int main(int argc, char** argv) {
    std::mt19937_64 rng(argc > 1 ? std::atoll(argv[1]) : 1);
    long bad = 0, cases = 0;
    // Around the paths' limits for blocks of 32 to 256: 8 threads a row, the wave, the block;
    // rows held in registers (two groups a thread; rms_norm up to four at C = the block) or
    // taken in two passes.
    const long long hs[] = {1, 7, 8, 33, 111, 256, 769, 1030, 2056, 4104, 8200};
    for (long long h : hs) {
        const long long rows = 1 + (long long)(rng() % 12);
        bad += run_case<float, false>(rng, rows, h, RS_MLP_F32);
        bad += run_case<rs_f16, true>(rng, rows, h, RS_MLP_F16);
        bad += run_case<rs_bf16, false>(rng, rows, h, RS_MLP_BF16);
        bad += run_case<rs_bf16, true>(rng, rows, h, RS_MLP_BF16);
        bad += run_case<float, true>(rng, rows, h, RS_MLP_F32);
        cases += 5;
    }
    std::printf("cases %ld bad %ld\n", cases, bad);
    return bad ? 1 : 0;
}
