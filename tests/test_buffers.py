"""Tests for rocsample.buffers on the CPU: real host memory, real numpy DLPack exchange."""

from __future__ import annotations

import ctypes
import gc
import weakref
from types import SimpleNamespace

import numpy as np
import pytest

from rocsample.buffers import (
    BFLOAT16,
    ArrayView,
    DeviceBuffer,
    HostMemoryDriver,
    _capsule_tensor,
    as_array_view,
)


class RocmLabelledHostDriver(HostMemoryDriver):
    """Host memory that reports itself as ROCm device 0, to exercise the GPU-only paths."""

    name = "hip"
    dlpack_device = (10, 0)


class LegacyProducer:
    """Forwards to a producer but speaks only pre-1.0 DLPack (no max_version keyword)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def __dlpack__(self, stream=None):
        return self.inner.__dlpack__(stream=stream)

    def __dlpack_device__(self):
        return self.inner.__dlpack_device__()


class VersionedProducer(LegacyProducer):
    """Forwards every DLPack keyword, but hides the concrete type from as_array_view."""

    def __dlpack__(self, **kwargs):
        return self.inner.__dlpack__(**kwargs)


class CAIProducer:
    """A legitimate __cuda_array_interface__ producer describing a numpy array's memory."""

    def __init__(self, array: np.ndarray, **overrides: object) -> None:
        self.array = array
        self.__cuda_array_interface__ = {
            "version": 3,
            "shape": array.shape,
            "typestr": array.dtype.str,
            "data": (array.ctypes.data, False),
            "strides": array.strides,
            "stream": None,
            **overrides,
        }


def capsule_name(capsule: object) -> str:
    return repr(capsule).split('"')[1]


@pytest.fixture
def drv() -> HostMemoryDriver:
    return HostMemoryDriver()


# ---- HostMemoryDriver ----


def test_host_driver_alloc_copy_free(drv):
    src = np.arange(10, dtype=np.int64)
    ptr = drv.alloc(src.nbytes)
    assert ptr and ptr % 256 == 0 and drv.live_allocations == 1
    drv.copy_from_host(ptr, src.ctypes.data, src.nbytes)
    out = np.zeros_like(src)
    drv.copy_to_host(out.ctypes.data, ptr, src.nbytes)
    np.testing.assert_array_equal(out, src)
    drv.free(ptr)
    assert drv.live_allocations == 0
    with pytest.raises(ValueError, match="not a live allocation"):
        drv.free(ptr)


def test_host_driver_edge_cases(drv):
    assert drv.alloc(0) != 0
    with pytest.raises(ValueError):
        drv.alloc(-1)
    with pytest.raises(ValueError):
        drv.copy_to_host(0, 0, -4)
    drv.copy_to_host(0, 0, 0)  # nothing to copy: never dereferenced
    assert drv.name == "cpu" and drv.dlpack_device == (1, 0)


# ---- DeviceBuffer ----


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int32, np.uint8, bool])
def test_round_trip(drv, dtype):
    host = (np.arange(12) % 5).reshape(3, 4).astype(dtype)
    with DeviceBuffer.from_numpy(drv, host) as buf:
        assert buf.shape == (3, 4) and buf.dtype == np.dtype(dtype)
        assert buf.nbytes == host.nbytes and buf.strides == host.strides
        assert buf.device == (1, 0) and buf.driver is drv
        np.testing.assert_array_equal(buf.numpy(), host)


def test_from_numpy_makes_input_contiguous(drv):
    host = np.arange(20, dtype=np.float32).reshape(4, 5)[:, ::2]
    buf = DeviceBuffer.from_numpy(drv, host)
    np.testing.assert_array_equal(buf.numpy(), host)


def test_copy_from(drv):
    buf = DeviceBuffer(drv, (2, 3), np.float32)
    buf.copy_from(np.full((2, 3), 0.5))  # float64 -> float32 is a same-kind cast
    np.testing.assert_array_equal(buf.numpy(), np.full((2, 3), 0.5, np.float32))
    with pytest.raises(ValueError, match="shape"):
        buf.copy_from(np.zeros((3, 2), np.float32))
    int_buf = DeviceBuffer(drv, (2,), np.int32)
    with pytest.raises(TypeError):
        int_buf.copy_from(np.array([1.5, 2.5]))


def test_ml_dtypes_bfloat16_goes_in_as_its_bits(drv):
    """A numpy ``ml_dtypes.bfloat16`` array (JAX's bfloat16) is held as :data:`BFLOAT16`: the
    same bits in, the bits back out (it was refused as "unsupported dtype '<V2'")."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    host = np.array([[1.0, -2.5, 3.0e38], [0.0, 1e-3, -0.0]], np.float32).astype(ml_dtypes.bfloat16)
    buf = DeviceBuffer.from_numpy(drv, host[:, ::-1])  # made contiguous on the way
    assert buf.dtype == BFLOAT16
    np.testing.assert_array_equal(buf.numpy().view(np.uint16), host[:, ::-1].view(np.uint16))
    buf.copy_from(host)
    np.testing.assert_array_equal(buf.numpy().view(np.uint16), host.view(np.uint16))
    with pytest.raises(TypeError, match="bfloat16"):  # the message names what is accepted
        DeviceBuffer(drv, (2,), "V2")


def test_bad_shapes_and_dtypes(drv):
    with pytest.raises(ValueError, match="negative"):
        DeviceBuffer(drv, (2, -1), np.float32)
    for bad in (object, "U4", ">f4", np.float128 if hasattr(np, "float128") else "V16"):
        with pytest.raises(TypeError):
            DeviceBuffer(drv, (2,), bad)
    assert drv.live_allocations == 0


def test_free_is_idempotent_and_ptr_then_raises(drv):
    buf = DeviceBuffer(drv, (4,), np.float32)
    buf.free()
    buf.free()
    assert drv.live_allocations == 0
    with pytest.raises(ValueError, match="buffer was freed"):
        _ = buf.ptr
    with pytest.raises(ValueError, match="buffer was freed"):
        buf.numpy()
    assert "freed" in repr(buf)


def test_context_manager_and_del_free(drv):
    with DeviceBuffer(drv, (8,), np.int32) as buf:
        assert drv.live_allocations == 1
    assert drv.live_allocations == 0
    buf = DeviceBuffer(drv, (8,), np.int32)
    del buf
    gc.collect()
    assert drv.live_allocations == 0


def test_scalar_and_empty_buffers(drv):
    scalar = DeviceBuffer.from_numpy(drv, np.float32(3.5))
    assert scalar.shape == () and scalar.numpy() == np.float32(3.5)
    empty = DeviceBuffer(drv, (0, 4), np.float32)
    assert empty.nbytes == 0 and empty.numpy().shape == (0, 4)
    assert np.from_dlpack(empty).shape == (0, 4)


def test_cuda_array_interface_only_on_gpu_drivers(drv):
    buf = DeviceBuffer(drv, (2,), np.float32)
    assert not hasattr(buf, "__cuda_array_interface__")
    gpu = DeviceBuffer(RocmLabelledHostDriver(), (2, 3), np.float16)
    cai = gpu.__cuda_array_interface__
    assert cai == {
        "version": 3,
        "shape": (2, 3),
        "typestr": "<f2",
        "data": (gpu.ptr, False),
        "strides": None,
        "stream": None,
    }


# ---- DLPack export ----


@pytest.mark.parametrize("wrap", [lambda b: b, LegacyProducer], ids=["versioned", "legacy"])
def test_np_from_dlpack_is_zero_copy(drv, wrap):
    buf = DeviceBuffer.from_numpy(drv, np.arange(6, dtype=np.float32).reshape(2, 3))
    view = np.from_dlpack(wrap(buf))
    assert view.ctypes.data == buf.ptr and view.shape == (2, 3)
    buf.copy_from(np.ones((2, 3)))  # device-side writes show through the view
    assert view.sum() == 6.0
    if view.flags.writeable:  # numpy marks legacy imports read-only (no flag to say otherwise)
        view[1, 2] = 42.0
        assert buf.numpy()[1, 2] == 42.0


@pytest.mark.skipif(
    np.lib.NumpyVersion(np.__version__) < "2.1.0", reason="numpy < 2.1 only asks for legacy"
)
def test_np_from_dlpack_versioned_is_writeable(drv):
    buf = DeviceBuffer(drv, (2, 3), np.float32)
    view = np.from_dlpack(buf)  # numpy 2 asks for a versioned capsule
    assert view.flags.writeable and view.ctypes.data == buf.ptr
    view[1, 2] = 42.0
    assert buf.numpy()[1, 2] == 42.0


def test_capsule_kinds(drv):
    buf = DeviceBuffer(drv, (3,), np.int32)
    assert capsule_name(buf.__dlpack__()) == "dltensor"
    assert capsule_name(buf.__dlpack__(max_version=(1, 0))) == "dltensor_versioned"
    assert capsule_name(buf.__dlpack__(max_version=(0, 8))) == "dltensor"
    capsule = buf.__dlpack__(max_version=(1, 2))
    _, managed = _capsule_tensor(capsule)
    assert (managed.major, managed.minor, managed.flags) == (1, 0, 0)
    assert buf.__dlpack_device__() == (1, 0)
    with pytest.raises(BufferError):
        buf.__dlpack__(dl_device=(2, 0))
    with pytest.raises(BufferError):
        buf.__dlpack__(copy=True)
    buf.__dlpack__(dl_device=(1, 0), copy=False)


def test_export_keeps_buffer_alive(drv):
    buf = DeviceBuffer.from_numpy(drv, np.arange(4, dtype=np.float64))
    view = np.from_dlpack(buf)
    del buf
    gc.collect()
    assert drv.live_allocations == 1
    np.testing.assert_array_equal(view, [0.0, 1.0, 2.0, 3.0])
    del view
    gc.collect()
    assert drv.live_allocations == 0


def test_free_with_live_export_is_deferred(drv):
    buf = DeviceBuffer.from_numpy(drv, np.arange(4, dtype=np.int32))
    view = np.from_dlpack(buf)
    buf.free()
    with pytest.raises(ValueError, match="buffer was freed"):
        _ = buf.ptr
    assert drv.live_allocations == 1
    np.testing.assert_array_equal(view, [0, 1, 2, 3])
    del view
    gc.collect()
    assert drv.live_allocations == 0


def test_unconsumed_capsule_releases_buffer(drv):
    buf = DeviceBuffer(drv, (4,), np.float32)
    capsule = buf.__dlpack__(max_version=(1, 0))
    del buf
    gc.collect()
    assert drv.live_allocations == 1
    del capsule
    gc.collect()
    assert drv.live_allocations == 0


def test_gpu_export_carries_device_and_fails_cleanly_in_numpy():
    gpu_drv = RocmLabelledHostDriver()
    buf = DeviceBuffer.from_numpy(gpu_drv, np.arange(6, dtype=np.float32).reshape(3, 2))
    view = as_array_view(VersionedProducer(buf))
    assert view.device == (10, 0) and view.ptr == buf.ptr and view.strides == (2, 1)
    # numpy rejects the device after taking the capsule; its error must survive intact.
    with pytest.raises(RuntimeError, match="[Dd]evice"):
        np.from_dlpack(buf)
    del view, buf
    gc.collect()
    assert gpu_drv.live_allocations == 0


# ---- as_array_view ----


def test_view_of_device_buffer(drv):
    buf = DeviceBuffer(drv, (2, 5), np.float32)
    view = as_array_view(buf, stream=7)
    assert view == ArrayView(buf.ptr, (2, 5), (5, 1), np.dtype(np.float32), (1, 0), buf, 7)


@pytest.mark.parametrize("wrap", [VersionedProducer, LegacyProducer], ids=["versioned", "legacy"])
def test_view_of_device_buffer_through_dlpack(drv, wrap):
    buf = DeviceBuffer.from_numpy(drv, np.arange(8, dtype=np.int32).reshape(2, 4))
    view = as_array_view(wrap(buf))
    assert (view.ptr, view.shape, view.strides) == (buf.ptr, (2, 4), (4, 1))
    assert view.dtype == np.int32 and view.device == (1, 0) and not view.readonly
    del buf
    gc.collect()
    assert drv.live_allocations == 1  # the view's owner holds the export
    del view
    gc.collect()
    assert drv.live_allocations == 0


def test_view_of_numpy_float32_2d():
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    v = as_array_view(a)
    assert (v.ptr, v.shape, v.strides) == (a.ctypes.data, (4, 6), (6, 1))
    assert v.dtype == np.float32 and v.device == (1, 0) and v.is_row_contiguous()


def test_view_of_numpy_slices():
    a = np.arange(48, dtype=np.float32).reshape(6, 8)
    rows = as_array_view(a[1::2])
    assert rows.shape == (3, 8) and rows.strides == (16, 1)
    assert rows.ptr == a[1:].ctypes.data and rows.is_row_contiguous()
    padded = as_array_view(a[:, :5])
    assert padded.strides == (8, 1) and padded.is_row_contiguous()
    every_other = as_array_view(a[:, ::2])
    assert every_other.strides == (8, 2) and not every_other.is_row_contiguous()
    assert as_array_view(a[:, :1][:, ::1]).is_row_contiguous()


def test_view_of_numpy_int32_readonly_and_lifetime():
    a = np.arange(5, dtype=np.int32)
    a.flags.writeable = False
    alive = weakref.ref(a)
    v = as_array_view(a)
    assert v.dtype == np.int32 and v.readonly and v.strides == (1,)
    del a
    gc.collect()
    assert alive() is not None  # the view's owner keeps the exporter's array alive
    assert list((ctypes.c_int32 * 5).from_address(v.ptr)) == [0, 1, 2, 3, 4]
    del v
    gc.collect()
    assert alive() is None


def test_view_of_numpy_scalar_and_bool():
    v = as_array_view(np.array(2.5, dtype=np.float64))
    assert v.shape == () and v.strides == () and v.is_row_contiguous()
    assert as_array_view(np.zeros(3, bool)).dtype == np.bool_


class _RelabelledProducer:
    """Exports float16 storage labelled with another DLPack type (code, bits)."""

    def __init__(self, code: int, bits: int = 16) -> None:
        self.array = np.arange(4, dtype=np.float16)
        self.code, self.bits = code, bits

    def __dlpack__(self, **kwargs):
        capsule = self.array.__dlpack__(**kwargs)
        dtype = _capsule_tensor(capsule)[1].dl_tensor.dtype
        dtype.code, dtype.bits = self.code, self.bits
        return capsule

    def __dlpack_device__(self):
        return (1, 0)


def test_bfloat16_capsule_is_viewed_as_bfloat16():
    producer = _RelabelledProducer(4)  # kDLBfloat, 16 bits: torch.bfloat16
    v = as_array_view(producer)
    assert v.dtype == BFLOAT16 and v.dtype.itemsize == 2
    assert (v.ptr, v.shape, v.strides) == (producer.array.ctypes.data, (4,), (1,))


def test_bfloat16_with_an_array_interface_is_read_through_dlpack():
    # torch gives a bfloat16 tensor an array interface with typestr "<V2" (no bfloat16 there):
    # the view takes DLPack's exact type instead of refusing the raw records.
    class Both(_RelabelledProducer):
        @property
        def __cuda_array_interface__(self):
            return {"version": 3, "shape": (4,), "typestr": "<V2", "strides": None,
                    "data": (self.array.ctypes.data, False)}

    v = as_array_view(Both(4))
    assert v.dtype == BFLOAT16 and v.shape == (4,)
    with pytest.raises(TypeError, match="V2"):  # with no DLPack to ask, still refused
        as_array_view(SimpleNamespace(__cuda_array_interface__=Both(4).__cuda_array_interface__))


def test_bfloat16_buffer_exports_as_kdlbfloat():
    bits = np.array([0x3F80, 0xC000], np.uint16)
    with DeviceBuffer(HostMemoryDriver(), (2,), BFLOAT16) as buf:
        buf.driver.copy_from_host(buf.ptr, bits.ctypes.data, 4)
        capsule = buf.__dlpack__()
        dtype = _capsule_tensor(capsule)[1].dl_tensor.dtype
        assert (dtype.code, dtype.bits, dtype.lanes) == (4, 16, 1)
        del capsule
        assert as_array_view(buf).dtype == BFLOAT16
        assert buf.numpy().view(np.uint16).tolist() == bits.tolist()


def test_unsupported_dlpack_type_is_rejected_and_released():
    producer = _RelabelledProducer(4, bits=32)  # a 32-bit "bfloat": nothing we know
    alive = weakref.ref(producer.array)
    with pytest.raises(TypeError, match="unsupported DLPack dtype"):
        as_array_view(producer)
    producer.array = None
    gc.collect()
    assert alive() is None  # the rejected capsule's deleter ran


def test_view_of_cuda_array_interface():
    backing = np.arange(32, dtype=np.float32).reshape(4, 8)
    v = as_array_view(CAIProducer(backing[:, :6]), stream=3)
    assert (v.ptr, v.shape, v.strides) == (backing.ctypes.data, (4, 6), (8, 1))
    assert v.dtype == np.float32 and v.device == (2, 0) and v.stream == 3
    c = as_array_view(CAIProducer(backing[::2], strides=None, stream=5))
    assert c.strides == (8, 1) and c.stream == 5
    ints = as_array_view(CAIProducer(np.zeros((2, 2), np.int32), data=(1234, True)))
    assert ints.dtype == np.int32 and ints.ptr == 1234 and ints.readonly


def test_cuda_array_interface_device_index():
    class Device:
        index = 3

    producer = CAIProducer(np.zeros(2, np.float16))
    producer.device = Device()
    assert as_array_view(producer).device == (2, 3)


@pytest.mark.parametrize("typestr", ["<x4", "|V8", ">f4", "<f16", "<U4", 7])
def test_cuda_array_interface_bad_typestr(typestr):
    with pytest.raises(TypeError):
        as_array_view(CAIProducer(np.zeros(2, np.float32), typestr=typestr))


def test_cuda_array_interface_invalid():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="mask"):
        as_array_view(CAIProducer(a, mask=object()))
    with pytest.raises(ValueError, match="strides"):
        as_array_view(CAIProducer(a, strides=(12, 3)))
    with pytest.raises(ValueError, match="malformed"):
        as_array_view(CAIProducer(a, data=None))


@pytest.mark.parametrize("obj", [[1.0, 2.0], 3.0, "abc", memoryview(b"ab")])
def test_unsupported_objects(obj):
    with pytest.raises(TypeError, match=type(obj).__name__) as info:
        as_array_view(obj)
    assert "__dlpack__" in str(info.value) and "__cuda_array_interface__" in str(info.value)


def test_views_share_and_keep_their_owner_alive():
    driver = HostMemoryDriver()
    base = DeviceBuffer(driver, (16,), np.int32)
    base.copy_from(np.arange(16))
    owner = weakref.ref(base)
    first = DeviceBuffer.view_of(base, 0, (4,))
    last = DeviceBuffer.view_of(base, 48, (4,))
    assert last.ptr == base.ptr + 48 and last.strides == (4,)
    assert last.numpy().tolist() == [12, 13, 14, 15]
    with pytest.raises(ValueError, match="outside"):
        DeviceBuffer.view_of(base, 60, (2,))
    del base
    gc.collect()
    assert owner() is not None  # the views hold it
    first.free()
    assert first._base is None and owner() is not None
    assert last.numpy().tolist() == [12, 13, 14, 15]
    del last
    gc.collect()
    assert owner() is None  # the last view gone: the memory goes with its owner


def test_package_exports_each_modules_public_names_as_the_same_objects():
    """``rocsample.buffers`` is the import path users and the backends know: every public name
    of its modules must come out of it, and as the very object the modules use (an
    ``isinstance(obj, DeviceBuffer)`` in views.py sees memory.py's class)."""
    import importlib

    import rocsample.buffers as package

    names: set[str] = set()
    for module in ("dtypes", "dlpack", "memory", "views"):
        mod = importlib.import_module(f"rocsample.buffers.{module}")
        assert mod.__doc__ and mod.__doc__.strip(), module
        for name in getattr(mod, "__all__", ()):
            assert getattr(package, name) is getattr(mod, name), (module, name)
            names.add(name)
    assert names == set(package.__all__)
    assert {"BFLOAT16", "KIND_NAMES", "ArrayView", "DeviceBuffer", "HostMemoryDriver",
            "MemoryDriver", "as_array_view", "f32_to_bf16", "float_kind", "narrow_f32",
            "widen_to_f32"} == names


class _StreamOrderedDriver(HostMemoryDriver):
    """Records the order of stream waits and copies (a GPU driver's stream-ordered calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int | None]] = []

    def alloc_async(self, nbytes: int, stream: int) -> int:
        return self.alloc(nbytes)

    def free_async(self, ptr: int, stream: int) -> None:
        self.free(ptr)

    def drain(self, stream: int, what: str) -> None:
        self.calls.append(("drain", stream))

    def copy_to_host(self, dst: int, src: int, nbytes: int) -> None:
        self.calls.append(("to_host", None))
        super().copy_to_host(dst, src, nbytes)

    def copy_from_host(self, dst: int, src: int, nbytes: int) -> None:
        self.calls.append(("from_host", None))
        super().copy_from_host(dst, src, nbytes)


def test_copies_of_a_stream_ordered_buffer_wait_for_its_stream_first():
    # The H200 run of test_gpu_capture found a result read back while its kernel still ran
    # on a non-blocking stream (the synchronous copy does not wait for such a stream).
    drv = _StreamOrderedDriver()
    buf = DeviceBuffer(drv, (4,), np.int32, stream=77)
    buf.copy_from(np.arange(4))
    assert buf.numpy().tolist() == [0, 1, 2, 3]
    view = DeviceBuffer.view_of(buf, 4, (2,))  # a slab's result: the same stream
    view.numpy()
    assert drv.calls == [("drain", 77), ("from_host", None), ("drain", 77), ("to_host", None),
                         ("drain", 77), ("to_host", None)]
    drv.calls.clear()
    for stream in (None, 0):  # synchronous memory, the legacy stream: nothing to wait for
        DeviceBuffer(drv, (2,), np.int32, stream=stream).numpy()
    assert drv.calls == [("to_host", None)] * 2


def test_cuda_array_interface_names_the_stream_a_consumer_must_wait_for():
    class Cuda(_StreamOrderedDriver):
        name = "cuda"
        dlpack_device = (2, 0)

    drv = Cuda()
    assert DeviceBuffer(drv, (2,), np.int32, stream=77).__cuda_array_interface__["stream"] == 77
    # CAI v3: 1 is the legacy default stream (0 is not allowed); no stream: nothing to wait for
    assert DeviceBuffer(drv, (2,), np.int32, stream=0).__cuda_array_interface__["stream"] == 1
    assert DeviceBuffer(drv, (2,), np.int32).__cuda_array_interface__["stream"] is None
