// Runs the unary and affine entries' tile walk (rs_tile_walk: two dims, the operand
// transposed, staged through shared memory) as host code: each block's threads are OS threads
// and __syncthreads a std::barrier, since the walk's threads write what others staged.
// Random shapes (tiles cut by both edges, dims under half a tile that take the other walks),
// operands at any offset and column padding, blocks that are and are not whole tile rows,
// grids of 1 to 5 blocks. Built with AddressSanitizer by tests/test_elementwise.py: each
// operand lives in an allocation of exactly its span, so a read past it aborts. Checks every
// output of ucopy_u8, uneg_bf16, uneg_f32, ucopy_i64 and affine_f32 against an independent
// walk, and the walk itself over an operand whose values are their own offsets: every output
// index written exactly once, with the value at its reference offset, and the walk taken
// exactly when its rule says. Prints "cases N tiled M bad K"; exits 1 when K > 0 or M == 0.
#define RS_HOST_THREADS 1
#include <atomic>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>
#define __shared__ static  // one block runs at a time: a static is the block's memory
static std::barrier<>* rs_bar;
inline void __syncthreads() { rs_bar->arrive_and_wait(); }
#include "rs_elementwise.h"
rs_dim3 blockDim, gridDim, blockIdx;
thread_local rs_dim3 threadIdx;
#include "unary.hip"
#include "affine.hip"

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

int main(int argc, char** argv) {
    std::mt19937_64 rng(argc > 1 ? std::atoll(argv[1]) : 1);
    const int n = argc > 2 ? std::atoi(argv[2]) : 80;
    const unsigned blocks[] = {32, 64, 96, 256, 48};  // 48: not whole tile rows
    long cases = 0, tiled = 0, bad = 0;
    for (int it = 0; it < n; ++it) {
        const rs_size A = it % 10 == 0 ? 1 + rng() % 15 : 16 + rng() % 70;
        const rs_size B = it % 10 == 1 ? 1 + rng() % 15 : 16 + rng() % 70;
        const rs_size numel = A * B;
        // strides (1, A + pad), from an element offset; pad 0 is a plain transpose
        const rs_size pad = rng() % 5, off = rng() % 3, st = A + pad;
        const rs_size span = off + 1 + (A - 1) + (B - 1) * st;
        const unsigned block = blocks[rng() % 5], grid = 1 + rng() % 5;
        const rs_size dims[2] = {A, B}, strides[2] = {1, st};
        const bool tile_case = block % 32 == 0 && A >= 16 && B >= 16 && st >= 2;
        tiled += tile_case;
        std::vector<unsigned char> x8(span), y8(numel);
        std::vector<unsigned short> xb(span), yb(numel);
        std::vector<float> xf(span), yf(numel), af(numel);
        std::vector<long long> x64(span), y64(numel);
        std::vector<rs_size> self(span);
        for (auto& v : x8) v = rng();
        for (auto& v : xb) v = rng();
        for (auto& v : xf) v = (float)(rng() % 1000);
        for (auto& v : x64) v = (long long)rng();
        for (rs_size k = 0; k < span; ++k) self[k] = k;
        const std::vector<rs_size> info = {A, B, 1, st};
        launch(grid, block, [&] { ucopy_u8(numel, 2, info.data(), x8.data() + off, y8.data()); });
        launch(grid, block, [&] {
            uneg_bf16(numel, 2, info.data(), (const rs_bf16*)xb.data() + off, (rs_bf16*)yb.data());
        });
        launch(grid, block, [&] { uneg_f32(numel, 2, info.data(), xf.data() + off, yf.data()); });
        launch(grid, block, [&] { ucopy_i64(numel, 2, info.data(), x64.data() + off, y64.data()); });
        launch(grid, block, [&] { affine_f32(numel, 2, info.data(), xf.data() + off, af.data(), 2, 1); });
        // The walk itself, counting: written once each, with the value at the right offset.
        std::vector<std::atomic<unsigned>> writes(numel);
        std::atomic<long> misplaced{0};
        std::atomic<int> took{-1};
        launch(grid, block, [&] {
            const bool t = rs_tile_walk<rs_size>(numel, 2, dims, strides, self.data() + off,
                                                 [&](rs_size i, rs_size v) {
                                                     ++writes[i];
                                                     misplaced += v != off + i / B + i % B * st;
                                                 });
            if (threadIdx.x == 0 && blockIdx.x == 0) took = t;
        });
        long wrong = misplaced + (took != (int)tile_case);
        for (rs_size i = 0; i < numel; ++i) {
            const rs_size o = off + i / B + i % B * st;
            if (y8[i] != x8[o] || yb[i] != (xb[o] ^ 0x8000) || yf[i] != -xf[o] ||
                y64[i] != x64[o] || af[i] != xf[o] * 2 + 1 || writes[i] != (tile_case ? 1u : 0u))
                ++wrong;
        }
        if (wrong && ++bad < 5)
            std::printf("it=%d A=%llu B=%llu pad=%llu block=%u grid=%u: %ld wrong\n", it, A, B,
                        pad, block, grid, wrong);
        ++cases;
    }
    std::printf("cases %ld tiled %ld bad %ld\n", cases, tiled, bad);
    return bad != 0 || tiled == 0;
}
