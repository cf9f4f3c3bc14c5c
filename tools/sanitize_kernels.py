"""Drive every kernel entry on small representative shapes (for compute-sanitizer).

Usage: compute-sanitizer --tool memcheck python3 tools/sanitize_kernels.py
Covers odd vocab sizes, per-row parameters, invalid rows and every kernel path; exits
non-zero if any result differs from the numpy backend.
"""

from __future__ import annotations

import sys

import numpy as np

import rocsample
from rocsample.backends import cpu_engine as cpu_kernels


def main() -> int:
    b = rocsample.backend()
    print(f"backend {b.name}: {b.describe()['device']}")
    rng = np.random.default_rng(0)
    bad = 0
    for rows, vocab in ((1, 1), (3, 31), (5, 1000), (2, 4099), (3, 9001)):
        logits = (rng.standard_normal((rows, vocab)) * 3).astype(np.float32)
        probs = cpu_kernels.softmax(logits)
        probs[0, 0] = np.nan if rows > 1 else probs[0, 0]
        t = rng.uniform(0, 2, rows).astype(np.float32)
        for name, got, want in (
            ("softmax", rocsample.softmax(logits, t), cpu_kernels.softmax(logits, t)),
            ("temperature", rocsample.temperature_scale(logits, t),
             cpu_kernels.temperature_scale(logits, t)),
        ):
            if not np.allclose(got, want, rtol=2e-5, atol=1e-12, equal_nan=True):
                print(f"MISMATCH {name} {rows}x{vocab}")
                bad += 1
        k = rng.integers(0, vocab + 1, rows).astype(np.int32)
        p = rng.uniform(0.1, 1.0, rows).astype(np.float32)
        flat = np.ones_like(probs)
        for kw, method in ((dict(top_k=k), "topk"), (dict(top_p=p), "topp"),
                           (dict(top_k=k, top_p=p, min_p=0.05), "fused"), (dict(), "fused"),
                           (dict(top_k=min(vocab, 50)), "auto"), (dict(top_p=0.9), "auto"),
                           (dict(top_k=min(vocab, 50), top_p=0.9), "auto"),
                           (dict(min_p=0.1), "auto"), (dict(top_k=200), "auto")):
            for x in (probs, flat):  # flat rows: candidate overflow, crowded cut bin
                got = rocsample.sample(x, seed=1, check_inputs=False, method=method, **kw)
                want = cpu_kernels.sample_rows(x, seed=1, **kw)
                if not np.array_equal(got, want):
                    print(f"MISMATCH {method} {kw} {rows}x{vocab}: {got} vs {want}")
                    bad += 1
    # Top-p cuts among a few hundred gathered elements (row 0: the digit path of
    # rs_phase_cut) and among 600 ties in the cut's digit (row 1: the selection's last level).
    probs = cpu_kernels.softmax((rng.standard_normal((2, 151936)) * 3).astype(np.float32))
    s = np.sort(probs[1])[::-1]
    cut = s[np.searchsorted(np.cumsum(s, dtype=np.float64), 0.9 * s.sum())]
    probs[1, np.flatnonzero(probs[1] < cut)[:600]] = cut
    for method in ("fused", "topp"):
        got = rocsample.sample(probs, seed=1, top_p=0.9, method=method)
        if not np.array_equal(got, cpu_kernels.sample_rows(probs, seed=1, top_p=0.9)):
            print(f"MISMATCH {method} top_p=0.9 with ties 2x151936: {got}")
            bad += 1
    # One block a row (140 rows of 12000: three sub-chunks): top-k's last block in the same
    # launch (row 1: 200 ties of twice the maximum in each sub-chunk, too many at the k-th
    # largest for the small list: the workspace slots); top-p gathers into shared memory
    # first (row 2, flat: more than the stage holds, so the span is read again).
    probs = cpu_kernels.softmax((rng.standard_normal((140, 12000)) * 3).astype(np.float32))
    for c in range(0, 12000, 4096):
        probs[1, c + rng.choice(min(4096, 12000 - c), 200, replace=False)] = 2 * probs[1].max()
    probs[2] = 1.0
    for kw in (dict(top_k=50), dict(top_k=50, top_p=0.8), dict(top_p=0.9)):
        got = rocsample.sample(probs, seed=2, method="fused", **kw)
        want = cpu_kernels.sample_rows(probs, seed=2, **kw)
        if not np.array_equal(got, want):
            print(f"MISMATCH fused {kw} 140x12000: {np.flatnonzero(got != want)[:5]}")
            bad += 1
    # Per-row seeds/offsets (device-read pointers) and 2-byte rows (the _f16/_bf16 entries),
    # with an odd vocab (scalar tails), on every path.
    from rocsample.buffers import BFLOAT16, narrow_f32, widen_to_f32

    p32 = cpu_kernels.softmax((rng.standard_normal((6, 33001)) * 3).astype(np.float32))
    seeds, offsets = rng.integers(0, 2**63, 6), rng.integers(0, 2**63, 6)
    padded = np.zeros((6, 33008), np.float32)
    padded[:, :33001] = p32
    for kind in ("f16", "bf16"):
        half = padded.astype(np.float16) if kind == "f16" else \
            (padded.view(np.uint32) >> 16).astype(np.uint16).view(BFLOAT16)
        rows = half[:, :33001]
        wide = np.ascontiguousarray(widen_to_f32(np.ascontiguousarray(rows)))
        for method, kw in (("auto", {}), ("topk", dict(top_k=50)), ("topp", dict(top_p=0.9)),
                           ("fused", dict(top_k=300, min_p=0.01))):
            got = rocsample.sample(rows, seed=seeds, offset=offsets, method=method, **kw)
            want = cpu_kernels.sample_rows(wide, seed=seeds.astype(np.uint64),
                                           offset=offsets.astype(np.uint64), **kw)
            if not np.array_equal(got, want):
                print(f"MISMATCH {kind} {method} {kw}: {np.flatnonzero(got != want)[:5]}")
                bad += 1
        got = rocsample.softmax(rows, 0.8)
        if not np.array_equal(got, rocsample.softmax(wide, 0.8)):
            print(f"MISMATCH softmax {kind}")
            bad += 1
        # results in the rows' own type (the _DT_DT entries: 2-byte stores, output rows of
        # an odd vocab at every 2-byte alignment), split (6 rows) and one block a row (140)
        for x in (rows, np.repeat(rows, 24, axis=0)[:140]):
            for op in (rocsample.softmax, rocsample.temperature_scale):
                got = op(x, 0.8, out_dtype=x.dtype).view(np.uint16)
                want = narrow_f32(op(x, 0.8), kind).view(np.uint16)
                if not np.array_equal(got, want):
                    print(f"MISMATCH {op.__name__} {kind} result {x.shape}")
                    bad += 1
    bad += _logits(rng)
    bad += _rise(rng)
    bad += _mlp(b, rng)
    print("sanitize driver done, mismatches:", bad)
    return 1 if bad else 0


def _logits(rng) -> int:
    """sample_from_logits (logits_sampling.hip: the softmax sampled unwritten) on float32 and
    2-byte logits at odd vocabularies (scalar tails, the -Inf padding of a 2-byte row's last
    sub-chunk), one block a row and G blocks, every filter path, an invalid row: each token
    must be the one `sample` draws from `softmax`'s written output on this GPU."""
    from rocsample.buffers import BFLOAT16

    bad = 0
    for rows, vocab in ((1, 1), (3, 31), (2, 4099), (140, 1003), (3, 9001)):
        x = (rng.standard_normal((rows, vocab)) * 3).astype(np.float32)
        if rows > 1:
            x[1, 0] = np.nan
        t = rng.uniform(0, 2, rows).astype(np.float32)
        for kind in ("f32", "f16", "bf16"):
            v = x if kind == "f32" else x.astype(np.float16) if kind == "f16" else \
                (x.view(np.uint32) >> 16).astype(np.uint16).view(BFLOAT16)
            for kw in ({}, dict(top_k=min(vocab, 50)), dict(top_k=200), dict(top_p=0.9),
                       dict(top_k=min(vocab, 50), top_p=0.8, min_p=0.05)):
                got = rocsample.sample_from_logits(v, temperature=t, seed=3, **kw)
                want = rocsample.sample(rocsample.softmax(v, t), seed=3, check_inputs=False,
                                        **kw)
                if not np.array_equal(got, want):
                    print(f"MISMATCH sample_from_logits {kind} {kw} {rows}x{vocab}: "
                          f"{np.flatnonzero(got != want)[:5]}")
                    bad += 1
    return bad


def _rise(rng) -> int:
    """Top-k rows of more than RISE_CAND candidates (k x sub-chunks), which take the rise
    entries of topk_sampling, topk_topp_sampling and logits_sampling (rocsample.ops.sampling.
    _rise_suffix), f32 and the 2-byte types: G blocks a row (3 rows of an odd vocab, every row
    rising, then per-row k where one row does and the others scan as usual) and one block a
    row (140 rows). sample's tokens against the numpy backend's, sample_from_logits's against
    sample of softmax's written output on this GPU (as _logits); every rise entry must run."""
    from rocsample.buffers import BFLOAT16, widen_to_f32
    from rocsample.registry import KCAND, RISE_CAND, nchunks

    bad = 0
    want_run = set()
    with rocsample.profile() as prof:
        for rows, vocab, ks in ((3, 262145, (50, KCAND, np.array([7, 128, 0], np.int32))),
                                (140, 100003, (KCAND,))):
            assert KCAND * nchunks(vocab) > RISE_CAND, vocab
            logits = (rng.standard_normal((rows, vocab)) * 3).astype(np.float32)
            for kind in ("f32", "f16", "bf16") if rows < 100 else ("f32", "bf16"):
                v = logits if kind == "f32" else logits.astype(np.float16) if kind == "f16" \
                    else (logits.view(np.uint32) >> 16).astype(np.uint16).view(BFLOAT16)
                wide = widen_to_f32(v) if kind != "f32" else v
                probs = cpu_kernels.softmax(np.ascontiguousarray(wide))
                x = probs if kind == "f32" else probs.astype(np.float16) if kind == "f16" \
                    else (probs.view(np.uint32) >> 16).astype(np.uint16).view(BFLOAT16)
                xw = np.ascontiguousarray(widen_to_f32(x) if kind != "f32" else x)
                sfx = "" if kind == "f32" else f"_{kind}"
                want_run |= {f"topk_sampling_rise{sfx}", f"topk_topp_sampling_rise{sfx}",
                             f"logits_sampling_rise{sfx}"}
                for k in ks:
                    for method, kw in (("topk", {}), ("fused", dict(top_p=0.9))):
                        got = rocsample.sample(x, seed=5, method=method, top_k=k, **kw)
                        want = cpu_kernels.sample_rows(xw, seed=5, top_k=k, **kw)
                        if not np.array_equal(got, want):
                            print(f"MISMATCH rise {kind} {method} k={k} {rows}x{vocab}: "
                                  f"{np.flatnonzero(got != want)[:5]}")
                            bad += 1
                    got = rocsample.sample_from_logits(v, temperature=0.7, seed=5, top_k=k)
                    want = rocsample.sample(rocsample.softmax(v, 0.7), seed=5, top_k=k)
                    if not np.array_equal(got, want):
                        print(f"MISMATCH rise sample_from_logits {kind} k={k} {rows}x{vocab}: "
                              f"{np.flatnonzero(got != want)[:5]}")
                        bad += 1
    ran = set(prof.summary())
    print("rise entries:", sorted(ran & want_run))
    if want_run - ran:
        print(f"MISSING rise entries never launched: {sorted(want_run - ran)}")
        bad += 1
    return bad


class _Rows:
    """Rows of ``hidden`` elements at ``stride`` elements from ``offset`` in a device buffer."""

    def __init__(self, buf, rows: int, hidden: int, stride: int, offset: int) -> None:
        item = buf.dtype.itemsize
        self.__cuda_array_interface__ = {
            "version": 3, "shape": (rows, hidden), "typestr": buf.dtype.str,
            "strides": (stride * item, item), "data": (buf.ptr + offset * item, False)}
        self.buf = buf


def _mlp(b, rng) -> int:
    """SwiGLU, RMSNorm and the fused add at odd sizes, on the 16-byte and the element paths
    (rows one element off 16 bytes, a stride of hidden + 1), fp32 and fp16, and bf16: the general
    entries and the compact ones the recipes pick for aligned rows of whole 16-byte groups
    (rms_norm_row1/row2/row4/row8/row8d, swiglu_flat; rocsample.ops.mlp.rms_norm_entry),
    both sides of their limits (1024, 2048 and 4096 groups, 128 rows; the one-group entries:
    bf16 rows of up to 256 groups)."""
    from rocsample.buffers import DeviceBuffer
    from rocsample.ops import mlp

    bad = 0
    for dtype in (np.float32, np.float16):
        tol = 1e-5 if dtype == np.float32 else 2e-3
        for rows, hidden, stride, offset in ((3, 8, 8, 0), (5, 111, 112, 1), (40, 769, 770, 0),
                                             (2, 5125, 10250, 0), (1, 16384, 16384, 0),
                                             (7, 4096, 4104, 0), (2, 8192, 8192, 0),
                                             (3, 8200, 8200, 0),
                                             (129, 8200, 8200, 0), (5, 4096, 4096, 1),
                                             (2, 16392, 16392, 0), (130, 16384, 16384, 0),
                                             (1, 16388, 16388, 0)):
            flat = rng.standard_normal(rows * stride + 8).astype(dtype)
            w = rng.standard_normal(hidden).astype(dtype)
            host = np.lib.stride_tricks.as_strided(flat[offset:], (rows, hidden),
                                                   (stride * flat.itemsize, flat.itemsize))
            buf = DeviceBuffer.from_numpy(b.rt, flat)
            x, wd = _Rows(buf, rows, hidden, stride, offset), DeviceBuffer.from_numpy(b.rt, w)
            res = DeviceBuffer.from_numpy(b.rt, np.ones((rows, hidden), dtype))
            xs = host.copy()
            checks = [("rms_norm", rocsample.rms_norm(x, wd).numpy(), mlp.rms_norm(xs, w)),
                      ("swiglu", rocsample.swiglu(x, x).numpy(), mlp.swiglu(xs, xs))]
            rocsample.fused_add_rms_norm(x, res, wd)  # last: it writes x
            checks.append(("fused_add", res.numpy(), (xs.astype(np.float32) + 1).astype(dtype)))
            for name, got, want in checks:
                if not np.allclose(got, want, rtol=tol, atol=tol):
                    print(f"MISMATCH {name} {np.dtype(dtype).name} {rows}x{hidden} "
                          f"stride {stride} offset {offset}")
                    bad += 1
    # bf16, contiguous: the one-group row entries the rule picks for bf16 alone (rows of up to
    # 256 groups in calls of up to 128 rows), both sides of those limits, and the fused add;
    # eight groups a thread (row8 at 2 rows, row8d at 129).
    from rocsample.buffers import BFLOAT16, widen_to_f32

    with rocsample.profile() as prof:  # which entries ran
        for rows, hidden in ((3, 8), (5, 2048), (129, 2048), (2, 2056), (2, 20480),
                             (129, 32768)):
            x = rng.standard_normal((rows, hidden)).astype(np.float32)
            xb = (x.view(np.uint32) >> 16).astype(np.uint16)
            wb = (rng.standard_normal(hidden).astype(np.float32).view(np.uint32) >> 16).astype(
                np.uint16)
            xd = DeviceBuffer.from_numpy(b.rt, xb.view(BFLOAT16))
            wd = DeviceBuffer.from_numpy(b.rt, wb.view(BFLOAT16))
            res = DeviceBuffer.from_numpy(b.rt, np.zeros((rows, hidden), np.uint16).view(BFLOAT16))
            got = widen_to_f32(rocsample.rms_norm(xd, wd).numpy())
            want = widen_to_f32(mlp.rms_norm(xb, wb, dtype="bf16").view(BFLOAT16))
            rocsample.fused_add_rms_norm(xd, res, wd)  # residual 0: the residual becomes x
            checks = [("rms_norm", got, want),
                      ("fused_add", widen_to_f32(xd.numpy()), want),
                      ("fused_add residual", widen_to_f32(res.numpy()),
                       widen_to_f32(xb.view(BFLOAT16)))]
            for name, g, w in checks:
                if not np.allclose(g, w, rtol=1e-2, atol=1e-2):
                    print(f"MISMATCH {name} bf16 {rows}x{hidden}")
                    bad += 1
    print("bf16 MLP entries:", sorted(prof.summary()))
    return bad + _mlp_run_time_type(b, rng)


def _mlp_run_time_type(b, rng) -> int:
    """rms_norm_kernel and fused_add_rms_norm_kernel (the type a run-time code; rocsample's
    recipes never launch them, the ABI has them) on exact-size buffers, every type, on each
    of their paths (two groups a thread over many tiles, the typed entries' four-group rows,
    two passes, element by element), against the typed general entry bit for bit."""
    from rocsample.backends.recipe import Launch, Recipe
    from rocsample.buffers import DeviceBuffer
    from rocsample.ops import mlp

    bad = 0
    for dtype in ("f32", "f16", "bf16"):
        n = 4 if dtype == "f32" else 8
        for rows, hidden, grid, block in ((300, 96 * n, 3, 512), (40, 1500 * n, 40, 512),
                                          (9, 2100 * n, 2, 256), (33, 1100 * n, 5, 512),
                                          (50, 111, 4, 64), (3, 5125, 2, 128)):
            x, r, w = (_rand(rng, shape, dtype) for shape in ((rows, hidden), (rows, hidden),
                                                               hidden))
            for op in ("rms_norm", "fused_add_rms_norm"):
                outs = []
                for entry, extra in ((mlp.entry(op, dtype), {}),
                                     (f"{op}_kernel", {"dtype": mlp.DTYPE_CODES[dtype]})):
                    xd, rd, wd = (DeviceBuffer.from_numpy(b.rt, a) for a in (x, r, w))
                    od = DeviceBuffer.from_numpy(b.rt, np.zeros_like(x))
                    ptrs = {"x": xd.ptr, "weight": wd.ptr}
                    if op == "rms_norm":
                        rec = mlp.rms_norm_recipe(dtype, rows, hidden, {**ptrs, "out": od.ptr},
                                                  {"x": hidden, "out": hidden}, 1e-6)
                    else:
                        rec = mlp.fused_add_rms_norm_recipe(
                            dtype, rows, hidden, {**ptrs, "residual": rd.ptr},
                            {"x": hidden, "residual": hidden}, 1e-6)
                    args = {**rec.launches[0].args, **extra}
                    b.launch_recipe(Recipe(rec.op, (), {}, None,
                                           [Launch(entry, (grid, 1), args, block=block)]))
                    outs.append([d.numpy().view(np.uint8) for d in (xd, rd, od)])
                if not all(np.array_equal(p, q) for p, q in zip(*outs, strict=True)):
                    print(f"MISMATCH {op}_kernel {dtype} {rows}x{hidden} grid {grid} "
                          f"block {block}: not the typed entry's bits")
                    bad += 1
    print("run-time-type rms entries: checked (f32, f16, bf16; 6 shapes)")
    return bad


def _rand(rng, shape, dtype: str) -> np.ndarray:
    """Normal values of ``dtype`` ("f32", "f16", "bf16": truncated float32 bits as BFLOAT16)."""
    from rocsample.buffers import BFLOAT16

    v = rng.standard_normal(shape).astype(np.float32)
    if dtype == "bf16":
        return (v.view(np.uint32) >> 16).astype(np.uint16).view(BFLOAT16)
    return v.astype(np.float32 if dtype == "f32" else np.float16)


if __name__ == "__main__":
    sys.exit(main())
