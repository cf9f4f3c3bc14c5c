// rs_elementwise.h -- shared device code of the elementwise modules (unary, affine, ternary),
// the kernels Candle's CUDA backend calls (candle-kernels/src/{unary,affine,ternary}.cu), with
// the same names and arguments so that a Candle ROCm backend can call ours.
//
// Passed to hiprtc/NVRTC as an in-memory header after rs_common.h (which supplies RS_CUDA, the
// ABI marker and the integer typedefs); no system header is included.
//
// Layout (Candle's convention, also rocsample.ops.elementwise.layout_info):
//   info == NULL: every operand is contiguous. Otherwise info holds num_dims dims followed by
//   num_dims strides per strided operand, all 64-bit and in elements; start offsets are already
//   in the base pointers. A layout counts as contiguous when, walking the dims from the last,
//   every dim of size > 1 has the running product of the later dims as its stride (size-1
//   dims may have any stride). The output is always contiguous.
// Indices are 64-bit throughout: with numel close to 2^32 the grid-stride step plus the index
// passes 2^32, and a strided offset (row stride x row) can pass it for any numel.
//
// Speed (what the grid-stride loops below do; the results are the same on every path):
// - contiguous, 16-byte aligned operands and a grid with fewer threads than elements: each
//   thread moves 16 bytes of every operand per access (of the widest operand, for where),
//   RS_EW_GROUPS of them in flight (loads first, then the stores), which the memory system
//   needs to stream; values narrower than 4 bytes stay packed in registers (rs_pack). The
//   tail and misaligned pointers go element by element.
// - strided with rows contiguous for every operand (x[:, 1:], a slice of a 3-d tensor, a
//   broadcast row; the trailing contiguous dims merged in the kernel, since Candle's own host
//   code sends them unmerged): rs_row_walk, tiles of a row dealt to blocks, coalesced accesses
//   and no division per element, when a row holds at least half a tile.
// - two dims with the (one) input transposed, strides (1, s) (unary and affine): rs_tile_walk,
//   32 x 32 tiles staged through shared memory, so that both the reads and the writes are
//   coalesced.
// - other strided layouts: one or two dims (rocsample merges dims before building info,
//   rocsample.ops.elementwise.merge_dims) takes rs_walk2, RS_EW_UNROLL elements in flight a
//   thread: two 32-bit divisions a thread, none an element. More dims, RS_EW_NDIM_UNROLL in
//   flight: 32-bit division at every element and dim (none for the outermost) while
//   numel < 2^32, else 64-bit.
// - rocsample's grid gives a thread one round of these (elements_per_thread); Candle's grid
//   (a thread per element) leaves one element to each. The strided code is inlined, not a
//   call: on sm_90 a call made ptxas give every entry its 64-register maximum.

#pragma once

#include "rs_common.h"

typedef rs_u64 rs_size;  // size_t of the ABI: 8 bytes on every target we build for

// rs_f16, rs_bf16 and rs_num<T> (the conversions) are in rs_common.h: the sampling family
// reads half-precision rows with them too.

// Candle's contiguity rule over one operand's strides.
__device__ __forceinline__ bool rs_is_contiguous(rs_size num_dims, const rs_size* dims,
                                                 const rs_size* strides) {
    rs_size acc = 1;
    for (rs_size d = num_dims; d-- > 0;) {
        if (dims[d] > 1 && strides[d] != acc) return false;
        acc *= dims[d];
    }
    return true;
}

// Offset, in elements, of the i-th element in row-major order of a strided operand.
__device__ __forceinline__ rs_size rs_strided_index(rs_size i, rs_size num_dims,
                                                    const rs_size* dims, const rs_size* strides) {
    rs_size off = 0;
    for (rs_size d = num_dims; d-- > 0;) {
        const rs_size n = dims[d];
        off += (i % n) * strides[d];
        i /= n;
    }
    return off;
}

// ---- contiguous operands: 16-byte groups ----

// A value narrower than 4 bytes as the low bits of a 32-bit word, and back.
template <typename T> struct rs_narrow;
template <> struct rs_narrow<unsigned char> {
    static __device__ __forceinline__ rs_u32 bits(unsigned char v) { return v; }
    static __device__ __forceinline__ unsigned char of(rs_u32 u) { return (unsigned char)u; }
};
template <> struct rs_narrow<short> {
    static __device__ __forceinline__ rs_u32 bits(short v) { return (unsigned short)v; }
    static __device__ __forceinline__ short of(rs_u32 u) { return (short)(unsigned short)u; }
};
template <typename H> struct rs_narrow_half {  // rs_f16, rs_bf16
    static __device__ __forceinline__ rs_u32 bits(H v) { return v.bits; }
    static __device__ __forceinline__ H of(rs_u32 u) {
        H h;
        h.bits = (unsigned short)u;
        return h;
    }
};
template <> struct rs_narrow<rs_f16> : rs_narrow_half<rs_f16> {};
template <> struct rs_narrow<rs_bf16> : rs_narrow_half<rs_bf16> {};

#define RS_PACK_ALIGN(T, N) alignas((N) * sizeof(T) < 16 ? (N) * sizeof(T) : 16)

// N elements of T moved as one access: 16 bytes (or N * sizeof(T) when smaller), aligned so.
// Values narrower than 4 bytes stay packed in 32-bit words until each is used (get), and are
// packed back as they are made (set, in order k = 0, 1, ...): unpacked, every 1- or 2-byte
// value takes a register of its own, which limited f16/bf16 to one group in flight.
template <typename T, int N, bool WORDS = (sizeof(T) < 4 && N * sizeof(T) >= 4)>
struct RS_PACK_ALIGN(T, N) rs_pack {
    T v[N];
    __device__ __forceinline__ T get(int k) const { return v[k]; }
    __device__ __forceinline__ void set(int k, T x) { v[k] = x; }
};
template <typename T, int N>
struct RS_PACK_ALIGN(T, N) rs_pack<T, N, true> {
    static constexpr int PER = 4 / sizeof(T);  // values a word
    rs_u32 w[N / PER];
    __device__ __forceinline__ T get(int k) const {
        return rs_narrow<T>::of(w[k / PER] >> (8 * sizeof(T) * (k % PER)));
    }
    __device__ __forceinline__ void set(int k, T x) {
        const rs_u32 b = rs_narrow<T>::bits(x) << (8 * sizeof(T) * (k % PER));
        w[k / PER] = k % PER == 0 ? b : (w[k / PER] | b);
    }
};

template <typename P>
__device__ __forceinline__ bool rs_aligned(const void* p) {
    return ((rs_u64)p & (alignof(P) - 1)) == 0;
}

// Single elements a thread keeps in flight on the strided and element-by-element walks.
#define RS_EW_UNROLL 4
// ... and on the N-dim walk (three or more dims once merged): its offsets of three operands
// for four elements took 62-64 registers on sm_90, which every entry then pays, also on its
// contiguous path; with one element the where kernels take 38-52.
#define RS_EW_NDIM_UNROLL 1

// 16-byte groups a thread keeps in flight on a contiguous walk: four (64 bytes of each
// operand), which the memory system needs to stream at full bandwidth on an H200; with narrow
// values kept packed (rs_pack) that costs 16 registers of data for any element size.
#define RS_EW_GROUPS 4

// load(j, u) then store(j, u) for every j < count on a grid-stride walk from `first`; a thread
// issues the loads of U items (u = 0..U-1) before their stores.
template <int U, typename L, typename S>
__device__ __forceinline__ void rs_unrolled(rs_size count, rs_size first, rs_size step, L load,
                                            S store) {
    for (rs_size base = first; base < count; base += step * U) {
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const rs_size j = base + (rs_size)u * step;
            if (j < count) load(j, u);
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const rs_size j = base + (rs_size)u * step;
            if (j < count) store(j, u);
        }
    }
}

// ---- strided operands ----

// The offsets of one thread's elements i = first, first + step, first + 2 step, ... in NOPS
// operands of a layout of one or two dims (rocsample merges the dims that are contiguous for
// every operand and drops size-1 dims, so a transpose arrives as two; a slice x[:, 1:] or a
// broadcast row takes rs_row_walk when its rows are long), for numel and step below 2^32
// (so is every index and dim). Two 32-bit divisions a thread, at the start: then (row q,
// column r) advance by the step's own (dq, dr) with one compare, where the N-dim walk
// divides at every element and dim.
template <int NOPS> struct rs_walk2 {
    rs_u32 q, r, dq, dr, n;
    rs_size s0[NOPS], s1[NOPS];

    __device__ __forceinline__ rs_walk2(rs_size num_dims, const rs_size* dims,
                                        const rs_size* const (&strides)[NOPS], rs_u32 first,
                                        rs_u32 step) {
        const int inner = num_dims == 2 ? 1 : 0;
        n = (rs_u32)dims[inner];  // > 0 and < 2^32: 0 < numel < 2^32
#pragma unroll
        for (int o = 0; o < NOPS; ++o) {
            s0[o] = inner ? strides[o][0] : 0;
            s1[o] = strides[o][inner];
        }
        q = first / n;
        r = first - q * n;
        dq = step / n;
        dr = step - dq * n;
    }
    __device__ __forceinline__ rs_size offset(int o) const {
        return (rs_size)q * s0[o] + (rs_size)r * s1[o];
    }
    // q stays below 2^32 while the index i = q n + r does; past the last index the caller
    // reads nothing, and a wrapped q is never used.
    __device__ __forceinline__ void advance() {
        r += dr;  // r + dr < 2 n <= 2^33: the compare below is on the carry-free form
        q += dq;
        if (r >= n || r < dr) {
            r -= n;
            ++q;
        }
    }
};

// The offsets of element i < 2^32 in NOPS operands of one layout (dims, one stride row each).
template <int NOPS>
__device__ __forceinline__ void rs_offsets32(rs_u32 i, rs_size num_dims, const rs_size* dims,
                                             const rs_size* const (&strides)[NOPS],
                                             rs_size (&off)[NOPS]) {
    for (int o = 0; o < NOPS; ++o) off[o] = 0;
    if (num_dims == 0) return;
    for (rs_size d = num_dims - 1; d > 0; --d) {
        const rs_u32 n = (rs_u32)dims[d];
        const rs_u32 q = i / n;
        const rs_size r = i - q * n;
        for (int o = 0; o < NOPS; ++o) off[o] += r * strides[o][d];
        i = q;
    }
    for (int o = 0; o < NOPS; ++o) off[o] += (rs_size)i * strides[o][0];
}

// ---- strided operands whose rows are contiguous (x[:, 1:], a 3-d slice, a broadcast row) ----

// The layout as rows: the trailing dims contiguous for every operand merged into a run of n
// elements, and the dims before them into one row dim of row stride rs[o] per operand
// (size-1 dims skipped whatever their stride). Returns n, or 0 when the dims before the run
// do not merge into one (x[::2, :, 1:] and the like, left to the other walks) or there are
// none (contiguous). Done by each thread on the info Candle sends, which rocsample has merged
// already but Candle's own host code has not (a 3-d slice x[:, :, 1:] arrives as 3 dims).
template <int NOPS>
__device__ __forceinline__ rs_size rs_row_layout(rs_size num_dims, const rs_size* dims,
                                                 const rs_size* const (&strides)[NOPS],
                                                 rs_size (&rs)[NOPS]) {
    rs_size n = 1, d = num_dims;
    for (; d > 0; --d) {  // the run
        const rs_size m = dims[d - 1];
        if (m == 1) continue;
        bool run = true;
#pragma unroll
        for (int o = 0; o < NOPS; ++o) run = run && strides[o][d - 1] == n;
        if (!run) break;
        n *= m;
    }
    rs_size rows = 0;  // 0: no row dim met yet
    for (; d > 0; --d) {  // the rows
        const rs_size m = dims[d - 1];
        if (m == 1) continue;
        if (rows == 0) {
#pragma unroll
            for (int o = 0; o < NOPS; ++o) rs[o] = strides[o][d - 1];
            rows = m;
            continue;
        }
        bool merge = true;
#pragma unroll
        for (int o = 0; o < NOPS; ++o) merge = merge && strides[o][d - 1] == rs[o] * rows;
        if (!merge) return 0;
        rows *= m;
    }
    return rows == 0 ? 0 : n;
}

// Elements a thread keeps in flight on the row walk: 16 bytes of each operand, at least 2
// and at most 8 values (4 floats, 8 of 2 bytes, 2 doubles; 4 of 1 byte). With four 2-byte
// values a thread, and one tile a block (the grid once gave a thread four elements), bf16
// x[:, 1:] ran at 0.78x torch's speed on an H200; with eight, and the grid rocsample now
// launches for a row walk (capped: a block walks many tiles), 1.0-1.6x
// (bench/results/2026-12-03-h200-session6). Eight floats (32 bytes) were no faster there but
// took the simple f32 entries from 32 to 45 registers, which their contiguous path pays too.
// 1-byte values stay at four: with eight, ptxas put ucopy_u8's on the stack.
#define RS_EW_ROW_BYTES 16
template <typename T> struct rs_row_unroll {
    static constexpr int B = RS_EW_ROW_BYTES / (int)sizeof(T);
    static constexpr int U = B < 2 ? 2 : sizeof(T) == 1 ? 4 : B > 8 ? 8 : B;
};

// read(off, u) then write(i, u) for every element when the last dims are contiguous for every
// operand and their run is at least half a tile (blockDim.x * U elements); returns false,
// having done nothing, otherwise. A row is cut into tiles of blockDim.x * U elements, tiles
// are dealt to blocks grid-stride (a long row is split across blocks, every element exactly
// once), and thread t of a block takes columns c0 + t + u * blockDim.x: each access of a
// warp is one coalesced run, with no division per element (one per tile, where the N-dim
// walk divides at every element and dim and the 2-dim walk carries).
template <int NOPS, int U, typename R, typename W>
__device__ __forceinline__ bool rs_row_walk(rs_size numel, rs_size num_dims, const rs_size* dims,
                                            const rs_size* const (&strides)[NOPS], R read,
                                            W write) {
    // 32-bit counters (numel < 2^32, which rocsample guarantees; more takes the other walks):
    // 64-bit ones cost every entry registers, its contiguous path included. U = 0: no row
    // walk for this kernel.
    if (U == 0 || numel > 0xffffffffull) return false;
    rs_size rs[NOPS];
    const rs_u32 n = (rs_u32)rs_row_layout<NOPS>(num_dims, dims, strides, rs);
    const rs_u32 tile = blockDim.x * U;  // <= 1024 * 16
    if (n < 2 || 2 * n < tile) return false;
    const rs_u32 per_row = (n - 1) / tile + 1;  // tiles a row
    // rows * per_row <= numel / tile + rows <= 3 numel / tile < 2^32 (tile >= 4, or tile 2
    // and n >= 2: <= numel)
    const rs_u32 tiles = (rs_u32)numel / n * per_row;
    if ((rs_u64)tiles + gridDim.x > 0xffffffffull) return false;  // t below never wraps
    for (rs_u32 t = blockIdx.x; t < tiles; t += gridDim.x) {
        const rs_u32 row = t / per_row;
        const rs_u32 first = (t - row * per_row) * tile + threadIdx.x;
        // columns first + u blockDim.x < n + tile: no wrap; the row's element c at its
        // offset row rs[o] + c in each operand, at row n + c < numel in the output
        rs_size off[NOPS];
#pragma unroll
        for (int o = 0; o < NOPS; ++o) off[o] = (rs_size)row * rs[o] + first;
#pragma unroll
        for (int u = 0; u < U; ++u) {
            if (first + u * blockDim.x < n) read(off, u);
#pragma unroll
            for (int o = 0; o < NOPS; ++o) off[o] += blockDim.x;
        }
        rs_u32 i = row * n + first;
#pragma unroll
        for (int u = 0; u < U; ++u) {
            if (first + u * blockDim.x < n) write((rs_size)i, u);
            i += blockDim.x;
        }
    }
    return true;
}

// ---- two dims, the operand read down its columns (a transposed view) ----

// Side of the square tiles of rs_tile_walk, in elements, and the rows of a tile a thread
// stages per pass, all in flight together.
#define RS_EW_TILE 32
#define RS_EW_TILE_UNROLL 4

// write(i, x) for every element i < numel, x = inp at the layout's offset of i, when the
// layout has two dims [A, B] that both hold at least half a tile and runs down the columns
// (strides (1, s), s > 1: a transposed view); returns false, having done nothing, otherwise
// (or when the block is not a whole number of tile rows, or numel >= 2^32). Tiles of
// RS_EW_TILE x RS_EW_TILE elements are dealt to blocks grid-stride; a block first reads its
// tile down the columns (a warp's lanes at consecutive addresses) into shared memory, then
// writes it along the output's rows (a warp's lanes at consecutive columns). Both are
// coalesced, where the 2-dim walk's reads of a transposed operand take a 32-byte sector for
// each element: on an H200, 64M floats 233 us against 481 (torch 477), 1M 7.9 us against
// 12.5 (bench/results/2026-12-03-h200-session7). Every condition depends on the arguments
// only, so all threads of a block take the same way and reach each barrier.
// Shared memory: RS_EW_TILE x (RS_EW_TILE + 1) values of T, static.
// (where does not take it: with its condition and other value read in the write pass, one
// 2-dim where was 0.66-0.83x torch against 0.93-1.0x on the 2-dim walk, same run.)
template <typename T, typename W>
__device__ __forceinline__ bool rs_tile_walk(rs_size numel, rs_size num_dims,
                                             const rs_size* dims, const rs_size* strides,
                                             const T* inp, W write) {
    if (numel > 0xffffffffull || blockDim.x % RS_EW_TILE != 0 || num_dims != 2 ||
        dims[0] < RS_EW_TILE / 2 || dims[1] < RS_EW_TILE / 2 || strides[0] != 1 ||
        strides[1] < 2)
        return false;
    __shared__ T tile[RS_EW_TILE][RS_EW_TILE + 1];  // [column][row]; padded: a warp reading
                                                     // a column hits every bank once
    const rs_u32 A = (rs_u32)dims[0], B = (rs_u32)dims[1];  // A B = numel < 2^32
    const rs_u32 tb = (B - 1) / RS_EW_TILE + 1;
    // A, B >= 16: at most numel / 64 tiles, far below 2^32 - gridDim.x: t never wraps
    const rs_u32 tiles = ((A - 1) / RS_EW_TILE + 1) * tb;
    const rs_size st = strides[1];
    constexpr int U = RS_EW_TILE_UNROLL;
    const rs_u32 lane = threadIdx.x % RS_EW_TILE, r0 = threadIdx.x / RS_EW_TILE;
    const rs_u32 dr = blockDim.x / RS_EW_TILE;  // 1 to 32
    for (rs_u32 t = blockIdx.x; t < tiles; t += gridDim.x) {
        const rs_u32 q = t / tb;
        const rs_u32 a0 = q * RS_EW_TILE, b0 = (t - q * tb) * RS_EW_TILE;
        // staged: thread (lane, r) reads row a0 + lane of columns b0 + r, b0 + r + dr, ...
        const T* src = inp + (rs_size)(a0 + lane) + (rs_size)b0 * st;
        const bool a_in = a0 + lane < A;
        for (rs_u32 r = r0; r < RS_EW_TILE; r += U * dr) {
            T v[U];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const rs_u32 c = r + u * dr;
                if (a_in && c < RS_EW_TILE && b0 + c < B) v[u] = src[(rs_size)c * st];
            }
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const rs_u32 c = r + u * dr;
                if (a_in && c < RS_EW_TILE && b0 + c < B) tile[c][lane] = v[u];
            }
        }
        __syncthreads();
        // written: thread (lane, r) takes column b0 + lane of rows a0 + r, a0 + r + dr, ...
        const rs_u32 b = b0 + lane;
        if (b < B) {
#pragma unroll 1
            for (rs_u32 r = r0; r < RS_EW_TILE && a0 + r < A; r += dr)
                write((rs_size)(a0 + r) * B + b, tile[lane][r]);
        }
        __syncthreads();  // the tile is read before the next one is staged
    }
    return true;
}

// read(off, u) then write(i, u) for every element i < numel of a thread's grid-stride walk,
// RS_EW_UNROLL elements in flight, off[o] the offset of element i in operand o: the 2-dim
// walk when the layout has at most two dims, else the N-dim one.
template <int NOPS, int UROW, typename R, typename W>
__device__ __forceinline__ void rs_strided_walk(rs_size numel, rs_size num_dims,
                                                const rs_size* dims,
                                                const rs_size* const (&strides)[NOPS], R read,
                                                W write) {
    if (rs_row_walk<NOPS, UROW>(numel, num_dims, dims, strides, read, write)) return;
    constexpr int U = RS_EW_UNROLL;
    const rs_size step = (rs_size)blockDim.x * gridDim.x;
    const rs_size first = (rs_size)blockIdx.x * blockDim.x + threadIdx.x;
    if (num_dims <= 2 && numel <= 0xffffffffull && step <= 0xffffffffull) {
        rs_walk2<NOPS> w(num_dims, dims, strides, (rs_u32)first, (rs_u32)step);
        for (rs_size base = first; base < numel; base += step * U) {
#pragma unroll
            for (int u = 0; u < U; ++u) {
                if (base + (rs_size)u * step < numel) {
                    rs_size off[NOPS];
#pragma unroll
                    for (int o = 0; o < NOPS; ++o) off[o] = w.offset(o);
                    read(off, u);
                }
                w.advance();
            }
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const rs_size i = base + (rs_size)u * step;
                if (i < numel) write(i, u);
            }
        }
        return;
    }
    if (numel <= 0xffffffffull) {
        rs_unrolled<RS_EW_NDIM_UNROLL>(
            numel, first, step,
            [&](rs_size i, int u) {
                rs_size off[NOPS];
                rs_offsets32<NOPS>((rs_u32)i, num_dims, dims, strides, off);
                read(off, u);
            },
            write);
        return;
    }
    // 2^32 elements or more (not from rocsample, which splits such launches): 64-bit
    // division, an element at a time.
    for (rs_size i = first; i < numel; i += step) {
        rs_size off[NOPS];
#pragma unroll
        for (int o = 0; o < NOPS; ++o) off[o] = rs_strided_index(i, num_dims, dims, strides[o]);
        read(off, 0);
        write(i, 0);
    }
}

// The strided path of rs_map1.
template <typename T, typename Fn>
__device__ __forceinline__ void rs_map1_strided(rs_size numel, rs_size num_dims,
                                             const rs_size* info, const T* inp, T* out, Fn fn) {
    const rs_size* const strides[1] = {info + num_dims};
    constexpr int UROW = rs_row_unroll<T>::U;
    // u < UROW on the row walk, < RS_EW_UNROLL on the others
    T v[UROW > RS_EW_UNROLL ? UROW : RS_EW_UNROLL];
    if (rs_tile_walk<T>(numel, num_dims, info, strides[0], inp,
                        [&](rs_size i, T x) { out[i] = fn(x); }))
        return;
    rs_strided_walk<1, UROW>(
        numel, num_dims, info, strides, [&](const rs_size(&off)[1], int u) { v[u] = inp[off[0]]; },
        [&](rs_size i, int u) { out[i] = fn(v[u]); });
}

// out[i] = fn(x_i) for one strided operand: x_i = inp at the layout's offset of i, or out[i]
// when inp is null (Candle's in-place rule, whatever info says). The unary and affine kernels.
template <typename T, typename Fn>
__device__ __forceinline__ void rs_map1(rs_size numel, rs_size num_dims, const rs_size* info,
                                        const T* inp, T* out, Fn fn) {
    if (numel == 0) return;
    if (!(inp == nullptr || info == nullptr || rs_is_contiguous(num_dims, info, info + num_dims))) {
        rs_map1_strided(numel, num_dims, info, inp, out, fn);
        return;
    }
    const rs_size step = (rs_size)blockDim.x * gridDim.x;
    const rs_size first = (rs_size)blockIdx.x * blockDim.x + threadIdx.x;
    constexpr int N = 16 / sizeof(T);
    typedef rs_pack<T, N> P;
    const T* src = inp ? inp : out;
    rs_size done = 0;
    if (rs_aligned<P>(src) && rs_aligned<P>(out) && step < numel) {
        const P* s = reinterpret_cast<const P*>(src);
        P* o = reinterpret_cast<P*>(out);
        constexpr int U = RS_EW_GROUPS;
        P x[U];
        rs_unrolled<U>(
            numel / N, first, step, [&](rs_size j, int u) { x[u] = s[j]; },
            [&](rs_size j, int u) {
                P y;
#pragma unroll
                for (int k = 0; k < N; ++k) y.set(k, fn(x[u].get(k)));
                o[j] = y;
            });
        done = numel / N * N;
    }
    T v[RS_EW_UNROLL];
    rs_unrolled<RS_EW_UNROLL>(
        numel - done, first, step, [&](rs_size j, int u) { v[u] = src[done + j]; },
        [&](rs_size j, int u) { out[done + j] = fn(v[u]); });
}

#define RS_MATH1(NAME, FN_F, FN_D)                                              \
    __device__ __forceinline__ float NAME(float x) { return FN_F(x); }           \
    __device__ __forceinline__ double NAME(double x) { return FN_D(x); }
RS_MATH1(rs_exp, expf, exp)
RS_MATH1(rs_log, logf, log)
RS_MATH1(rs_sin, sinf, sin)
RS_MATH1(rs_cos, cosf, cos)
RS_MATH1(rs_tanh, tanhf, tanh)
RS_MATH1(rs_erf, erff, erf)
RS_MATH1(rs_ceil, ceilf, ceil)
RS_MATH1(rs_floor, floorf, floor)
RS_MATH1(rs_round, roundf, round)  // halves away from zero
RS_MATH1(rs_sqrt, sqrtf, sqrt)
RS_MATH1(rs_normcdf, normcdff, normcdf)
#undef RS_MATH1
__device__ __forceinline__ float rs_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double rs_pow(double x, double y) { return pow(x, y); }
// 2^x for float: the hardware's approximation (2 ulp on NVIDIA, 1 on AMD), one instruction
// where exp2f adds a denormal-result path; a denormal result flushes to 0 (callers add it to
// 1). Inf past the range, 0 below it. Exact-rounded for double. Only where that accuracy is
// stated (gelu).
__device__ __forceinline__ float rs_exp2_fast(float x) {
#ifdef RS_CUDA
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
#else
    return exp2f(x);
#endif
}
__device__ __forceinline__ double rs_exp2_fast(double x) { return exp2(x); }
// a / b for b >= 1 (or NaN): for float the hardware reciprocal (1 ulp) times a, within 2 ulp
// and 2 instructions where IEEE division takes a dozen and a slow path; b = Inf gives +-0.
// Exact for double.
__device__ __forceinline__ float rs_div_fast(float a, float b) {
#ifdef RS_CUDA
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(b));  // b >= 1: ftz never flushes it
    return a * r;
#else
    return a * __builtin_amdgcn_rcpf(b);
#endif
}
__device__ __forceinline__ double rs_div_fast(double a, double b) { return a / b; }
__device__ __forceinline__ float rs_fma(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double rs_fma(double a, double b, double c) { return fma(a, b, c); }
