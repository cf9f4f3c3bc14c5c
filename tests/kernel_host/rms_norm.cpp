// Runs the RMSNorm entries (rms_norm_kernel, fused_add_rms_norm_kernel, the per-type
// rms_norm_DT, fused_add_rms_norm_DT and the row entries rms_norm_row{1,2,4}_DT,
// fused_add_rms_norm_row{1,2,4}_DT) as host code: each block's threads (RS_BLOCK, or a
// smaller power of two down to 32, as rocsample launches few rows) are OS threads,
// __syncthreads a std::barrier and the wave shuffle an exchange through an array between two
// barriers (the kernels call both uniformly over the block, as a GPU needs). Random shapes
// (both the one-read and the two-pass path, tails), row strides, alignments, in-place output
// and grids; every output within one unit in the last place of a reference that sums the
// squares in double (fp32: rtol 1e-5), the fused residual exact, nothing else written. The
// row entries against the general ones on the same inputs: every byte of every operand the
// same when the call fits the entry (rows 16-byte aligned, hidden a multiple of N, at most
// K x C groups), and nothing written when it does not. Built with AddressSanitizer by
// tests/test_mlp.py with -DRS_WAVE and -DRS_BLOCK (a small block keeps the thread count
// down; the index rules do not depend on it; the row entries' limits, 2 and 4 x RS_BLOCK
// groups, scale with it): each operand lives in an allocation of exactly its extent, 16-byte
// aligned, so a read past it aborts. Prints "row fits N of M", then "cases N bad M"; exits 1
// when M > 0. A second argument "rows" runs the row entries' cases alone.
#define RS_HOST_THREADS 1
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <random>
#include <thread>
#include <vector>
#define RS_NWAVES (RS_BLOCK / RS_WAVE)
#define __shared__ static  // one block runs at a time: a static is the block's memory
static std::barrier<>* rs_bar;
inline void __syncthreads() { rs_bar->arrive_and_wait(); }
static float rs_slot[2 * RS_BLOCK];  // the one-group entries' blocks: up to 2 x RS_BLOCK
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

// Operands: allocations of exactly their extent, 16-byte aligned (the kernels' vector path
// needs aligned rows; a test offsets a pointer to leave it).
template <typename T> struct Aligned16 {
    typedef T value_type;
    Aligned16() = default;
    template <typename U> Aligned16(const Aligned16<U>&) {}
    T* allocate(size_t n) {
        return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(16)));
    }
    void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(16)); }
    template <typename U> bool operator==(const Aligned16<U>&) const { return true; }
};
template <typename T> using Buf = std::vector<T, Aligned16<T>>;

template <typename T> static void fill(Buf<T>& v, std::mt19937_64& rng) {
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

// K of the row entries: 1, 2, 4, 8, and K_8D for rms_norm_row8d_DT (eight groups a thread,
// the weight loaded after the sum).
#define K_8D 9

#define RS_TYPED(DT, T)                                                                       \
    static void typed(const T* x, const T* w, T* out, long long rows, long long hidden,        \
                      long long xs, long long os, float eps, float woff) {                     \
        rms_norm_##DT(x, w, out, rows, hidden, xs, os, eps, woff);                             \
    }                                                                                          \
    static void typed_fused(T* x, T* res, const T* w, long long rows, long long hidden,        \
                            long long xs, long long rsd, float eps, float woff) {              \
        fused_add_rms_norm_##DT(x, res, w, rows, hidden, xs, rsd, eps, woff);                  \
    }                                                                                          \
    static void row(int K, const T* x, const T* w, T* out, long long rows, long long hidden,   \
                    long long xs, long long os, float eps, float woff) {                       \
        if (K == 1)                                                                            \
            rms_norm_row1_##DT(x, w, out, rows, hidden, xs, os, eps, woff);                    \
        else if (K == 2)                                                                       \
            rms_norm_row2_##DT(x, w, out, rows, hidden, xs, os, eps, woff);                    \
        else if (K == 4)                                                                       \
            rms_norm_row4_##DT(x, w, out, rows, hidden, xs, os, eps, woff);                    \
        else if (K == 8)                                                                       \
            rms_norm_row8_##DT(x, w, out, rows, hidden, xs, os, eps, woff);                    \
        else /* K_8D */                                                                        \
            rms_norm_row8d_##DT(x, w, out, rows, hidden, xs, os, eps, woff);                   \
    }                                                                                          \
    static void row_fused(int K, T* x, T* res, const T* w, long long rows, long long hidden,   \
                          long long xs, long long rsd, float eps, float woff) {                \
        if (K == 1)                                                                            \
            fused_add_rms_norm_row1_##DT(x, res, w, rows, hidden, xs, rsd, eps, woff);         \
        else if (K == 2)                                                                       \
            fused_add_rms_norm_row2_##DT(x, res, w, rows, hidden, xs, rsd, eps, woff);         \
        else if (K == 4)                                                                       \
            fused_add_rms_norm_row4_##DT(x, res, w, rows, hidden, xs, rsd, eps, woff);         \
        else /* 8, and K_8D: the fused add has no weight-after-sum entry */                    \
            fused_add_rms_norm_row8_##DT(x, res, w, rows, hidden, xs, rsd, eps, woff);         \
    }
RS_TYPED(f32, float)
RS_TYPED(f16, rs_f16)
RS_TYPED(bf16, rs_bf16)

template <typename T, bool FUSED> struct Call;
template <typename T, bool FUSED>
static void row_entry(int K, Call<T, FUSED>& c, long long rows, long long hidden) {
    if (FUSED)
        row_fused(K, c.x(), c.res(), c.w(), rows, hidden, c.xs, c.rsd, c.eps, c.woff);
    else
        row(K, c.x(), c.w(), c.out(), rows, hidden, c.xs, c.os, c.eps, c.woff);
}

// One call's operands: x, residual, out and weight at element offsets xo, ro, oo, wo in
// buffers of exactly their extent, with their row strides; eps, the weight offset, and
// whether out is x (in place, rms_norm only). x0, r0, o0: the contents before the call.
template <typename T, bool FUSED> struct Call {
    long long rows, hidden, xs, rsd, os, xo = 0, ro = 0, oo = 0, wo = 0;
    bool in_place = false;
    float eps = 1e-6f, woff = 0.0f;
    Buf<T> xb, rb, ob, wb, x0, r0, o0;
    void alloc(std::mt19937_64& rng) {
        if (in_place) os = xs;
        xb.resize(xo + (rows - 1) * xs + hidden);
        rb.resize(ro + (rows - 1) * rsd + hidden);
        ob.resize(oo + (rows - 1) * os + hidden);
        wb.resize(wo + hidden);
        fill(xb, rng);
        fill(rb, rng);
        fill(ob, rng);
        fill(wb, rng);
        x0 = xb;
        r0 = rb;
        o0 = ob;
    }
    T* x() { return xb.data() + xo; }
    T* res() { return rb.data() + ro; }
    T* out() { return FUSED || in_place ? x() : ob.data() + oo; }  // the fused add's is x
    const T* w() { return wb.data() + wo; }
    static bool eq(const Buf<T>& a, const Buf<T>& b) {  // byte for byte
        return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
    }
    bool same(const Call& o) const { return eq(xb, o.xb) && eq(rb, o.rb) && eq(ob, o.ob); }
    bool untouched() const { return eq(xb, x0) && eq(rb, r0) && eq(ob, o0); }

    // Bad elements against the reference: the written buffer (x for fused and in place, else
    // out) within one ulp of the double-sum result, the fused residual exact, everything
    // outside the rows as it was.
    long check() const {
        Buf<T> want_r = r0;
        long bad = 0;
        const Buf<T>& wbuf = FUSED || in_place ? xb : ob;
        std::vector<char> written(wbuf.size(), 0);
        const long long wo_ = FUSED || in_place ? xo : oo, ws = FUSED || in_place ? xs : os;
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
                const long long at = wo_ + r * ws + i;
                written[at] = 1;
                if (!near(wbuf[at], (v[i] * rstd) * (rs_up(wb[wo + i]) + woff))) ++bad;
            }
        }
        const Buf<T>& before = FUSED || in_place ? x0 : o0;
        for (size_t i = 0; i < wbuf.size(); ++i)
            if (!written[i] && std::memcmp(&wbuf[i], &before[i], sizeof(T)) != 0) ++bad;
        if (FUSED && std::memcmp(rb.data(), want_r.data(), rb.size() * sizeof(T)) != 0) ++bad;
        if (!FUSED && !in_place && std::memcmp(xb.data(), x0.data(), xb.size() * sizeof(T)) != 0)
            ++bad;
        return bad;
    }
};

template <typename T, bool FUSED>
static long run_case(std::mt19937_64& rng, long long rows, long long hidden, int code) {
    Call<T, FUSED> c;
    const long long pick[3] = {hidden, hidden + 1, 2 * hidden + 8};
    c.rows = rows;
    c.hidden = hidden;
    c.xs = pick[rng() % 3];
    c.os = pick[rng() % 3];
    c.rsd = pick[rng() % 3];
    c.xo = rng() % 5 == 0 ? 1 : 0;
    c.oo = rng() % 5 == 0 ? 1 : 0;
    c.ro = rng() % 5 == 0 ? 1 : 0;
    c.in_place = !FUSED && rng() % 3 == 0;
    c.alloc(rng);
    c.woff = rng() % 2 ? 1.0f : 0.0f;
    T* x = c.x();
    T* res = c.res();
    T* out = c.out();
    const T* w = c.w();
    const unsigned blocks[3] = {RS_BLOCK, RS_BLOCK / 2, 32};
    const unsigned block = blocks[rng() % 3];
    const bool generic = rng() % 2;
    launch(1 + rng() % 3, block, [&] {
        if (FUSED && generic)
            fused_add_rms_norm_kernel(x, res, w, rows, hidden, c.xs, c.rsd, c.eps, c.woff, code);
        else if (FUSED)
            typed_fused(x, res, w, rows, hidden, c.xs, c.rsd, c.eps, c.woff);
        else if (generic)
            rms_norm_kernel(x, w, out, rows, hidden, c.xs, c.os, c.eps, c.woff, code);
        else
            typed(x, w, out, rows, hidden, c.xs, c.os, c.eps, c.woff);
    });
    const long bad = c.check();
    if (bad)
        std::printf("bad %ld: fused %d rows %lld hidden %lld size %d strides %lld %lld %lld "
                    "offs %lld %lld %lld in_place %d block %u generic %d\n", bad, (int)FUSED,
                    rows, hidden, (int)sizeof(T), c.xs, c.os, c.rsd, c.xo, c.oo, c.ro,
                    (int)c.in_place, block, (int)generic);
    return bad;
}

static long row_cases = 0, row_fits = 0;

// A row entry (K groups a thread) against the general typed entry on the same operands:
// rows at strides that keep them 16-byte aligned, or (misalign) one operand off by an
// element; launched with the host's block (mlp.rms_norm_row_launch: one row's C threads, at
// least 32), RS_BLOCK or 32 (narrower than a longer row's C: nothing written), and a block
// a row or one to three blocks (each then loops over rows).
template <typename T, bool FUSED>
static long run_row_case(std::mt19937_64& rng, long long rows, long long hidden, int K,
                         bool misalign) {
    constexpr long long N = 16 / sizeof(T);
    Call<T, FUSED> c;
    const long long pick[3] = {hidden, hidden + N, 2 * hidden + 2 * N};
    c.rows = rows;
    c.hidden = hidden;
    c.xs = pick[rng() % 3];
    c.os = pick[rng() % 3];
    c.rsd = pick[rng() % 3];
    c.in_place = !FUSED && rng() % 3 == 0;
    if (misalign) {
        switch (rng() % 5) {
            case 0: c.xo = 1; break;
            case 1: c.ro = 1; break;  // rms_norm: the residual is not an operand, fits
            case 2: c.oo = 1; break;  // fused or in place: out is x, fits
            case 3: c.wo = 1; break;
            default: c.xs = hidden + 1; break;
        }
    }
    c.alloc(rng);
    c.woff = rng() % 2 ? 1.0f : 0.0f;
    Call<T, FUSED> g = c;  // the general entry's copy (its grids are run_case's concern)
    launch(1, RS_BLOCK, [&] {
        if (FUSED)
            typed_fused(g.x(), g.res(), g.w(), rows, hidden, g.xs, g.rsd, g.eps, g.woff);
        else
            typed(g.x(), g.w(), g.out(), rows, hidden, g.xs, g.os, g.eps, g.woff);
    });
    long bad = g.check();
    // Whether the row entry computes: what rs_rms_norm_row tests.
    auto ok = [](const void* p, long long stride) {
        return (((std::uintptr_t)p | (std::uintptr_t)(stride * (long long)sizeof(T))) & 15) == 0;
    };
    const long long groups = hidden / N;
    long long need = 8;  // C: the power of two covering half the groups, at most RS_BLOCK
    while (need < (groups + 1) / 2 && need < RS_BLOCK) need <<= 1;
    // K = 1: the one-group entries, a block of 2 x C threads (up to 2 x RS_BLOCK).
    const long long threads = K == 1 ? 2 * need : need;
    const unsigned host = threads < 32 ? 32 : (unsigned)threads;
    const unsigned blocks[3] = {host, K == 1 ? 2u * RS_BLOCK : (unsigned)RS_BLOCK, 32};
    const unsigned block = blocks[rng() % 3];
    const bool fits = ok(c.x(), c.xs) && ok(c.w(), 0) && ok(c.out(), c.os) &&
                      (!FUSED || ok(c.res(), c.rsd)) && hidden % N == 0 && groups >= 1 &&
                      groups <= (K >= 8 ? 8 : 4) * RS_BLOCK &&
                      groups <= (K == 1 ? 2 : K == K_8D ? 8 : K) * need &&
                      block >= threads;
    const unsigned grid = rng() % 2 ? 1 + rng() % 3 : (unsigned)rows;  // the host's: a row a block
    launch(grid, block, [&] { row_entry<T, FUSED>(K, c, rows, hidden); });
    // Bit for bit the general entry's; nothing written outside the entry's conditions.
    const long own = fits ? (c.same(g) ? 0 : 1) : (c.untouched() ? 0 : 1);
    ++row_cases;
    row_fits += fits;
    if (bad || own)
        std::printf("bad %ld/%ld: row%d fused %d rows %lld hidden %lld size %d strides %lld "
                    "%lld %lld offs %lld %lld %lld %lld in_place %d block %u grid %u fits %d\n",
                    bad, own, K, (int)FUSED, rows, hidden, (int)sizeof(T), c.xs, c.os, c.rsd,
                    c.xo, c.oo, c.ro, c.wo, (int)c.in_place, block, grid, (int)fits);
    return bad + own;
}

int main(int argc, char** argv) {
    std::mt19937_64 rng(argc > 1 ? std::atoll(argv[1]) : 1);
    // "rows": the row entries' cases alone (a build at rocsample's own RS_BLOCK, whose
    // limits are the literal 1024 and 2048 groups, costs 512 OS threads a block).
    const bool rows_only = argc > 2 && std::strcmp(argv[2], "rows") == 0;
    long bad = 0, cases = 0;
    // Around the paths' limits for blocks of 32 to 256: 8 threads a row, the wave, the block;
    // rows held in registers (two groups a thread; rms_norm up to four at C = the block) or
    // taken in two passes.
    const long long hs[] = {1, 7, 8, 33, 111, 256, 769, 1030, 2056, 4104, 8200};
    for (long long h : hs) {
        if (rows_only) break;
        const long long rows = 1 + (long long)(rng() % 12);
        bad += run_case<float, false>(rng, rows, h, RS_MLP_F32);
        bad += run_case<rs_f16, true>(rng, rows, h, RS_MLP_F16);
        bad += run_case<rs_bf16, false>(rng, rows, h, RS_MLP_BF16);
        bad += run_case<rs_bf16, true>(rng, rows, h, RS_MLP_BF16);
        bad += run_case<float, true>(rng, rows, h, RS_MLP_F32);
        cases += 5;
    }
    // The row entries around their limits: rows of g 16-byte groups up to 8 threads a row,
    // a wave, and 2, 4 and 8 x RS_BLOCK groups (the last rows of the K = 2, 4 and 8 entries
    // and the first they refuse), odd row counts; one call in four with an operand off 16
    // bytes, one in six with hidden not a multiple of N (nothing may be written then). Each
    // g meets K = 1 or 2, 4, and 8 or 8d, in rms_norm and in the fused add.
    const long long B = RS_BLOCK;
    const long long gs[] = {1, 2, 9, 17, 33, 2 * B - 1, 2 * B, 2 * B + 1, 4 * B - 1, 4 * B,
                            4 * B + 1, 8 * B - 1, 8 * B, 8 * B + 1};
    for (long long g : gs)
        for (int k = 0; k < 6; ++k) {
            const long long rows = 1 + 2 * (long long)(rng() % (rows_only ? 2 : 4));
            const int K = k % 3 == 0 ? (rng() % 2 ? 2 : 1) : k % 3 == 1 ? 4
                          : rng() % 2 ? 8 : K_8D;
            const bool misalign = rng() % 4 == 0;
            const long long more = rng() % 6 == 0 ? 1 : 0;  // hidden % N != 0
            switch (rng() % 3) {
                case 0:
                    bad += k < 3 ? run_row_case<float, false>(rng, rows, 4 * g + more, K, misalign)
                                 : run_row_case<float, true>(rng, rows, 4 * g + more, K, misalign);
                    break;
                case 1:
                    bad += k < 3 ? run_row_case<rs_f16, false>(rng, rows, 8 * g + more, K, misalign)
                                 : run_row_case<rs_f16, true>(rng, rows, 8 * g + more, K, misalign);
                    break;
                default:
                    bad += k < 3
                               ? run_row_case<rs_bf16, false>(rng, rows, 8 * g + more, K, misalign)
                               : run_row_case<rs_bf16, true>(rng, rows, 8 * g + more, K, misalign);
                    break;
            }
            ++cases;
        }
    std::printf("row fits %ld of %ld\n", row_fits, row_cases);
    std::printf("cases %ld bad %ld\n", cases, bad);
    return bad ? 1 : 0;
}
