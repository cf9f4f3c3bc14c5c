"""Compile one rocsample module with a given libnvrtc through ctypes, to try a kernel change
against another NVRTC than the installed one (session 6: the H200 image's NVRTC, CUDA 13.0,
segfaulted where the local 13.5 compiled; 13.0.88 from ``pip download
nvidia-cuda-nvrtc==13.0.88`` reproduces the crash).

Usage: LD_LIBRARY_PATH=DIR python nvrtc_try.py DIR/libnvrtc.so.13 MODULE [TREE]
(DIR also holds libnvrtc-builtins, which NVRTC opens by name.)
"""

from __future__ import annotations

import ctypes
import sys


def main(lib_path: str, module: str, tree: str) -> int:
    sys.path.insert(0, tree)
    from rocsample import registry
    from rocsample.compiler import read_sources
    from rocsample.toolchains import get_toolchain

    lib = ctypes.CDLL(lib_path)
    spec = registry.MODULES[module]
    src, headers = read_sources(spec)
    opts = get_toolchain("nvrtc").options("sm_90", 32)
    names = list(headers)

    def arr(xs: list) -> ctypes.Array:
        return (ctypes.c_char_p * len(xs))(*[x if isinstance(x, bytes) else x.encode()
                                             for x in xs])

    prog = ctypes.c_void_p()
    text = src if isinstance(src, bytes) else src.encode()
    rc = lib.nvrtcCreateProgram(ctypes.byref(prog), text, spec.source.encode(), len(names),
                                arr([headers[n] for n in names]), arr(names))
    print("create", rc, flush=True)
    rc = lib.nvrtcCompileProgram(prog, len(opts), arr(opts))
    print("compile", rc, flush=True)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    print(log.value.decode()[-2000:])
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "."))
