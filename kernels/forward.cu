// Kernels of the device-resident forward (src/R1Orleans.Cuda.Model, DeviceForward): the glue between the per-op
// kernels, so that a step's activations and the latent cache never leave the GPU. float32 throughout; each kernel
// mirrors the CPU code named beside it (same formulas, float32 sums in another order).
//   embed_rows              Embedding.Forward: row lookup.
//   latent_append           MLA's cache entry: [RMSNorm(c) | YaRN-rotated k_rope] written to its paged slot.
//   head_proj               the absorbed per-head projections (q_nope . W_UK, o_latent . W_UV) for all heads at once.
//   copy_rope               the rotated q_rope beside the absorbed q_nope.
//   latent_attention_paged  absorbed causal attention of every row against its sequence's paged latents;
//   latent_attention_heads  the same with 16 heads per CTA sharing each latent row (many rows).
//   moe_ref_gate_up/down    routed experts for any shape and weight type (float32, or FP8 with block scales): one
//                           warp per (slot, output row); the reference the fast FP8 kernels (moe_fp8.cu) are held to.
//   moe_ref_combine         InProcessExpertExchange.Combine: sum over k of w[t,k] . out[t,k] in slot order.
//   add_inplace, argmax_partial/argmax_final, gemv_f32_rows, head_proj4 (the fast forms of head_proj and of a float32
//   gemv), dense_prepare and dense_sum_splits (DenseFp8Mma, DenseMma), dense_sum_splits_pair (DenseMma.LaunchPair),
//   latent_to_bf16 (the BF16 copy of the cache that mla_decode reads in the fast mode).

#include "common.cuh"

#define WARPS 8
#define CHUNK 128
#define MAX_V_PER_THREAD 8

// grid (rows), block 256: out[t] = table[tokens[t]] (ids checked on the host).
extern "C" __global__ void __launch_bounds__(256)
embed_rows(const float* __restrict__ table, const int* __restrict__ tokens, float* __restrict__ out, int d)
{
    grid_dependency_sync();
    const float* src = table + (size_t)tokens[blockIdx.x] * d;
    float* dst = out + (size_t)blockIdx.x * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) dst[i] = src[i];
}

// grid (rows), block 256. kv: [rows, kv_rank + rope] (kv_a_proj_with_mqa's output). Writes the row's cache entry at
// pool + slots[t] * (kv_rank + rope): RMSNorm(c) as rmsnorm.cu computes it, then k_rope rotated at positions[t] as
// rope.cu does (angles and cos/sin in float64, the rotation in float32).
extern "C" __global__ void __launch_bounds__(256)
latent_append(const float* __restrict__ kv, const float* __restrict__ norm_w, float eps, const int* __restrict__ positions,
              const int* __restrict__ slots, const double* __restrict__ inv_freq, double attention_factor,
              float* __restrict__ pool, int kv_rank, int rope)
{
    grid_dependency_sync();
    __shared__ float red[32];
    const int t = blockIdx.x, width = kv_rank + rope;
    const float* src = kv + (size_t)t * width;
    float* dst = pool + (size_t)slots[t] * width;
    float ss = 0.f;
    for (int i = threadIdx.x; i < kv_rank; i += blockDim.x) ss += src[i] * src[i];
    ss = block_sum(ss, red);
    const float inv = 1.0f / sqrtf(ss / (float)kv_rank + eps);
    for (int i = threadIdx.x; i < kv_rank; i += blockDim.x) dst[i] = (src[i] * inv) * norm_w[i];
    const double pos = (double)positions[t];
    for (int i = threadIdx.x; i < rope / 2; i += blockDim.x) {
        double s, c;
        sincos(pos * inv_freq[i], &s, &c);
        const float cf = (float)(c * attention_factor), sf = (float)(s * attention_factor);
        const float a = src[kv_rank + 2 * i], b = src[kv_rank + 2 * i + 1];
        dst[kv_rank + 2 * i] = a * cf - b * sf;
        dst[kv_rank + 2 * i + 1] = b * cf + a * sf;
    }
}

// out[t*out_row + h*out_head + out_off + r] = sum_c W[h, r, c] * x[t*x_row + h*x_head + x_off + c]
// (r < out_dim, c < in_dim, t < n). grid (heads, ceil(out_dim / 8)), block 256: a warp per output row, its lanes
// across c; tokens in runs of 8 (each weight row is read once per run, from L1/L2 after the first).
extern "C" __global__ void __launch_bounds__(256)
head_proj(const float* __restrict__ w, const float* __restrict__ x, long long x_row, int x_head, int x_off, int in_dim,
          float* __restrict__ out, long long out_row, int out_head, int out_off, int out_dim, int n)
{
    grid_dependency_sync();
    const int lane = threadIdx.x & 31, h = blockIdx.x;
    const int r = blockIdx.y * WARPS + (threadIdx.x >> 5);
    if (r >= out_dim) return;
    const float* wr = w + ((size_t)h * out_dim + r) * in_dim;
    for (int t0 = 0; t0 < n; t0 += 8) {
        float acc[8];
#pragma unroll
        for (int j = 0; j < 8; j++) acc[j] = 0.f;
        for (int c = lane; c < in_dim; c += 32) {
            const float wv = wr[c];
#pragma unroll
            for (int j = 0; j < 8; j++) {
                if (t0 + j < n) acc[j] = fmaf(wv, x[(size_t)(t0 + j) * x_row + (size_t)h * x_head + x_off + c], acc[j]);
            }
        }
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const float s = warp_sum(acc[j]);
            if (lane == 0 && t0 + j < n) out[(size_t)(t0 + j) * out_row + (size_t)h * out_head + out_off + r] = s;
        }
    }
}

// grid (ceil(heads rope / 128), rows), block 128: qa[t, h, kv_rank + i] = q[t, h, nope + i] for i < rope (q: [rows,
// heads, nope + rope], qa: [rows, heads, kv_rank + rope]); a thread per element (a CTA looping over a row's 8,192 took
// 14 us at one row).
extern "C" __global__ void __launch_bounds__(128)
copy_rope(const float* __restrict__ q, float* __restrict__ qa, int heads, int nope, int rope, int kv_rank)
{
    grid_dependency_sync();
    const int t = blockIdx.y;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < heads * rope; j += gridDim.x * blockDim.x) {
        const int h = j / rope, i = j - h * rope;
        qa[((size_t)t * heads + h) * (kv_rank + rope) + kv_rank + i] = q[((size_t)t * heads + h) * (nope + rope) + nope + i];
    }
}

// Absorbed MLA attention over paged latents (CpuBackend.LatentAttention, mla_attention.cu's online softmax):
// row t belongs to sequence row_seq[t] at position row_pos[t] and sees its keys 0..row_pos[t]; key u of sequence s is
// the entry at pool + (tables[s * max_blocks + u / block_size] * block_size + u % block_size) * (kv_rank + rope).
//   score(u) = (q[0:kv_rank] . c_u + q[kv_rank:] . kr_u) * scale;  out = softmax(score) . c
// q: [rows, heads, kv_rank + rope]; out: [rows, heads, kv_rank]. grid (heads, rows), block CHUNK, dynamic shared
// memory (kv_rank + rope + CHUNK + 32) floats + CHUNK row offsets.
extern "C" __global__ void __launch_bounds__(CHUNK)
latent_attention_paged(const float* __restrict__ q, const float* __restrict__ pool, const int* __restrict__ tables,
                       int max_blocks, int block_size, const int* __restrict__ row_seq, const int* __restrict__ row_pos,
                       float* __restrict__ out, int heads, int kv_rank, int rope, float scale)
{
    grid_dependency_sync();
    extern __shared__ float smem[];
    const int width = kv_rank + rope;
    float* qs = smem;
    float* sc = qs + width;
    float* red = sc + CHUNK;
    long long* rows = reinterpret_cast<long long*>(red + 32 + ((width + CHUNK + 32) & 1));
    const int h = blockIdx.x, t = blockIdx.y;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, warps = blockDim.x >> 5;
    const float* qrow = q + ((size_t)t * heads + h) * width;
    for (int d = tid; d < width; d += blockDim.x) qs[d] = qrow[d];
    const int* table = tables + (size_t)row_seq[t] * max_blocks;
    const int count = row_pos[t] + 1;
    __syncthreads();

    float acc[MAX_V_PER_THREAD];
#pragma unroll
    for (int j = 0; j < MAX_V_PER_THREAD; j++) acc[j] = 0.f;
    float m = __int_as_float(0xff800000), l = 0.f;

    for (int base = 0; base < count; base += CHUNK) {
        const int nk = min(CHUNK, count - base);
        if (tid < nk) {
            const int u = base + tid;
            rows[tid] = ((long long)table[u / block_size] * block_size + (u % block_size)) * width;
        }
        __syncthreads();
        for (int j = warp; j < CHUNK; j += warps) {
            float s = __int_as_float(0xff800000);
            if (j < nk) {
                const float* e = pool + rows[j];
                float p = 0.f;
                for (int d = lane; d < width; d += 32) p = fmaf(qs[d], e[d], p);
                s = warp_sum(p) * scale;
            }
            if (lane == 0) sc[j] = s;
        }
        __syncthreads();

        const float mine = sc[tid];
        const float mNew = fmaxf(m, block_max(mine, red));
        const float p = tid < nk ? expf(mine - mNew) : 0.f;
        sc[tid] = p;
        const float chunkSum = block_sum(p, red);
        const float f = expf(m - mNew);
        l = l * f + chunkSum;
#pragma unroll
        for (int j = 0; j < MAX_V_PER_THREAD; j++) {
            const int d = tid + j * CHUNK;
            if (d < kv_rank) {
                float a = acc[j] * f;
                for (int u = 0; u < nk; u++) a = fmaf(sc[u], pool[rows[u] + d], a);
                acc[j] = a;
            }
        }
        m = mNew;
        __syncthreads();
    }

    float* orow = out + ((size_t)t * heads + h) * kv_rank;
    const float inv = 1.f / l;
#pragma unroll
    for (int j = 0; j < MAX_V_PER_THREAD; j++) {
        const int d = tid + j * CHUNK;
        if (d < kv_rank) orow[d] = acc[j] * inv;
    }
}

// Weight [e, r, c] of a stack of expert matrices (expert e's [rows, cols] starts w_stride elements after expert
// e-1's): float32, or e4m3 codes times the block scale (expert e's [ceil(rows / br), ceil(cols / bc)] scales start
// s_stride floats after e-1's), dequantized as linear_fp8.cu does (one rounded multiply). Separate gate and up stacks,
// and vLLM's w13 (gate rows then up rows of each expert), are both such stacks.
__device__ __forceinline__ float expert_weight(const void* w, const float* scales, long long w_stride, long long s_stride, int fp8,
                                              int e, int r, int c, int cols, int br, int bc)
{
    const size_t i = (size_t)e * w_stride + (size_t)r * cols + c;
    if (!fp8) return reinterpret_cast<const float*>(w)[i];
    const int scols = (cols + bc - 1) / bc;
    const float s = scales[(size_t)e * s_stride + (size_t)(r / br) * scols + c / bc];
    return __fmul_rn(e4m3_to_float(reinterpret_cast<const unsigned char*>(w)[i]), s);
}

// grid (ceil(inter / 8), slots), block 256. slot = t * k + j routes token t to expert ids[slot]:
// h[slot, r] = silu(gate[e, r] . x[t]) * (up[e, r] . x[t]) (silu_mul.cu's formula).
extern "C" __global__ void __launch_bounds__(256)
moe_ref_gate_up(const float* __restrict__ x, const int* __restrict__ ids, int k,
                const void* gate, const float* gate_scales, const void* up, const float* up_scales,
                long long w_stride, long long s_stride, int fp8, int br, int bc, float* __restrict__ h, int d, int inter)
{
    grid_dependency_sync();
    const int lane = threadIdx.x & 31, slot = blockIdx.y;
    const int r = blockIdx.x * WARPS + (threadIdx.x >> 5);
    if (r >= inter) return;
    const int t = slot / k, e = ids[slot];
    const float* xr = x + (size_t)t * d;
    float g = 0.f, u = 0.f;
    for (int c = lane; c < d; c += 32) {
        const float xv = xr[c];
        g = fmaf(expert_weight(gate, gate_scales, w_stride, s_stride, fp8, e, r, c, d, br, bc), xv, g);
        u = fmaf(expert_weight(up, up_scales, w_stride, s_stride, fp8, e, r, c, d, br, bc), xv, u);
    }
    g = warp_sum(g);
    u = warp_sum(u);
    if (lane == 0) {
        const float s = 1.0f / (1.0f + expf(-g));
        h[(size_t)slot * inter + r] = (s * g) * u;
    }
}

// grid (ceil(d / 8), slots), block 256: o[slot, r] = down[e, r] . h[slot].
extern "C" __global__ void __launch_bounds__(256)
moe_ref_down(const float* __restrict__ h, const int* __restrict__ ids, const void* down, const float* down_scales,
             long long w_stride, long long s_stride, int fp8, int br, int bc, float* __restrict__ o, int d, int inter)
{
    grid_dependency_sync();
    const int lane = threadIdx.x & 31, slot = blockIdx.y;
    const int r = blockIdx.x * WARPS + (threadIdx.x >> 5);
    if (r >= d) return;
    const int e = ids[slot];
    const float* hr = h + (size_t)slot * inter;
    float acc = 0.f;
    for (int c = lane; c < inter; c += 32) acc = fmaf(expert_weight(down, down_scales, w_stride, s_stride, fp8, e, r, c, inter, br, bc), hr[c], acc);
    acc = warp_sum(acc);
    if (lane == 0) o[(size_t)slot * d + r] = acc;
}

// grid (rows), block 256: y[t] = sum over j = 0..k-1 of w[t, j] * o[t * k + j], in that order from 0.
extern "C" __global__ void __launch_bounds__(256)
moe_ref_combine(const float* __restrict__ o, const float* __restrict__ w, int k, float* __restrict__ y, int d)
{
    grid_dependency_sync();
    const int t = blockIdx.x;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float acc = 0.f;
        for (int j = 0; j < k; j++) acc += w[(size_t)t * k + j] * o[((size_t)t * k + j) * d + i];
        y[(size_t)t * d + i] = acc;
    }
}

// y[i] += x[i].
extern "C" __global__ void __launch_bounds__(256)
add_inplace(float* __restrict__ y, const float* __restrict__ x, long long n)
{
    grid_dependency_sync();
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) y[i] += x[i];
}

// Greedy ids in two launches (a row of 129,280 logits is too much for one block): argmax_partial finds the first index
// of the largest value of each of `parts` slices of every row (grid (parts, rows), block 256; NaN never wins), and
// argmax_final takes the best of a row's slices (the lower index on ties; grid (rows), block 32 x k).
__device__ __forceinline__ void better(float& bv, int& bi, float v, int i)
{
    if (v > bv || (v == bv && i < bi)) { bv = v; bi = i; }
}

extern "C" __global__ void __launch_bounds__(256)
argmax_partial(const float* __restrict__ x, int cols, float* __restrict__ pv, int* __restrict__ pi)
{
    grid_dependency_sync();
    __shared__ float sv[256];
    __shared__ int si[256];
    const int parts = gridDim.x, part = blockIdx.x, t = blockIdx.y;
    const int per = (cols + parts - 1) / parts, c0 = part * per, c1 = min(cols, c0 + per);
    const float* row = x + (size_t)t * cols;
    float best = __int_as_float(0xff800000);
    int at = 0x7fffffff;
    for (int i = c0 + threadIdx.x; i < c1; i += blockDim.x) better(best, at, row[i], i);
    sv[threadIdx.x] = best;
    si[threadIdx.x] = at;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) better(sv[threadIdx.x], si[threadIdx.x], sv[threadIdx.x + s], si[threadIdx.x + s]);
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        pv[(size_t)t * parts + part] = sv[0];
        pi[(size_t)t * parts + part] = si[0];
    }
}

extern "C" __global__ void __launch_bounds__(32)
argmax_final(const float* __restrict__ pv, const int* __restrict__ pi, int parts, int* __restrict__ ids)
{
    grid_dependency_sync();
    const int t = blockIdx.x;
    float best = __int_as_float(0xff800000);
    int at = 0x7fffffff;
    for (int i = threadIdx.x; i < parts; i += 32) better(best, at, pv[(size_t)t * parts + i], pi[(size_t)t * parts + i]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float v = __shfl_xor_sync(0xffffffffu, best, o);
        const int i = __shfl_xor_sync(0xffffffffu, at, o);
        better(best, at, v, i);
    }
    if (threadIdx.x == 0) ids[t] = at == 0x7fffffff ? 0 : at;
}

// y[t, r] = w[r] . x[t] for t < n <= 8, float32 weights: one block of 256 threads per weight row, float4 loads (cols a
// multiple of 4), the row's sums reduced across the block. More rows in flight than one warp per row gives (the router's
// 256 rows; lm_head's long rows), each weight read once.
extern "C" __global__ void __launch_bounds__(256)
gemv_f32_rows(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y, int n, int rows, int cols)
{
    grid_dependency_sync();
    __shared__ float red[8][8];
    const int r = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float4* wr = reinterpret_cast<const float4*>(w + (size_t)r * cols);
    float acc[8];
#pragma unroll
    for (int t = 0; t < 8; t++) acc[t] = 0.f;
    for (int c = threadIdx.x; c < cols / 4; c += blockDim.x) {
        const float4 wv = __ldg(wr + c);
#pragma unroll
        for (int t = 0; t < 8; t++) {
            if (t < n) {
                const float4 xv = __ldg(reinterpret_cast<const float4*>(x + (size_t)t * cols) + c);
                acc[t] = fmaf(wv.x, xv.x, fmaf(wv.y, xv.y, fmaf(wv.z, xv.z, fmaf(wv.w, xv.w, acc[t]))));
            }
        }
    }
#pragma unroll
    for (int t = 0; t < 8; t++) {
        const float v = warp_sum(acc[t]);
        if (lane == 0) red[t][warp] = v;
    }
    __syncthreads();
    if (warp == 0) {
#pragma unroll
        for (int t = 0; t < 8; t++) {
            if (t < n) {
                const float v = warp_sum(lane < 8 ? red[t][lane] : 0.f);
                if (lane == 0) y[(size_t)t * rows + r] = v;
            }
        }
    }
}

// head_proj for in_dim a multiple of 128 up to 512 (V3: 128 and 512) and 16-byte aligned rows: each warp holds 4 weight
// rows in registers (float4 per lane per 128 columns) and runs every token against them, so each weight is read once
// per step whatever the row count. grid (heads, ceil(out_dim / 32)), block 256.
extern "C" __global__ void __launch_bounds__(256)
head_proj4(const float* __restrict__ w, const float* __restrict__ x, long long x_row, int x_head, int x_off, int in_dim,
           float* __restrict__ out, long long out_row, int out_head, int out_off, int out_dim, int n)
{
    grid_dependency_sync();
    const int lane = threadIdx.x & 31, h = blockIdx.x;
    const int r0 = (blockIdx.y * WARPS + (threadIdx.x >> 5)) * 4;
    if (r0 >= out_dim) return;
    const int chunks = in_dim / 128;
    float4 wv[4][4];
#pragma unroll
    for (int r = 0; r < 4; r++) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            wv[r][j] = j < chunks && r0 + r < out_dim
                ? __ldg(reinterpret_cast<const float4*>(w + ((size_t)h * out_dim + r0 + r) * in_dim + j * 128) + lane)
                : make_float4(0.f, 0.f, 0.f, 0.f);
        }
    }
    for (int t = 0; t < n; t++) {
        const float* xr = x + (size_t)t * x_row + (size_t)h * x_head + x_off;
        float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int j = 0; j < 4; j++) {
            if (j < chunks) {
                const float4 xv = __ldg(reinterpret_cast<const float4*>(xr + j * 128) + lane);
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    acc[r] = fmaf(wv[r][j].x, xv.x, fmaf(wv[r][j].y, xv.y, fmaf(wv[r][j].z, xv.z, fmaf(wv[r][j].w, xv.w, acc[r]))));
                }
            }
        }
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const float sum = warp_sum(acc[r]);
            if (lane == 0 && r0 + r < out_dim) out[(size_t)t * out_row + (size_t)h * out_head + out_off + r0 + r] = sum;
        }
    }
}

// Random float32 in [lo, hi) from a seed (benchmark weights generated on the GPU).
extern "C" __global__ void __launch_bounds__(256)
fill_uniform(float* __restrict__ p, unsigned long long n, unsigned int seed, float lo, float hi)
{
    grid_dependency_sync();
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        unsigned long long v = i * 0x9E3779B97F4A7C15ULL + seed;
        v ^= v >> 33; v *= 0xff51afd7ed558ccdULL; v ^= v >> 33; v *= 0xc4ceb9fe1a85ec53ULL; v ^= v >> 33;
        p[i] = lo + (hi - lo) * ((float)(unsigned int)(v >> 8 & 0xFFFFFF) / 16777216.0f);
    }
}

// The dense FP8 linear on tensor cores (DenseFp8Mma) is moe_fp8.cu's down GEMM with one expert that every row routes to:
// this writes that expert's meta (offsets [0, T], active list [0], one active expert) and x in f16 (round to nearest).
extern "C" __global__ void __launch_bounds__(256)
dense_prepare(const float2* __restrict__ x, u32* __restrict__ x16, long long pairs, int* __restrict__ meta, int T)
{
    grid_dependency_sync();
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        meta[0] = 0;
        meta[1] = T;
        meta[2] = 0;
        meta[3] = 1;
    }
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += (long long)gridDim.x * blockDim.x) {
        const float2 v = x[i];
        u32 r;
        asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(v.y), "f"(v.x));
        x16[i] = r;
    }
}

// out[t, i] = the sum over K splits (ascending) of y[split, t, i] for i < cols, where y's rows are H >= cols wide: the
// dense FP8 linear's end for a weight padded to H rows (kv_a_proj_with_mqa's 576 to 640); the same sums as moe_combine
// with weight 1. grid (ceil(cols / 256), T), block 256.
extern "C" __global__ void __launch_bounds__(256)
dense_sum_splits(const float* __restrict__ y, int splits, int T, int H, int cols, float* __restrict__ out)
{
    grid_dependency_sync();
    const int t = blockIdx.y;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= cols) return;
    float v = y[(size_t)t * H + i];
    for (int sp = 1; sp < splits; ++sp) v += y[((size_t)sp * T + t) * H + i];
    out[(size_t)t * cols + i] = v;
}

// latent_attention_paged for many rows: the same attention with 16 heads of a row per CTA, so that each latent row is
// read from memory once per 16 heads instead of once per head. grid (ceil(heads / 16), rows), block 256, dynamic shared
// memory ATT_HEADS_SMEM(width) bytes (LatentAttentionHeads.SharedBytes). Per chunk of 16 keys: the CTA loads the keys'
// entries into shared memory (rows padded to width + 1 floats: no bank conflicts), thread (h = tid / 16, u = tid % 16)
// scores key u for head h, each half-warp keeps its head's running max and sum (online softmax), and thread tid sums
// P . c for latent dims tid and tid + 256 of all 16 heads. kv_rank <= 512.
#define ATT_HEADS 16
#define ATT_KEYS 16
#define ATT_HEADS_SMEM(width) (((2 * ATT_HEADS * ((width) + 1)) + (ATT_HEADS * ATT_KEYS) + (2 * ATT_HEADS)) * 4 + ATT_KEYS * 8)

extern "C" __global__ void __launch_bounds__(256)
latent_attention_heads(const float* __restrict__ q, const float* __restrict__ pool, const int* __restrict__ tables,
                       int max_blocks, int block_size, const int* __restrict__ row_seq, const int* __restrict__ row_pos,
                       float* __restrict__ out, int heads, int kv_rank, int rope, float scale)
{
    grid_dependency_sync();
    extern __shared__ float smem[];
    const int width = kv_rank + rope, stride = width + 1;
    float* qs = smem;                              // [ATT_HEADS][stride]
    float* kv = qs + ATT_HEADS * stride;           // [ATT_KEYS][stride]
    float* sc = kv + ATT_KEYS * stride;            // [ATT_HEADS][ATT_KEYS]: p of the chunk
    float* fac = sc + ATT_HEADS * ATT_KEYS;        // [ATT_HEADS]: rescale of the running sums for this chunk
    float* lsum = fac + ATT_HEADS;                 // [ATT_HEADS]: final softmax sums
    long long* rows = reinterpret_cast<long long*>(lsum + ATT_HEADS);  // [ATT_KEYS]; offset is a multiple of 8 bytes
    const int tid = threadIdx.x, t = blockIdx.y, h0 = blockIdx.x * ATT_HEADS;
    const int hs = tid / ATT_KEYS, us = tid % ATT_KEYS;

    for (int i = tid; i < ATT_HEADS * width; i += blockDim.x) {
        const int h = i / width, d = i - h * width;
        qs[h * stride + d] = h0 + h < heads ? q[((size_t)t * heads + h0 + h) * width + d] : 0.f;
    }
    const int* table = tables + (size_t)row_seq[t] * max_blocks;
    const int count = row_pos[t] + 1;

    float acc[ATT_HEADS][2];
#pragma unroll
    for (int h = 0; h < ATT_HEADS; h++) acc[h][0] = acc[h][1] = 0.f;
    float m = __int_as_float(0xff800000), l = 0.f;  // of head hs, the same in its 16 threads

    for (int base = 0; base < count; base += ATT_KEYS) {
        const int nk = min(ATT_KEYS, count - base);
        if (tid < nk) {
            const int u = base + tid;
            rows[tid] = ((long long)table[u / block_size] * block_size + (u % block_size)) * width;
        }
        __syncthreads();  // rows ready; the previous chunk's kv, sc and fac no longer read
        for (int i = tid; i < nk * width; i += blockDim.x) {
            const int u = i / width, d = i - u * width;
            kv[u * stride + d] = pool[rows[u] + d];
        }
        __syncthreads();

        float s = __int_as_float(0xff800000);
        if (us < nk) {
            const float* qh = qs + hs * stride;
            const float* ku = kv + us * stride;
            float p = 0.f;
            for (int d = 0; d < width; d++) p = fmaf(qh[d], ku[d], p);
            s = p * scale;
        }
        float cmax = s;
#pragma unroll
        for (int o = ATT_KEYS / 2; o > 0; o >>= 1) cmax = fmaxf(cmax, __shfl_xor_sync(0xffffffffu, cmax, o));
        const float mNew = fmaxf(m, cmax);
        const float p = us < nk ? expf(s - mNew) : 0.f;
        float csum = p;
#pragma unroll
        for (int o = ATT_KEYS / 2; o > 0; o >>= 1) csum += __shfl_xor_sync(0xffffffffu, csum, o);
        const float f = expf(m - mNew);
        l = l * f + csum;
        m = mNew;
        sc[hs * ATT_KEYS + us] = p;
        if (us == 0) fac[hs] = f;
        __syncthreads();

#pragma unroll
        for (int h = 0; h < ATT_HEADS; h++) {
            const float fh = fac[h];
            acc[h][0] *= fh;
            acc[h][1] *= fh;
        }
        const int d0 = tid, d1 = tid + 256;
        for (int u = 0; u < nk; u++) {
            const float v0 = d0 < kv_rank ? kv[u * stride + d0] : 0.f;
            const float v1 = d1 < kv_rank ? kv[u * stride + d1] : 0.f;
#pragma unroll
            for (int h = 0; h < ATT_HEADS; h++) {
                const float ph = sc[h * ATT_KEYS + u];
                acc[h][0] = fmaf(ph, v0, acc[h][0]);
                acc[h][1] = fmaf(ph, v1, acc[h][1]);
            }
        }
    }

    if (us == 0) lsum[hs] = l;
    __syncthreads();
#pragma unroll
    for (int h = 0; h < ATT_HEADS; h++) {
        if (h0 + h >= heads) break;
        float* orow = out + ((size_t)t * heads + h0 + h) * kv_rank;
        const float inv = 1.f / lsum[h];
        if (tid < kv_rank) orow[tid] = acc[h][0] * inv;
        if (tid + 256 < kv_rank) orow[tid + 256] = acc[h][1] * inv;
    }
}

// dense_sum_splits for a fused pair (two weights stacked by rows, DenseMma.LaunchPair): the sums of rows i < split go to
// first[t, i] (rows of split floats), the rest to second[t, i - split] (rows of H - split floats).
// grid (ceil(H / 256), T), block 256.
extern "C" __global__ void __launch_bounds__(256)
dense_sum_splits_pair(const float* __restrict__ y, int splits, int T, int H, int split, float* __restrict__ first,
                      float* __restrict__ second)
{
    grid_dependency_sync();
    const int t = blockIdx.y;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= H) return;
    float v = y[(size_t)t * H + i];
    for (int sp = 1; sp < splits; ++sp) v += y[((size_t)sp * T + t) * H + i];
    if (i < split) first[(size_t)t * split + i] = v;
    else second[(size_t)t * (H - split) + (i - split)] = v;
}

// The fast mode's BF16 copy of the latent cache (mla_decode reads it): pool16[slots[t]] = bf16(pool[slots[t]]) for the
// entries the step's rows just wrote (width floats each, round to nearest even). grid (rows), block 128.
extern "C" __global__ void __launch_bounds__(128)
latent_to_bf16(const float* __restrict__ pool, const int* __restrict__ slots, int width, unsigned short* __restrict__ pool16)
{
    grid_dependency_sync();
    const size_t base = (size_t)slots[blockIdx.x] * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        unsigned short r;
        asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(pool[base + i]));
        pool16[base + i] = r;
    }
}
