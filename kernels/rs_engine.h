// rs_engine.h -- the chunked sampling engine behind every sampling entry: its dispatcher.
//
// A row is cut into sub-chunks of RS_CHUNK elements. The grid is (batch, G), 1 <= G <= the
// number of sub-chunks nc: block (r, g) works on G's share of row r, a run of S = ceil(nc / G)
// consecutive sub-chunks (its "span"), so one row keeps up to nc SMs/CUs busy when rows are
// few, and large batches use few, long blocks. Work that needs the whole row is done by the
// last block of the row to finish a phase (an atomic ticket per row after a memory fence;
// no block ever waits for another, so nothing assumes co-residency and nothing can hang).
// The host launches the entry once per phase (phase = 0 .. nphase-1) on one stream:
//   * top-k with k <= RS_KCAND (with or without top-p / min-p): 1 phase, one read of the
//     row. Each sub-chunk keeps its nonzero elements at or above the 11-bit key bin that
//     holds the k-th largest of some sub-chunk of its block (never above the row's k-th
//     largest, so a superset of its share of the row's top-k); the last block selects
//     exactly among those candidates, finds the top-p cut among the ~k at or above the k-th
//     largest, and draws.
//   * plain sampling (no filter): 1 phase, one read of the row. Each sub-chunk's mass is
//     taken at the sub-chunk's own scale (rs_common.h: plain sampling), so no pass has to
//     find the row maximum first; the last block aligns the sub-chunk sums and draws.
//   * min-p alone: 2 phases (the row maximum, which fixes the cut and the mass scale; the
//     kept mass of each span, then the draw inside the one span that holds the target). A
//     row with one block reads once when no sub-chunk has more than RS_KSLOT elements >=
//     min_p x the largest value the block has seen (candidates, as for top-k).
//   * top-p: 2 reads. Phase 0: the maximum, and per 11-bit key bin (key >> 20) the exact
//     sum of the significands of its elements. A bin's elements share one exponent, so once
//     the maximum is known its mass (the sum of the truncated masses of rs_common.h) lies
//     within a proven interval of that sum, shifted (rs_hist_bounds); from the bins'
//     cumulative bounds and p the last block finds the range of bins [lo, hi] that must hold
//     the cut (the top-p stages, whose p comes with the next launch, store the bounds and
//     every phase-1 block finds the range). Phase 1 sums the exact mass above hi and of the
//     row, and gathers the elements of [lo, hi]; the last block finds the exact cut among
//     them and draws (or leaves the draw to a third launch when it has no seed: the stages).
// Rows the fast paths cannot serve (more than RS_KSLOT top-k candidates in a sub-chunk, k >
// RS_KCAND, more than RS_CAPC elements in the cut bin) are finished by one block with the
// full-row algorithm (min-p rows with too many candidates take the two phases instead); every
// path draws the same token (the semantics are in rs_common.h).
//
// Workspace ws (unsigned long longs): batch x RS_HBINS histogram words (row r's at ws + r *
// RS_HBINS: where they are depends on nothing but r), then batch ticket words, then
// rs_ws_words(vocab) per row, row r at ws + batch * (RS_HBINS + 1) + r * rs_ws_words(vocab).
// The first batch * (RS_HBINS + 1) words (histograms and tickets) must be zero before a call;
// the kernels leave them zero after every complete call (tickets after every phase). The rest
// needs no initialisation. Calls that may run at the same time need their own workspaces.
//
// The engine is one header per phase, included below in the order a row meets them; each
// opens with what it holds and what it relies on, and "// ---- " lines mark the sections
// inside them (grep -n '^// ----' kernels/rs_engine*.h lists them). rs_engine() at the end of
// this file sends a launch to its phase from the state the previous phase left.
#pragma once
#include "rs_common.h"

// ---- overlapping phases (NVIDIA sm_90 and later) ----

// Phases may overlap (programmatic dependent launch, NVIDIA sm_90 and later): the host may
// launch phase n > 0 with permission to start while phase n - 1 is still running. Every entry
// of the engine lets the next launch start early (rs_grid_release) and, in phase n > 0, waits
// until the previous grid has completed and its writes are visible (rs_grid_wait) before it
// reads the workspace; until then a block only sets up its row context from the arguments.
// Both are no-ops for a grid launched without that permission, and on HIP. The loader
// launches a code object that way only if it defines this symbol (rocsample.codeobject), so
// a code object from other sources is never overlapped with a phase it must wait for.
extern "C" __device__ __attribute__((used)) const unsigned int rocsample_grid_wait = 1;
#if defined(RS_CUDA) && \
    defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define RS_GRID_DEP 1
#endif
__device__ __forceinline__ void rs_grid_release() {
#ifdef RS_GRID_DEP
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void rs_grid_wait() {
#ifdef RS_GRID_DEP
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// ---- the engine's common ground, then its phases in the order a row meets them ----

#include "rs_engine_core.h"    // constants, workspace layout, shared memory
#include "rs_engine_select.h"  // exact selection and draws every last block uses
#include "rs_engine_block.h"   // a block's row context; the hand-off to the last block
#include "rs_engine_plain.h"   // plain sampling (no filter): one read, then the draw
#include "rs_engine_scan.h"    // phase 0, every block: the scan of its span
#include "rs_engine_topk.h"    // phase 0, a top-k row's last block: few candidates
#include "rs_engine_phase0.h"  // phase 0: which scan; the last block plans the row
#include "rs_engine_mass.h"    // RS_S_MASS: each sub-chunk's kept mass, then the draw
#include "rs_engine_cut.h"     // RS_S_HIST: the exact top-p cut, then the draw

// ---- the dispatcher ----

// The block's arguments and row context live in shared memory. Every phase function takes
// them by reference, and a reference to a per-thread object puts that object on each thread's
// stack: ~360 bytes a thread written to local memory (through L2) on every launch, which ncu
// showed as more store traffic than the row's own reads at 264 x 32000 (H200).
__shared__ rs_args rs_sa;
__shared__ rs_rowctx rs_st;

// T: the element type of the rows (float, rs_f16 or rs_bf16); everything after the loads is
// float32 arithmetic on the exactly widened values, so a half row draws the token its widened
// float32 row draws. rs_lg<U> (logits_sampling.hip): rows of logits of type U, each load
// made the element's softmax probability (rs_engine_block.h: logit rows).
template <typename T, bool Rise = false>
__device__ __forceinline__ void rs_engine(const rs_args a_in) {
    const int vocab = a_in.vocab;
    if ((int)blockIdx.x >= a_in.batch || vocab <= 0 || vocab > RS_VOCAB_MAX) return;
    if ((int)gridDim.y > rs_nchunks(vocab)) {  // more blocks a row than sub-chunks: invalid
        if (blockIdx.y == 0 && threadIdx.x == 0 && a_in.out) a_in.out[blockIdx.x] = -1;
        return;
    }
    if (threadIdx.x == 0) {  // block-uniform values, computed once
        rs_sa = a_in;
        rs_rowctx& t = rs_st;
        t.row = blockIdx.x;
        t.g = blockIdx.y;
        t.ng = gridDim.y;
        t.nc = rs_nchunks(vocab);
        const int per = (t.nc + t.ng - 1) / t.ng;
        t.s0 = t.g * per < t.nc ? t.g * per : t.nc;
        t.s1 = t.s0 + per < t.nc ? t.s0 + per : t.nc;
        t.span = per * RS_CHUNK;
        t.x = (const T*)a_in.probs + (long long)t.row * a_in.row_stride;
        t.w = rs_ws_row(a_in.ws, a_in.batch, t.row, vocab);
        t.ticket = t.w.ticket;
        t.k = a_in.top_k ? a_in.top_k[t.row] : a_in.top_k_val;
        t.p = a_in.top_p ? a_in.top_p[t.row] : a_in.top_p_val;
        t.mp = a_in.min_p ? a_in.min_p[t.row] : a_in.min_p_val;
        t.final_phase = a_in.phase == a_in.nphase - 1;
        t.r = a_in.has_rng ? rs_row_draw(a_in.seed, a_in.offset, a_in.seeds, a_in.offsets,
                                          t.row) : 0ull;
        t.topk = RS_WITH_TOPK && t.k > 0 && t.k < vocab;
        t.max_key = 0u;
        t.mthr = 0u;
    }
    rs_grid_release();
    if (a_in.phase > 0) rs_grid_wait();  // before any read of the workspace
    if ((int)threadIdx.x < RS_WAVE) rs_lg_setup<T>(a_in, (int)blockIdx.x);  // logit rows
    __syncthreads();
    const rs_args& a = rs_sa;
    rs_rowctx& t = rs_st;
    if (a.phase == 0) {
        if (!t.topk && !(t.p < 1.0f) && !(t.mp > 0.0f) && !a.p_later) {  // plain: one phase
            rs_phase_plain<T>(a, t);
            return;
        }
        rs_phase0<T, Rise>(a, t);
        if (t.ng != 1 || a.p_later) return;
        // A row with one block: that block carries on with the next phases in this launch,
        // while the row is still in L2 (the later launches find the row done).
        __syncthreads();
    }

    // ---- phases 1 and 2 (or chained): the state the previous phase left ----
    const rs_ws& w = t.w;
    for (int step = 0; step < 3; ++step) {
        if (step > 0) {
            if (t.ng != 1) return;
            __syncthreads();  // the state written by this block's thread 0 is visible
        }
        rs_u64 state = w.head[RS_H_STATE];
        if (state == RS_S_DONE) {
            if (a.phase > 0 && step == 0 && t.g == 0 && threadIdx.x == 0 && a.out)
                a.out[t.row] = (int)(rs_u32)w.head[RS_H_TOKEN];
            return;
        }
        if (state == RS_S_PDRAW) {  // a plain row without its draw
            if (t.g != 0 || !a.has_rng) return;
            rs_finish(a, t, rs_plain_draw(rs_px<T>(t), vocab, t.nc, t.w, t.r, false));
            return;
        }
        const rs_u32 max_key = (rs_u32)w.head[RS_H_MAX];
        if (state == RS_S_DRAW) {  // everything but the draw is known
            if (t.g != 0 || !a.has_rng) return;
            for (int c = threadIdx.x; c < t.nc; c += RS_BLOCK) rs_sm.u.f.mass[c] = w.smass[c];
            __syncthreads();
            rs_finish(a, t, rs_draw_chunks(rs_px<T>(t), vocab, t.nc, (rs_u32)w.head[RS_H_THR],
                                           rs_exp(max_key), t.r));
            return;
        }
        const rs_u32 thr_mass = (rs_u32)w.head[RS_H_THR];
        __syncthreads();  // every thread has read the state before thread 0 updates rs_st
        if (threadIdx.x == 0) {
            t.max_key = max_key;
            t.mthr = rs_min_p_key(t.mp, max_key);
        }
        __syncthreads();
        if (state == RS_S_MASS && thr_mass == 0u) {  // no cut at all: plain sampling
            rs_phase_plain<T>(a, t);
        } else if (state == RS_S_MASS) {
            rs_phase_mass<T>(a, t, thr_mass);
        } else if (state == RS_S_HIST) {
            rs_phase_cut<T>(a, t);
        } else {
            if (t.g == 0 && threadIdx.x == 0 && a.out)
                a.out[t.row] = -1;  // an unknown state: the workspace was not prepared
            return;
        }
    }
}
