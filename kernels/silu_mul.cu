// SwiGLU activation, element-wise: y = silu(gate) * up = (gate * sigmoid(gate)) * up, float32.
// Mirrors CpuBackend.SiluMul (sigmoid = 1 / (1 + exp(-g)), then * g, then * up). y may alias gate or up.

#include "pdl.cuh"

extern "C" __global__ void __launch_bounds__(256)
silu_mul(const float* gate, const float* up, float* y, long long n)
{
    grid_dependency_sync();
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float g = gate[i];
        float s = 1.0f / (1.0f + expf(-g));
        y[i] = (s * g) * up[i];
    }
}
