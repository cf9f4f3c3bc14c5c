"""tools/ptxas_regs.py: the machine-code hashes of a real NVRTC cubin (sm_90), which must
ignore what only changes the file (a comment moves the line information) and see any change
of an instruction."""

from __future__ import annotations

import pytest

from rocsample.toolchains import get_toolchain

from .conftest import load_tool, need

KERNEL = """
extern "C" __global__ void scale(float* x, int n) {{
    {comment}
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = x[i] * {factor};
}}
__device__ __noinline__ float twice(float v) {{ return v * 2.0f; }}
extern "C" __global__ void twice_all(float* x, int n) {{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = twice(x[i]);
}}
"""


def _tool():
    return load_tool("ptxas_regs")


@pytest.fixture(scope="module")
def cubins():
    try:
        tc = get_toolchain("nvrtc")
    except Exception as exc:
        need(False, f"nvrtc unavailable: {exc}")
    out = {}
    for name, comment, factor in [("a", "", "3.0f"), ("comment", "// only a comment\n\n", "3.0f"),
                                  ("changed", "", "5.0f")]:
        code, log = tc.compile(KERNEL.format(comment=comment, factor=factor).encode(), "k.cu",
                               {}, ["-arch=sm_90", "-lineinfo"])
        assert code is not None, log
        out[name] = code
    return out


def test_sections_are_the_entries(cubins):
    texts = _tool().text_sections(cubins["a"])
    assert {"scale", "twice_all"} <= set(texts)
    assert all(len(t) > 0 and len(t) % 16 == 0 for t in texts.values())  # 16-byte sm_90 words


def test_a_comment_changes_the_file_not_the_hashes(cubins):
    tool = _tool()
    assert cubins["a"] != cubins["comment"]  # the line table moved
    assert tool.text_hashes(cubins["a"]) == tool.text_hashes(cubins["comment"])


def test_a_changed_instruction_changes_its_entry_and_the_module(cubins):
    tool = _tool()
    (a, whole_a), (b, whole_b) = tool.text_hashes(cubins["a"]), tool.text_hashes(cubins["changed"])
    assert a["scale"] != b["scale"]
    assert a["twice_all"] == b["twice_all"]
    assert whole_a != whole_b
    assert all(len(h) == 12 for h in a.values()) and len(whole_a) == 12
