"""Builds traced copies of the fused entry: clock stamps of the top-p path into ws head words.
Slots (head words): 5 start, 6 scan done, 7 phase0 last-block entered, 9 bounds stored,
10 phase_cut range picked, 11 phase_cut stream+last block done, 12 select done, 13 masses added,
14 draw done; 15 = globaltimer ns (end - start) of the last block's own stamps (one-block rows)."""
import subprocess, pathlib, sys
root = pathlib.Path(__file__).resolve().parents[2]
def build(tag, extra_defs=()):
    out = root / "scratch/t8" / tag
    out.mkdir(exist_ok=True)
    h = (root / "kernels/rs_engine.h").read_text()
    def rep(old, new):
        nonlocal h
        assert h.count(old) == 1, old
        h = h.replace(old, new, 1)
    rep('#include "rs_common.h"\n', '''#include "rs_common.h"
__device__ __forceinline__ unsigned long long rs_gt() { unsigned long long v; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(v)); return v; }
#if defined(RS_T_GT)\n#define RS_CLK() rs_gt()\n#else\n#define RS_CLK() clock64()\n#endif\n#define RS_TRW(i) do { if (threadIdx.x == 0) { t.w.head[i] = RS_CLK(); if ((i) == 0) t.w.head[15] = rs_gt(); if ((i) == 14) t.w.head[15] = rs_gt() - t.w.head[15]; } } while (0)
''')
    rep("    __syncthreads();\n    const rs_args& a = rs_sa;\n    rs_rowctx& t = rs_st;\n",
        "    __syncthreads();\n    const rs_args& a = rs_sa;\n    rs_rowctx& t = rs_st;\n    if (a.phase == 0 && t.g == 0) RS_TRW(0);\n")
    rep("    rs_u32 mx = sc.mx;\n", "    rs_u32 mx = sc.mx;\n    if (t.g == 0) RS_TRW(6);\n")
    rep("    if (!rs_last_block(t)) return;\n\n    // ---- the row's last block ----\n",
        "    if (!rs_last_block(t)) return;\n    RS_TRW(7);\n\n    // ---- the row's last block ----\n")
    rep("    if (threadIdx.x == 0) {\n        if (hist) {\n            w.head[RS_H_RANGE] = range;", "    RS_TRW(9);\n    if (threadIdx.x == 0) {\n        if (hist) {\n            w.head[RS_H_RANGE] = range;")
    rep("    if ((t.mthr >> 20) > bhi) {  // min-p cuts above", "    if (t.g == 0) RS_TRW(10);\n    if ((t.mthr >> 20) > bhi) {  // min-p cuts above")
    rep("    if (!rs_last_block(t)) return;\n\n    if (clear) rs_clear_hist(w);",
        "    if (!rs_last_block(t)) return;\n    RS_TRW(11);\n\n    if (clear) rs_clear_hist(w);")
    rep("    thr = t.mthr > thr ? t.mthr : thr;  // min-p at most in bin bhi (see above)\n",
        "    RS_TRW(12);\n    thr = t.mthr > thr ? t.mthr : thr;  // min-p at most in bin bhi (see above)\n")
    rep("    rs_finish(a, t, rs_draw_chunks(t.x, a.vocab, t.nc, thr, max_exp, t.r));\n}\n\n// The block's arguments",
        "    RS_TRW(13);\n    { const int tok = rs_draw_chunks(t.x, a.vocab, t.nc, thr, max_exp, t.r); RS_TRW(14); rs_finish(a, t, tok); }\n}\n\n// The block's arguments")
    rep("    if (sig == 0u) return;\n    atomicAdd(&rs_sm.u.h.part[0][b], sig & 0xfffu);\n",
        "    if (sig == 0u) return;\n#if defined(RS_T_NOHIST)\n    if (sig == 0x7fffffffu) atomicAdd(&rs_sm.u.h.part[0][b], 1u);\n    return;\n#endif\n#if defined(RS_T_HIONLY)\n    atomicAdd(&rs_sm.u.h.part[1][b], sig >> 12);\n    return;\n#endif\n    atomicAdd(&rs_sm.u.h.part[0][b], sig & 0xfffu);\n")
    (out / "rs_engine.h").write_text(h)
    (out / "rs_common.h").write_text((root / "kernels/rs_common.h").read_text())
    (out / "topk_topp_sampling.hip").write_text((root / "kernels/topk_topp_sampling.hip").read_text())
    subprocess.run(["/usr/local/cuda-13.0/bin/nvcc", "-x", "cu", "-arch=sm_90", "-cubin", "-std=c++17",
                    "-DRS_WAVE=32", "-DRS_BLOCK=512", "-DRS_ABI_VERSION=3", *extra_defs, "-I", str(out),
                    str(out / "topk_topp_sampling.hip"), "-o", str(root / f"scratch/t8/{tag}.cubin")], check=True)
    print("built", tag)
build("tA")
build("tG", ["-DRS_T_GT=1"])
if "all" in sys.argv:
    build("tN", ["-DRS_T_NOHIST=1"])
    build("tH", ["-DRS_T_HIONLY=1"])
    build("tG", ["-DRS_T_GT=1"])
