"""Wave-size truth: the token drawn does not depend on the wavefront width of the build.

The width reaches the kernels as ``-DRS_WAVE`` (``Toolchain.options``, from the device or
``wave_size_for``: 64 on CDNA, 32 on RDNA and NVIDIA; test_amdgpu_metadata.py checks the
``.wavefront_size`` the compiler recorded). The numpy mirror (``rocsample.backends.cpu_engine``)
takes no width, by design: every probability mass is an exact integer, so the grouping of
the sums by wave cannot change them, and the one path choice the width makes in the engine
(``RS_WAVE_PICK = 2 * RS_WAVE`` in kernels/rs_engine.h: a row of up to that many 4096-element
sub-chunks has every wave pick the draw's sub-chunk alone, a longer row the whole block)
must land on the same token either way. The GPU test below holds a device of either width
to the numpy draw on rows just below and above the threshold of *both* widths (64 and 128
sub-chunks), so a wave32 device runs the paths a wave64 device takes for the same row
sizes and the reverse.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from rocsample.backends import cpu_engine as cpu_kernels
from rocsample.backends import get_backend
from rocsample.errors import BackendUnavailable
from rocsample.validation import sampling_params

CHUNK = cpu_kernels.CHUNK
# Sub-chunk counts around 2 * 32 and 2 * 64: the rows each width splits differently.
VOCABS = [64 * CHUNK, 64 * CHUNK + 1, 128 * CHUNK, 128 * CHUNK + 1]
CASES = [dict(), dict(top_k=50), dict(top_p=0.9), dict(top_k=50, top_p=0.9), dict(min_p=0.1)]


@pytest.fixture(scope="module")
def gpu():
    choice = os.environ.get("ROCSAMPLE_BACKEND", "auto")
    reasons = []
    for kind in [choice] if choice in ("hip", "cuda") else ["hip", "cuda"]:
        try:
            return get_backend(kind)
        except BackendUnavailable as exc:
            reasons.append(str(exc))
    if os.environ.get("ROCSAMPLE_REQUIRE_GPU") == "1":
        pytest.fail("no GPU backend: " + "; ".join(reasons))
    pytest.skip("no GPU backend: " + "; ".join(reasons))


def _rows(vocab: int) -> np.ndarray:
    """Three rows: softmax of normals; a row whose sub-chunks lie at 40 different scales
    (the plain draw weighs each at its own); a row whose mass sits in its last sub-chunk."""
    rng = np.random.default_rng(vocab)
    probs = cpu_kernels.softmax((rng.standard_normal((3, vocab)) * 3).astype(np.float32))
    scales = np.exp2(-(np.arange(vocab) // CHUNK % 40)).astype(np.float32)
    probs[1] *= scales
    probs[2, -CHUNK // 2:] += 1.0
    return probs


@pytest.mark.gpu
@pytest.mark.parametrize("vocab", VOCABS)
def test_draw_on_both_sides_of_each_widths_pick_threshold(gpu, vocab):
    wave = gpu.describe()["wave_size"]
    chunks = -(-vocab // CHUNK)
    probs = _rows(vocab)
    for case in CASES:
        want = cpu_kernels.sample_rows(probs, seed=11, offset=3, **case)
        for method in ("auto", "fused"):
            got = gpu.sample(probs, sampling_params(3, seed=11, offset=3, **case), method=method)
            assert np.array_equal(got, want), (wave, chunks, "wave pick" if chunks <= 2 * wave
                                               else "block pick", case, method, got, want)

