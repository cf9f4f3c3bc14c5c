"""The FlashInfer baseline's loader: a missing library is named, and only the dtypes FlashInfer
serves are claimed (the kernels themselves run only in the GPU benchmark)."""

import pytest

from rocsample.flashinfer_ref import FlashInferRef


def test_missing_library_is_named(tmp_path):
    path = tmp_path / "libfi_ref.so"
    with pytest.raises(FileNotFoundError, match="libfi_ref.so.*make flashinfer-ref"):
        FlashInferRef.load(path)


def test_supports_half_types_only():
    class D:
        def __init__(self, s):
            self.s = s

        def __str__(self):
            return self.s

    assert FlashInferRef.supports(D("torch.bfloat16"))
    assert FlashInferRef.supports(D("torch.float16"))
    assert not FlashInferRef.supports(D("torch.float32"))
