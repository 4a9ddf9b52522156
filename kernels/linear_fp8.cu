// Linear layer on an FP8 e4m3 weight with DeepSeek's block scales, float32 activations and outputs:
// y[n, rows] = x[n, cols] . W^T, W[r, c] = e4m3(codes[r, c]) * scales[r / block_rows, c / block_cols].
// Each weight is the float the CPU backend (and the checkpoint reader) computes: the e4m3 code converted exactly
// (cvt.rn.f16x2.e4m3x2, then f16 -> f32, both exact), times its block scale in one round-to-nearest float32 multiply
// (__fmul_rn, never contracted into the following FMA). Sums are float32 in another order than the CPU's.
//   linear_fp8_gemv:  n <= 8 (decode). One warp per weight row; each lane reads 16 codes (one 16-byte load) per step,
//                     a warp 512 contiguous bytes; up to 8 token sums a lane; every weight byte is read once per call.
//                     Vector path when cols and block_cols are multiples of 16 (DeepSeek-V3: always); else by byte.
//   linear_fp8_tiled: n > 8 (prefill). linear.cu's 64x64 output tiles, 16-wide k steps through shared memory, the
//                     weight slab dequantized on its way into shared memory.

#include "common.cuh"

#define GEMV_MAX_TOKENS 8

// Four codes of a 32-bit word times the block scale, then into the token sums.
__device__ __forceinline__ void fma_word(float (&acc)[GEMV_MAX_TOKENS], u32 word, float s, const float* __restrict__ x, int k, int cols, int n)
{
    const float2 a = e4m3x2_to_float2(word & 0xFFFFu);
    const float2 b = e4m3x2_to_float2(word >> 16);
    const float w0 = __fmul_rn(a.x, s), w1 = __fmul_rn(a.y, s), w2 = __fmul_rn(b.x, s), w3 = __fmul_rn(b.y, s);
#pragma unroll
    for (int t = 0; t < GEMV_MAX_TOKENS; t++) {
        if (t < n) {
            const float4 v = __ldg(reinterpret_cast<const float4*>(x + (size_t)t * cols + k));
            acc[t] = fmaf(w0, v.x, acc[t]);
            acc[t] = fmaf(w1, v.y, acc[t]);
            acc[t] = fmaf(w2, v.z, acc[t]);
            acc[t] = fmaf(w3, v.w, acc[t]);
        }
    }
}

extern "C" __global__ void __launch_bounds__(256)
linear_fp8_gemv(const float* __restrict__ x, const unsigned char* __restrict__ codes, const float* __restrict__ scales,
                float* __restrict__ y, int n, int rows, int cols, int block_rows, int block_cols)
{
    grid_dependency_sync();
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const int scale_cols = (cols + block_cols - 1) / block_cols;
    const unsigned char* wr = codes + (size_t)row * cols;
    const float* sr = scales + (size_t)(row / block_rows) * scale_cols;
    float acc[GEMV_MAX_TOKENS];
#pragma unroll
    for (int t = 0; t < GEMV_MAX_TOKENS; t++) acc[t] = 0.f;

    if ((cols & 15) == 0 && (block_cols & 15) == 0) {
        // 16 codes a lane, all in one scale block; rows start 16-byte aligned (cols % 16 == 0, buffer aligned).
#pragma unroll 2
        for (int k = lane * 16; k < cols; k += 32 * 16) {
            const uint4 q = __ldg(reinterpret_cast<const uint4*>(wr + k));
            const float s = __ldg(sr + k / block_cols);
            fma_word(acc, q.x, s, x, k, cols, n);
            fma_word(acc, q.y, s, x, k + 4, cols, n);
            fma_word(acc, q.z, s, x, k + 8, cols, n);
            fma_word(acc, q.w, s, x, k + 12, cols, n);
        }
    } else {
        for (int k = lane; k < cols; k += 32) {
            const float w = __fmul_rn(e4m3_to_float(__ldg(wr + k)), __ldg(sr + k / block_cols));
#pragma unroll
            for (int t = 0; t < GEMV_MAX_TOKENS; t++) {
                if (t < n) acc[t] = fmaf(w, __ldg(x + (size_t)t * cols + k), acc[t]);
            }
        }
    }

#pragma unroll
    for (int t = 0; t < GEMV_MAX_TOKENS; t++) {
        if (t < n) {
            const float s = warp_sum(acc[t]);
            if (lane == 0) y[(size_t)t * rows + row] = s;
        }
    }
}

#define TILE 64
#define TK 16

// grid (ceil(rows / 64), ceil(n / 64)), block 256 = 16 x 16 threads; thread (tx, ty) computes tokens ty*4..+3 and
// rows tx*4..+3 of the block's tile.
extern "C" __global__ void __launch_bounds__(256)
linear_fp8_tiled(const float* __restrict__ x, const unsigned char* __restrict__ codes, const float* __restrict__ scales,
                 float* __restrict__ y, int n, int rows, int cols, int block_rows, int block_cols)
{
    grid_dependency_sync();
    __shared__ float xs[TK][TILE + 4];
    __shared__ float ws[TK][TILE + 4];
    const int tid = threadIdx.x;
    const int tx = tid & 15, ty = tid >> 4;
    const int r0 = blockIdx.x * TILE, m0 = blockIdx.y * TILE;
    const int scale_cols = (cols + block_cols - 1) / block_cols;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.f;

    for (int k0 = 0; k0 < cols; k0 += TK) {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int idx = tid + i * 256;   // 0..1023 over a 64 x 16 slab
            const int r = idx >> 4, k = idx & 15;
            const int kk = k0 + k;
            xs[k][r] = (m0 + r < n && kk < cols) ? x[(size_t)(m0 + r) * cols + kk] : 0.f;
            float w = 0.f;
            if (r0 + r < rows && kk < cols) {
                const int row = r0 + r;
                w = __fmul_rn(e4m3_to_float(codes[(size_t)row * cols + kk]), scales[(size_t)(row / block_rows) * scale_cols + kk / block_cols]);
            }
            ws[k][r] = w;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < TK; k++) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = xs[k][ty * 4 + i];
#pragma unroll
            for (int j = 0; j < 4; j++) b[j] = ws[k][tx * 4 + j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int m = m0 + ty * 4 + i;
        if (m >= n) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int r = r0 + tx * 4 + j;
            if (r < rows) y[(size_t)m * rows + r] = acc[i][j];
        }
    }
}
