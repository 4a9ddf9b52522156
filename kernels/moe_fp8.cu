// Routed experts of one DeepSeek-V3 MoE layer for decode: FP8 e4m3 weights with 128x128 block scales
// (weight_scale_inv; w = q * scale), grouped by expert, on tensor cores (mma.sync m16n8k16, f16 operands, f32 accumulate).
//
// Weights, per expert e (vLLM's layout): w13[e] = [gate_proj; up_proj] as [2I, H] bytes, s13[e] = [2I/128, H/128] floats;
// w2[e] = down_proj as [H, I] bytes, s2[e] = [H/128, I/128] floats. Activations: x [T, H] float32 in, out [T, H] float32.
//
// The step is five launches:
//   moe_prepare   block 0 groups the T*K (token, slot) pairs by expert (counts, offsets, active list, slot order);
//                 the other blocks convert x to f16. With `shared` always-on experts (the layer's shared experts packed
//                 after the E - shared routed ones), each token has K + shared slots, the last `shared` of them going to
//                 experts E - shared .. E - 1.
//   moe_gate_up   per (active expert, 16 * warps rows of I, K split): gate and up partial sums for all of the expert's tokens.
//   moe_silu      sums the K-split partials, h = silu(gate) * up, to f16 [S, I] in slot order.
//   moe_down      per (active expert, 32 * warps rows of H): y[slot] = h[slot] . down^T (float32 [S, H]).
//   moe_combine   out[t] = sum over k, in slot order, of topk_weight[t, k] * y[slot of (t, k)] (y summed over down K splits);
//                 the shared slots (k >= K) weigh 1.
//
// Each weight byte is read once per step (per pass of 8*NT tokens of its expert): a warp holds a 16-row by 128-column
// FP8 tile (one scale block wide) in registers, converts it to f16 (exact for e4m3), and multiplies it against up to 8*NT
// tokens. The 128-wide K chunk is summed in a temporary accumulator, then scaled by the block's scale into the main one
// (DeepGEMM's promotion), so the scale multiplies a float32 sum.
//
// Weights are streamed in a packed tile order (moe_pack_tiles) so that every warp load is 512 contiguous bytes and each
// tile's chunks follow one another in memory.
// Fragment layout trick: a dot product does not care about the order of k, so each thread loads 32 contiguous bytes of
// its two A rows (k = 32q .. 32q+31 of the chunk, q = lane % 4) and the matching 32 contiguous f16 of B; in mma step s
// the thread's logical k-slots {2q, 2q+1, 2q+8, 2q+9} stand for physical k {32q+4s .. 32q+4s+3} in A and B alike.

#include "pdl.cuh"

typedef unsigned int u32;

#define MOE_WARPS 8

__device__ __forceinline__ uint4 ld_stream(const unsigned char* p)
{
    uint4 r;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
        : "l"(p));
    return r;
}

__device__ __forceinline__ u32 e4m3x2_to_f16x2(u32 v)
{
    u32 r;
    unsigned short s = (unsigned short)v;
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(r) : "h"(s));
    return r;
}

__device__ __forceinline__ u32 pack_f16x2(float lo, float hi)
{
    u32 r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

__device__ __forceinline__ void mma_f16(float (&d)[4], u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void set_words(u32* w, uint4 v)
{
    w[0] = v.x;
    w[1] = v.y;
    w[2] = v.z;
    w[3] = v.w;
}

// The loads of one K chunk: two 16-row A tiles (rows g and g + 8 of each), NT 8-token B tiles, and the tiles' scales.
template <int NT>
struct Chunk {
    u32 a[2][2][8];
    u32 b[NT][16];
    float s[2];
};

template <int NT>
__device__ __forceinline__ void load_chunk(Chunk<NT>& k, const unsigned char* const (&a)[2], const float* const (&sa)[2],
                                           const unsigned char* const (&b)[NT], int c)
{
#pragma unroll
    for (int m = 0; m < 2; ++m) {
        const unsigned char* p = a[m] + (size_t)c * 2048;
        set_words(&k.a[m][0][0], ld_stream(p));
        set_words(&k.a[m][0][4], ld_stream(p + 512));
        set_words(&k.a[m][1][0], ld_stream(p + 1024));
        set_words(&k.a[m][1][4], ld_stream(p + 1536));
    }
#pragma unroll
    for (int j = 0; j < NT; ++j) {
        if (b[j] != 0) {
            const uint4* p = (const uint4*)(b[j] + (size_t)c * 256);
#pragma unroll
            for (int v = 0; v < 4; ++v) set_words(&k.b[j][4 * v], __ldg(p + v));
        } else {
#pragma unroll
            for (int v = 0; v < 16; ++v) k.b[j][v] = 0u;
        }
    }
    k.s[0] = __ldg(sa[0] + c);
    k.s[1] = __ldg(sa[1] + c);
}

// acc += scale * (A tile . B tile) over one 128-wide chunk (8 mma k-steps summed in a temporary first).
template <int NT>
__device__ __forceinline__ void mma_chunk(float (&acc)[2][NT][4], const Chunk<NT>& k)
{
    float tmp[2][NT][4];
#pragma unroll
    for (int m = 0; m < 2; ++m)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) tmp[m][j][i] = 0.f;

#pragma unroll
    for (int s = 0; s < 8; ++s) {
#pragma unroll
        for (int m = 0; m < 2; ++m) {
            const u32 w0 = k.a[m][0][s];
            const u32 w1 = k.a[m][1][s];
            const u32 a0 = e4m3x2_to_f16x2(w0 & 0xFFFFu);
            const u32 a1 = e4m3x2_to_f16x2(w1 & 0xFFFFu);
            const u32 a2 = e4m3x2_to_f16x2(w0 >> 16);
            const u32 a3 = e4m3x2_to_f16x2(w1 >> 16);
#pragma unroll
            for (int j = 0; j < NT; ++j) mma_f16(tmp[m][j], a0, a1, a2, a3, k.b[j][2 * s], k.b[j][2 * s + 1]);
        }
    }

#pragma unroll
    for (int m = 0; m < 2; ++m)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[m][j][i] += k.s[m] * tmp[m][j][i];
}

// One pass over K chunks [c0, c1) for two 16-row A tiles against NT 8-token B tiles.
//   a[m]:    tile m's packed bytes for this lane (see moe_pack_tiles), chunk c at + 2048 c;
//   sa[m]:   the scale row of tile m (scale of chunk c is sa[m][c]);
//   b[j]:    f16 row pointer (as bytes, offset by 32q halves) of token 8j + g, or 0 when that token does not exist.
// DEPTH chunks are held per warp in a ring of registers: the loads of chunk c + DEPTH - 1 are issued before the math
// of chunk c, so DEPTH - 1 chunks are in flight while one is multiplied (DEPTH 1: load, then multiply).
template <int NT, int DEPTH>
__device__ __forceinline__ void gemm_pass(float (&acc)[2][NT][4], const unsigned char* const (&a)[2],
                                          const float* const (&sa)[2], const unsigned char* const (&b)[NT], int c0, int c1)
{
#pragma unroll
    for (int m = 0; m < 2; ++m)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[m][j][i] = 0.f;

    if (DEPTH == 1) {
        for (int c = c0; c < c1; ++c) {
            Chunk<NT> cur;
            load_chunk<NT>(cur, a, sa, b, c);
            mma_chunk<NT>(acc, cur);
        }
    } else {
        Chunk<NT> ring[DEPTH];  // chunk x lives in ring[(x - c0) % DEPTH]
#pragma unroll
        for (int d = 0; d < DEPTH - 1; ++d)
            if (c0 + d < c1) load_chunk<NT>(ring[d], a, sa, b, c0 + d);
        for (int c = c0; c < c1; c += DEPTH) {
#pragma unroll
            for (int d = 0; d < DEPTH; ++d) {
                if (c + d + DEPTH - 1 < c1) load_chunk<NT>(ring[(d + DEPTH - 1) % DEPTH], a, sa, b, c + d + DEPTH - 1);
                if (c + d < c1) mma_chunk<NT>(acc, ring[d]);
            }
        }
    }
}

// The same pass with the ring in shared memory, filled by cp.async (bytes in flight cost no registers): each lane copies
// and later reads only its own 16-byte units (A: [m][v][lane], B: [j][v][lane]), so no barrier is needed, and a stage is
// refilled only after the registers read from it were consumed by the previous chunk's mma. Scales come from registers
// (lane l holds chunks l and l + 32 of each tile's scale row; K / 128 <= 64) through a shuffle.
extern __shared__ uint4 moe_smem[];

__device__ __forceinline__ unsigned shared_address(const void* p)
{
    unsigned r;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(r) : "l"(p));
    return r;
}

__device__ __forceinline__ void cp_async16(unsigned dst, const void* src)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src) : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }

template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory"); }

template <int NT>
__device__ __forceinline__ void issue_chunk(unsigned stage, const unsigned char* const (&a)[2], const unsigned char* const (&b)[NT],
                                            int c, int lane)
{
#pragma unroll
    for (int m = 0; m < 2; ++m)
#pragma unroll
        for (int v = 0; v < 4; ++v) cp_async16(stage + (((m * 4 + v) * 32 + lane) << 4), a[m] + (size_t)c * 2048 + v * 512);
#pragma unroll
    for (int j = 0; j < NT; ++j)
        if (b[j] != 0) {
#pragma unroll
            for (int v = 0; v < 4; ++v) cp_async16(stage + ((256 + (j * 4 + v) * 32 + lane) << 4), b[j] + (size_t)c * 256 + v * 16);
        }
}

template <int NT, int DEPTH>
__device__ __forceinline__ void gemm_pass_async(float (&acc)[2][NT][4], const unsigned char* const (&a)[2],
                                                const float* const (&sa)[2], const unsigned char* const (&b)[NT], int c0, int c1,
                                                const uint4* ring, int lane)
{
    constexpr int STAGE = 256 + 128 * NT;  // 16-byte units per stage
#pragma unroll
    for (int m = 0; m < 2; ++m)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[m][j][i] = 0.f;

    float sc[2][2];
#pragma unroll
    for (int m = 0; m < 2; ++m) {
        sc[m][0] = lane < c1 ? __ldg(sa[m] + lane) : 0.f;
        sc[m][1] = lane + 32 < c1 ? __ldg(sa[m] + lane + 32) : 0.f;
    }

    const unsigned base = shared_address(ring);
#pragma unroll
    for (int d = 0; d < DEPTH - 1; ++d) {
        if (c0 + d < c1) issue_chunk<NT>(base + d * STAGE * 16, a, b, c0 + d, lane);
        cp_async_commit();
    }
    for (int c = c0; c < c1; ++c) {
        const int ahead = c + DEPTH - 1;
        if (ahead < c1) issue_chunk<NT>(base + ((ahead - c0) % DEPTH) * STAGE * 16, a, b, ahead, lane);
        cp_async_commit();
        cp_async_wait<DEPTH - 1>();

        const uint4* st = ring + ((c - c0) % DEPTH) * STAGE;
        Chunk<NT> k;
#pragma unroll
        for (int m = 0; m < 2; ++m) {
            set_words(&k.a[m][0][0], st[(m * 4 + 0) * 32 + lane]);
            set_words(&k.a[m][0][4], st[(m * 4 + 1) * 32 + lane]);
            set_words(&k.a[m][1][0], st[(m * 4 + 2) * 32 + lane]);
            set_words(&k.a[m][1][4], st[(m * 4 + 3) * 32 + lane]);
        }
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            if (b[j] != 0) {
#pragma unroll
                for (int v = 0; v < 4; ++v) set_words(&k.b[j][4 * v], st[256 + (j * 4 + v) * 32 + lane]);
            } else {
#pragma unroll
                for (int v = 0; v < 16; ++v) k.b[j][v] = 0u;
            }
        }
        k.s[0] = __shfl_sync(0xffffffffu, c < 32 ? sc[0][0] : sc[0][1], c & 31);
        k.s[1] = __shfl_sync(0xffffffffu, c < 32 ? sc[1][0] : sc[1][1], c & 31);
        mma_chunk<NT>(acc, k);
    }
    cp_async_wait<0>();
}

// The cp.async ring with the tokens' tile shared by the CTA: every warp of a CTA works on the same expert, tokens and K
// range, so the B chunk (NT * 2 KB) is copied once per CTA instead of once per warp; each warp still streams its own A
// tiles. Stage layout (16-byte units): [B: j][v][lane] (NT * 128), then per warp [A: m][v][lane] (256). One barrier
// per chunk: after it, chunk c is visible to all and every warp has finished reading chunk c - 1, whose stage is refilled.
// bsrc[i]: the source of B unit threadIdx.x + i * blockDim.x for this pass (0: no such token, or no such unit).
template <int NT, int DEPTH>
__device__ __forceinline__ void gemm_pass_shared(float (&acc)[2][NT][4], const unsigned char* const (&a)[2],
                                                 const float* const (&sa)[2], const unsigned char* const (&b)[NT],
                                                 const unsigned char* const (&bsrc)[4], int c0, int c1, int warp, int lane)
{
    const int stage_units = NT * 128 + (int)(blockDim.x >> 5) * 256;
#pragma unroll
    for (int m = 0; m < 2; ++m)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[m][j][i] = 0.f;

    float sc[2][2];
#pragma unroll
    for (int m = 0; m < 2; ++m) {
        sc[m][0] = lane < c1 ? __ldg(sa[m] + lane) : 0.f;
        sc[m][1] = lane + 32 < c1 ? __ldg(sa[m] + lane + 32) : 0.f;
    }

    const unsigned base = shared_address(moe_smem);
    auto issue = [&](int stage, int c) {
        const unsigned st = base + (unsigned)(stage * stage_units) * 16u;
        const unsigned sa_w = st + (unsigned)(NT * 128 + warp * 256) * 16u;
#pragma unroll
        for (int m = 0; m < 2; ++m)
#pragma unroll
            for (int v = 0; v < 4; ++v) cp_async16(sa_w + (((m * 4 + v) * 32 + lane) << 4), a[m] + (size_t)c * 2048 + v * 512);
#pragma unroll
        for (int i = 0; i < 4; ++i)
            if (bsrc[i] != 0) cp_async16(st + ((threadIdx.x + i * blockDim.x) << 4), bsrc[i] + (size_t)c * 256);
    };

#pragma unroll
    for (int d = 0; d < DEPTH - 1; ++d) {
        if (c0 + d < c1) issue(d, c0 + d);
        cp_async_commit();
    }
    for (int c = c0; c < c1; ++c) {
        cp_async_wait<DEPTH - 2>();
        __syncthreads();
        const int ahead = c + DEPTH - 1;
        if (ahead < c1) issue((ahead - c0) % DEPTH, ahead);
        cp_async_commit();

        const uint4* st = moe_smem + ((c - c0) % DEPTH) * stage_units;
        const uint4* sa_w = st + NT * 128 + warp * 256;
        Chunk<NT> k;
#pragma unroll
        for (int m = 0; m < 2; ++m) {
            set_words(&k.a[m][0][0], sa_w[(m * 4 + 0) * 32 + lane]);
            set_words(&k.a[m][0][4], sa_w[(m * 4 + 1) * 32 + lane]);
            set_words(&k.a[m][1][0], sa_w[(m * 4 + 2) * 32 + lane]);
            set_words(&k.a[m][1][4], sa_w[(m * 4 + 3) * 32 + lane]);
        }
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            if (b[j] != 0) {
#pragma unroll
                for (int v = 0; v < 4; ++v) set_words(&k.b[j][4 * v], st[(j * 4 + v) * 32 + lane]);
            } else {
#pragma unroll
                for (int v = 0; v < 16; ++v) k.b[j][v] = 0u;
            }
        }
        k.s[0] = __shfl_sync(0xffffffffu, c < 32 ? sc[0][0] : sc[0][1], c & 31);
        k.s[1] = __shfl_sync(0xffffffffu, c < 32 ? sc[1][0] : sc[1][1], c & 31);
        mma_chunk<NT>(acc, k);
    }
    cp_async_wait<0>();
    __syncthreads();  // the next pass refills the ring
}

// Expert of virtual slot i = t * (K + shared) + k: the routing's k-th choice for token t, or shared expert k - K.
__device__ __forceinline__ int moe_slot_expert(const int* __restrict__ topk_ids, int i, int K, int shared, int E)
{
    if (shared == 0) return topk_ids[i];
    const int kx = K + shared, t = i / kx, k = i - t * kx;
    return k < K ? topk_ids[t * K + k] : E - shared + (k - K);
}

// meta (ints): [0, E] expert offsets into the slot order (E + 1 entries); [E + 1, 2E + 1) active experts, ascending;
// [2E + 1] number of active experts. slot_token[S]: token of each slot in expert order; slot_of[T*(K+shared)]: slot of
// (t, k). E counts the shared experts (the last `shared` of the E).
extern "C" __global__ void __launch_bounds__(256)
moe_prepare(const int* __restrict__ topk_ids, int T, int K, int E, int* __restrict__ meta, int* __restrict__ slot_token,
            int* __restrict__ slot_of, const float* __restrict__ x, u32* __restrict__ x16, int H, int shared)
{
    grid_dependency_sync();
    if (blockIdx.x == 0) {
        __shared__ int count[1024];
        __shared__ int cursor[1024];
        const int KX = K + shared;
        const int S = T * KX;
        for (int e = threadIdx.x; e < E; e += blockDim.x) count[e] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < S; i += blockDim.x) atomicAdd(&count[moe_slot_expert(topk_ids, i, K, shared, E)], 1);
        __syncthreads();
        // Each thread owns experts [e0, e1): a block-wide exclusive scan of (tokens, active experts) gives its offsets.
        __shared__ int warp_sums[2][32];
        const int per = (E + blockDim.x - 1) / blockDim.x;
        const int e0 = min(E, per * (int)threadIdx.x), e1 = min(E, e0 + per);
        int tokens = 0, act = 0;
        for (int e = e0; e < e1; ++e) {
            tokens += count[e];
            act += count[e] > 0;
        }
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        int it = tokens, ia = act;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const int vt = __shfl_up_sync(0xffffffffu, it, o);
            const int va = __shfl_up_sync(0xffffffffu, ia, o);
            if (lane >= o) {
                it += vt;
                ia += va;
            }
        }
        if (lane == 31) {
            warp_sums[0][warp] = it;
            warp_sums[1][warp] = ia;
        }
        __syncthreads();
        int offset = it - tokens, active = ia - act;
        for (int w = 0; w < warp; ++w) {
            offset += warp_sums[0][w];
            active += warp_sums[1][w];
        }
        for (int e = e0; e < e1; ++e) {
            meta[e] = offset;
            cursor[e] = offset;
            if (count[e] > 0) meta[E + 1 + active++] = e;
            offset += count[e];
        }
        if (threadIdx.x == blockDim.x - 1) {
            meta[E] = offset;
            meta[2 * E + 1] = active;
        }
        __syncthreads();
        for (int i = threadIdx.x; i < S; i += blockDim.x) {
            const int slot = atomicAdd(&cursor[moe_slot_expert(topk_ids, i, K, shared, E)], 1);
            slot_token[slot] = i / KX;
            slot_of[i] = slot;
        }
    } else {
        const size_t pairs = (size_t)T * H / 2;
        const float2* x2 = (const float2*)x;
        for (size_t i = (size_t)(blockIdx.x - 1) * blockDim.x + threadIdx.x; i < pairs; i += (size_t)(gridDim.x - 1) * blockDim.x) {
            const float2 v = x2[i];
            x16[i] = pack_f16x2(v.x, v.y);
        }
    }
}

// grid (maxActive * I / (16 * warps), splits); block 32 * warps (4 or 8). partial [splits, S, 2I] float: gate sums in [0, I), up sums in [I, 2I).
template <int NT, int DEPTH, int ASYNC>
__device__ __forceinline__ void gate_up(const unsigned char* __restrict__ w13, const float* __restrict__ s13,
                                        const unsigned char* __restrict__ x16, const int* __restrict__ meta,
                                        const int* __restrict__ slot_token, float* __restrict__ partial,
                                        int E, int H, int I, int S, int chunks_per_split)
{
    const int rows_per_cta = (blockDim.x >> 5) * 16;
    const int tiles = I / rows_per_cta;
    const int ai = blockIdx.x / tiles;
    if (ai >= meta[2 * E + 1]) return;
    const int e = meta[E + 1 + ai];
    const int first = meta[e];
    const int count = meta[e + 1] - first;
    const int kb = H / 128;
    const int c0 = blockIdx.y * chunks_per_split;
    const int c1 = min(kb, c0 + chunks_per_split);
    if (c0 >= c1) return;

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    const int row = (blockIdx.x % tiles) * rows_per_cta + warp * 16;  // first gate row (= h feature) of this warp
    const unsigned char* we = w13 + (size_t)e * 2 * I * H;
    const float* se = s13 + (size_t)e * (2 * I / 128) * kb;
    const unsigned char* const a[2] = {we + (size_t)(row / 16) * kb * 2048 + 16 * lane,
                                       we + (size_t)((I + row) / 16) * kb * 2048 + 16 * lane};
    const float* const sa[2] = {se + (size_t)(row / 128) * kb, se + (size_t)((I + row) / 128) * kb};
    float* out = partial + (size_t)blockIdx.y * S * 2 * I;

    for (int t0 = 0; t0 < count; t0 += 8 * NT) {
        const unsigned char* b[NT];
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const int n = t0 + 8 * j + g;
            b[j] = n < count ? x16 + ((size_t)slot_token[first + n] * H + 32 * q) * 2 : 0;
        }
        float acc[2][NT][4];
        if (ASYNC == 2) {
            const unsigned char* bsrc[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int u = threadIdx.x + i * blockDim.x;
                const int n = t0 + 8 * (u >> 7) + ((u & 31) >> 2);
                bsrc[i] = u < NT * 128 && n < count
                    ? x16 + ((size_t)slot_token[first + n] * H + 32 * (u & 3)) * 2 + ((u >> 5) & 3) * 16 : 0;
            }
            gemm_pass_shared<NT, DEPTH>(acc, a, sa, b, bsrc, c0, c1, warp, lane);
        } else if (ASYNC == 1) {
            gemm_pass_async<NT, DEPTH>(acc, a, sa, b, c0, c1, moe_smem + (size_t)warp * DEPTH * (256 + 128 * NT), lane);
        } else {
            gemm_pass<NT, DEPTH>(acc, a, sa, b, c0, c1);
        }
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const int n = t0 + 8 * j + 2 * q;
            if (n < count) {
                float* p = out + (size_t)(first + n) * 2 * I;
                p[row + g] = acc[0][j][0];
                p[row + g + 8] = acc[0][j][2];
                p[I + row + g] = acc[1][j][0];
                p[I + row + g + 8] = acc[1][j][2];
            }
            if (n + 1 < count) {
                float* p = out + (size_t)(first + n + 1) * 2 * I;
                p[row + g] = acc[0][j][1];
                p[row + g + 8] = acc[0][j][3];
                p[I + row + g] = acc[1][j][1];
                p[I + row + g + 8] = acc[1][j][3];
            }
        }
    }
}

// grid (maxActive * H / (32 * warps), splits); block 32 * warps (4 or 8). h16 [S, I] f16 in slot order; y [splits, S, H] float.
template <int NT, int DEPTH, int ASYNC>
__device__ __forceinline__ void down(const unsigned char* __restrict__ w2, const float* __restrict__ s2,
                                     const unsigned char* __restrict__ h16, const int* __restrict__ meta,
                                     float* __restrict__ y, int E, int H, int I, int S, int chunks_per_split)
{
    const int rows_per_cta = (blockDim.x >> 5) * 32;
    const int tiles = H / rows_per_cta;
    const int ai = blockIdx.x / tiles;
    if (ai >= meta[2 * E + 1]) return;
    const int e = meta[E + 1 + ai];
    const int first = meta[e];
    const int count = meta[e + 1] - first;
    const int kb = I / 128;
    const int c0 = blockIdx.y * chunks_per_split;
    const int c1 = min(kb, c0 + chunks_per_split);
    if (c0 >= c1) return;
    y += (size_t)blockIdx.y * S * H;

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    const int row = (blockIdx.x % tiles) * rows_per_cta + warp * 32;  // 32 rows of H: tiles [row, row+16) and [row+16, row+32)
    const unsigned char* we = w2 + (size_t)e * H * I;
    const float* se = s2 + (size_t)e * (H / 128) * kb;
    const unsigned char* const a[2] = {we + (size_t)(row / 16) * kb * 2048 + 16 * lane,
                                       we + (size_t)(row / 16 + 1) * kb * 2048 + 16 * lane};
    const float* const srow = se + (size_t)(row / 128) * kb;
    const float* const sa[2] = {srow, srow};

    for (int t0 = 0; t0 < count; t0 += 8 * NT) {
        const unsigned char* b[NT];
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const int n = t0 + 8 * j + g;
            b[j] = n < count ? h16 + ((size_t)(first + n) * I + 32 * q) * 2 : 0;
        }
        float acc[2][NT][4];
        if (ASYNC == 2) {
            const unsigned char* bsrc[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int u = threadIdx.x + i * blockDim.x;
                const int n = t0 + 8 * (u >> 7) + ((u & 31) >> 2);
                bsrc[i] = u < NT * 128 && n < count ? h16 + ((size_t)(first + n) * I + 32 * (u & 3)) * 2 + ((u >> 5) & 3) * 16 : 0;
            }
            gemm_pass_shared<NT, DEPTH>(acc, a, sa, b, bsrc, c0, c1, warp, lane);
        } else if (ASYNC == 1) {
            gemm_pass_async<NT, DEPTH>(acc, a, sa, b, c0, c1, moe_smem + (size_t)warp * DEPTH * (256 + 128 * NT), lane);
        } else {
            gemm_pass<NT, DEPTH>(acc, a, sa, b, c0, c1);
        }
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const int n = t0 + 8 * j + 2 * q;
            if (n < count) {
                float* p = y + (size_t)(first + n) * H;
                p[row + g] = acc[0][j][0];
                p[row + g + 8] = acc[0][j][2];
                p[row + 16 + g] = acc[1][j][0];
                p[row + 24 + g] = acc[1][j][2];
            }
            if (n + 1 < count) {
                float* p = y + (size_t)(first + n + 1) * H;
                p[row + g] = acc[0][j][1];
                p[row + g + 8] = acc[0][j][3];
                p[row + 16 + g] = acc[1][j][1];
                p[row + 24 + g] = acc[1][j][3];
            }
        }
    }
}

#define MOE_GEMM_KERNELS(NT, DEPTH, ASYNC, SUFFIX)                                                                                    \
    extern "C" __global__ void __launch_bounds__(256) moe_gate_up##SUFFIX##_nt##NT##_d##DEPTH(                                  \
        const unsigned char* __restrict__ w13, const float* __restrict__ s13, const unsigned char* __restrict__ x16,     \
        const int* __restrict__ meta, const int* __restrict__ slot_token, float* __restrict__ partial, int E, int H,     \
        int I, int S, int chunks_per_split)                                                                              \
    {                                                                                                                    \
        grid_dependency_sync();                                                                                          \
        gate_up<NT, DEPTH, ASYNC>(w13, s13, x16, meta, slot_token, partial, E, H, I, S, chunks_per_split);                      \
    }                                                                                                                    \
    extern "C" __global__ void __launch_bounds__(256) moe_down##SUFFIX##_nt##NT##_d##DEPTH(                                  \
        const unsigned char* __restrict__ w2, const float* __restrict__ s2, const unsigned char* __restrict__ h16,       \
        const int* __restrict__ meta, float* __restrict__ y, int E, int H, int I, int S, int chunks_per_split)           \
    {                                                                                                                    \
        grid_dependency_sync();                                                                                          \
        down<NT, DEPTH, ASYNC>(w2, s2, h16, meta, y, E, H, I, S, chunks_per_split);                                             \
    }

// (token tiles, depth) variants; MoeLaunchConfig.Variants lists the same ones. Register ring (ASYNC 0), per-warp cp.async
// ring (ASYNC 1, dynamic shared memory of warps * DEPTH * (256 + 128 NT) * 16 bytes) or cp.async ring with the tokens'
// tile shared by the CTA (ASYNC 2, DEPTH * (128 NT + 256 warps) * 16 bytes).
MOE_GEMM_KERNELS(1, 2, 0, )
MOE_GEMM_KERNELS(1, 3, 0, )
MOE_GEMM_KERNELS(2, 2, 0, )
MOE_GEMM_KERNELS(4, 1, 0, )
MOE_GEMM_KERNELS(1, 4, 1, _async)
MOE_GEMM_KERNELS(1, 6, 1, _async)
MOE_GEMM_KERNELS(2, 4, 1, _async)
MOE_GEMM_KERNELS(4, 3, 1, _async)
MOE_GEMM_KERNELS(1, 4, 2, _shared)
MOE_GEMM_KERNELS(1, 6, 2, _shared)
MOE_GEMM_KERNELS(2, 4, 2, _shared)
MOE_GEMM_KERNELS(4, 4, 2, _shared)

// Packs row-major FP8 weights [experts, rows, cols] into the tile order the GEMMs stream: for each expert, each 16-row
// tile, each 128-column chunk, 2048 contiguous bytes in which 16-byte unit (v, lane) holds row 8 * (v >> 1) + lane / 4,
// columns 32 * (lane % 4) + 16 * (v & 1) .. + 15 of the tile (v = 0..3 at byte 512 v + 16 lane). A warp then reads each
// chunk of its tile as four fully used 512-byte lines, and a tile's chunks one after another.
extern "C" __global__ void __launch_bounds__(256)
moe_pack_tiles(const uint4* __restrict__ src, uint4* __restrict__ dst, int experts, int rows, int cols)
{
    grid_dependency_sync();
    const size_t units = (size_t)experts * rows * cols / 16;
    const int chunks = cols / 128;
    for (size_t u = (size_t)blockIdx.x * blockDim.x + threadIdx.x; u < units; u += (size_t)gridDim.x * blockDim.x) {
        const int lane = (int)(u % 32);
        const int v = (int)((u / 32) % 4);
        const size_t tile = u / 128;
        const int c = (int)(tile % chunks);
        const size_t rt = tile / chunks;  // expert * (rows / 16) + row tile: rows are contiguous across experts
        const size_t row = rt * 16 + 8 * (v >> 1) + (lane >> 2);
        const size_t col = (size_t)c * 128 + 32 * (lane & 3) + 16 * (v & 1);
        dst[u] = src[(row * cols + col) / 16];
    }
}

// h16[slot, j] = f16(silu(gate) * up), gate and up summed over the K splits in order. One thread per pair of features.
extern "C" __global__ void __launch_bounds__(256)
moe_silu(const float* __restrict__ partial, int splits, int S, int I, u32* __restrict__ h16)
{
    grid_dependency_sync();
    const size_t pairs = (size_t)S * I / 2;
    const size_t stride = (size_t)S * 2 * I;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += (size_t)gridDim.x * blockDim.x) {
        const size_t slot = i / (I / 2);
        const int j = 2 * (int)(i % (I / 2));
        const float* p = partial + slot * 2 * I;
        float2 gs = make_float2(0.f, 0.f);
        float2 us = make_float2(0.f, 0.f);
        for (int sp = 0; sp < splits; ++sp) {
            const float2 gv = *(const float2*)(p + sp * stride + j);
            const float2 uv = *(const float2*)(p + sp * stride + I + j);
            gs.x += gv.x;
            gs.y += gv.y;
            us.x += uv.x;
            us.y += uv.y;
        }
        const float h0 = ((1.0f / (1.0f + expf(-gs.x))) * gs.x) * us.x;
        const float h1 = ((1.0f / (1.0f + expf(-gs.y))) * gs.y) * us.y;
        h16[i] = pack_f16x2(h0, h1);
    }
}

// out[t, :] = sum_k topk_weight[t, k] * (sum over down splits of y[split, slot_of[t, k], :]), k and splits ascending;
// then, for the `shared` always-on slots k = K .. K + shared - 1, weight 1. grid (H/4/256 rounded up, T); block 256.
extern "C" __global__ void __launch_bounds__(256)
moe_combine(const float* __restrict__ y, const int* __restrict__ slot_of, const float* __restrict__ topk_weight, int K, int H,
            int splits, int S, float* __restrict__ out, int shared)
{
    grid_dependency_sync();
    const int t = blockIdx.y;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= H / 4) return;
    const int KX = K + shared;
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int k = 0; k < KX; ++k) {
        const float w = k < K ? topk_weight[t * K + k] : 1.f;
        const float* ys = y + (size_t)slot_of[t * KX + k] * H;
        float4 v = ((const float4*)ys)[i];
        for (int sp = 1; sp < splits; ++sp) {
            const float4 u = ((const float4*)(ys + (size_t)sp * S * H))[i];
            v.x += u.x;
            v.y += u.y;
            v.z += u.z;
            v.w += u.w;
        }
        acc.x += w * v.x;
        acc.y += w * v.y;
        acc.z += w * v.z;
        acc.w += w * v.w;
    }
    ((float4*)(out + (size_t)t * H))[i] = acc;
}
