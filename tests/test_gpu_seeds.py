"""GPU tests of per-request randomness (issue 21, point 2), run by `make test-gpu`.

Every kernel path (one-block rows: B >= the SM count; many-block rows: B = 1..8; top-k with
one read and the full-row algorithm; plain sampling; min-p; the top-p stages and the fused
entry) must give each row the token the numpy backend gives it from its own (seed, offset),
whether the seeds/offsets come as numpy arrays (uploaded) or torch CUDA tensors (read by the
kernels in place); and a row's token must not move when the batch is permuted or split.
Skips with the reason where no GPU backend starts (as tests/test_gpu.py).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import rocsample
from rocsample.backends import cpu_engine, get_backend
from rocsample.errors import BackendUnavailable

pytestmark = pytest.mark.gpu
REQUIRE = os.environ.get("ROCSAMPLE_REQUIRE_GPU") == "1"


@pytest.fixture(scope="module")
def gpu():
    choice = os.environ.get("ROCSAMPLE_BACKEND", "auto")
    kinds = [choice] if choice in ("hip", "cuda") else ["hip", "cuda"]
    reasons = []
    for kind in kinds:
        try:
            return get_backend(kind)
        except BackendUnavailable as exc:
            reasons.append(str(exc))
    if REQUIRE:
        pytest.fail("no GPU backend: " + "; ".join(reasons))
    pytest.skip("no GPU backend: " + "; ".join(reasons))


PATHS = [
    ("auto", {}),                                   # plain sampling: one read
    ("topk", dict(top_k=50)),                       # top-k candidates: one read
    ("fused", dict(top_k=500)),                     # k > KCAND: the full-row algorithm
    ("topp", dict(top_p=0.9)),                      # the three top-p stages
    ("fused", dict(top_p=0.9)),                     # top-p in the fused entry: two phases
    ("fused", dict(top_k=50, top_p=0.9, min_p=0.02)),
    ("fused", dict(min_p=0.05)),
]


def _probs(rows: int, vocab: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cpu_engine.softmax((rng.standard_normal((rows, vocab)) * 3).astype(np.float32))


def _requests(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 2**63, rows, dtype=np.int64),
            rng.integers(0, 2**63, rows, dtype=np.int64))


def _sample(gpu, probs, seeds, offsets, method, kw):
    return rocsample.sample(probs, seed=seeds, offset=offsets, method=method,
                            backend=gpu.name, **kw)


@pytest.mark.parametrize("method,kw", PATHS)
@pytest.mark.parametrize("rows,vocab", [(1, 128256), (3, 151936), (8, 32000), (None, 32000)])
def test_each_row_draws_its_own_token_on_every_path(gpu, method, kw, rows, vocab):
    rows = rows or gpu.sm_count + 5  # None: one block a row
    probs = _probs(rows, vocab, rows + vocab)
    seeds, offsets = _requests(rows, rows)
    want = cpu_engine.sample_rows(probs, seed=seeds.astype(np.uint64),
                                  offset=offsets.astype(np.uint64), **kw)
    got = _sample(gpu, probs, seeds, offsets, method, kw)
    np.testing.assert_array_equal(got, want)
    perm = np.random.default_rng(1).permutation(rows)
    np.testing.assert_array_equal(
        _sample(gpu, probs[perm], seeds[perm], offsets[perm], method, kw), want[perm])
    for r in (0, rows - 1):  # alone: a batch of one, many blocks a row
        np.testing.assert_array_equal(
            _sample(gpu, probs[r:r + 1], seeds[r:r + 1], offsets[r:r + 1], method, kw),
            want[r:r + 1])


@pytest.mark.parametrize("method,kw", PATHS)
def test_torch_device_seeds_are_read_in_place(gpu, method, kw):
    torch = pytest.importorskip("torch")
    if gpu.name != "cuda" or not torch.cuda.is_available():
        pytest.skip("torch CUDA tensors need the cuda backend")
    rows, vocab = 6, 128256
    probs = _probs(rows, vocab, 3)
    seeds, offsets = _requests(rows, 4)
    x = torch.from_numpy(probs).cuda()
    s, o = torch.from_numpy(seeds).cuda(), torch.from_numpy(offsets).cuda()
    for step in range(3):
        got = torch.from_dlpack(rocsample.sample(x, seed=s, offset=o, method=method, **kw))
        torch.cuda.synchronize()
        want = cpu_engine.sample_rows(probs, seed=seeds.astype(np.uint64),
                                      offset=(offsets + step).astype(np.uint64), **kw)
        np.testing.assert_array_equal(got.cpu().numpy(), want)
        o += 1  # advanced on the device: the next call reads the new offsets
    with pytest.raises(ValueError, match="seed device arrays must be contiguous"):
        rocsample.sample(x, seed=torch.zeros(2 * rows, dtype=torch.int64, device="cuda")[::2])


def test_sample_from_logits_with_per_row_seeds(gpu):
    rows, vocab = 40, 128256
    logits = (np.random.default_rng(5).standard_normal((rows, vocab)) * 2).astype(np.float32)
    seeds, offsets = _requests(rows, 6)
    got = rocsample.sample_from_logits(logits, temperature=0.8, top_k=40, seed=seeds,
                                       offset=offsets, backend=gpu.name)
    alone = [rocsample.sample_from_logits(logits[r:r + 1], temperature=0.8, top_k=40,
                                          seed=seeds[r:r + 1], offset=offsets[r:r + 1],
                                          backend=gpu.name)[0] for r in range(rows)]
    np.testing.assert_array_equal(got, np.array(alone, np.int32))
