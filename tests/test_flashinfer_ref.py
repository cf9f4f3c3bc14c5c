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


def test_library_others_could_write_is_refused_before_loading(tmp_path):
    """Loading the library runs its code: one that others could have written is refused, and
    the refusal comes before torch or the loader is touched."""
    from rocsample.errors import KernelLoadError

    path = tmp_path / "libfi_ref.so"
    path.write_bytes(b"not a library")
    path.chmod(0o666)
    with pytest.raises(KernelLoadError, match="FlashInfer reference library .*writable by other"):
        FlashInferRef.load(path)
