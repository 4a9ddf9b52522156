// Helpers for checks and benchmarks: a streaming copy (copy bandwidth in the same run) and seeded random fills.

extern "C" __global__ void __launch_bounds__(256)
copy_u4(const uint4* __restrict__ src, uint4* __restrict__ dst, unsigned long long n)
{
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        dst[i] = src[i];
    }
}

__device__ __forceinline__ unsigned int mix32(unsigned long long v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    v ^= v >> 33;
    v *= 0xc4ceb9fe1a85ec53ULL;
    v ^= v >> 33;
    return (unsigned int)v;
}

// Random FP8 e4m3 bytes, every code except the two NaNs (0x7F, 0xFF become 0x7E, 0xFE: +-448).
extern "C" __global__ void __launch_bounds__(256)
fill_fp8(unsigned int* __restrict__ p, unsigned long long words, unsigned int seed)
{
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < words;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        unsigned int w = mix32(i * 0x9E3779B97F4A7C15ULL + seed);
#pragma unroll
        for (int b = 0; b < 32; b += 8) {
            if (((w >> b) & 0x7Fu) == 0x7Fu) w ^= 1u << b;  // a NaN code loses bit 0
        }
        p[i] = w;
    }
}
