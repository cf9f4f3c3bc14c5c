"""Session 14 (issue 21): is the hardware's 2^x (PTX ex2.approx.ftz.f32, rs_exp2 on NVIDIA)
monotone non-decreasing? Checked exhaustively on the GPU over every float32 x from -Inf to 128
(adjacent pairs in value order, each a bit pattern and the next), with and without .ftz.

Why: a logit row's probability is p(v) = fmul(ex2(fma(v, c, -zc)), r) with c, r > 0 in the
row's ordinary mode (kernels/rs_logits.h). fma and fmul round monotonically, so p is monotone
in v exactly when ex2 is. Then a sub-chunk's largest probability is p of its largest logit, and
the logit engine could take the sub-chunk maxima on the raw (packed) logits, forming each
probability once, for the mass, instead of holding every row's probabilities as floats
(bench/results/2026-12-04-h200-session14, run 6: the logit engine is latency-bound with two
sub-chunks in flight a round). The answer holds for NVIDIA only; AMD's v_exp_f32 would need
its own check.

Usage on an NVIDIA GPU: python bench/experiments/ex2-monotone/ex2_monotone.py [OUT_JSON].
Not a library tool."""

from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent.parent
sys.path.insert(0, str(ROOT))

SOURCE = r"""
// Pairs of adjacent floats (bit patterns a and a + 1) for a in [start, start + count): among
// negatives (neg) a + 1 is the next float below a, among positives the next above. Counts the
// pairs whose 2^x decreases as x grows (and keeps the smallest such a), and negative results.
template <bool FTZ>
__device__ __forceinline__ float ex2(float x) {
    float y;
    if (FTZ) asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    else asm("ex2.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
template <bool FTZ>
__device__ void check(unsigned long long start, unsigned long long count, int neg,
                      unsigned long long* out) {
    unsigned long long bad = 0, negative = 0;
    unsigned int first = 0xffffffffu;
    const unsigned long long step = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
         i < count; i += step) {
        const unsigned int a = (unsigned int)(start + i);
        // lo < hi in value: among negatives a + 1 is below a; among positives a + 1 is above
        const float x_hi = __uint_as_float(neg ? a : a + 1u);
        const float x_lo = __uint_as_float(neg ? a + 1u : a);
        const float y_lo = ex2<FTZ>(x_lo), y_hi = ex2<FTZ>(x_hi);
        if (y_lo > y_hi) { ++bad; first = a < first ? a : first; }
        if (y_lo < 0.0f || y_hi < 0.0f) ++negative;
    }
    if (bad) { atomicAdd(&out[0], bad); atomicMin((unsigned int*)&out[1], first); }
    if (negative) atomicAdd(&out[2], negative);
}
extern "C" __global__ void ex2_check_ftz(unsigned long long s, unsigned long long n, int neg,
                                         unsigned long long* out) { check<true>(s, n, neg, out); }
extern "C" __global__ void ex2_check(unsigned long long s, unsigned long long n, int neg,
                                     unsigned long long* out) { check<false>(s, n, neg, out); }
"""


def main(out_path: str | None) -> int:
    import numpy as np

    from rocsample.backends.cuda import CudaRuntime
    from rocsample.backends.runtime import pack_args
    from rocsample.toolchains import get_toolchain

    tc = get_toolchain("nvrtc")
    img, log = tc.compile(SOURCE.encode(), "ex2_monotone.cu", {}, ["--gpu-architecture=sm_90"])
    if img is None:
        raise SystemExit(log)
    rt = CudaRuntime(0)
    mod = rt.load_module(img)
    bits = lambda f: struct.unpack("<I", struct.pack("<f", f))[0]  # noqa: E731
    # negatives: -0.0 (0x80000000) down to -Inf (0xff800000); positives: +0.0 up to 128.0
    # control: the positive range with its pairs' order reversed (neg = 1), where every pair
    # whose 2^x differs must count as decreasing: the check runs and counts (most adjacent
    # floats there share their 2^x: all 864 M below 2^-24 give 1.0)
    ranges = {"negative": (0x80000000, 0xff800000 - 0x80000000, 1),
              "positive": (0, bits(128.0), 0),
              "control (positive, order reversed)": (0, bits(128.0), 1)}
    out = rt.alloc(24)
    res = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    ok = True
    for entry in ("ex2_check_ftz", "ex2_check"):
        f = rt.get_function(mod, entry)
        for name, (start, count, neg) in ranges.items():
            host = np.array([0, 0xffffffff, 0], np.uint64)
            rt.copy_from_host(out, host.ctypes.data, 24)
            t0 = time.perf_counter()
            rt.launch(f, (132 * 16, 1), 256, pack_args(["u64", "u64", "i32", "ptr"],
                                                        [start, count, neg, out]), 0)
            rt.copy_to_host(host.ctypes.data, out, 24)
            bad, first, negative = int(host[0]), int(host[1]) & 0xffffffff, int(host[2])
            res[f"{entry} {name}"] = {"pairs": count, "decreasing": bad,
                                      "first_bits": hex(first) if bad else None,
                                      "negative_results": negative,
                                      "seconds": round(time.perf_counter() - t0, 3)}
            print(entry, name, res[f"{entry} {name}"], flush=True)
            if name.startswith("control"):
                ok = ok and bad > 0
            elif entry == "ex2_check_ftz":
                ok = ok and bad == 0 and negative == 0
    rt.free(out)
    if out_path:
        Path(out_path).write_text(json.dumps(res, indent=1))
    print("ex2.approx.ftz.f32 monotone non-decreasing on [-Inf, 128] (control counted):", ok)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
