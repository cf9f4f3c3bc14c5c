// module.cpp -- TEST EQUIPMENT: one kernel module (kernels/*.hip, unchanged) built as a host
// shared library on gpu_host.h, with a launch entry point that takes what cuLaunchKernel
// takes (the entry's name, the grid, the block and an array of pointers to the arguments).
// Built by tests/kernel_device.py:
//   g++ -shared -fPIC -DRS_WAVE=W -DRS_BLOCK=B -DRS_ABI_VERSION=N
//       -DRSH_MODULE='"topk_sampling.hip"' -DRSH_ENTRIES='X(name) X(name2) ...' module.cpp
#include "gpu_host.h"
#include RSH_MODULE

#include <cstring>
#include <type_traits>
#include <utility>

namespace {

// Calls f with its arguments read from p[0..n): each p[i] points at a value of the i-th
// parameter's type (as the driver's kernelParams do).
template <typename... A, size_t... I>
void apply(void (*f)(A...), void** p, std::index_sequence<I...>) {
    f(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(p[I])...);
}
template <typename... A> void apply(void (*f)(A...), void** p) {
    apply(f, p, std::index_sequence_for<A...>{});
}
template <typename... A> constexpr int arity(void (*)(A...)) { return (int)sizeof...(A); }

struct Entry {
    const char* name;
    void (*run)(void*);
    int nargs;
};

#define X(NAME) \
    {#NAME, [](void* p) { apply(NAME, static_cast<void**>(p)); }, arity(NAME)},
const Entry kEntries[] = {RSH_ENTRIES};
#undef X

}  // namespace

extern "C" {

// Launches entry `name` over a (gx, gy) grid of `block` threads with the kernel arguments
// params[0..nargs) (nargs must be the entry's count); blocks and threads run in an order
// drawn from seed. Returns 0, or 1 with the reason in rsh_error().
int rsh_launch(const char* name, unsigned gx, unsigned gy, unsigned block, void** params,
               int nargs, unsigned long long seed) {
    for (const Entry& e : kEntries) {
        if (std::strcmp(e.name, name) != 0) continue;
        if (nargs != e.nargs) {
            std::snprintf(rsh::fail, sizeof rsh::fail, "%s takes %d arguments, got %d", name,
                          e.nargs, nargs);
            return 1;
        }
        rsh::wave = RS_WAVE;
        return rsh::launch(e.run, params, gx, gy, block, seed);
    }
    std::snprintf(rsh::fail, sizeof rsh::fail, "no entry %s in this module", name);
    return 1;
}

const char* rsh_error() { return rsh::fail; }

// Device memory of exactly n bytes (so that AddressSanitizer, when built in, sees a read
// past it), 256-byte aligned like the drivers'.
void* rsh_alloc(size_t n) {
    void* p = nullptr;
    return posix_memalign(&p, 256, n ? n : 1) == 0 ? p : nullptr;
}
void rsh_free(void* p) { std::free(p); }
}
