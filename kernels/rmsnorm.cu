// RMSNorm with an optional fused residual add (vLLM's fused_add_rms_norm), float32 in and out.
//   residual != 0: residual[r] = x[r] + residual[r];  y[r] = residual[r] / sqrt(mean(residual[r]^2) + eps) * weight
//   residual == 0: y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight
// One block per row (256 threads; up to 1024 when rows are few; rows of up to 8 values a thread are held in registers).
// Mirrors CpuBackend.RmsNorm: inv = 1 / sqrt(sum / d + eps); y = (v * inv) * w.

#include "common.cuh"

#define RMS_REG 8

extern "C" __global__ void __launch_bounds__(1024)
rmsnorm(const float* __restrict__ x, float* residual, const float* __restrict__ weight, float* __restrict__ y, int d, float eps)
{
    grid_dependency_sync();
    const size_t base = (size_t)blockIdx.x * d;
    const float* xr = x + base;
    float* rr = residual != 0 ? residual + base : 0;
    float* yr = y + base;
    // A row of up to RMS_REG values a thread stays in registers: every load of the row is issued before the first use
    // (the loop below waits on each one in turn: rr may alias nothing the compiler can see), and the second pass reads
    // the registers. The same sums in the same order either way, so the outputs are the same bit for bit.
    const bool in_registers = d <= RMS_REG * (int)blockDim.x;
    float v[RMS_REG];
    float ss = 0.f;
    if (in_registers) {
#pragma unroll
        for (int k = 0; k < RMS_REG; ++k) {
            const int i = threadIdx.x + k * blockDim.x;
            v[k] = i < d ? xr[i] : 0.f;
        }
        if (rr != 0) {
            float r[RMS_REG];
#pragma unroll
            for (int k = 0; k < RMS_REG; ++k) {
                const int i = threadIdx.x + k * blockDim.x;
                r[k] = i < d ? rr[i] : 0.f;
            }
#pragma unroll
            for (int k = 0; k < RMS_REG; ++k) {
                const int i = threadIdx.x + k * blockDim.x;
                v[k] += r[k];
                if (i < d) rr[i] = v[k];
            }
        }
#pragma unroll
        for (int k = 0; k < RMS_REG; ++k)
            if (threadIdx.x + k * blockDim.x < d) ss += v[k] * v[k];
    } else {
        for (int i = threadIdx.x; i < d; i += blockDim.x) {
            float x1 = xr[i];
            if (rr != 0) {
                x1 += rr[i];
                rr[i] = x1;
            }
            ss += x1 * x1;
        }
    }

    __shared__ float part[32];
    ss = warp_sum(ss);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
        float v = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0.f;
        v = warp_sum(v);
        if (threadIdx.x == 0) part[0] = v;
    }
    __syncthreads();
    const float inv = 1.0f / sqrtf(part[0] / (float)d + eps);
    if (in_registers) {
        float w[RMS_REG];
#pragma unroll
        for (int k = 0; k < RMS_REG; ++k) {
            const int i = threadIdx.x + k * blockDim.x;
            w[k] = i < d ? weight[i] : 0.f;
        }
#pragma unroll
        for (int k = 0; k < RMS_REG; ++k) {
            const int i = threadIdx.x + k * blockDim.x;
            if (i < d) yr[i] = (v[k] * inv) * w[k];
        }
    } else {
        for (int i = threadIdx.x; i < d; i += blockDim.x) {
            float x1 = rr != 0 ? rr[i] : xr[i];
            yr[i] = (x1 * inv) * weight[i];
        }
    }
}
