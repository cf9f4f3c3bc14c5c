// The floor of y = x * 2^(166 - ce) (0 <= y < 2^40) by FP32 adds and one FMA, against the
// 64-bit conversion the kernels use now ((rs_u64)y): every bf16 and f16 pattern and about 66,000
// float32 patterns (all exponents: the edges of each and 256 random significands), at
// every sub-chunk exponent ce from RS_MASS_ONE_EXP (39) to 254 for which x <= the sub-chunk's
// largest value (x's exponent <= ce). IEEE semantics on the CPU: round-toward-zero adds
// through fesetround, fmaf exact. Build: g++ -O2 -frounding-math -o check check_floor.cpp
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>

static float bits_f(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
static uint32_t f_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
static float add_rz(float a, float b) {
    std::fesetround(FE_TOWARDZERO);
    volatile float r = a + b;
    std::fesetround(FE_TONEAREST);
    return r;
}
// The candidate: hi and lo sums of floor(y / 2^20) and floor(y mod 2^20) as the patterns of
// 2^23 + v, summed modulo 2^32 (the bias is taken off once a sum, as the kernel would do it).
static uint64_t floor_fma(float x, int ce) {
    const float sc = bits_f((uint32_t)(166 - ce + 127) << 23);       // rs_mass_scale1
    const float sch = bits_f((uint32_t)(166 - ce - 20 + 127) << 23);  // the same / 2^20
    volatile float y = x * sc, yh = x * sch;
    const float th = add_rz(yh, 8388608.0f);                  // 2^23 + floor(y / 2^20)
    const float r = std::fmaf(8388608.0f - th, 1048576.0f, y);  // y mod 2^20, exact
    const float tl = add_rz(r, 8388608.0f);                   // 2^23 + floor(r)
    const uint32_t hi = f_bits(th) - 0x4b000000u, lo = f_bits(tl) - 0x4b000000u;
    return ((uint64_t)hi << 20) + lo;
}
static uint64_t floor_now(float x, int ce) {
    const float sc = bits_f((uint32_t)(166 - ce + 127) << 23);
    volatile float y = x * sc;
    return (uint64_t)y;  // truncating conversion, as F2I.U64.TRUNC
}
static long long checked = 0, bad = 0;
static void check(float x) {
    if (!(x >= 0.0f) || std::isinf(x)) return;
    const uint32_t k = f_bits(x);
    int e = (int)(k >> 23); if (!e) e = 1;  // rs_exp
    for (int ce = 39; ce <= 254; ++ce) {
        if (e > ce) continue;  // x above the sub-chunk's maximum: not a case
        ++checked;
        const uint64_t a = floor_now(x, ce), b = floor_fma(x, ce);
        if (a != b && bad++ < 10) std::printf("x=%a ce=%d now=%llu fma=%llu\n", x, ce,
                                            (unsigned long long)a, (unsigned long long)b);
    }
}
int main() {
    for (uint32_t h = 0; h < 0x8000u; ++h) check(bits_f(h << 16));  // bf16
    for (uint32_t h = 0; h < 0x7c00u; ++h) {                         // f16, widened exactly
        const int ex = (int)(h >> 10), m = (int)(h & 0x3ff);
        check(ex ? std::ldexp((float)(1024 + m), ex - 25) : std::ldexp((float)m, -24));
    }
    std::mt19937 g(7);
    for (uint32_t ex = 0; ex < 255; ++ex) {  // float32: each exponent's edges and random ones
        check(bits_f(ex << 23)); check(bits_f((ex << 23) | 0x7fffffu)); check(bits_f((ex << 23) | 1u));
        for (int i = 0; i < 256; ++i) check(bits_f((ex << 23) | (g() & 0x7fffffu)));
    }
    check(-0.0f);
    std::printf("checked %lld (x, ce) pairs: %lld differ\n", checked, bad);
    return bad != 0;
}
