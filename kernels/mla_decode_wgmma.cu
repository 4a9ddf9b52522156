// MLA absorbed decode over a paged latent cache on Hopper's warpgroup MMA (wgmma, sm_90a): the same contract, grid and
// split partials as mla_decode (mla_decode.cu, whose combine merges the splits), with both products read from shared
// memory by the tensor cores instead of through ldmatrix and registers.
//
//   out[b, h] = softmax_u((q[b, h] . cache_row(u)) * scale, u < seqlens[b]) . c(u)        c(u) = cache_row(u)[0:512]
//
// A CTA is two warpgroups (256 threads) over 64 heads of one (KV split, sequence). Shared memory (128-byte swizzle,
// wgmma.cuh): every 64-row x 576-dim tile is 9 chunks of [64 rows x 64 dims] (8 KB each, 1024-aligned), so Q and the
// KV rows are K-major operands and the KV rows read as V are MN-major ones (64 dims of a token in one 128-byte row):
//   Q  [64 heads][576]                         72 KB, loaded once
//   KV [2 stages][64 tokens][576]              144 KB, one 64-token tile per stage, cp.async double buffer
//   P  [64 heads][64 tokens] bf16              8 KB (one chunk: K-major A of P . V)
//   row maxima / sums [2][64], final max [64]  768 bytes                 + up to 1 KB to align: 230,912 bytes, 1 CTA/SM
// Per 64-token tile:
//   S = Q K^T     warpgroup w: all 64 heads x tokens 32 w .. 32 w + 31: 36 wgmma m64n32k16 (16 f32 per thread).
//   softmax       masked tokens (u >= seqlen) are -inf; the warpgroups exchange row maxima through shared memory and
//                 both keep the same running max, so each thread's alpha is for its own rows; P = exp2((s - m) scale
//                 log2 e) in bf16 into shared memory; row sums per warpgroup, added at the end.
//   O += P V      warpgroup w: all 64 heads x latent dims 256 w .. 256 w + 255: 4 wgmma m64n256k16 (128 f32 per
//                 thread), after scaling its rows by alpha.
// Tokens beyond seqlen in the last tile are zero-filled by cp.async, so a NaN there never reaches P . V.

#include "common.cuh"
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#include "wgmma.cuh"
#endif

#define MW_D 576
#define MW_DV 512
#define MW_UNITS 72        // 16-byte units per 576-dim bf16 row
#define MW_PAGE 64
#define MW_HB 64
#define MW_THREADS 256
#define MW_CHUNK 8192      // [64 rows x 64 dims] bf16
#define MW_TILE (9 * MW_CHUNK)

#define MW_SM_Q 0
#define MW_SM_KV MW_TILE
#define MW_SM_P (MW_SM_KV + 2 * MW_TILE)
#define MW_SM_RED (MW_SM_P + MW_CHUNK)       // float [2][64]: each warpgroup's row maxima; at the end its row sums
#define MW_SM_M (MW_SM_RED + 2 * 64 * 4)     // float [64]: final row max
#define MW_SMEM_BYTES (MW_SM_M + 64 * 4 + 1024)  // 230,912 with the alignment slack (MlaDecode.WgmmaSharedBytes)

// Byte offset of 16-byte unit u (0..71) of row r in a 64-row tile of 9 swizzled chunks.
__device__ __forceinline__ unsigned mw_off(int r, int u) { return (unsigned)((u >> 3) * MW_CHUNK + r * 128 + (((u & 7) ^ (r & 7)) << 4)); }

// Copies 64 rows x 576 dims (rows beyond `valid` zero-filled) into a swizzled tile; all 256 threads. Row r is at
// src_row(r) (elements).
template <typename RowOf>
__device__ __forceinline__ void mw_load(unsigned dst, const unsigned short* __restrict__ base, int valid, RowOf src_row)
{
#pragma unroll 2
    for (int i = threadIdx.x; i < 64 * MW_UNITS; i += MW_THREADS) {
        const int r = i / MW_UNITS, u = i - r * MW_UNITS;
        const bool ok = r < valid;
        cp_async16_zfill(dst + mw_off(r, u), base + src_row(ok ? r : 0) + u * 8, ok ? 16 : 0);
    }
}

// grid (heads / 64, splits, batch), block 256, dynamic shared memory MW_SMEM_BYTES; arguments as mla_decode's.
extern "C" __global__ void __launch_bounds__(MW_THREADS, 1)
mla_decode_wgmma(const unsigned short* __restrict__ q, const unsigned short* __restrict__ cache, const int* __restrict__ block_table,
                 const int* __restrict__ seqlens, int heads, int max_pages, int block_size, int splits, float scale,
                 float* __restrict__ out, float* __restrict__ o_part, float* __restrict__ lse_part)
{
    grid_dependency_sync();
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ __align__(1024) unsigned char mw_smem_raw[];
    const unsigned raw = smem_u32addr(mw_smem_raw);
    const unsigned pad = (1024u - (raw & 1023u)) & 1023u;
    unsigned char* smem = mw_smem_raw + pad;
    const unsigned sbase = raw + pad;

    const int h0 = blockIdx.x * MW_HB, split = blockIdx.y, b = blockIdx.z;
    const int tid = threadIdx.x, wg = tid >> 7, lane = tid & 31, g = lane >> 2, qd = lane & 3;
    const int r0 = 16 * ((tid >> 5) & 3) + g;  // this thread's rows r0 and r0 + 8 (in S and in O)
    const int seqlen = seqlens[b];
    const int pages = (seqlen + MW_PAGE - 1) / MW_PAGE;
    const int per = (pages + splits - 1) / splits;
    const int p0 = split * per, p1 = min(pages, p0 + per);
    float* red = (float*)(smem + MW_SM_RED);
    float* m_s = (float*)(smem + MW_SM_M);

    if (p0 >= p1) {  // an empty split: contributes nothing to the combine
        for (int i = tid; i < MW_HB * MW_DV; i += MW_THREADS) {
            const int h = h0 + i / MW_DV;
            o_part[(((size_t)b * heads + h) * splits + split) * MW_DV + i % MW_DV] = 0.f;
        }
        if (tid < MW_HB) lse_part[((size_t)b * heads + h0 + tid) * splits + split] = __int_as_float(0xff800000);
        return;
    }

    const unsigned sq = sbase + MW_SM_Q, skv = sbase + MW_SM_KV, sp = sbase + MW_SM_P;
    const int* table = block_table + (size_t)b * max_pages;
    auto kv_row = [&](int p) {
        return [=](int r) -> size_t {
            const int tok = p * MW_PAGE + r;
            return ((size_t)table[tok / block_size] * block_size + tok % block_size) * MW_D;
        };
    };

    mw_load(sq, q + ((size_t)b * heads + h0) * MW_D, 64, [](int r) -> size_t { return (size_t)r * MW_D; });
    mw_load(skv, cache, min(MW_PAGE, seqlen - p0 * MW_PAGE), kv_row(p0));
    cp_async_commit_group();

    const float sl2 = scale * 1.4426950408889634f;
    const float ninf = __int_as_float(0xff800000);
    float m_run[2] = {ninf, ninf};
    float l_run[2] = {0.f, 0.f};
    float o[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] = 0.f;

    for (int p = p0; p < p1; ++p) {
        cp_async_wait_groups<0>();
        fence_proxy_async_shared();
        __syncthreads();  // tile p (and Q) landed and visible to wgmma; both warpgroups are done with tile p - 1
        if (p + 1 < p1) mw_load(skv + ((p + 1 - p0) & 1) * MW_TILE, cache, min(MW_PAGE, seqlen - (p + 1) * MW_PAGE), kv_row(p + 1));
        cp_async_commit_group();
        const unsigned st = skv + ((p - p0) & 1) * MW_TILE;
        const int valid = min(MW_PAGE, seqlen - p * MW_PAGE);

        // ---- S = Q K^T: 64 heads x tokens 32 wg .. + 31 ----
        float s[16];
        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < MW_D / 16; ++ks) {
            const unsigned koff = (unsigned)((ks >> 2) * MW_CHUNK + (ks & 3) * 32);
            wgmma_m64n32k16_bf16(s, gmma_desc_sw128(sq + koff, 16, 1024), gmma_desc_sw128(st + koff + wg * 4096, 16, 1024), ks > 0);
        }
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_fence_operands(s);

        // ---- mask, row max over this warpgroup's 32 tokens, then over both ----
        float mx[2] = {ninf, ninf};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int t = 32 * wg + 8 * j + 2 * qd;
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                if (t + (i & 1) >= valid) s[4 * j + i] = ninf;
                mx[i >> 1] = fmaxf(mx[i >> 1], s[4 * j + i]);
            }
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        }
        if (qd == 0) {
            red[wg * 64 + r0] = mx[0];
            red[wg * 64 + r0 + 8] = mx[1];
        }
        __syncthreads();

        // ---- P = exp2((s - m) scale log2 e) in bf16; alpha for this thread's rows ----
        float mnew[2], alpha[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int row = r0 + 8 * r;
            mnew[r] = fmaxf(m_run[r], fmaxf(red[row], red[64 + row]));
            const float msafe = mnew[r] == ninf ? 0.f : mnew[r];
            alpha[r] = exp2f((m_run[r] - msafe) * sl2);
            m_run[r] = mnew[r];
        }
        float lsum[2] = {0.f, 0.f};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            float e[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const float ms = mnew[i >> 1] == ninf ? 0.f : mnew[i >> 1];
                e[i] = exp2f((s[4 * j + i] - ms) * sl2);
                lsum[i >> 1] += e[i];
            }
            const int unit = 4 * wg + j;  // tokens 32 wg + 8 j .. + 7
            const unsigned c = (unsigned)(2 * qd) * 2;
            *(u32*)(smem + MW_SM_P + r0 * 128 + ((unit ^ (r0 & 7)) << 4) + c) = pack_bf16x2(e[0], e[1]);
            *(u32*)(smem + MW_SM_P + (r0 + 8) * 128 + ((unit ^ ((r0 + 8) & 7)) << 4) + c) = pack_bf16x2(e[2], e[3]);
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            lsum[r] += __shfl_xor_sync(0xffffffffu, lsum[r], 1);
            lsum[r] += __shfl_xor_sync(0xffffffffu, lsum[r], 2);
            l_run[r] = l_run[r] * alpha[r] + lsum[r];
        }
        fence_proxy_async_shared();
        __syncthreads();  // P complete and visible to wgmma

        // ---- O = alpha O + P V: 64 heads x dims 256 wg .. + 255 ----
#pragma unroll
        for (int j = 0; j < 32; ++j) {
            o[4 * j] *= alpha[0];
            o[4 * j + 1] *= alpha[0];
            o[4 * j + 2] *= alpha[1];
            o[4 * j + 3] *= alpha[1];
        }
        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < MW_PAGE / 16; ++ks) {
            wgmma_m64n256k16_bf16_tb(o, gmma_desc_sw128(sp + ks * 32, 16, 1024),
                                     gmma_desc_sw128(st + wg * 4 * MW_CHUNK + ks * 2048, MW_CHUNK, 1024), 1);
        }
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_fence_operands(o);
    }

    // ---- epilogue: add both warpgroups' row sums, normalize, write ----
    __syncthreads();  // every thread is past its last read of red
    if (qd == 0) {
        red[wg * 64 + r0] = l_run[0];
        red[wg * 64 + r0 + 8] = l_run[1];
        if (wg == 0) {
            m_s[r0] = m_run[0];
            m_s[r0 + 8] = m_run[1];
        }
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int row = r0 + 8 * r;
        const float l = red[row] + red[64 + row];
        const float inv = 1.f / l;
        const int h = h0 + row;
        float* dst = splits == 1 ? out + ((size_t)b * heads + h) * MW_DV : o_part + (((size_t)b * heads + h) * splits + split) * MW_DV;
#pragma unroll
        for (int j = 0; j < 32; ++j) {
            const int d = 256 * wg + 8 * j + 2 * qd;
            *(float2*)(dst + d) = make_float2(o[4 * j + 2 * r] * inv, o[4 * j + 2 * r + 1] * inv);
        }
        if (splits > 1 && wg == 0 && qd == 0) lse_part[((size_t)b * heads + h) * splits + split] = m_s[row] * scale + logf(l);
    }
#else
    __trap();  // built for an architecture without wgmma: MlaDecode launches mla_decode there
#endif
}
