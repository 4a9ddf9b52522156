// RMSNorm with an optional fused residual add (vLLM's fused_add_rms_norm), float32 in and out.
//   residual != 0: residual[r] = x[r] + residual[r];  y[r] = residual[r] / sqrt(mean(residual[r]^2) + eps) * weight
//   residual == 0: y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight
// One block per row (256 threads; up to 1024 when rows are few). Mirrors CpuBackend.RmsNorm: inv = 1 / sqrt(sum / d + eps); y = (v * inv) * w.

#include "common.cuh"

extern "C" __global__ void __launch_bounds__(1024)
rmsnorm(const float* __restrict__ x, float* residual, const float* __restrict__ weight, float* __restrict__ y, int d, float eps)
{
    grid_dependency_sync();
    const size_t base = (size_t)blockIdx.x * d;
    const float* xr = x + base;
    float* rr = residual != 0 ? residual + base : 0;
    float* yr = y + base;
    float ss = 0.f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float v = xr[i];
        if (rr != 0) {
            v += rr[i];
            rr[i] = v;
        }
        ss += v * v;
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
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float v = rr != 0 ? rr[i] : xr[i];
        yr[i] = (v * inv) * weight[i];
    }
}
