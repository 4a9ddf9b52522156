// Helpers for checks and benchmarks: a streaming copy (copy bandwidth in the same run) and seeded random fills.

#include "pdl.cuh"

extern "C" __global__ void __launch_bounds__(256)
copy_u4(const uint4* __restrict__ src, uint4* __restrict__ dst, unsigned long long n)
{
    grid_dependency_sync();
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
    grid_dependency_sync();
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

// The same copy with four independent 16-byte loads in flight per thread (n a multiple of 4 * grid size not required).
extern "C" __global__ void __launch_bounds__(256)
copy_u4x4(const uint4* __restrict__ src, uint4* __restrict__ dst, unsigned long long n)
{
    grid_dependency_sync();
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        const uint4 a = src[i], b = src[i + stride], c = src[i + 2 * stride], d = src[i + 3 * stride];
        dst[i] = a;
        dst[i + stride] = b;
        dst[i + 2 * stride] = c;
        dst[i + 3 * stride] = d;
    }
    for (; i < n; i += stride) dst[i] = src[i];
}

// Read bandwidth: streams src once (four 16-byte loads in flight per thread); writes only if an impossible value shows up.
extern "C" __global__ void __launch_bounds__(256)
read_u4x4(const uint4* __restrict__ src, unsigned long long n, unsigned int* __restrict__ sink)
{
    grid_dependency_sync();
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int acc = 0;
    for (; i + 3 * stride < n; i += 4 * stride) {
        const uint4 a = src[i], b = src[i + stride], c = src[i + 2 * stride], d = src[i + 3 * stride];
        acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
    }
    for (; i < n; i += stride) acc ^= src[i].x ^ src[i].y ^ src[i].z ^ src[i].w;
    if (acc == 0x9E3779B9u) sink[0] = acc;
}
