// Batched dense linears over BF16 weights on tensor cores (mma.sync m16n8k16, bf16 operands, f32 accumulate): the
// device forward's lm_head (V3 ships it BF16) and the absorbed per-head projections W_UK / W_UV, whose float32 forms
// are compute-bound on CUDA cores from a few dozen rows.
//
//   to_bf16            out[i] = bf16(x[i]) (round to nearest even), two values per thread step.
//   linear_bf16_*      y[b][t, r] = sum_k x16[b][t, k] * W[b][r, k] for r < R, t < n (at most 8 NT per launch), k < C:
//                      W packed per batch b by moe_pack_tiles as bytes (rows R, byte columns 2C: a 16-row tile's
//                      64-element chunk is 2,048 contiguous bytes); x16 bf16, token t of batch b at x16 + b xb + t xs
//                      (elements; 16-byte aligned, so xs, xb multiples of 8); y float32 at y + b yb + t ys + r.
//                      R a multiple of 16, C of 64.
//
// Grid (ceil(R / 16 / (8 MT)), batches), block 256 (8 warps); warp w of CTA x owns the MT 16-row tiles 8 MT x + MT w ..
// (tiles past R / 16 only join the copies of the shared tokens and the barriers). Every CTA streams its weight tiles once
// through a DEPTH-stage cp.async ring in shared memory ([B: token tile j][half h][lane], then per warp [A: m][v][lane],
// 16-byte units), the tokens' chunk shared by the CTA; tokens t >= n are zero-filled (src-size 0) and never stored.
//
// Fragment order (as in moe_fp8.cu): a dot product does not care about the order of k, so each thread holds 16
// contiguous bf16 of its rows g and g + 8 of a chunk (k = 16q .. 16q + 15, q = lane % 4; moe_pack_tiles puts them in its
// units v = 0, 1 for row g and v = 2, 3 for row g + 8) and the matching 16 bf16 of its token g; in mma step s the
// logical k slots {2q, 2q + 1} and {2q + 8, 2q + 9} stand for physical k 16q + 4s + {0, 1} and 16q + 4s + {2, 3} in A
// and B alike.

#include "common.cuh"

#define BF16_WARPS 8
#define BF16_DEPTH 4

extern "C" __global__ void __launch_bounds__(256)
to_bf16(const float2* __restrict__ x, u32* __restrict__ out, long long pairs)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += (long long)gridDim.x * blockDim.x) {
        const float2 v = x[i];
        u32 r;
        asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(v.y), "f"(v.x));
        out[i] = r;
    }
}

__device__ __forceinline__ void mma_bf16(float (&d)[4], u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned bf16_smem_address(const void* p)
{
    unsigned r;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(r) : "l"(p));
    return r;
}

// Copies 16 bytes, or writes 16 zero bytes when src_bytes is 0.
__device__ __forceinline__ void bf16_cp_async16(unsigned dst, const void* src, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
}

__device__ __forceinline__ void bf16_cp_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }

template <int N>
__device__ __forceinline__ void bf16_cp_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory"); }

extern __shared__ uint4 bf16_smem[];

template <int NT, int MT>
__device__ __forceinline__ void linear_bf16(const unsigned char* __restrict__ w, const unsigned char* __restrict__ x16,
                                            float* __restrict__ y, int n, int R, int C, long long xs, long long xb,
                                            long long ys, long long yb)
{
    constexpr int B_UNITS = NT * 64;
    constexpr int A_UNITS = MT * 128;
    constexpr int STAGE = B_UNITS + BF16_WARPS * A_UNITS;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    const int b = blockIdx.y;
    const int chunks = C / 64;
    const int tiles = R / 16;
    const int tile0 = (blockIdx.x * BF16_WARPS + warp) * MT;

    const unsigned char* a[MT];
    bool valid[MT];
#pragma unroll
    for (int m = 0; m < MT; ++m) {
        valid[m] = tile0 + m < tiles;
        a[m] = w + ((size_t)b * R * C + (size_t)(valid[m] ? tile0 + m : 0) * 16 * C) * 2 + (size_t)lane * 16;
    }

    // B units this thread copies: unit i = threadIdx.x + 256 u of the stage's NT * 64.
    const unsigned char* xb_ptr = x16 + (size_t)b * xb * 2;

    const unsigned base = bf16_smem_address(bf16_smem);
    auto issue = [&](int stage, int c) {
        const unsigned st = base + (unsigned)(stage * STAGE) * 16u;
        for (int i = threadIdx.x; i < B_UNITS; i += blockDim.x) {
            const int j = i >> 6, h = (i >> 5) & 1, l = i & 31;
            const int t = 8 * j + (l >> 2);
            const unsigned char* src = xb_ptr + ((size_t)(t < n ? t : 0) * xs) * 2 + (size_t)c * 128 + 32 * (l & 3) + 16 * h;
            bf16_cp_async16(st + (unsigned)i * 16u, src, t < n ? 16 : 0);
        }
        const unsigned sa = st + (unsigned)(B_UNITS + warp * A_UNITS) * 16u;
#pragma unroll
        for (int m = 0; m < MT; ++m)
            if (valid[m]) {
#pragma unroll
                for (int v = 0; v < 4; ++v) bf16_cp_async16(sa + (unsigned)((m * 4 + v) * 32 + lane) * 16u, a[m] + (size_t)c * 2048 + v * 512, 16);
            }
    };

    float acc[MT][NT][4];
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[m][j][i] = 0.f;

#pragma unroll
    for (int d = 0; d < BF16_DEPTH - 1; ++d) {
        if (d < chunks) issue(d, d);
        bf16_cp_commit();
    }
    for (int c = 0; c < chunks; ++c) {
        // After the wait, chunk c's copies of this thread have landed; after the barrier, every thread's have, and every
        // warp has finished reading chunk c - 1, whose stage the next issue refills.
        bf16_cp_wait<BF16_DEPTH - 2>();
        __syncthreads();
        const int ahead = c + BF16_DEPTH - 1;
        if (ahead < chunks) issue(ahead % BF16_DEPTH, ahead);
        bf16_cp_commit();

        const uint4* st = bf16_smem + (c % BF16_DEPTH) * STAGE;
        const uint4* sa = st + B_UNITS + warp * A_UNITS;
        u32 ga[MT][8], g8[MT][8];
#pragma unroll
        for (int m = 0; m < MT; ++m) {
            const uint4 v0 = sa[(m * 4 + 0) * 32 + lane], v1 = sa[(m * 4 + 1) * 32 + lane];
            const uint4 v2 = sa[(m * 4 + 2) * 32 + lane], v3 = sa[(m * 4 + 3) * 32 + lane];
            ga[m][0] = v0.x; ga[m][1] = v0.y; ga[m][2] = v0.z; ga[m][3] = v0.w;
            ga[m][4] = v1.x; ga[m][5] = v1.y; ga[m][6] = v1.z; ga[m][7] = v1.w;
            g8[m][0] = v2.x; g8[m][1] = v2.y; g8[m][2] = v2.z; g8[m][3] = v2.w;
            g8[m][4] = v3.x; g8[m][5] = v3.y; g8[m][6] = v3.z; g8[m][7] = v3.w;
        }
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const uint4 h0 = st[(j * 2 + 0) * 32 + lane], h1 = st[(j * 2 + 1) * 32 + lane];
            const u32 bw[8] = {h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w};
#pragma unroll
            for (int s = 0; s < 4; ++s)
#pragma unroll
                for (int m = 0; m < MT; ++m) mma_bf16(acc[m][j], ga[m][2 * s], g8[m][2 * s], ga[m][2 * s + 1], g8[m][2 * s + 1], bw[2 * s], bw[2 * s + 1]);
        }
    }
    bf16_cp_wait<0>();

#pragma unroll
    for (int m = 0; m < MT; ++m) {
        if (!valid[m]) continue;
        const int r0 = (tile0 + m) * 16 + g;
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const int t0 = 8 * j + 2 * q;
            float* yb_ptr = y + (size_t)b * yb;
            if (t0 < n) {
                yb_ptr[(size_t)t0 * ys + r0] = acc[m][j][0];
                yb_ptr[(size_t)t0 * ys + r0 + 8] = acc[m][j][2];
            }
            if (t0 + 1 < n) {
                yb_ptr[(size_t)(t0 + 1) * ys + r0] = acc[m][j][1];
                yb_ptr[(size_t)(t0 + 1) * ys + r0 + 8] = acc[m][j][3];
            }
        }
    }
}

// Dynamic shared memory: BF16_DEPTH * (64 NT + 8 * 128 MT) * 16 bytes (Bf16Linears.SharedBytes).
#define LINEAR_BF16(NT, MT)                                                                                                \
    extern "C" __global__ void __launch_bounds__(256) linear_bf16_nt##NT##_mt##MT(                                       \
        const unsigned char* __restrict__ w, const unsigned char* __restrict__ x16, float* __restrict__ y, int n, int R,  \
        int C, long long xs, long long xb, long long ys, long long yb)                                                   \
    {                                                                                                                      \
        linear_bf16<NT, MT>(w, x16, y, n, R, C, xs, xb, ys, yb);                                                           \
    }

LINEAR_BF16(1, 1)
LINEAR_BF16(2, 1)
LINEAR_BF16(4, 1)
LINEAR_BF16(8, 1)
LINEAR_BF16(1, 2)
LINEAR_BF16(2, 2)
LINEAR_BF16(4, 2)
LINEAR_BF16(8, 2)
