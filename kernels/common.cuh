// Device helpers shared by the kernel files (#include "common.cuh"; KernelLibrary offers every kernels/*.cuh to NVRTC
// and puts its text in each module's cache key).
#pragma once

typedef unsigned int u32;

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Every thread gets the block's total; red holds 32 floats; the trailing barrier lets red be reused at once.
__device__ __forceinline__ float block_sum(float v, float* red)
{
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    float t = 0.f;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++) t += red[w];
    __syncthreads();
    return t;
}

__device__ __forceinline__ float block_max(float v, float* red)
{
    v = warp_max(v);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    float t = __int_as_float(0xff800000);
    for (int w = 0; w < (int)(blockDim.x >> 5); w++) t = fmaxf(t, red[w]);
    __syncthreads();
    return t;
}

// Two e4m3 codes (low byte first) to two floats, exactly (e4m3 -> f16 -> f32 are both exact).
__device__ __forceinline__ float2 e4m3x2_to_float2(u32 two)
{
    u32 h;
    unsigned short s = (unsigned short)two;
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h) : "h"(s));
    float lo, hi;
    asm("{ .reg .f16 a, b; mov.b32 {a, b}, %2; cvt.f32.f16 %0, a; cvt.f32.f16 %1, b; }" : "=f"(lo), "=f"(hi) : "r"(h));
    return make_float2(lo, hi);
}

__device__ __forceinline__ float e4m3_to_float(unsigned char code) { return e4m3x2_to_float2(code).x; }
