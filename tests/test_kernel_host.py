"""The real sampling kernels run on the CPU (tests/kernel_device.py): the GPU suites'
exactness tests, on this machine, at wave 32 and at wave 64.

``kernels/*.hip`` are built unchanged by g++ on tests/kernel_host/gpu_host.h (the HIP branch
of rs_common.h, a block's threads as fibers) and launched by the real executor, so the tokens
the GPU tests demand of a device (numpy's, exactly, on every engine path; per-request seeds;
half-precision rows; softmax within float rounding) are demanded here of the kernels' own
code, in CI. Wave 64 is what CDNA (gfx942, gfx950) runs and no machine of ours has: here is
the one place its shuffles, wave sums and per-wave slots run. The wave-32 build takes the
H200's maxima of packed 2-byte rows and its wave reductions (``RS_PACKED_MAX``,
``RS_REDUX``: kernel_device.library_defines). The wave-32 device has the H200's 132 compute
units, the wave-64 one 16, so that its rows=None cases (more rows than units: one block a
row) stay small. Two tests show the harness can fail: a kernel whose threads disagree at a
barrier or a wave operation is stopped with the reason, and a changed kernel draws other
tokens. The last runs the kernels under AddressSanitizer (tests/kernel_asan.py).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import rocsample
from rocsample.backends.gpu import GpuBackend

from . import test_gpu, test_gpu_half, test_gpu_seeds
from .conftest import need
from .host_device import TwinKernels
from .kernel_device import gxx, use_as_gpu


@pytest.fixture(autouse=True)
def _gxx():
    need(gxx() is not None, "g++ not found (make setup installs it)")


DEVICES = {"wave32": dict(wave=32, sm_count=132), "wave64": dict(wave=64, sm_count=16)}


@pytest.fixture(scope="module", params=list(DEVICES))
def kgpu(request):
    from .kernel_device import KernelDevice, build_all

    need(gxx() is not None, "g++ not found (make setup installs it)")
    build_all(DEVICES[request.param]["wave"])
    b = GpuBackend(KernelDevice(**DEVICES[request.param]))
    b.kernels = TwinKernels()
    yield b
    b.close()


@pytest.fixture
def on_host(kgpu, monkeypatch):
    """The public API's GPU backend is the host-kernel device (the GPU tests pass
    ``backend=gpu.name``)."""
    kgpu.rt.ran.clear()
    return use_as_gpu(kgpu, monkeypatch)


# (test function, its parameters): chosen to take every engine path (one read; the top-p
# pipeline; the full-row fallbacks; min-p candidates and their overflow; one block a row and
# several), every entry type, and shapes small enough for a CPU.
GPU_TESTS = [
    (test_gpu.test_gpu_matches_numpy_exactly, (7, 2, "normal")),
    (test_gpu.test_gpu_matches_numpy_exactly, (7, 32000, "peaked")),
    (test_gpu.test_gpu_matches_numpy_exactly, (32, 31, "peaked")),
    (test_gpu.test_gpu_matches_numpy_exactly, (128, 1000, "normal")),
    (test_gpu.test_topk_bound_of_one_block_rows, ()),
    (test_gpu.test_topp_bin_range_and_histogram_across_layouts, ()),
    (test_gpu.test_per_row_parameters, ()),
    (test_gpu.test_topk_rows_with_fewer_nonzeros_than_k, (4,)),
    (test_gpu.test_plain_rows_at_many_scales, (5,)),
    (test_gpu.test_min_p_candidates_and_their_overflow, (2,)),
    (test_gpu.test_topp_cut_with_ties_among_few_gathered, (4, 32000, 25)),
    (test_gpu.test_topp_cut_with_ties_among_few_gathered, (4, 151936, 25)),  # the digit path
    (test_gpu.test_topp_cut_with_ties_among_few_gathered, (2, 151936, 600)),
    (test_gpu.test_bad_rows_give_minus_one, ()),
    (test_gpu.test_softmax_and_temperature, ()),
    (test_gpu.test_softmax_with_several_blocks_a_row, (3, 50001)),
    (test_gpu_seeds.test_each_row_draws_its_own_token_on_every_path,
     ("topk", dict(top_k=50), 3, 33001)),
    (test_gpu_seeds.test_each_row_draws_its_own_token_on_every_path,
     ("fused", dict(top_k=50, top_p=0.9, min_p=0.02), None, 9000)),
    (test_gpu_seeds.test_each_row_draws_its_own_token_on_every_path,
     ("topp", dict(top_p=0.9), 3, 9000)),
    (test_gpu_seeds.test_each_row_draws_its_own_token_on_every_path,
     ("auto", {}, None, 9000)),
    (test_gpu_seeds.test_each_row_draws_its_own_token_on_every_path,
     ("fused", dict(top_k=500), 3, 9000)),
    (test_gpu_seeds.test_each_row_draws_its_own_token_on_every_path,
     ("fused", dict(min_p=0.05), None, 9000)),
    (test_gpu_half.test_half_probs_draw_the_widened_float32_tokens, ("bf16", 32000, 5)),
    (test_gpu_half.test_half_probs_draw_the_widened_float32_tokens, ("f16", 32000, None)),
    (test_gpu_half.test_signed_zeros_and_bad_values_in_every_sub_chunk_position,
     ("bf16", 9)),
    (test_gpu_half.test_signed_zeros_and_bad_values_in_every_sub_chunk_position,
     ("bf16", None)),
    (test_gpu_half.test_signed_zeros_and_bad_values_in_every_sub_chunk_position,
     ("f16", None)),
    (test_gpu_half.test_sample_from_logits_draws_what_sampling_its_softmax_draws,
     ("bf16", dict(top_k=50, top_p=0.9))),
    (test_gpu_half.test_half_results_are_the_float32_results_rounded_once,
     ("bf16", 33001, 3)),
]


def _id(case) -> str:
    fn, args = case
    return f"{fn.__module__.rsplit('.', 1)[1]}.{fn.__name__}{list(args)}"


@pytest.mark.parametrize("case", GPU_TESTS, ids=[_id(c) for c in GPU_TESTS])
def test_gpu_suite_on_the_host_kernels(on_host, case):
    fn, args = case
    fn(on_host, *args)
    assert on_host.rt.ran, "no real kernel ran"


def _random_call(rng: np.random.Generator) -> tuple[np.ndarray, dict, str, str]:
    """One random sampling call: its input (probabilities or logits), arguments, method and
    dtype. Vocabularies log-uniform over 1..40000, rows 1..12, a mix of scalar and per-row
    filters and seeds, rows of several shapes (flat, peaked, sparse, quantised)."""
    rows = int(rng.integers(1, 13))
    vocab = int(np.exp(rng.uniform(0, np.log(40000))))
    z = rng.standard_normal((rows, vocab)) * rng.uniform(0.5, 6)
    shape = rng.integers(4)
    if shape == 1:
        z[:, rng.integers(0, vocab, rows)] += 20  # peaked
    elif shape == 2:
        z[rng.random((rows, vocab)) < 0.9] = -np.inf  # sparse, one finite logit a row kept
        z[np.arange(rows), rng.integers(0, vocab, rows)] = rng.standard_normal(rows)
    elif shape == 3:
        z = np.round(z)  # ties
    z = z.astype(np.float32)
    kw: dict = {}
    per_row = rng.random() < 0.3
    if rng.random() < 0.5:
        k = rng.integers(0, min(vocab, 400) + 1, rows) if per_row else int(
            rng.choice([1, 2, 50, 128, 129, 300]))
        kw["top_k"] = k.astype(np.int32) if per_row else k
    if rng.random() < 0.5:
        kw["top_p"] = (rng.uniform(0.05, 1.0, rows).astype(np.float32) if per_row
                       else float(rng.choice([1e-6, 0.3, 0.9, 0.999])))
    if rng.random() < 0.3:
        kw["min_p"] = (rng.uniform(0, 0.5, rows).astype(np.float32) if per_row
                       else float(rng.choice([0.01, 0.2, 1.0])))
    if rng.random() < 0.4:
        kw["seed"] = rng.integers(0, 2**63, rows, dtype=np.int64)
        kw["offset"] = rng.integers(0, 2**40, rows, dtype=np.int64)
    else:
        kw["seed"], kw["offset"] = int(rng.integers(0, 2**32)), int(rng.integers(0, 99))
    method = "auto"
    if set(kw) - {"seed", "offset"} == {"top_p"} and rng.random() < 0.5:
        method = "topp"
    elif rng.random() < 0.3:
        method = "fused"
    kind = str(rng.choice(["f32", "f16", "bf16"]))
    logits = rng.random() < 0.3
    return z, dict(kw, temperature=float(rng.uniform(0.3, 1.5))) if logits else kw, method, kind


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_calls_draw_numpy_tokens(on_host, seed):
    """Forty random calls (shapes, filters scalar and per row, per-request seeds, methods,
    float and 2-byte rows, probabilities and logits; _random_call) draw exactly the numpy
    backend's tokens from the same widened values; from logits, the tokens numpy draws
    from the kernels' own softmax."""
    from rocsample.buffers.dtypes import widen_to_f32

    rng = np.random.default_rng(seed)
    for i in range(40):
        z, kw, method, kind = _random_call(rng)
        x = z if kind == "f32" else test_gpu_half._half(z, kind)
        wide = widen_to_f32(x) if kind != "f32" else x
        if "temperature" in kw:
            t = kw.pop("temperature")
            got = rocsample.sample_from_logits(x, temperature=t, backend="cuda", **kw)
            probs = rocsample.softmax(x, t, backend="cuda")
            want = rocsample.sample(probs, backend="cpu", **kw)
        else:
            probs = rocsample.softmax(wide, backend="cpu")
            x = probs if kind == "f32" else test_gpu_half._half(probs, kind)
            # (a 2-byte row whose values all round to 0 is invalid: token -1 on both sides)
            got = rocsample.sample(x, method=method, backend="cuda", check_inputs=False, **kw)
            want = rocsample.sample(widen_to_f32(x) if kind != "f32" else x, backend="cpu",
                                    check_inputs=False, **kw)
        assert np.array_equal(got, want), (i, z.shape, kind, method, kw)
    assert on_host.rt.ran

def test_engine_fallbacks_on_the_host_kernels(on_host):
    """The full-row fallbacks (flat and quantised rows, k > 128, crowded top-p cut bins) at
    both waves: the longest of the GPU tests here (about a minute and a half a wave)."""
    test_gpu.test_engine_fallbacks_match_numpy(on_host)


def _topk_rows_against_numpy(rows: int, v: int, ks: tuple[int, ...],
                             capped: int = 0) -> None:
    """Flat, peaked, quantised (ties) and sparse rows of ``v`` elements, float and 2-byte:
    sample(top_k=k) on the host kernels draws numpy's tokens for every k in ``ks``. The last
    ``capped`` rows are u^1.71 / 16 (u uniform in [0, 1)): about 3.7 % of a sub-chunk in the
    top 11-bit key bin [0.9375, 1) / 16, which then holds the k-th largest of the first
    sub-chunks and of the row alike for k <= 128."""
    from rocsample.buffers.dtypes import widen_to_f32

    rng = np.random.default_rng(5)
    z = rng.standard_normal((rows, v)) * np.repeat([0.5, 2.0, 6.0, 1.0], rows // 4)[:, None]
    z[rows // 4: rows // 2, rng.integers(0, v, 60)] += 8.0  # peaked rows
    z[rows // 2:, :] = np.round(z[rows // 2:, :] * 2)  # ties
    z[-5:, rng.random(v) < 0.97] = -np.inf  # sparse rows
    probs = rocsample.softmax(z.astype(np.float32), backend="cpu")
    if capped:
        probs[-capped:] = (rng.random((capped, v)) ** 1.71 / 16).astype(np.float32)
    for kind in ("f32", "bf16", "f16"):
        x = probs if kind == "f32" else test_gpu_half._half(probs, kind)
        wide = x if kind == "f32" else widen_to_f32(x)
        for k in ks:
            got = rocsample.sample(x, top_k=k, seed=k, backend="cuda", check_inputs=False)
            want = rocsample.sample(wide, top_k=k, seed=k, backend="cpu", check_inputs=False)
            assert np.array_equal(got, want), (kind, k)


def test_topk_rows_of_many_rounds_a_block(on_host):
    """Top-k rows of 17 sub-chunks, the candidate scan taking several rounds a block (at
    wave 64: more rows than units), k from 1 to 1000 (above RS_KCAND = 128: the full-row
    path): numpy's tokens."""
    _topk_rows_against_numpy(40, 16 * 4096 + 77, (1, 50, 300, 1000))
    assert on_host.rt.ran


def test_topk_rows_of_long_spans(on_host, monkeypatch):
    """Rows of 34 sub-chunks at 16 units: 32 rows (one block a row at both waves, 17 rounds)
    and 8 rows (four blocks a row). At k 100 and 128, and on the capped rows at every k, the
    candidates at the first sub-chunk's bound would pass RS_SHCAND (3072) for the row, so
    the recipe launches the *_rise entries (kernels/*_rise.hip), whose bound rises after
    rounds 1, 2, 4, ... (an edge one bin too high there failed this test at both waves,
    session 22); at k 1 and 50 the normal rows stay under it and take the entries of
    before. Numpy's tokens either way."""
    monkeypatch.setattr(on_host, "sm_count", 16)
    for rows in (32, 8):
        _topk_rows_against_numpy(rows, 33 * 4096 + 77, (1, 50, 100, 128), capped=3)
    assert on_host.rt.ran


# ---- the harness can fail ----

BAD_KERNELS = r"""
#include "rs_common.h"
extern "C" __global__ void bad_barrier(int* out) {
    if (threadIdx.x < RS_WAVE) __syncthreads();   // a wave at one barrier,
    else __syncthreads();                          // the others at another
    out[threadIdx.x] = 1;
}
extern "C" __global__ void bad_return(int* out) {
    if (threadIdx.x == 3) return;                  // one thread gone, the rest wait
    __syncthreads();
    out[threadIdx.x] = 1;
}
extern "C" __global__ void bad_wave(int* out) {
    int v = threadIdx.x;
    if (threadIdx.x % RS_WAVE < 5) v = RS_SHFL_XOR(v, 1);  // five lanes of the wave
    out[threadIdx.x] = v;
}
extern "C" __global__ void wave_sums(int* out) {   // what a good kernel computes
    const int v = (int)threadIdx.x;
    out[threadIdx.x] = (int)rs_wave_sum_u32((rs_u32)v) * 1000 + RS_SHFL(v, 0) % 1000;
}
"""


def _module(tmp_path, source: str, entries: list[str], wave: int,
            rs_block: int = 128, defines: tuple[str, ...] = ()) -> ctypes.CDLL:
    from .kernel_device import compile_module

    (tmp_path / "k.hip").write_text(source)
    so = tmp_path / f"k{wave}.so"
    compile_module("k.hip", entries, wave, rs_block, so, include=(tmp_path,), defines=defines)
    lib = ctypes.CDLL(str(so))
    lib.rsh_error.restype = ctypes.c_char_p
    return lib


def _launch(lib, name: str, out: np.ndarray, block: int = 128) -> tuple[int, str]:
    ptr = ctypes.c_void_p(out.ctypes.data)
    params = (ctypes.c_void_p * 1)(ctypes.addressof(ptr))
    rc = lib.rsh_launch(name.encode(), 1, 1, block, params, 1, ctypes.c_ulonglong(7))
    return rc, lib.rsh_error().decode()


@pytest.mark.parametrize("wave", [32, 64])
def test_the_harness_stops_kernels_a_gpu_would_hang_on(tmp_path, wave):
    """Threads of a block at two different barriers, a barrier after a thread returned, a
    shuffle only some lanes make: each launch is stopped and says why (on a GPU: a hang or undefined
    behaviour). A good kernel's wave sums and broadcasts come out as a GPU's would."""
    lib = _module(tmp_path, BAD_KERNELS, ["bad_barrier", "bad_return", "bad_wave", "wave_sums"],
                  wave)
    out = np.zeros(128, np.int32)
    for name, why in (("bad_barrier", "threads of the block at different barriers"),
                      ("bad_return", "__syncthreads after some threads of the block returned"),
                      ("bad_wave", "a wave operation not every lane of the wave reaches")):
        rc, msg = _launch(lib, name, out)
        assert rc == 1 and why in msg, (name, msg)
    rc, msg = _launch(lib, "wave_sums", out)
    assert rc == 0, msg
    t = np.arange(128)
    base = t - t % wave
    want = (base * wave + wave * (wave - 1) // 2) * 1000 + base % 1000
    np.testing.assert_array_equal(out, want)
    rc, msg = _launch(lib, "wave_sums", out, block=100)
    assert rc == 1 and "block of 100 threads" in msg


def test_a_changed_kernel_draws_other_tokens(tmp_path, monkeypatch):
    """The tokens above come from the kernels' code: the same call on a copy of kernels/
    whose Philox generator has another multiplier gives other tokens."""
    from rocsample import registry

    from . import kernel_device

    src = registry.kernel_source_dir()
    for p in src.iterdir():
        if p.suffix in (".h", ".hip"):
            (tmp_path / p.name).write_bytes(p.read_bytes())
    common = (tmp_path / "rs_common.h").read_text()
    assert common.count("0xD2511F53u") == 2  # Philox4x32's first multiplier, made another
    (tmp_path / "rs_common.h").write_text(common.replace("0xD2511F53u", "0xD2511F55u"))
    monkeypatch.setattr(registry, "kernel_source_dir", lambda: tmp_path)
    monkeypatch.setattr(kernel_device, "kernel_source_dir", lambda: tmp_path)
    monkeypatch.setattr(kernel_device, "_LIBS", {})
    b = GpuBackend(kernel_device.KernelDevice())
    b.kernels = TwinKernels()
    probs = test_gpu._probs(np.random.default_rng(1), 64, 3000)
    got = b.sample(probs, rocsample.validation.sampling_params(64, seed=3))
    want = rocsample.sample(probs, seed=3, backend="cpu")
    assert b.rt.ran and (got != want).sum() > 16
    b.close()


CAND_KERNEL = r"""
#include "rs_engine_block.h"
// For each bound lo a thread takes (its share of: 1, every 11-bit key bin's lower edge, and
// each 37th finite pattern's key and its neighbours), every finite 2-byte pattern with the
// sign bit clear in each of the eight positions: rs_cand_valid's packed test against the
// one-by-one test rs_cand_any. out[thread] = the mismatches it found, out[128 + thread] the
// (lo, pattern) pairs it tried.
template <typename T>
__device__ void rs_cand_check(int* out, rs_u32 finite) {
    const int nlo = 1 + 2039 + 3 * (int)(finite / 37 + 1);
    for (int l = (int)threadIdx.x; l < nlo; l += (int)blockDim.x) {
        rs_u32 lo;
        if (l == 0) lo = 1u;
        else if (l < 2040) lo = (rs_u32)l << 20;
        else {
            const int r = l - 2040;
            T e;
            e.bits = (unsigned short)((r / 3) * 37 % finite);
            lo = __float_as_uint(rs_num<T>::up(e)) + (rs_u32)(r % 3) - 1u;
            if (lo < 1u) lo = 1u;
        }
        const rs_u32 d = rs_cand_d((const T*)0, lo);
        for (rs_u32 i = 0; i < finite; ++i) {
            rs_held8<T> h;
            for (int k = 0; k < 4; ++k) {
                const rs_u32 a = (i + (rs_u32)(2 * k) * 4099u) % finite;
                const rs_u32 b = (i + (rs_u32)(2 * k + 1) * 4099u) % finite;
                h.w[k] = a | b << 16;
            }
            out[threadIdx.x] += rs_cand_valid(h, lo, d) != rs_cand_any(h, lo);
            out[128 + threadIdx.x] += 1;
        }
    }
}
extern "C" __global__ void cand_f16(int* out) { rs_cand_check<rs_f16>(out, 0x7c00u); }
extern "C" __global__ void cand_bf16(int* out) { rs_cand_check<rs_bf16>(out, 0x7f80u); }
"""


@pytest.mark.parametrize("kind", ["f16", "bf16"])
def test_packed_candidate_test_is_the_one_by_one_test(tmp_path, kind):
    """rs_scan_cand's two-elements-an-addition test of a packed 2-byte row's candidates
    (rs_cand_valid, its bound from rs_cand_d's bisection) marks exactly the elements whose
    widened key is >= the bound, for every finite pattern in every position of a thread's
    eight, at every bound the scan can hold (1 and each bin edge) and at the keys of the
    patterns themselves and next to them."""
    from rocsample.registry import BLOCK_SIZE

    lib = _module(tmp_path, CAND_KERNEL, ["cand_f16", "cand_bf16"], 32, BLOCK_SIZE)
    out = np.zeros(256, np.int32)
    rc, msg = _launch(lib, f"cand_{kind}", out)
    assert rc == 0, msg
    finite = 0x7C00 if kind == "f16" else 0x7F80
    assert out[128:].sum() == (1 + 2039 + 3 * (finite // 37 + 1)) * finite
    assert out[:128].sum() == 0


MAX_KERNEL = r"""
#include "rs_engine_block.h"
// Every 2-byte pattern i (finite or not, either sign) in each position j of a thread's eight,
// the others 0 (f = 0) or finite patterns with the sign bit clear (f = 1): sm_90's packed
// maximum (the rs_held_max overload, rs_held_max2) against the one-by-one maximum (the
// template, on the same words). The contract rs_scan_plain and rs_scan_cand rely on: below
// 0x7f800000 for one exactly when for the other, and then equal (the largest key).
// out[thread] = violations, out[128 + thread] = cases, out[256] = cases where -0.0 gave
// 0xffffffff (the packed overload's answer: the one-by-one gives 0x80000000).
template <typename T>
__device__ void rs_max_check(int* out, rs_u32 finite) {
    for (rs_u32 i = threadIdx.x; i < 65536u; i += blockDim.x) {
        for (int j = 0; j < 8; ++j) {
            for (rs_u32 f = 0; f < 2; ++f) {
                rs_held8<T> h;
                for (int k = 0; k < 4; ++k) h.w[k] = 0u;
                for (int k = 0; k < 8; ++k) {
                    const rs_u32 v = k == j ? i : f * ((i + (rs_u32)k * 4099u) % finite);
                    h.w[k >> 1] |= (k & 1) ? v << 16 : v;
                }
                const rs_u32 p = rs_held_max(h);
                const rs_u32 g = rs_held_max(static_cast<const rs_held8_2<T>&>(h));
                const bool ok = (p < 0x7f800000u) == (g < 0x7f800000u) &&
                                (g >= 0x7f800000u || p == g);
                out[threadIdx.x] += ok ? 0 : 1;
                out[128 + threadIdx.x] += 1;
                if (i == 0x8000u && p == 0xffffffffu) atomicAdd(&out[256], 1);
            }
        }
    }
}
extern "C" __global__ void max_f16(int* out) { rs_max_check<rs_f16>(out, 0x7c00u); }
extern "C" __global__ void max_bf16(int* out) { rs_max_check<rs_bf16>(out, 0x7f80u); }
"""


@pytest.mark.parametrize("kind", ["f16", "bf16"])
def test_packed_maximum_keeps_the_one_by_one_contract(tmp_path, kind):
    """sm_90's maximum of a thread's eight packed 2-byte values (rs_held_max2: max.u16x2,
    here its portable twin, as the wave-32 library builds take it) agrees with the
    one-by-one maximum wherever the scans use the value, for every pattern in every
    position; and -0.0 takes the packed path's answer, so the overload is what ran."""
    from rocsample.registry import BLOCK_SIZE

    from .kernel_device import library_defines

    lib = _module(tmp_path, MAX_KERNEL, ["max_f16", "max_bf16"], 32, BLOCK_SIZE,
                  defines=library_defines(32))
    out = np.zeros(257, np.int32)
    rc, msg = _launch(lib, f"max_{kind}", out)
    assert rc == 0, msg
    assert out[128:256].sum() == 65536 * 8 * 2
    assert out[:128].sum() == 0
    assert out[256] == 8 * 2


HIST_KERNEL = r"""
#include "rs_engine_block.h"
// rs_hist_add2x8, the top-p histogram's adds, on the keys of case c (below): every thread makes
// its eight keys, adds them (Low: with their bits below 12; the last three cases hold keys
// without them, as 2-byte rows do), and the block writes the keys (out[(c * RS_BLOCK + t) *
// 8 + j]) and each bin's sum part[0] + (part[1] << 12) (out[HK_NC * RS_BLOCK * 8 + c *
// RS_HBINS + bin]).
#define HK_NC 10
__device__ rs_u32 hk_hash(rs_u32 x) {
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu;
    return x ^ (x >> 16);
}
__device__ rs_u32 hk_key(int c, int t, int j) {
    const rs_u32 h = hk_hash((rs_u32)(c * 100003 + t * 8 + j + 1)), lane = t % RS_WAVE;
    switch (c) {
    case 0: return 0x3f000000u | (h & 0xfffffu);                    // one bin for the block
    case 1: return lane == 0 ? 0u : 0x3f000000u | (h & 0xfffffu);   // lane 0 has none
    case 2: return 0u;                                              // no keys at all
    case 3: return h % 4 == 0 ? 0u : h % 0x7f800000u;               // any finite; zeros
    case 4: return h % 3 == 0 ? 0u : 0x3f100000u | (h & 0xfffffu);  // one bin and zeros
    case 5: return lane == 0 ? 0u : 0x7ff00000u | (h & 0xfffffu);   // NaNs of bin 0x7ff
    case 6: return h % 2 ? h % 0x800000u : 0x800000u | (h & 0xfffffu);  // denormals; bin 8
    case 7: return (h % 0x7f800000u) & 0xffff0000u;                 // bf16 keys
    case 8: return (t * 8 + j) % 37 ? 0x3f000000u : 0x40000000u;    // one bin but a few
    default: return (h % 0x7f800000u) & 0xffffe000u;                // f16 keys
    }
}
extern "C" __global__ void hist_add(rs_u64* out) {
    for (int c = 0; c < HK_NC; ++c) {
        for (int d = threadIdx.x; d < RS_HBINS; d += RS_BLOCK)
            rs_sm.u.h.part[0][d] = rs_sm.u.h.part[1][d] = 0u;
        __syncthreads();
        rs_u32 key[8], kmax = 0u;
        for (int j = 0; j < 8; ++j) {
            key[j] = hk_key(c, threadIdx.x, j);
            kmax = key[j] > kmax ? key[j] : kmax;
            out[(c * RS_BLOCK + threadIdx.x) * 8 + j] = key[j];
        }
        if (c < 7) rs_hist_add2x8<true>(key, kmax);
        else rs_hist_add2x8<false>(key, kmax);
        __syncthreads();
        for (int d = threadIdx.x; d < RS_HBINS; d += RS_BLOCK)
            out[HK_NC * RS_BLOCK * 8 + c * RS_HBINS + d] =
                (rs_u64)rs_sm.u.h.part[0][d] + ((rs_u64)rs_sm.u.h.part[1][d] << 12);
        __syncthreads();
    }
}
"""


@pytest.mark.parametrize("wave", [32, 64])
def test_significand_histogram_adds_each_key_once(tmp_path, wave):
    """The top-p histogram's adds of a thread's eight keys (rs_hist_add2x8) put exactly each
    key's significand (rs_sig) into its bin, whichever way the wave goes: one bin for the
    wave (with zeros, with lane 0 empty, in the NaN bin 0x7ff), no keys, keys anywhere,
    denormals, and the 2-byte rows' keys without the low part's adds."""
    from rocsample.registry import BLOCK_SIZE

    lib = _module(tmp_path, HIST_KERNEL, ["hist_add"], wave, BLOCK_SIZE)
    nc, bins = 10, 2048
    out = np.zeros(nc * BLOCK_SIZE * 8 + nc * bins, np.uint64)
    rc, msg = _launch(lib, "hist_add", out, BLOCK_SIZE)
    assert rc == 0, msg
    keys = out[: nc * BLOCK_SIZE * 8].reshape(nc, -1)
    sums = out[nc * BLOCK_SIZE * 8:].reshape(nc, bins)
    for c in range(nc):
        k = keys[c]
        sig = np.where(k >> 23 != 0, (k & 0x7FFFFF) | 0x800000, k)
        want = np.zeros(bins, np.uint64)
        np.add.at(want, (k >> 20).astype(np.int64), sig)
        np.testing.assert_array_equal(sums[c], want, err_msg=f"case {c}")
    assert keys[2].max() == 0 and sums[2].max() == 0  # the empty case added nothing
    assert set(np.unique(keys[5] >> 20)) == {0, 0x7FF}  # the cases are what they say
    assert (keys[7] & 0xFFFF).max() == 0 and (keys[9] & 0x1FFF).max() == 0


@pytest.mark.parametrize("wave", [32, 64])
def test_the_kernels_touch_nothing_outside_their_operands(wave):
    """Under AddressSanitizer (tests/kernel_asan.py, a process of its own with libasan
    preloaded): every sampling path, softmax and sample_from_logits at vocabularies that end
    inside a sub-chunk and a thread's group, float and 2-byte rows, each operand in a block of
    exactly its size: no read or write outside one, and numpy's tokens. Then launches the
    executor never makes, through the kernel ABI (a vocabulary of 0 or past 2^23, rows past
    the batch, more blocks a row than sub-chunks): out as the kernel file's contract says."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    libasan = subprocess.run(["g++", "-print-file-name=libasan.so"], capture_output=True,
                             text=True).stdout.strip()
    need(os.path.isabs(libasan) and Path(libasan).exists(), "libasan not found")
    env = dict(os.environ, LD_PRELOAD=libasan, ASAN_OPTIONS="detect_leaks=0")
    r = subprocess.run([sys.executable, "-m", "tests.kernel_asan", str(wave)],
                       cwd=Path(__file__).parent.parent, env=env, capture_output=True,
                       text=True, timeout=1200)
    assert r.returncode == 0 and "calls" in r.stdout, (r.stdout[-2000:], r.stderr[-6000:])
