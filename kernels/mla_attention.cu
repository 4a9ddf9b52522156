// Causal attention of one sequence's queries, float32, for both MLA forms (CpuBackend.Attention and LatentAttention):
// a key is two runs of dims, A (per head: k_nope; absorbed: the latent c) and B (shared by all heads: the rotated
// k_rope), a value is one run (per head: v; absorbed: the latent c again). Query i sits at position first + i and sees
// keys 0..first + i.
//   score(u) = (q[0:nA] . A_u + q[nA:nA+nB] . B_u) * scale;  out = softmax(score) . V
// One block of 128 threads per (head, query); keys in chunks of 128 with an online softmax (running max and sum,
// the output rescaled when the max moves), so any context length fits in 1.5 KB + the query in shared memory.
// Each warp scores keys with its lanes across the dims (coalesced); each thread owns output dims tid, tid + 128, ...
// A first version for correctness: absorbed decode re-reads the shared latents once per head (from L2); a kernel that
// scores all heads against each latent row once is the next step.

#include "common.cuh"

#define CHUNK 128
#define MAX_V_PER_THREAD 8   // value dims up to 8 x 128 = 1024

// grid (heads, queries), block CHUNK threads, dynamic shared memory (nA + nB + CHUNK + 32) floats.
// q: [queries, heads, nA + nB]; A_u = keyA + u * strideA + h * headA; B_u = keyB + u * strideB;
// V_u = val + u * strideV + h * headV; out: [queries, heads, vd].
extern "C" __global__ void __launch_bounds__(CHUNK)
mla_attention(const float* __restrict__ q,
              const float* __restrict__ keyA, long long strideA, int headA, int nA,
              const float* __restrict__ keyB, long long strideB, int nB,
              const float* __restrict__ val, long long strideV, int headV, int vd,
              float* __restrict__ out, int heads, int first, float scale)
{
    grid_dependency_sync();
    extern __shared__ float smem[];
    const int width = nA + nB;
    float* qs = smem;
    float* sc = smem + width;
    float* red = sc + CHUNK;
    const int h = blockIdx.x, i = blockIdx.y;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, warps = blockDim.x >> 5;
    const float* qrow = q + ((size_t)i * heads + h) * width;
    for (int d = tid; d < width; d += blockDim.x) qs[d] = qrow[d];
    __syncthreads();

    const int count = first + i + 1;
    const float* kA = keyA + (size_t)h * headA;
    const float* vH = val + (size_t)h * headV;
    float acc[MAX_V_PER_THREAD];
#pragma unroll
    for (int j = 0; j < MAX_V_PER_THREAD; j++) acc[j] = 0.f;
    float m = __int_as_float(0xff800000), l = 0.f;

    for (int base = 0; base < count; base += CHUNK) {
        const int nk = min(CHUNK, count - base);
        for (int j = warp; j < CHUNK; j += warps) {
            float s = __int_as_float(0xff800000);
            if (j < nk) {
                const size_t u = (size_t)(base + j);
                const float* a = kA + u * strideA;
                const float* b = keyB + u * strideB;
                float p = 0.f;
                for (int d = lane; d < nA; d += 32) p = fmaf(qs[d], a[d], p);
                for (int d = lane; d < nB; d += 32) p = fmaf(qs[nA + d], b[d], p);
                s = warp_sum(p) * scale;
            }
            if (lane == 0) sc[j] = s;
        }
        __syncthreads();

        const float mine = sc[tid];
        const float mNew = fmaxf(m, block_max(mine, red));
        const float p = tid < nk ? expf(mine - mNew) : 0.f;
        sc[tid] = p;   // each thread rewrites only its own slot
        const float chunkSum = block_sum(p, red);   // its barriers also publish sc
        const float f = expf(m - mNew);              // 0 on the first chunk (m = -inf)
        l = l * f + chunkSum;
#pragma unroll
        for (int j = 0; j < MAX_V_PER_THREAD; j++) {
            const int d = tid + j * CHUNK;
            if (d < vd) {
                float a = acc[j] * f;
                const float* v = vH + (size_t)base * strideV + d;
                for (int u = 0; u < nk; u++) a = fmaf(sc[u], v[(size_t)u * strideV], a);
                acc[j] = a;
            }
        }
        m = mNew;
        __syncthreads();   // sc is rewritten by the next chunk's scores
    }

    float* orow = out + ((size_t)i * heads + h) * vd;
    const float inv = 1.f / l;
#pragma unroll
    for (int j = 0; j < MAX_V_PER_THREAD; j++) {
        const int d = tid + j * CHUNK;
        if (d < vd) orow[d] = acc[j] * inv;
    }
}
