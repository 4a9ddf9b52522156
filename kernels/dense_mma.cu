// Dense linears on tensor cores (mma.sync m16n8k16, f32 accumulate) for the device forward's fast mode, over two weight
// formats with one structure:
//   BF16 weights, BF16 activations (lm_head — V3 ships it BF16 — and the absorbed per-head projections W_UK / W_UV);
//   FP8 e4m3 weights with 128x128 block scales (V3's linears), f16 activations (e4m3 -> f16 is exact), each 128-wide K
//   chunk summed in a temporary and then scaled into the accumulator (DeepGEMM's promotion, as moe_fp8.cu does).
//
//   to_bf16, to_f16     out[i] = round(x[i]) to nearest even, two values per thread step.
//   dense_bf16_*        y[b][t, r] = sum_k x16[b][t, k] * W[b][r, k] for r < R, t < n (at most 8 NT per launch), k < C.
//   dense_fp8_*         the same over FP8 codes, W = code * scale[r / 128, k / 128] (batch 1).
// W is packed by moe_pack_tiles as bytes (rows R, byte columns 2C for BF16, C for FP8): a 16-row tile's K chunk (64 BF16
// or 128 FP8 elements) is 2,048 contiguous bytes. x16: token t of batch b at x16 + b xb + t xs (elements; 16-byte
// aligned, so xs and xb multiples of 8). y float32 at y + z split_stride + b yb + t ys + r, z = blockIdx.z the K split:
// a launch with several splits writes partial sums that dense_sum_splits (forward.cu) adds up; with one, the result.
// R a multiple of 16; C a multiple of 64 (BF16) or 128 (FP8).
//
// Grid (ceil(R / 16 / (8 MT)), batches, splits), block 256 (8 warps); warp w of CTA x owns the MT 16-row tiles
// 8 MT x + MT w .. (tiles past R / 16 only join the copies of the shared tokens and the barriers), for K chunks
// [z per, min(chunks, (z + 1) per)). Every CTA streams its weight tiles once through a DENSE_DEPTH-stage cp.async ring in
// shared memory ([B: token tile j][unit h][lane], then per warp [A: m][v][lane], 16-byte units), the tokens' chunk
// shared by the CTA; tokens t >= n are zero-filled (src-size 0) and never stored.
//
// Fragment order (moe_fp8.cu's): a dot product does not care about the order of k, so each thread holds contiguous k of
// its rows g and g + 8 of a chunk (q = lane % 4: k = 16q .. 16q + 15 for BF16, 32q .. 32q + 31 for FP8; moe_pack_tiles
// puts them in units v = 0, 1 for row g and v = 2, 3 for row g + 8) and the same k of its token g; in mma step s the
// logical k slots {2q, 2q + 1} and {2q + 8, 2q + 9} stand for the physical k of the thread's words 2s and 2s + 1 (BF16:
// two elements a word) or of the two halves of word s (FP8: four codes a word), in A and B alike.

#include "common.cuh"

#define DENSE_WARPS 8
#define DENSE_DEPTH 4

extern "C" __global__ void __launch_bounds__(256)
to_bf16(const float2* __restrict__ x, u32* __restrict__ out, long long pairs)
{
    grid_dependency_sync();
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += (long long)gridDim.x * blockDim.x) {
        const float2 v = x[i];
        u32 r;
        asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(v.y), "f"(v.x));
        out[i] = r;
    }
}

extern "C" __global__ void __launch_bounds__(256)
to_f16(const float2* __restrict__ x, u32* __restrict__ out, long long pairs)
{
    grid_dependency_sync();
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += (long long)gridDim.x * blockDim.x) {
        const float2 v = x[i];
        u32 r;
        asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(v.y), "f"(v.x));
        out[i] = r;
    }
}

__device__ __forceinline__ void dense_words(u32* w, uint4 v)
{
    w[0] = v.x;
    w[1] = v.y;
    w[2] = v.z;
    w[3] = v.w;
}

extern __shared__ uint4 dense_smem[];

template <bool FP8, int NT, int MT>
__device__ __forceinline__ void dense_mma(const unsigned char* __restrict__ w, const float* __restrict__ scales,
                                          const unsigned char* __restrict__ x16, float* __restrict__ y, int n, int R, int C,
                                          long long xs, long long xb, long long ys, long long yb, int per,
                                          long long split_stride)
{
    constexpr int KC = FP8 ? 128 : 64;         // K elements per chunk
    constexpr int HU = KC / 32;                 // 16-byte units of one token's chunk per lane (its 2 KC / 4 bytes)
    constexpr int B_UNITS = NT * KC;            // 8 tokens x 2 KC bytes / 16, per token tile
    constexpr int A_UNITS = MT * 128;           // 2,048 bytes per 16-row tile
    constexpr int STAGE = B_UNITS + DENSE_WARPS * A_UNITS;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    const int b = blockIdx.y;
    const int chunks = C / KC;
    const int c0 = blockIdx.z * per, c1 = min(chunks, c0 + per);
    const int tiles = R / 16;
    const int tile0 = (blockIdx.x * DENSE_WARPS + warp) * MT;
    const size_t row_bytes = FP8 ? (size_t)C : (size_t)C * 2;

    const unsigned char* a[MT];
    const float* sa[MT];
    bool valid[MT];
#pragma unroll
    for (int m = 0; m < MT; ++m) {
        valid[m] = tile0 + m < tiles;
        const int tile = valid[m] ? tile0 + m : 0;
        a[m] = w + ((size_t)b * R + (size_t)tile * 16) * row_bytes + (size_t)lane * 16;
        sa[m] = FP8 ? scales + (size_t)(tile / 8) * (C / 128) : nullptr;
    }
    const unsigned char* xb_ptr = x16 + (size_t)b * xb * 2;

    const unsigned base = smem_u32addr(dense_smem);
    auto issue = [&](int stage, int c) {
        const unsigned st = base + (unsigned)(stage * STAGE) * 16u;
        for (int i = threadIdx.x; i < B_UNITS; i += blockDim.x) {
            const int j = i / KC, h = (i >> 5) % HU, l = i & 31;
            const int t = 8 * j + (l >> 2);
            const unsigned char* src = xb_ptr + (size_t)(t < n ? t : 0) * xs * 2 + (size_t)c * KC * 2 + (l & 3) * (KC / 2) + 16 * h;
            cp_async16_zfill(st + (unsigned)i * 16u, src, t < n ? 16 : 0);
        }
        const unsigned sw = st + (unsigned)(B_UNITS + warp * A_UNITS) * 16u;
#pragma unroll
        for (int m = 0; m < MT; ++m)
            if (valid[m]) {
#pragma unroll
                for (int v = 0; v < 4; ++v) cp_async16_zfill(sw + (unsigned)((m * 4 + v) * 32 + lane) * 16u, a[m] + (size_t)c * 2048 + v * 512, 16);
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
    for (int d = 0; d < DENSE_DEPTH - 1; ++d) {
        if (c0 + d < c1) issue(d, c0 + d);
        cp_async_commit_group();
    }
    for (int c = c0; c < c1; ++c) {
        // After the wait, chunk c's copies of this thread have landed; after the barrier, every thread's have, and every
        // warp has finished reading chunk c - 1, whose stage the next issue refills.
        cp_async_wait_groups<DENSE_DEPTH - 2>();
        __syncthreads();
        const int ahead = c + DENSE_DEPTH - 1;
        if (ahead < c1) issue((ahead - c0) % DENSE_DEPTH, ahead);
        cp_async_commit_group();

        const uint4* st = dense_smem + ((c - c0) % DENSE_DEPTH) * STAGE;
        const uint4* sw = st + B_UNITS + warp * A_UNITS;
        u32 ga[MT][8], g8[MT][8];
        float s[MT];
#pragma unroll
        for (int m = 0; m < MT; ++m) {
            dense_words(&ga[m][0], sw[(m * 4 + 0) * 32 + lane]);
            dense_words(&ga[m][4], sw[(m * 4 + 1) * 32 + lane]);
            dense_words(&g8[m][0], sw[(m * 4 + 2) * 32 + lane]);
            dense_words(&g8[m][4], sw[(m * 4 + 3) * 32 + lane]);
            s[m] = FP8 ? __ldg(sa[m] + c) : 1.f;
        }
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            u32 bw[4 * HU];
#pragma unroll
            for (int h = 0; h < HU; ++h) dense_words(&bw[4 * h], st[(j * HU + h) * 32 + lane]);
            if (FP8) {
#pragma unroll
                for (int m = 0; m < MT; ++m) {
                    float tmp[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
                    for (int k = 0; k < 8; ++k) {
                        const u32 w0 = ga[m][k], w1 = g8[m][k];
                        mma_m16n8k16_f16(tmp, e4m3x2_to_f16x2_bits(w0 & 0xFFFFu), e4m3x2_to_f16x2_bits(w1 & 0xFFFFu),
                                      e4m3x2_to_f16x2_bits(w0 >> 16), e4m3x2_to_f16x2_bits(w1 >> 16), bw[2 * k], bw[2 * k + 1]);
                    }
#pragma unroll
                    for (int i = 0; i < 4; ++i) acc[m][j][i] += s[m] * tmp[i];
                }
            } else {
#pragma unroll
                for (int k = 0; k < 4; ++k)
#pragma unroll
                    for (int m = 0; m < MT; ++m)
                        mma_m16n8k16_bf16(acc[m][j], ga[m][2 * k], g8[m][2 * k], ga[m][2 * k + 1], g8[m][2 * k + 1], bw[2 * k], bw[2 * k + 1]);
            }
        }
    }
    cp_async_wait_groups<0>();

    float* yb_ptr = y + blockIdx.z * split_stride + (size_t)b * yb;
#pragma unroll
    for (int m = 0; m < MT; ++m) {
        if (!valid[m]) continue;
        const int r0 = (tile0 + m) * 16 + g;
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const int t0 = 8 * j + 2 * q;
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

// Dynamic shared memory: DENSE_DEPTH * (NT * KC + 8 * 128 MT) * 16 bytes, KC = 64 (BF16) or 128 (FP8) (DenseMma.SharedBytes).
#define DENSE_MMA(NT, MT)                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) dense_bf16_nt##NT##_mt##MT(                                         \
        const unsigned char* __restrict__ w, const unsigned char* __restrict__ x16, float* __restrict__ y, int n, int R,  \
        int C, long long xs, long long xb, long long ys, long long yb, int per, long long split_stride)                   \
    {                                                                                                                      \
        grid_dependency_sync();                                                                                            \
        dense_mma<false, NT, MT>(w, nullptr, x16, y, n, R, C, xs, xb, ys, yb, per, split_stride);                          \
    }                                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256) dense_fp8_nt##NT##_mt##MT(                                          \
        const unsigned char* __restrict__ w, const float* __restrict__ scales, const unsigned char* __restrict__ x16,      \
        float* __restrict__ y, int n, int R, int C, long long xs, long long ys, int per, long long split_stride)           \
    {                                                                                                                      \
        grid_dependency_sync();                                                                                            \
        dense_mma<true, NT, MT>(w, scales, x16, y, n, R, C, xs, 0, ys, 0, per, split_stride);                              \
    }

DENSE_MMA(1, 1)
DENSE_MMA(2, 1)
DENSE_MMA(4, 1)
DENSE_MMA(8, 1)
DENSE_MMA(1, 2)
DENSE_MMA(2, 2)
DENSE_MMA(4, 2)
DENSE_MMA(8, 2)
