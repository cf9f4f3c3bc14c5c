// Runs Candle's elementwise entries (and rocsample's where2, the layout by value) as host
// code over random layouts and grids and checks every output against an independent
// row-major walk. Built and run by
// tests/test_elementwise.py (g++, with tests/kernel_host/rs_common.h in place of the real one).
// Prints "cases N bad M"; exits 1 when M > 0.
#include <cstdio>
#include <random>
#include <string>
#include <vector>
#include <cstdlib>
// Threads run one after another here, so no barrier can be kept: the tile walk (two dims with
// a transposed operand, dims of 16 and more) is run by tiles.cpp with a block's threads as OS
// threads. None of the layouts below takes it (their dims stay under 16, or their last dim is
// contiguous for every operand); one that did would stop the run here.
#define __shared__ static
inline void __syncthreads() {
    std::fprintf(stderr, "walks.cpp: a barrier (the tile walk) in the sequential harness\n");
    std::abort();
}
#include "rs_elementwise.h"
rs_dim3 blockDim, gridDim, blockIdx, threadIdx;
#include "unary.hip"
#include "affine.hip"
#include "ternary.hip"

template <typename K> static void launch(unsigned grid, unsigned block, K k) {
    gridDim.x = grid;
    blockDim.x = block;
    for (unsigned b = 0; b < grid; ++b)
        for (unsigned t = 0; t < block; ++t) {
            blockIdx.x = b;
            threadIdx.x = t;
            k();
        }
}

// Offset of row-major element i: the coordinates from the last dim up.
static rs_size ref_offset(rs_size i, const std::vector<rs_size>& dims, const std::vector<rs_size>& st) {
    std::vector<rs_size> coord(dims.size());
    for (size_t d = dims.size(); d-- > 0;) {
        coord[d] = i % dims[d];
        i /= dims[d];
    }
    rs_size off = 0;
    for (size_t d = 0; d < dims.size(); ++d) off += coord[d] * st[d];
    return off;
}

// "walks rows": the row walk's rules as rocsample.ops.elementwise mirrors them. Prints
// rs_row_unroll<T>::U for 1-, 2-, 4- and 8-byte values, then for each stdin line "nops nd
// dims[nd] strides[nops][nd]" the run rs_row_layout gives (0: no row walk).
static int rows_mode() {
    std::printf("%d %d %d %d\n", rs_row_unroll<unsigned char>::U, rs_row_unroll<rs_bf16>::U,
                rs_row_unroll<float>::U, rs_row_unroll<double>::U);
    int nops, nd;
    while (std::scanf("%d %d", &nops, &nd) == 2) {
        std::vector<rs_size> dims(nd), st[3];
        for (auto& d : dims) std::scanf("%llu", &d);
        for (int o = 0; o < nops; ++o) {
            st[o].resize(nd);
            for (auto& s : st[o]) std::scanf("%llu", &s);
        }
        rs_size rs[3];
        rs_size n;
        if (nops == 1) {
            const rs_size* const p[1] = {st[0].data()};
            rs_size r1[1];
            n = rs_row_layout<1>(nd, dims.data(), p, r1);
        } else {
            const rs_size* const p[3] = {st[0].data(), st[1].data(), st[2].data()};
            n = rs_row_layout<3>(nd, dims.data(), p, rs);
        }
        std::printf("%llu\n", n);
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "rows") return rows_mode();
    std::mt19937_64 rng(argc > 1 ? std::atoll(argv[1]) : 1);
    long bad = 0, cases = 0;
    const unsigned blocks[] = {32, 64, 256, 1024};
    for (int it = 0; it < 2000; ++it) {  // strided: 1 to 4 dims (1-2: the 2-dim walk)
        const int nd = 1 + rng() % 4;
        std::vector<rs_size> dims(nd), st[3];
        rs_size numel = 1;
        for (int d = 0; d < nd; ++d) numel *= dims[d] = 1 + rng() % 9;
        rs_size span[3];
        for (int o = 0; o < 3; ++o) {
            st[o].resize(nd);
            span[o] = 1;
            const int kind = rng() % 3;  // contiguous, row-contiguous, arbitrary (0 included)
            rs_size acc = 1;
            for (int d = nd - 1; d >= 0; --d) {
                rs_size s = rng() % 3 == 0 ? 0 : 1 + rng() % 40;
                if (kind == 0 || (kind == 1 && d == nd - 1)) s = acc;
                st[o][d] = s;
                acc *= dims[d];
                span[o] += (dims[d] - 1) * s;
            }
        }
        const unsigned block = blocks[rng() % 4], grid = 1 + rng() % 5;
        std::vector<float> x(span[0]), y(numel), t(span[1]), f(span[2]), w(numel);
        std::vector<unsigned short> xb(span[0]), yb(numel);
        std::vector<unsigned char> c(span[0]);
        for (auto& v : x) v = (float)(rng() % 1000);
        for (auto& v : xb) v = rng() % 65536;
        for (auto& v : c) v = rng() % 3;
        for (auto& v : t) v = (float)(rng() % 1000);
        for (auto& v : f) v = -(float)(1 + rng() % 1000);
        std::vector<rs_size> uinfo(dims), winfo(dims);
        uinfo.insert(uinfo.end(), st[0].begin(), st[0].end());
        for (int o = 0; o < 3; ++o) winfo.insert(winfo.end(), st[o].begin(), st[o].end());
        launch(grid, block, [&] { ucopy_f32(numel, nd, uinfo.data(), x.data(), y.data()); });
        launch(grid, block, [&] {
            uneg_bf16(numel, nd, uinfo.data(), (const rs_bf16*)xb.data(), (rs_bf16*)yb.data());
        });
        launch(grid, block, [&] {
            where_u8_f32(numel, nd, winfo.data(), c.data(), t.data(), f.data(), w.data());
        });
        // rocsample's where2 (the layout by value) for 1 or 2 dims, padded in front with a
        // dim of 1 as rocsample.ops.elementwise.where2_args pads it; NaN: a missed write
        std::vector<float> w2(numel, NAN);
        std::vector<unsigned short> w2b(numel, 0x7fc1), tb(span[1]), fb(span[2]);
        for (auto& v : tb) v = rng() % 65536;
        for (auto& v : fb) v = rng() % 65536;
        if (nd <= 2) {
            rs_size a[8];  // d0 d1, then ids, t and f strides
            for (int k = 0; k < 4; ++k) {
                const rs_size* v = k == 0 ? dims.data() : st[k - 1].data();
                a[2 * k] = nd == 2 ? v[0] : (k == 0 ? 1 : 0);
                a[2 * k + 1] = v[nd - 1];
            }
            launch(grid, block, [&] {
                where2_u8_f32(numel, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], c.data(),
                              t.data(), f.data(), w2.data());
            });
            launch(grid, block, [&] {
                where2_u8_bf16(numel, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], c.data(),
                               (const rs_bf16*)tb.data(), (const rs_bf16*)fb.data(),
                               (rs_bf16*)w2b.data());
            });
        }
        for (rs_size i = 0; i < numel; ++i) {
            const rs_size o0 = ref_offset(i, dims, st[0]);
            const rs_size o1 = ref_offset(i, dims, st[1]), o2 = ref_offset(i, dims, st[2]);
            const float want = c[o0] ? t[o1] : f[o2];
            const bool by_value_ok =
                nd > 2 || (w2[i] == want && w2b[i] == (c[o0] ? tb[o1] : fb[o2]));
            if (y[i] != x[o0] || yb[i] != (xb[o0] ^ 0x8000) || w[i] != want || !by_value_ok) {
                if (++bad < 5) std::printf("strided it=%d i=%llu nd=%d\n", it, i, nd);
            }
        }
        ++cases;
    }
    for (int it = 0; it < 500; ++it) {  // contiguous: packed groups, tails, misaligned bases
        const rs_size n = rng() % 5000;
        const unsigned off = rng() % 9, block = blocks[rng() % 4], grid = 1 + rng() % 4;
        std::vector<unsigned short> a(n + 16), b(n + 16), tt(n + 16), ff(n + 16), oo(n + 16);
        std::vector<unsigned char> u(n + 16), u0, cc(n + 16);
        for (rs_size i = 0; i < n + 16; ++i) {
            a[i] = rng();
            u[i] = rng();
            cc[i] = rng() % 3;
            tt[i] = rng();
            ff[i] = rng();
        }
        u0 = u;
        const std::vector<rs_size> wi = {n, 1, 1, 1};
        launch(grid, block, [&] {
            uneg_bf16(n, 0, nullptr, (const rs_bf16*)a.data() + off, (rs_bf16*)b.data() + off);
        });
        launch(grid, block, [&] { affine_u8(n, 0, nullptr, nullptr, u.data() + off, 3, 5); });
        launch(grid, block, [&] {
            where_u8_bf16(n, 1, wi.data(), cc.data() + off, (const rs_bf16*)tt.data() + off,
                          (const rs_bf16*)ff.data() + off, (rs_bf16*)oo.data() + off);
        });
        for (rs_size i = off; i < off + n; ++i) {
            if (b[i] != (a[i] ^ 0x8000) || u[i] != (unsigned char)(u0[i] * 3 + 5) ||
                oo[i] != (cc[i] ? tt[i] : ff[i])) {
                if (++bad < 5) std::printf("contiguous it=%d i=%llu\n", it, i);
            }
        }
        ++cases;
    }
    for (int it = 0; it < 400; ++it) {  // rows contiguous for every operand: the row walk
        // Outer dims (0 to 2, strides arbitrary: 0 broadcasts a row) and a run of 1 to 3
        // trailing dims contiguous for all operands (merged by the kernel), of odd lengths,
        // from shorter than a 16-byte group to several tiles; bases at any element offset.
        const int no = rng() % 3, ni = 1 + rng() % 3;
        std::vector<rs_size> dims, st[3];
        rs_size run = 1, numel = 1;
        std::vector<rs_size> inner(ni);
        for (int d = 0; d < ni; ++d) {
            inner[d] = rng() % 4 == 0 ? 1 + rng() % 7 : 1 + rng() % 1200;
            if (ni > 1 && rng() % 4 == 0) inner[d] = 1;  // a size-1 dim inside the run
            run *= inner[d];
        }
        if (run > 6000) { inner.assign(1, 1 + rng() % 6000); run = inner[0]; }
        rs_size span[3] = {run, run, run};
        std::vector<rs_size> odims(no);
        for (int d = 0; d < no; ++d) odims[d] = 1 + rng() % 4;
        for (int o = 0; o < 3; ++o) {
            st[o].assign(no + inner.size(), 0);
            rs_size acc = 1;
            for (int d = (int)inner.size() - 1; d >= 0; --d) {
                st[o][no + d] = inner[d] == 1 ? rng() % 50 : acc;  // size-1: any stride
                acc *= inner[d];
            }
            for (int d = no - 1; d >= 0; --d) {
                const rs_size s = rng() % 4 == 0 ? 0 : run + rng() % 37;
                st[o][d] = s;
                span[o] += (odims[d] - 1) * s;
            }
        }
        dims = odims;
        dims.insert(dims.end(), inner.begin(), inner.end());
        for (auto d : odims) numel *= d;
        numel *= run;
        const int nd = (int)dims.size();
        const unsigned block = blocks[rng() % 2], grid = 1 + rng() % 6;  // 32 or 64 threads
        const unsigned off = rng() % 9;
        std::vector<unsigned char> x8(span[0] + off), y8(numel), c(span[0] + off);
        std::vector<unsigned short> xb(span[0] + off), yb(numel), tb(span[1] + off),
            fb(span[2] + off), wb(numel);
        std::vector<long long> x64(span[0] + off), y64(numel);
        std::vector<float> xf(span[0] + off), yf(numel, NAN), tf(span[1] + off),
            ff(span[2] + off), wf(numel, NAN);  // NaN: a missed write never matches
        for (auto& v : x8) v = rng();
        for (auto& v : c) v = rng() % 3;
        for (auto& v : xb) v = rng();
        for (auto& v : tb) v = rng();
        for (auto& v : fb) v = rng();
        for (auto& v : x64) v = (long long)rng();
        for (auto& v : xf) v = (float)(rng() % 1000);
        for (auto& v : tf) v = (float)(rng() % 1000);
        for (auto& v : ff) v = -(float)(1 + rng() % 1000);
        std::vector<rs_size> ui(dims), wi(dims);
        ui.insert(ui.end(), st[0].begin(), st[0].end());
        for (int o = 0; o < 3; ++o) wi.insert(wi.end(), st[o].begin(), st[o].end());
        launch(grid, block, [&] { ucopy_u8(numel, nd, ui.data(), x8.data() + off, y8.data()); });
        launch(grid, block, [&] {
            uneg_bf16(numel, nd, ui.data(), (const rs_bf16*)xb.data() + off, (rs_bf16*)yb.data());
        });
        launch(grid, block, [&] { ucopy_i64(numel, nd, ui.data(), x64.data() + off, y64.data()); });
        launch(grid, block, [&] { uneg_f32(numel, nd, ui.data(), xf.data() + off, yf.data()); });
        launch(grid, block, [&] {
            where_u8_f32(numel, nd, wi.data(), c.data() + off, tf.data() + off, ff.data() + off,
                         wf.data());
        });
        launch(grid, block, [&] {
            where_u8_bf16(numel, nd, wi.data(), c.data() + off, (const rs_bf16*)tb.data() + off,
                          (const rs_bf16*)fb.data() + off, (rs_bf16*)wb.data());
        });
        // The walk itself, counting: every output index written exactly once, every read
        // at the reference offset of that index and inside the operand's span.
        std::vector<unsigned> writes(numel, 0);
        long oob = 0;
        const rs_size* const sp[3] = {wi.data() + nd, wi.data() + 2 * nd, wi.data() + 3 * nd};
        launch(grid, block, [&] {
            rs_size seen[16][3];
            rs_strided_walk<3, 16>(
                numel, nd, wi.data(), sp,
                [&](const rs_size(&o)[3], int u) {
                    for (int k = 0; k < 3; ++k) {
                        seen[u][k] = o[k];
                        oob += o[k] >= span[k];
                    }
                },
                [&](rs_size i, int u) {
                    ++writes[i];
                    for (int k = 0; k < 3; ++k) oob += seen[u][k] != ref_offset(i, dims, st[k]);
                });
        });
        if (oob) {
            if (++bad < 5) std::printf("rows it=%d: %ld reads out of span or misplaced\n", it, oob);
        }
        for (rs_size i = 0; i < numel; ++i) {
            const rs_size o0 = off + ref_offset(i, dims, st[0]);
            const rs_size o1 = off + ref_offset(i, dims, st[1]);
            const rs_size o2 = off + ref_offset(i, dims, st[2]);
            const bool pick = c[o0] != 0;
            if (y8[i] != x8[o0] || yb[i] != (xb[o0] ^ 0x8000) || y64[i] != x64[o0] ||
                yf[i] != -xf[o0] || wf[i] != (pick ? tf[o1] : ff[o2]) ||
                wb[i] != (pick ? tb[o1] : fb[o2]) || writes[i] != 1) {
                if (++bad < 5) std::printf("rows it=%d i=%llu nd=%d run=%llu\n", it, i, nd, run);
            }
        }
        ++cases;
    }
    std::printf("cases %ld bad %ld\n", cases, bad);
    return bad != 0;
}
