"""TEST EQUIPMENT: a pytest plugin that makes the host-kernel device (tests/kernel_device.py)
the GPU backend, so that the GPU suites' sampling tests run the kernels' own code on a CPU.

Used by ``make test-kernel-host`` (``-p tests.kernel_host_plugin``), with the options
``--host-wave`` (32 or 64, default 64: CDNA's) and ``--host-units`` (the compute units the
executor sizes grids by, default 16). Tests that need a real driver (torch or cupy arrays,
streams, a second device, the profiler's events) fail or skip there; the exactness tests are
what it is for. Not loaded by ``make test``.
"""

from __future__ import annotations

from typing import Any

import rocsample.backends as backends
from rocsample import api, api_elementwise, api_mlp
from rocsample.backends.gpu import GpuBackend

from .host_device import TwinKernels
from .kernel_device import KernelDevice, build_all


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("kernel host", "the GPU suites on the kernels built for the CPU")
    group.addoption("--host-wave", type=int, default=64, choices=(32, 64),
                    help="wave size the kernels are built for (default 64)")
    group.addoption("--host-units", type=int, default=16,
                    help="compute units the executor sizes grids by (default 16)")


def pytest_configure(config: Any) -> None:
    wave, units = config.getoption("--host-wave"), config.getoption("--host-units")
    real = backends.get_backend
    device: list[GpuBackend] = []

    def get_backend(name: str | None = None, device_index: int = 0) -> Any:
        if name == "cpu":
            return real(name, device_index)
        if not device:
            build_all(wave)
            b = GpuBackend(KernelDevice(wave=wave, sm_count=units))
            b.kernels = TwinKernels()
            device.append(b)
        return device[0]

    backends.get_backend = get_backend
    for mod in (api, api_elementwise, api_mlp):
        mod.get_backend = get_backend
