// Runs rs_common.h's rs_for_groups (the real one, cut out by tests/test_half.py) as host code,
// thread by thread, over rows of every vocab in a range at every alignment a row of its type
// can have, float and 2-byte: every thread must visit the same indices in the same order as
// the documented walk (groups of four j = t, t + RS_BLOCK, ..., then the tail one at a time)
// whatever the alignment, each index exactly once, each with its own value. A float sum over
// the visits (softmax) is then the same for every alignment. Prints "cases N bad M"; exits 1
// when M > 0.
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "rs_walk.h"  // written by the test: the stand-in, then the real walk
rs_dim3 blockDim, gridDim, blockIdx, threadIdx;

// The documented order: thread t's indices.
static std::vector<int> expected(int vocab, int t) {
    std::vector<int> s;
    const int n4 = vocab / 4;
    for (int j = t; j < n4; j += RS_BLOCK)
        for (int k = 0; k < 4; ++k) s.push_back(4 * j + k);
    for (int i = 4 * n4 + t; i < vocab; i += RS_BLOCK) s.push_back(i);
    return s;
}

static long cases = 0, bad = 0;

// Walks x[0, vocab) with every thread; want(i) is the float value index i must arrive with.
template <typename T, typename W>
static void check(const T* x, int vocab, W want, const char* type, int misalign) {
    std::vector<int> hits(vocab > 0 ? vocab : 1, 0);
    bool ok = true;
    for (int t = 0; t < RS_BLOCK; ++t) {
        threadIdx.x = t;
        std::vector<int> seq;
        auto visit = [&](int i, float v) {
            seq.push_back(i);
            if (i < 0 || i >= vocab) { ok = false; return; }
            ++hits[i];
            if (__float_as_uint(v) != __float_as_uint(want(i))) ok = false;
        };
        rs_for_groups(x, vocab, [&](int j, float a, float b, float c, float d) {
            visit(4 * j, a);
            visit(4 * j + 1, b);
            visit(4 * j + 2, c);
            visit(4 * j + 3, d);
        }, visit);
        if (seq != expected(vocab, t)) ok = false;
    }
    for (int i = 0; i < vocab; ++i) ok = ok && hits[i] == 1;
    ++cases;
    if (!ok) {
        if (++bad <= 10) std::printf("BAD %s vocab %d misaligned by %d bytes\n", type, vocab, misalign);
    }
}

static unsigned char* aligned16(std::vector<unsigned char>& buf) {
    const uintptr_t p = (uintptr_t)buf.data();
    return buf.data() + ((16 - (p & 15)) & 15);
}

static void one_vocab(int vocab) {
    std::vector<unsigned char> fbuf(4 * (size_t)vocab + 64), hbuf(2 * (size_t)vocab + 64);
    unsigned char* fb = aligned16(fbuf);
    unsigned char* hb = aligned16(hbuf);
    for (int a = 0; a < 4; ++a) {  // a float row starts 0, 4, 8 or 12 bytes past 16
        float* x = (float*)(fb + 4 * a);
        for (int i = 0; i < vocab; ++i) x[i] = 0.5f + (float)i;
        check(x, vocab, [&](int i) { return x[i]; }, "float", 4 * a);
    }
    for (int a = 0; a < 8; ++a) {  // a 2-byte row: 0, 2, ..., 14 bytes past 16
        unsigned short* h = (unsigned short*)(hb + 2 * a);
        // bf16 bits of 1 + i / 128 (distinct for i < 128 * 128), f16 bits 0x3c00 + i
        for (int i = 0; i < vocab; ++i) h[i] = (unsigned short)(0x3f80 + (i & 0x3fff));
        const rs_bf16* b = (const rs_bf16*)h;
        check(b, vocab, [&](int i) { return rs_num<rs_bf16>::up(b[i]); }, "bf16", 2 * a);
        for (int i = 0; i < vocab; ++i) h[i] = (unsigned short)(0x3c00 + (i & 0x3ff));
        const rs_f16* f = (const rs_f16*)h;
        check(f, vocab, [&](int i) { return rs_num<rs_f16>::up(f[i]); }, "f16", 2 * a);
    }
}

int main(int argc, char** argv) {
    const int upto = argc > 1 ? std::atoi(argv[1]) : 600;
    for (int v = 0; v <= upto; ++v) one_vocab(v);
    const int big[] = {4095, 4096, 4097, 4099, 32001, 128256, 151936};
    for (int v : big) one_vocab(v);
    std::printf("cases %ld bad %ld\n", cases, bad);
    return bad ? 1 : 0;
}
