// Runs swiglu_kernel and the swiglu_DT and swiglu_flat_DT entries as host code over random
// shapes, row strides, alignments, grids and block sizes (the launch's, and a few rocsample
// never uses) and checks that every output element is silu(gate) * up of its own row and
// column, bit for bit the same for every entry, and that nothing between or after the rows
// is written; a flat entry called outside its conditions (rows not 16-byte aligned, d not a
// multiple of 16 / size) must write nothing at all. Built with AddressSanitizer by
// tests/test_mlp.py (g++, tests/kernel_host/rs_common.h in place of the real one): each
// operand lives in an allocation of exactly its extent, so a read past it aborts the run.
// The kernel's threads share nothing, so running them one after another is faithful.
// Prints "cases N bad M"; exits 1 when M > 0. With a second argument "threads", prints
// 1 << rs_row_log2(u, lo) for u = 0..1100 instead, one line each for (lo 1, block 512),
// (lo 8, block 512), (lo 8, block 128) (the host's copy, mlp.row_threads, must agree).
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>
#define RS_WAVE 32
#define RS_BLOCK 512
#define RS_NWAVES (RS_BLOCK / RS_WAVE)
#define RS_SHFL_XOR(v, m) (v)  // rs_block_sum is not used by swiglu
inline void __syncthreads() {}  // swiglu keeps no shared state; the tile walk is not used
#define __shared__ static
#include "rs_elementwise.h"
rs_dim3 blockDim, gridDim, blockIdx, threadIdx;
#include "swiglu.hip"

static void typed(const float* g, const float* u, float* o, long long rows, long long d,
                  const long long* st) {
    swiglu_f32(g, u, o, rows, d, st[0], st[1], st[2]);
}
static void typed(const rs_f16* g, const rs_f16* u, rs_f16* o, long long rows, long long d,
                  const long long* st) {
    swiglu_f16(g, u, o, rows, d, st[0], st[1], st[2]);
}
static void typed(const rs_bf16* g, const rs_bf16* u, rs_bf16* o, long long rows, long long d,
                  const long long* st) {
    swiglu_bf16(g, u, o, rows, d, st[0], st[1], st[2]);
}
static void flat(const float* g, const float* u, float* o, long long rows, long long d,
                 const long long* st) {
    swiglu_flat_f32(g, u, o, rows, d, st[0], st[1], st[2]);
}
static void flat(const rs_f16* g, const rs_f16* u, rs_f16* o, long long rows, long long d,
                 const long long* st) {
    swiglu_flat_f16(g, u, o, rows, d, st[0], st[1], st[2]);
}
static void flat(const rs_bf16* g, const rs_bf16* u, rs_bf16* o, long long rows, long long d,
                 const long long* st) {
    swiglu_flat_bf16(g, u, o, rows, d, st[0], st[1], st[2]);
}
enum Entry { GENERIC, TYPED, FLAT };
static long flat_cases = 0, flat_fits = 0;

template <typename T>
static long run_case(std::mt19937_64& rng, long long rows, long long d, int code, Entry entry) {
    const int size = (int)sizeof(T);
    // Row strides of d (contiguous), d + 1 (rows misaligned for 2-byte types) or 2 d + 8;
    // base offsets of 0 or 1 element (a misaligned base takes the scalar path).
    const long long pick[3] = {d, d + 1, 2 * d + 8};
    long long st[3];
    long long off[3];
    // The flat entry: mostly calls where every row is 16-byte aligned (strides d or 2 d + 8
    // and no offset), so that it computes (for d a multiple of 16 / size).
    const bool aligned = entry == FLAT && rng() % 4 != 0;
    for (int o = 0; o < 3; ++o) {
        st[o] = aligned ? pick[2 * (rng() % 2)] : pick[rng() % 3];
        off[o] = (!aligned && rng() % 4 == 0) ? 1 : 0;
    }
    std::vector<T>* buf[3];
    for (int o = 0; o < 3; ++o) {
        buf[o] = new std::vector<T>(off[o] + (rows - 1) * st[o] + d);  // the exact extent
        for (auto& v : *buf[o]) {
            rs_u32 bits = (rs_u32)rng();
            if (size == 4) bits = __float_as_uint((float)((int)(bits % 2001) - 1000) / 100.0f);
            else if (size == 2) bits = (bits & 0x83ffu) | 0x3c00u;  // in [-2, 2): finite
            std::memcpy(&v, &bits, size);
        }
    }
    const std::vector<T> before = *buf[2];
    T* g = buf[0]->data() + off[0];
    T* u = buf[1]->data() + off[1];
    T* o = buf[2]->data() + off[2];
    gridDim.x = 1 + rng() % 3;
    gridDim.y = 1 + rng() % 3;
    const unsigned blocks[6] = {RS_BLOCK, RS_BLOCK / 2, 64, 32, 1, 96};  // 1, 96: any block
    blockDim.x = blocks[rng() % 6];
    if (entry == FLAT && rng() % 2) {  // the host's launch (mlp.swiglu_flat_launch)
        const long long groups = d / (16 / size);
        unsigned b = 32;
        while (b < groups && b < RS_BLOCK) b <<= 1;
        blockDim.x = b;
        gridDim.x = (unsigned)((groups + b - 1) / b);
        if (gridDim.x == 0) gridDim.x = 1;
        gridDim.y = (unsigned)rows;
    }
    for (blockIdx.y = 0; blockIdx.y < gridDim.y; ++blockIdx.y)
        for (blockIdx.x = 0; blockIdx.x < gridDim.x; ++blockIdx.x)
            for (threadIdx.x = 0; threadIdx.x < blockDim.x; ++threadIdx.x) {
                if (entry == GENERIC)
                    swiglu_kernel(g, u, o, rows, d, st[0], st[1], st[2], code);
                else if (entry == TYPED)
                    typed(g, u, o, rows, d, st);
                else
                    flat(g, u, o, rows, d, st);
            }
    // The flat entry computes only when every operand's rows are 16-byte aligned and d is a
    // multiple of 16 / size; else it must write nothing.
    bool fits = d % (16 / size) == 0;
    const T* base[3] = {g, u, o};
    for (int k = 0; k < 3; ++k)
        fits = fits &&
               (((unsigned long long)base[k] | (unsigned long long)(st[k] * size)) & 15) == 0;
    const bool writes = entry != FLAT || fits;
    if (entry == FLAT) {
        ++flat_cases;
        flat_fits += fits;
    }
    long bad = 0;
    for (long long i = 0; i < (long long)before.size(); ++i) {
        const long long r = (i - off[2]) / st[2], c = (i - off[2]) - r * st[2];
        const bool inside = writes && i >= off[2] && r < rows && c < d;
        T want = before[i];
        if (inside) want = rs_down<T>(rs_silu_mul_f(g[r * st[0] + c], u[r * st[1] + c]));
        if (std::memcmp(&want, &(*buf[2])[i], size) != 0) ++bad;
    }
    if (bad)
        std::printf("bad: rows %lld d %lld size %d strides %lld %lld %lld offs %lld %lld %lld "
                    "grid %u %u block %u entry %d fits %d\n", rows, d, size, st[0], st[1], st[2],
                    off[0], off[1], off[2], gridDim.x, gridDim.y, blockDim.x, (int)entry,
                    (int)fits);
    for (int k = 0; k < 3; ++k) delete buf[k];
    return bad;
}

int main(int argc, char** argv) {
    if (argc > 2 && std::strcmp(argv[2], "threads") == 0) {  // rs_row_log2, for the host
        const long long rule[3][2] = {{1, 512}, {8, 512}, {8, 128}};
        for (const auto& lb : rule) {
            blockDim.x = (unsigned)lb[1];
            for (long long u = 0; u <= 1100; ++u) std::printf("%d ", 1 << rs_row_log2(u, lb[0]));
            std::printf("\n");
        }
        return 0;
    }
    std::mt19937_64 rng(argc > 1 ? std::atoll(argv[1]) : 1);
    long bad = 0, cases = 0;
    // d: multiples of 8 (every type's group), of 4 only (fp32's), and neither; a block of
    // groups and just past it (the flat launch's second block along x).
    const long long ds[] = {1, 3, 7, 8, 9, 16, 63, 64, 100, 256, 257, 1030, 2056, 4104};
    for (long long d : ds)
        for (int k = 0; k < 6; ++k) {
            const long long rows = 1 + (long long)(rng() % 40);
            const Entry e = (Entry)(k % 3);
            bad += run_case<float>(rng, rows, d, RS_MLP_F32, e);
            bad += run_case<rs_f16>(rng, rows, d, RS_MLP_F16, e);
            bad += run_case<rs_bf16>(rng, rows, d, RS_MLP_BF16, e);
            cases += 3;
        }
    std::printf("flat fits %ld of %ld\n", flat_fits, flat_cases);
    std::printf("cases %ld bad %ld\n", cases, bad);
    return bad ? 1 : 0;
}
