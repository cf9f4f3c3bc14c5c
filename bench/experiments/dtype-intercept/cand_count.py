"""Session 38: how many top-k candidates the scan keeps, base entries against rise entries, on
the CPU (the kernels' own code on tests/kernel_device.py's host device, TEST EQUIPMENT).

The fit rows of run3 (softmax of 3 x randn, bf16) at top-k 50, with a device of ``sm_count``
units chosen so that the grid has the blocks a row of an H100 at 128 rows (G = 2) or at 512
rows (G = 1). After each call, the per-sub-chunk counts (rs_ws.ccnt) of every row are read
from the workspace. RISE_CAND = 0 sends every row to the rise entries (ra.patch's host
rule); with HEAD's kernels a row that fits the last block's shared copy still does not rise
there (rs_phase0), so run it from a tree with rise-all.patch applied to see rows rise. The
tokens of both must be the same.

Session 38 (HEAD + rise-all.patch): 1736 candidates a row -> 546 at G = 2, 1822 -> 332 at
G = 1, the tokens the same. With HEAD alone both columns read 1736 / 1822.

Usage (from the repository root): .venv/bin/python bench/experiments/dtype-intercept/cand_count.py
"""
import ctypes
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import rocsample  # noqa: E402
import rocsample.ops.sampling as sampling  # noqa: E402
from rocsample.backends.gpu import GpuBackend  # noqa: E402
from rocsample.registry import KERNELS, RISE_CAND, nchunks, ws_prefix_words, ws_words  # noqa: E402,E501
from tests.host_device import TwinKernels  # noqa: E402
from tests.kernel_device import KernelDevice, use_as_gpu  # noqa: E402

counts: list[np.ndarray] = []


class CountingDevice(KernelDevice):
    """KernelDevice that reads each top-k row's candidate counts after a launch."""

    def _run(self, func, grid, block, values):
        super()._run(func, grid, block, values)
        if KERNELS[func].family != "sampling" or "topk" not in func or not values.get("ws"):
            return
        batch, vocab = values["batch"], values["vocab"]
        nc = nchunks(vocab)
        per_row, head = ws_words(vocab), rocsample.registry._WS_HEAD
        base = values["ws"] + 8 * ws_prefix_words(batch)  # rs_ws_row: ccnt after slot_a, smass
        rows = []
        for r in range(batch):
            at = base + 8 * (r * per_row + head + 2 * nc)
            rows.append(np.ctypeslib.as_array((ctypes.c_uint64 * nc).from_address(at)).copy())
        counts.append(np.array(rows))


def run(rows, vocab, units, k=50):
    rng = np.random.default_rng(0)
    lg = rng.standard_normal((rows, vocab)).astype(np.float32) * 3
    p = np.exp(lg - lg.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    x = p.astype(ml_dtypes.bfloat16)
    out = {}
    for name, cap in (("base", RISE_CAND), ("rise", 0)):
        sampling.RISE_CAND = cap
        mp = pytest.MonkeyPatch()
        b = GpuBackend(CountingDevice(wave=32, sm_count=units))
        b.kernels = TwinKernels()
        use_as_gpu(b, mp)
        counts.clear()
        tok = rocsample.sample(x, top_k=k, seed=7)
        out[name] = (np.asarray(tok), counts[-1], list(b.rt.ran))
        mp.undo()
        b.close()
    sampling.RISE_CAND = RISE_CAND
    (t0, c0, r0), (t1, c1, r1) = out["base"], out["rise"]
    print(f"{rows} x {vocab}, {units} units, top-k {k}: entries {sorted(set(r0))} / "
          f"{sorted(set(r1))}; tokens {'the same' if np.array_equal(t0, t1) else 'DIFFER'}")
    for name, c in (("base", c0), ("rise", c1)):
        print(f"  {name}: candidates a row {c.sum(1).mean():.0f} (a sub-chunk: mean "
              f"{c.mean():.1f}, first {c[:, 0].mean():.1f}, last {c[:, -1].mean():.1f})")


if __name__ == "__main__":
    run(4, 131072, 4)   # G = 2 * 4 // 4 = 2: a block spans 16 sub-chunks, as 128 rows on an H100
    run(4, 131072, 2)   # G = 1: a block spans the row's 32, as 512 rows on an H100
