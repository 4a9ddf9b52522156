// YaRN rotary position embedding on interleaved pairs (0,1),(2,3)... of a rope slice, in place, float32 (YarnRope).
// Angles and their cos/sin in float64 as the CPU computes them (position x the YaRN-interpolated inverse frequency, then
// x the attention factor, then rounded to float), the rotation in float32:
//   x[2i] = a cos_i - b sin_i;  x[2i+1] = b cos_i + a sin_i
// x holds rows (tokens) of `heads` slices: slice (t, h) starts at t * row_stride + h * head_stride + offset.
// grid (rows, parts), block 128: the parts of a row (blockIdx.y) stride over its heads x half pairs together, each part
// computing the row's cos/sin itself (one part leaves a single CTA looping over every pair: at a decode row of 128 heads,
// 32 dependent steps a thread); half up to ROPE_MAX_HALF (checked on the host).

#include "pdl.cuh"

#define ROPE_MAX_HALF 256

extern "C" __global__ void __launch_bounds__(128)
rope_yarn(float* __restrict__ x, const int* __restrict__ positions, const double* __restrict__ inv_freq, double attention_factor,
          int heads, long long row_stride, int head_stride, int offset, int half)
{
    grid_dependency_sync();
    // A row's cos/sin once per pair index (float64 sincos is the costly part), then every head's rotation from them.
    __shared__ float cos_s[ROPE_MAX_HALF], sin_s[ROPE_MAX_HALF];
    const int t = blockIdx.x;
    const double pos = (double)positions[t];
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        double s, c;
        sincos(pos * inv_freq[i], &s, &c);
        cos_s[i] = (float)(c * attention_factor);
        sin_s[i] = (float)(s * attention_factor);
    }
    __syncthreads();
    float* row = x + (size_t)t * row_stride + offset;
    for (int j = blockIdx.y * blockDim.x + threadIdx.x; j < heads * half; j += gridDim.y * blockDim.x) {
        const int h = j / half, i = j - h * half;
        const float cf = cos_s[i], sf = sin_s[i];
        float* p = row + (size_t)h * head_stride + 2 * i;
        const float a = p[0], b = p[1];
        p[0] = a * cf - b * sf;
        p[1] = b * cf + a * sf;
    }
}
