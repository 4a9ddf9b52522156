// Linear layer in float32: y[n, rows] = x[n, cols] . w[rows, cols]^T (both operands row-major along cols, as
// checkpoints store weights). Mirrors CpuBackend.Linear's contract; results are float32 sums in a different order.
//   linear_gemv:  n <= 8 (decode). One warp per weight row; lanes stride cols (coalesced), each lane keeps up to 8
//                 token sums; every weight byte is read once per call.
//   linear_tiled: n > 8 (prefill). 64x64 output tiles, 16-wide k steps through shared memory, 4x4 outputs a thread.
// A first version for correctness (no tensor cores, no vector loads); cuBLASLt or a wgmma kernel is the next step.

#include "common.cuh"

#define GEMV_MAX_TOKENS 8

extern "C" __global__ void __launch_bounds__(256)
linear_gemv(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y, int n, int rows, int cols)
{
    grid_dependency_sync();
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const float* wr = w + (size_t)row * cols;
    float acc[GEMV_MAX_TOKENS];
#pragma unroll
    for (int t = 0; t < GEMV_MAX_TOKENS; t++) acc[t] = 0.f;
    for (int k = lane; k < cols; k += 32) {
        const float wv = wr[k];
#pragma unroll
        for (int t = 0; t < GEMV_MAX_TOKENS; t++) {
            if (t < n) acc[t] = fmaf(wv, x[(size_t)t * cols + k], acc[t]);
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
linear_tiled(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y, int n, int rows, int cols)
{
    grid_dependency_sync();
    __shared__ float xs[TK][TILE + 4];
    __shared__ float ws[TK][TILE + 4];
    const int tid = threadIdx.x;
    const int tx = tid & 15, ty = tid >> 4;
    const int r0 = blockIdx.x * TILE, m0 = blockIdx.y * TILE;
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
            ws[k][r] = (r0 + r < rows && kk < cols) ? w[(size_t)(r0 + r) * cols + kk] : 0.f;
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
