// gpu_host.h -- TEST EQUIPMENT: what a HIP compiler and a GPU give a kernel module, as host
// C++, so that a whole module (kernels/*.hip with the real rs_common.h, which takes its HIP
// branch here) builds with g++ and its entries run on a CPU. tests/kernel_device.py builds
// one shared library a module (with tests/kernel_host/module.cpp) and runs the real
// executor's launches on it.
//
// A block's threads are fibers on one OS thread, switched only where a GPU thread
// waits for others: __syncthreads (every live thread of the block) and the wave operations
// (__shfl, __shfl_xor, __shfl_up, __all, and NVIDIA's __reduce_add_sync / __reduce_max_sync
// for a wave-32 build that defines RS_REDUX: every lane of the wave, RS_WAVE of them). Between
// those points a fiber runs alone, so an atomic is a plain read-modify-write and a memory
// fence is nothing. The fibers that may run are resumed in an order drawn from a seeded
// generator after every barrier, and a grid's blocks run one after another in a drawn order:
// code whose result depended on the order of its atomics, or on which block of a row
// finishes last, gives different results from run to run. A barrier that not every live
// thread of the block reaches (or that they reach at different source lines), or a wave
// operation that not every lane reaches (or reaches at a different count of wave
// operations), stops the launch with the reason: on a GPU that is a hang or undefined
// behaviour.
//
// Not a GPU: it checks what the code computes (indices, bounds, the order of phases, the
// hand-off between blocks), not memory ordering between concurrently running blocks or
// speed. Only the launch table in module.cpp and the library's exports below are its own.
#pragma once
#include <ucontext.h>

#include <algorithm>
#include <csetjmp>
#include <cmath>
#include <math.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define RSH_ASAN 1
#endif

#define __device__
#define __host__
#define __global__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ static  // one block runs at a time: a static is the block's memory

struct rs_dim3 {
    unsigned x, y, z;
};
inline rs_dim3 threadIdx, blockIdx, blockDim, gridDim;

// ---- vector types and bit casts ----
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline float2 make_float2(float a, float b) { return {a, b}; }
inline uint2 make_uint2(unsigned a, unsigned b) { return {a, b}; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline int __float_as_int(float f) { int u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __clz(unsigned v) { return v ? __builtin_clz(v) : 32; }
inline int __clzll(unsigned long long v) { return v ? __builtin_clzll(v) : 64; }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __ffs(unsigned v) { return __builtin_ffs((int)v); }
inline unsigned __umulhi(unsigned a, unsigned b) {
    return (unsigned)(((unsigned long long)a * b) >> 32);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
#define __builtin_amdgcn_rcpf(b) (1.0f / (b))  // the AMD reciprocal instruction, to ~1 ulp
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __fmul_rn(float a, float b) { return a * b; }  // built with -ffp-contract=off
inline float __fadd_rn(float a, float b) { return a + b; }

// ---- atomics and fences: a fiber is never interrupted between two switch points ----
template <typename T> inline T atomicAdd(T* p, T v) { const T o = *p; *p = o + v; return o; }
template <typename T> inline T atomicMax(T* p, T v) { const T o = *p; if (v > o) *p = v; return o; }
template <typename T> inline T atomicMin(T* p, T v) { const T o = *p; if (v < o) *p = v; return o; }
template <typename T> inline T atomicExch(T* p, T v) { const T o = *p; *p = v; return o; }
template <typename T> inline T atomicCAS(T* p, T cmp, T v) {
    const T o = *p;
    if (o == cmp) *p = v;
    return o;
}
inline unsigned atomicInc(unsigned* p, unsigned lim) {  // CUDA's and HIP's wrap-around rule
    const unsigned o = *p;
    *p = o >= lim ? 0u : o + 1u;
    return o;
}
inline void __threadfence() {}
inline void __threadfence_block() {}

// ---- the fibers ----
namespace rsh {

enum State { RUN, AT_BLOCK, AT_WAVE, DONE };

// A context switch that saves what the x86-64 SysV ABI makes a callee keep (rbx, rbp,
// r12-r15, the stack pointer, MXCSR and the x87 control word) and nothing else: no system
// call (swapcontext makes two, to save and restore the signal mask) and nothing for
// AddressSanitizer to intercept (its swapcontext hook clears the shadow of the whole stack:
// an ASan run spent 90 % of its time in the kernel). Other hosts take ucontext.
#if defined(__x86_64__) && !defined(RSH_UCONTEXT)
#define RSH_ASM_SWITCH 1
extern "C" void rsh_switch(void** save_sp, void* to_sp);
asm(R"(
    .text
    .globl rsh_switch
    .hidden rsh_switch
    .type rsh_switch, @function
rsh_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size rsh_switch, .-rsh_switch
)");
#endif

struct Fiber {
#ifdef RSH_ASM_SWITCH
    void* sp = nullptr;  // the saved stack pointer while it does not run
#else
    ucontext_t ctx;
#endif
    char* stack = nullptr;
    State state = DONE;
    unsigned long long wave_ops = 0;  // wave operations this thread has made
    int line = 0;                     // the source line of the barrier it waits at
};

constexpr size_t kStack = 512 * 1024;  // the engine keeps arrays per thread (its registers)
constexpr int kMaxThreads = 1024;

inline std::vector<Fiber> fibers;
#ifdef RSH_ASM_SWITCH
inline void* sched_sp = nullptr;
#else
inline ucontext_t sched;
#endif
inline int cur = 0;
inline int wave = 0;
inline void (*body)(void*) = nullptr;
inline void* body_arg = nullptr;
inline std::mt19937_64 rng;
inline char fail[512] = {0};  // the first error of a launch ("" when none)
inline std::jmp_buf stopped;  // set by launch: stop() returns there (scheduler side only)
alignas(16) inline unsigned char slots[2][kMaxThreads][8];  // the wave exchange, two rounds
#ifdef RSH_ASAN
inline void* fake_stack = nullptr;
inline const void* sched_bottom = nullptr;
inline size_t sched_size = 0;
#endif

[[noreturn]] inline void stop(const char* what) {
    std::snprintf(fail, sizeof fail, "%s (block %u,%u thread %d)", what, blockIdx.x, blockIdx.y,
                  cur);
    std::longjmp(stopped, 1);
}

// From the running fiber to the scheduler.
inline void to_sched() {
#ifdef RSH_ASM_SWITCH
    rsh_switch(&fibers[cur].sp, sched_sp);
#else
    swapcontext(&fibers[cur].ctx, &sched);
#endif
}

inline void switch_to_sched(State st) {
    fibers[cur].state = st;
#ifdef RSH_ASAN
    __sanitizer_start_switch_fiber(&fake_stack, sched_bottom, sched_size);
#endif
    to_sched();
#ifdef RSH_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, &sched_bottom, &sched_size);
#endif
    threadIdx.x = (unsigned)cur;
}

[[noreturn]] inline void entry() {
#ifdef RSH_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &sched_bottom, &sched_size);
#endif
    threadIdx.x = (unsigned)cur;
    body(body_arg);
    fibers[cur].state = DONE;
#ifdef RSH_ASAN
    __sanitizer_start_switch_fiber(nullptr, sched_bottom, sched_size);  // this stack is done
#endif
    to_sched();
    std::abort();  // never resumed
}

inline void resume(int i) {
    cur = i;
    threadIdx = {(unsigned)i, 0u, 0u};
#ifdef RSH_ASAN
    void* fs = nullptr;
    __sanitizer_start_switch_fiber(&fs, fibers[i].stack, kStack);
#endif
#ifdef RSH_ASM_SWITCH
    rsh_switch(&sched_sp, fibers[i].sp);
#else
    swapcontext(&sched, &fibers[i].ctx);
#endif
#ifdef RSH_ASAN
    __sanitizer_finish_switch_fiber(fs, nullptr, nullptr);
#endif
}

// A fresh fiber: its first switch "returns" into entry() at the top of its stack.
inline void start(Fiber& f) {
    if (!f.stack) f.stack = (char*)std::malloc(kStack);
#ifdef RSH_ASM_SWITCH
    unsigned long long* top = (unsigned long long*)(f.stack + kStack);  // 16-byte aligned
    top[-1] = 0;                                      // entry's return address: none
    top[-2] = (unsigned long long)(void (*)())entry;  // what rsh_switch's ret jumps to
    for (int r = 3; r <= 8; ++r) top[-r] = 0;         // rbp, rbx, r12-r15
    unsigned csr[2];
    asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(csr[0]), "=m"(csr[1]));
    std::memcpy(&top[-9], csr, 8);
    f.sp = &top[-9];
#else
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStack;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, (void (*)())entry, 0);
#endif
    f.state = RUN;
    f.wave_ops = 0;
}

// Runs one block of n threads to the end.
inline void run_block(int n) {
    if ((int)fibers.size() < n) fibers.resize(n);
    for (int i = 0; i < n; ++i) start(fibers[i]);
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    for (;;) {
        std::shuffle(order.begin(), order.end(), rng);
        for (int i : order)
            if (fibers[i].state == RUN) resume(i);
        // Nobody can run: release the waves whose every lane waits at the same operation,
        // else the block at a barrier every live thread waits at, else nothing can move.
        bool released = false, all_done = true, all_block = true, any_done = false;
        for (int w0 = 0; w0 < n; w0 += wave) {
            int at = 0;
            for (int i = w0; i < w0 + wave && i < n; ++i) at += fibers[i].state == AT_WAVE;
            if (at == 0) continue;
            if (at != wave) {
                cur = w0;
                stop("a wave operation not every lane of the wave reaches");
            }
            for (int i = w0; i < w0 + wave; ++i) {
                if (fibers[i].wave_ops != fibers[w0].wave_ops) {
                    cur = i;
                    stop("the lanes of a wave at different wave operations");
                }
                fibers[i].state = RUN;
            }
            released = true;
        }
        if (released) continue;
        for (int i = 0; i < n; ++i) {
            all_done = all_done && fibers[i].state == DONE;
            any_done = any_done || fibers[i].state == DONE;
            all_block = all_block && fibers[i].state == AT_BLOCK;
        }
        if (all_done) return;
        if (!all_block) {
            for (int i = 0; i < n; ++i)
                if (fibers[i].state == AT_BLOCK) cur = i;
            stop(any_done ? "__syncthreads after some threads of the block returned"
                          : "no thread can run");
        }
        for (int i = 0; i < n; ++i) {
            if (fibers[i].line != fibers[0].line) {
                cur = i;
                stop("threads of the block at different barriers");
            }
            fibers[i].state = RUN;
        }
    }
}

inline int lane() { return cur % wave; }

// Wave exchange: every lane publishes v, waits for its wave, then reads lane src's value.
template <typename T> inline T exchange(T v, int src) {
    static_assert(sizeof(T) <= 8, "gpu_host: a shuffle of more than 8 bytes");
    Fiber& f = fibers[cur];
    const int par = (int)(f.wave_ops++ & 1);
    std::memcpy(slots[par][cur], &v, sizeof(T));
    switch_to_sched(AT_WAVE);
    T r;
    std::memcpy(&r, slots[par][cur - lane() + src], sizeof(T));
    return r;
}

// Wave fold: every lane publishes v, waits for its wave, then folds op over the wave's values
// (lane 0 first); every lane gets the result (__all, __any, the reductions).
template <typename T, typename Op> inline T wave_fold(T v, Op op) {
    static_assert(sizeof(T) <= 8, "gpu_host: a wave operation on more than 8 bytes");
    Fiber& f = fibers[cur];
    const int par = (int)(f.wave_ops++ & 1);
    std::memcpy(slots[par][cur], &v, sizeof(T));
    switch_to_sched(AT_WAVE);
    const int base = cur - lane();
    T r;
    std::memcpy(&r, slots[par][base], sizeof(T));
    for (int i = 1; i < wave; ++i) {
        T o;
        std::memcpy(&o, slots[par][base + i], sizeof(T));
        r = op(r, o);
    }
    return r;
}

}  // namespace rsh

// A barrier remembers its source line: threads of one block at two different barriers (a
// barrier in code only some of them run) are stopped, as a GPU may hang there.
inline void rsh_syncthreads(int line) {
    rsh::fibers[rsh::cur].line = line;
    rsh::switch_to_sched(rsh::AT_BLOCK);
}
#define __syncthreads() rsh_syncthreads(__LINE__)

template <typename T> inline T __shfl(T v, int src, int width = 0) {
    const int w = width ? width : rsh::wave;
    const int l = rsh::lane();
    return rsh::exchange(v, (l / w) * w + ((src % w) + w) % w);
}
template <typename T> inline T __shfl_xor(T v, int m, int width = 0) {
    const int w = width ? width : rsh::wave;
    const int l = rsh::lane();
    const int s = l ^ m;
    return rsh::exchange(v, (s / w == l / w) ? s : l);
}
template <typename T> inline T __shfl_up(T v, unsigned d, int width = 0) {
    const int w = width ? width : rsh::wave;
    const int l = rsh::lane();
    return rsh::exchange(v, (l % w) >= (int)d ? l - (int)d : l);
}
template <typename T> inline T __shfl_down(T v, unsigned d, int width = 0) {
    const int w = width ? width : rsh::wave;
    const int l = rsh::lane();
    return rsh::exchange(v, (l % w) + (int)d < w ? l + (int)d : l);
}
inline int __all(int p) {
    return rsh::wave_fold<int>(p ? 1 : 0, [](int a, int b) { return a & b; });
}
inline int __any(int p) {
    return rsh::wave_fold<int>(p ? 1 : 0, [](int a, int b) { return a | b; });
}

// NVIDIA's redux.sync (sm_80 and later), for a build that defines RS_REDUX: the unsigned
// sum (mod 2^32) or maximum over the wave. The kernels pass a full mask at wave 32 only
// (rs_common.h refuses RS_REDUX at another width); every lane must reach the call, as for
// the shuffles.
inline unsigned __reduce_add_sync(unsigned /*mask*/, unsigned v) {
    return rsh::wave_fold(v, [](unsigned a, unsigned b) { return a + b; });
}
inline unsigned __reduce_max_sync(unsigned /*mask*/, unsigned v) {
    return rsh::wave_fold(v, [](unsigned a, unsigned b) { return a > b ? a : b; });
}

// ---- a launch ----
namespace rsh {

// Runs body over a (gx, gy) grid of `block` threads, the blocks in an order drawn from seed.
// Returns 0, or 1 with the reason in fail.
inline int launch(void (*fn)(void*), void* arg, unsigned gx, unsigned gy, unsigned block,
                  unsigned long long seed) {
    fail[0] = 0;
    if (block == 0 || block > (unsigned)kMaxThreads || block % (unsigned)wave != 0) {
        std::snprintf(fail, sizeof fail, "block of %u threads (wave %d)", block, wave);
        return 1;
    }
    if (setjmp(stopped)) return 1;  // stop(): the launch is abandoned, fail says why
    rng.seed(seed);
    body = fn;
    body_arg = arg;
    gridDim = {gx, gy, 1u};
    blockDim = {block, 1u, 1u};
    std::vector<std::pair<unsigned, unsigned>> blocks;
    for (unsigned y = 0; y < gy; ++y)
        for (unsigned x = 0; x < gx; ++x) blocks.push_back({x, y});
    std::shuffle(blocks.begin(), blocks.end(), rng);
    for (auto [x, y] : blocks) {
        blockIdx = {x, y, 0u};
        run_block((int)block);
    }
    return 0;
}

}  // namespace rsh
