"""A STAND-IN for an AMD device, for tests of the kernel cache on machines without one.

No AMD GPU exists on our development or CI machines, so ``hipModuleLoadData`` cannot run.
This runtime keeps everything else real (hiprtc compiles, the disk cache, code-object
validation) and replaces only the driver's loader: ``load_module`` parses the image with
rocsample's own ELF/bundle reader and refuses what a driver would refuse (no code for the
target), and ``get_function`` refuses a missing entry point. It is never used by the
library; the real HIP and CUDA runtimes are exercised on the GPU machines.
"""

from __future__ import annotations

import threading

from rocsample import codeobject
from rocsample.errors import LaunchError


class OfflineAmdRuntime:
    name = "hip"
    toolchain = "hiprtc"
    code_suffix = ".hsaco"
    device_name = "stand-in AMD device (no GPU on this machine)"
    device_index = 0
    dlpack_device = (10, 0)
    sm_count = 104  # an MI250X GCD

    def __init__(self, target: str = "gfx90a", wave_size: int = 64) -> None:
        self.target = target
        self.wave_size = wave_size
        self.loads = 0
        self._lock = threading.Lock()

    def load_module(self, image: bytes):
        with self._lock:
            self.loads += 1
        info = codeobject.inspect_bytes(image)
        entry = codeobject.select_entry(info, self.target)
        if entry is None:
            raise LaunchError("load", "hip", f"hipErrorNoBinaryForGpu: no code for {self.target}")
        return entry

    def stream_is_capturing(self, stream: int) -> bool:
        return False  # it launches nothing, so no stream of it ever captures

    def get_function(self, module, entry: str):
        if entry not in module.symbols:
            raise LaunchError(entry, "hip", "hipErrorNotFound")
        return (module.target, entry)
