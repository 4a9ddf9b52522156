// MLA absorbed decode over a paged latent cache, BF16 on tensor cores (mma.sync m16n8k16, bf16 operands, f32 accumulate),
// flash-decoding style: one CTA per (KV split, sequence, block of 64 heads); the 64 heads share every KV tile.
//
// Layout (FlashMLA's): cache [pages, 64, 576] bf16, a row = 512 latent dims c then 64 rotated k_rope dims;
// block_table [batch, max_pages] int page indices; or blocks of block_size tokens (a divisor of 64: the device forward's
// cache mirrors the engine's 16-token blocks), token u of a sequence in block table[u / block_size] at row
// u % block_size, a 64-token tile gathered from 64 / block_size blocks; seqlens [batch] int (>= 1); q [batch, heads, 576] bf16 (q_nope already
// absorbed through W_UK, then q_rope); out [batch, heads, 512] float32:
//   out[b, h] = softmax_u((q[b, h] . cache_row(u)) * scale, u < seqlens[b]) . c(u)        c(u) = cache_row(u)[0:512]
// The work of a sequence is split into `splits` runs of whole pages; with more than one split each CTA writes its
// normalized partial output and log-sum-exp, and mla_decode_combine merges them (with one split the CTA writes out).
//
// A CTA is 8 warps (256 threads) and holds in shared memory (all rows 1152 bytes, 16-byte units XOR-swizzled by row & 7
// so that ldmatrix's 8-row reads hit 8 different bank groups):
//   Q  [64 heads][576]                           72 KB, loaded once
//   KV [2 stages][64 tokens][576]                144 KB, one page per stage, cp.async double buffer
//   P  [64 heads][64 tokens] bf16                8 KB
//   row statistics (max halves, alpha, sums)     1 KB                                 total 230,400 bytes: 1 CTA per SM
// Per page:
//   S = Q K^T   warp w: heads 16 (w & 3) .. +15, tokens 32 (w >> 2) .. +31, all 576 dims (36 k-steps x 4 n-tiles);
//               A from Q by ldmatrix.x4, B from the KV rows by ldmatrix.x4 (the rows are K's columns).
//   softmax     masked tokens (u >= seqlen) are -inf; the two warps of a row pair exchange row maxima through shared
//               memory; P = exp2((s - m) * scale * log2 e) in f32, summed per warp (both warps keep the same m, so the two
//               partial sums add at the end), converted to bf16 into P; alpha = exp2((m_old - m) ...) per row into shared.
//   O += P V    warp w: all 64 heads, latent dims 64 w .. 64 w + 63 (4 m-tiles x 8 n-tiles, 128 f32 per thread);
//               A from P by ldmatrix.x4, B from the KV rows by ldmatrix.x4.trans; O is rescaled by alpha first.
// Tokens beyond seqlen in the last page are zero-filled by cp.async (src-size 0), so a NaN there never reaches P . V.

#include "common.cuh"

#define MLA_D 576         // latent 512 + rope 64
#define MLA_DV 512
#define MLA_UNITS 72      // 16-byte units per 576-dim bf16 row
#define MLA_PAGE 64
#define MLA_HB 64         // heads per CTA
#define MLA_THREADS 256
#define MLA_ROW_BYTES 1152
#define MLA_TILE_BYTES (64 * MLA_ROW_BYTES)   // 73,728

// Shared memory map (bytes).
#define MLA_SM_Q 0
#define MLA_SM_KV (MLA_SM_Q + MLA_TILE_BYTES)
#define MLA_SM_P (MLA_SM_KV + 2 * MLA_TILE_BYTES)
#define MLA_SM_MAX (MLA_SM_P + 64 * 128)       // float [2][64]: row max of each token half; at the end row sums
#define MLA_SM_ALPHA (MLA_SM_MAX + 2 * 64 * 4) // float [64]
#define MLA_SM_M (MLA_SM_ALPHA + 64 * 4)       // float [64]: final row max
#define MLA_SMEM_BYTES (MLA_SM_M + 64 * 4)     // 230,400 (MlaDecode.SharedBytes)

__device__ __forceinline__ void ldsm_x4(u32 (&r)[4], unsigned addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ void ldsm_x4_trans(u32 (&r)[4], unsigned addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ void mma_bf16(float (&d)[4], const u32 (&a)[4], u32 b0, u32 b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Byte offset of 16-byte unit u of row r in a swizzled 1152-byte-row tile.
__device__ __forceinline__ unsigned tile_off(int r, int u) { return (unsigned)(r * MLA_ROW_BYTES + ((u ^ (r & 7)) << 4)); }

// Byte offset of 16-byte unit u (0..7) of row r in the swizzled 128-byte-row P tile.
__device__ __forceinline__ unsigned p_off(int r, int u) { return (unsigned)(r * 128 + ((u ^ (r & 7)) << 4)); }

// Copies one 64-row x 576-dim tile (rows beyond `valid` zero-filled) into swizzled shared memory; all 256 threads.
__device__ __forceinline__ void load_tile(unsigned dst, const unsigned short* __restrict__ src, int valid)
{
#pragma unroll 2
    for (int i = threadIdx.x; i < 64 * MLA_UNITS; i += MLA_THREADS) {
        const int r = i / MLA_UNITS, u = i - r * MLA_UNITS;
        const bool ok = r < valid;
        cp_async16_zfill(dst + tile_off(r, u), src + (size_t)(ok ? r : 0) * MLA_D + u * 8, ok ? 16 : 0);
    }
}

// The same for KV tile p of a sequence whose tokens sit in blocks of block_size rows (table: the sequence's blocks):
// row r is token 64 p + r, at row (64 p + r) % block_size of block table[(64 p + r) / block_size].
__device__ __forceinline__ void load_kv_tile(unsigned dst, const unsigned short* __restrict__ cache, const int* __restrict__ table,
                                             int p, int block_size, int valid)
{
    if (block_size == MLA_PAGE) {
        load_tile(dst, cache + (size_t)table[p] * MLA_PAGE * MLA_D, valid);
        return;
    }
#pragma unroll 2
    for (int i = threadIdx.x; i < 64 * MLA_UNITS; i += MLA_THREADS) {
        const int r = i / MLA_UNITS, u = i - r * MLA_UNITS;
        const bool ok = r < valid;
        const int tok = p * MLA_PAGE + (ok ? r : 0);
        const size_t row = (size_t)table[tok / block_size] * block_size + tok % block_size;
        cp_async16_zfill(dst + tile_off(r, u), cache + row * MLA_D + u * 8, ok ? 16 : 0);
    }
}

// grid (heads / 64, splits, batch), block 256, dynamic shared memory MLA_SMEM_BYTES.
// splits == 1: out [batch, heads, 512] directly. splits > 1: o_part [batch, heads, splits, 512] (normalized by the split's
// own sum) and lse_part [batch, heads, splits] (natural log of the split's sum of exp(score * scale); -inf when empty).
extern "C" __global__ void __launch_bounds__(MLA_THREADS, 1)
mla_decode(const unsigned short* __restrict__ q, const unsigned short* __restrict__ cache, const int* __restrict__ block_table,
           const int* __restrict__ seqlens, int heads, int max_pages, int block_size, int splits, float scale,
           float* __restrict__ out, float* __restrict__ o_part, float* __restrict__ lse_part)
{
    grid_dependency_sync();
    extern __shared__ __align__(128) unsigned char mla_smem[];
    const int h0 = blockIdx.x * MLA_HB, split = blockIdx.y, b = blockIdx.z;  // head blocks of one (split, sequence) run side by side: the second reads the pages from L2
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, qd = lane & 3;
    const int seqlen = seqlens[b];
    const int pages = (seqlen + MLA_PAGE - 1) / MLA_PAGE;
    const int per = (pages + splits - 1) / splits;
    const int p0 = split * per, p1 = min(pages, p0 + per);

    float* red = (float*)(mla_smem + MLA_SM_MAX);
    float* alpha_s = (float*)(mla_smem + MLA_SM_ALPHA);
    float* m_s = (float*)(mla_smem + MLA_SM_M);

    if (p0 >= p1) {  // an empty split (a short sequence among long ones): contributes nothing to the combine
        for (int i = tid; i < MLA_HB * MLA_DV; i += MLA_THREADS) {
            const int h = h0 + i / MLA_DV;
            o_part[(((size_t)b * heads + h) * splits + split) * MLA_DV + i % MLA_DV] = 0.f;
        }
        if (tid < MLA_HB) lse_part[((size_t)b * heads + h0 + tid) * splits + split] = __int_as_float(0xff800000);
        return;
    }

    const unsigned sbase = smem_u32addr(mla_smem);
    const unsigned sq = sbase + MLA_SM_Q, skv = sbase + MLA_SM_KV, sp = sbase + MLA_SM_P;
    const int* table = block_table + (size_t)b * max_pages;

    load_tile(sq, q + ((size_t)b * heads + h0) * MLA_D, 64);
    load_kv_tile(skv, cache, table, p0, block_size, min(MLA_PAGE, seqlen - p0 * MLA_PAGE));
    cp_async_commit_group();

    const float sl2 = scale * 1.4426950408889634f;
    // S-phase roles.
    const int mi = warp & 3, ni = warp >> 2;
    const int srow = 16 * mi + g;  // this thread's rows srow and srow + 8
    float m_run[2] = {__int_as_float(0xff800000), __int_as_float(0xff800000)};
    float l_run[2] = {0.f, 0.f};
    // PV-phase: latent dims 64 warp .. + 63, all 64 rows.
    float o[4][8][4];
#pragma unroll
    for (int a = 0; a < 4; ++a)
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) o[a][j][i] = 0.f;

    // ldmatrix lane addressing (see the comment at the top): A (non-trans) rows and unit offsets; B rows/units.
    const int a_row = (lane & 7) + (((lane >> 3) & 1) << 3), a_unit = lane >> 4;       // A x4: m-rows, k-units
    const int bs_row = (lane & 7) + ((lane >> 4) << 3), bs_unit = (lane >> 3) & 1;     // B for S: token rows, k-units
    const int bv_row = (lane & 7) + (((lane >> 3) & 1) << 3), bv_unit = lane >> 4;     // B for PV (trans): token rows, n-units

    for (int p = p0; p < p1; ++p) {
        cp_async_wait_groups<0>();
        __syncthreads();  // page p (and Q) landed; every warp finished page p - 1 (its stage, P and alpha are free)
        if (p + 1 < p1) {
            load_kv_tile(skv + ((p + 1 - p0) & 1) * MLA_TILE_BYTES, cache, table, p + 1, block_size,
                         min(MLA_PAGE, seqlen - (p + 1) * MLA_PAGE));
        }
        cp_async_commit_group();
        const unsigned st = skv + ((p - p0) & 1) * MLA_TILE_BYTES;
        const int valid = min(MLA_PAGE, seqlen - p * MLA_PAGE);

        // ---- S = Q K^T: 16 heads x 32 tokens per warp ----
        float s[4][4];
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) s[j][i] = 0.f;
#pragma unroll 4
        for (int ks = 0; ks < MLA_D / 16; ++ks) {
            u32 a[4], b0[4], b1[4];
            ldsm_x4(a, sq + tile_off(16 * mi + a_row, 2 * ks + a_unit));
            ldsm_x4(b0, st + tile_off(32 * ni + bs_row, 2 * ks + bs_unit));
            ldsm_x4(b1, st + tile_off(32 * ni + 16 + bs_row, 2 * ks + bs_unit));
            mma_bf16(s[0], a, b0[0], b0[1]);
            mma_bf16(s[1], a, b0[2], b0[3]);
            mma_bf16(s[2], a, b1[0], b1[1]);
            mma_bf16(s[3], a, b1[2], b1[3]);
        }

        // ---- mask, row max over this warp's 32 tokens, then over both halves ----
        float mx[2] = {__int_as_float(0xff800000), __int_as_float(0xff800000)};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int t = 32 * ni + 8 * j + 2 * qd;
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                if (t + (i & 1) >= valid) s[j][i] = __int_as_float(0xff800000);
                mx[i >> 1] = fmaxf(mx[i >> 1], s[j][i]);
            }
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        }
        if (qd == 0) {
            red[ni * 64 + srow] = mx[0];
            red[ni * 64 + srow + 8] = mx[1];
        }
        __syncthreads();

        // ---- P = exp2((s - m) * scale log2 e) in bf16, alpha per row ----
        float mnew[2], alpha[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int row = srow + 8 * r;
            mnew[r] = fmaxf(m_run[r], fmaxf(red[row], red[64 + row]));
            const float msafe = mnew[r] == __int_as_float(0xff800000) ? 0.f : mnew[r];
            alpha[r] = exp2f((m_run[r] - msafe) * sl2);
            m_run[r] = mnew[r];
        }
        float lsum[2] = {0.f, 0.f};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            float e[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const float ms = mnew[i >> 1] == __int_as_float(0xff800000) ? 0.f : mnew[i >> 1];
                e[i] = exp2f((s[j][i] - ms) * sl2);
                lsum[i >> 1] += e[i];
            }
            const int unit = 4 * ni + j;  // tokens 32 ni + 8 j .. + 7
            const unsigned c = (unsigned)(2 * qd) * 2;
            *(u32*)(mla_smem + MLA_SM_P + p_off(srow, unit) + c) = pack_bf16x2(e[0], e[1]);
            *(u32*)(mla_smem + MLA_SM_P + p_off(srow + 8, unit) + c) = pack_bf16x2(e[2], e[3]);
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            lsum[r] += __shfl_xor_sync(0xffffffffu, lsum[r], 1);
            lsum[r] += __shfl_xor_sync(0xffffffffu, lsum[r], 2);
            l_run[r] = l_run[r] * alpha[r] + lsum[r];
        }
        if (ni == 0 && qd == 0) {
            alpha_s[srow] = alpha[0];
            alpha_s[srow + 8] = alpha[1];
        }
        __syncthreads();

        // ---- O = alpha O + P V: 64 heads x 64 latent dims per warp ----
#pragma unroll
        for (int a = 0; a < 4; ++a) {
            const float f0 = alpha_s[16 * a + g], f1 = alpha_s[16 * a + g + 8];
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                o[a][j][0] *= f0;
                o[a][j][1] *= f0;
                o[a][j][2] *= f1;
                o[a][j][3] *= f1;
            }
        }
#pragma unroll
        for (int kt = 0; kt < 4; ++kt) {
            u32 pa[4][4];
#pragma unroll
            for (int a = 0; a < 4; ++a) ldsm_x4(pa[a], sp + p_off(16 * a + a_row, 2 * kt + a_unit));
#pragma unroll
            for (int jj = 0; jj < 4; ++jj) {
                u32 v[4];
                ldsm_x4_trans(v, st + tile_off(16 * kt + bv_row, 8 * warp + 2 * jj + bv_unit));
#pragma unroll
                for (int a = 0; a < 4; ++a) {
                    mma_bf16(o[a][2 * jj], pa[a], v[0], v[1]);
                    mma_bf16(o[a][2 * jj + 1], pa[a], v[2], v[3]);
                }
            }
        }
    }

    // ---- epilogue: row sums of both token halves, normalize, write ----
    __syncthreads();  // every warp is past its last read of red / alpha
    if (qd == 0) {
        red[ni * 64 + srow] = l_run[0];
        red[ni * 64 + srow + 8] = l_run[1];
        if (ni == 0) {
            m_s[srow] = m_run[0];
            m_s[srow + 8] = m_run[1];
        }
    }
    __syncthreads();
#pragma unroll
    for (int a = 0; a < 4; ++a) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int row = 16 * a + g + 8 * r;
            const float l = red[row] + red[64 + row];
            const float inv = 1.f / l;
            const int h = h0 + row;
            float* dst = splits == 1 ? out + ((size_t)b * heads + h) * MLA_DV
                                     : o_part + (((size_t)b * heads + h) * splits + split) * MLA_DV;
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const int d = 64 * warp + 8 * j + 2 * qd;
                *(float2*)(dst + d) = make_float2(o[a][j][2 * r] * inv, o[a][j][2 * r + 1] * inv);
            }
            if (splits > 1 && warp == 0 && qd == 0) lse_part[((size_t)b * heads + h) * splits + split] = m_s[row] * scale + logf(l);
        }
    }
}

// out[b, h, :] = sum_s w_s o_part[b, h, s, :] / sum_s w_s, w_s = exp(lse_s - max lse). grid batch * heads, block 128.
extern "C" __global__ void __launch_bounds__(128)
mla_decode_combine(const float* __restrict__ o_part, const float* __restrict__ lse_part, int splits, float* __restrict__ out)
{
    grid_dependency_sync();
    const size_t bh = blockIdx.x;
    const float* lse = lse_part + bh * splits;
    float mx = __int_as_float(0xff800000);
    for (int s = 0; s < splits; ++s) mx = fmaxf(mx, lse[s]);
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
    float wsum = 0.f;
    for (int s = 0; s < splits; ++s) {
        const float w = lse[s] == __int_as_float(0xff800000) ? 0.f : expf(lse[s] - mx);
        if (w == 0.f) continue;
        const float4 v = ((const float4*)(o_part + (bh * splits + s) * MLA_DV))[threadIdx.x];
        acc.x += w * v.x;
        acc.y += w * v.y;
        acc.z += w * v.z;
        acc.w += w * v.w;
        wsum += w;
    }
    const float inv = 1.f / wsum;
    ((float4*)(out + bh * MLA_DV))[threadIdx.x] = make_float4(acc.x * inv, acc.y * inv, acc.z * inv, acc.w * inv);
}

// Uniform bf16 values in [lo, hi) from a hash of the index (benchmark inputs: 300 MB of cache without a host upload).
extern "C" __global__ void __launch_bounds__(256)
mla_fill_bf16(unsigned short* __restrict__ p, unsigned long long n, unsigned int seed, float lo, float hi)
{
    grid_dependency_sync();
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        unsigned long long v = i * 0x9E3779B97F4A7C15ULL + seed;
        v ^= v >> 33;
        v *= 0xff51afd7ed558ccdULL;
        v ^= v >> 33;
        v *= 0xc4ceb9fe1a85ec53ULL;
        v ^= v >> 33;
        const float x = lo + (hi - lo) * ((float)(unsigned)(v >> 40) * (1.0f / 16777216.0f));
        p[i] = (unsigned short)(pack_bf16x2(x, 0.f) & 0xFFFFu);
    }
}

// The mma.sync BF16 ceiling: each warp runs `iters` rounds of 8 independent m16n8k16 mma chains on register operands.
// FLOPs = 2 * 16 * 8 * 16 * 8 * iters * warps. sink gets a value only if an impossible sum shows up (keeps the work live).
extern "C" __global__ void __launch_bounds__(256)
mma_bf16_peak(int iters, float* __restrict__ sink)
{
    grid_dependency_sync();
    u32 a[4];
    const u32 seed = threadIdx.x * 0x9E3779B9u;
#pragma unroll
    for (int i = 0; i < 4; ++i) a[i] = pack_bf16x2((float)((seed >> (4 * i)) & 7) * 0.001f, 0.001f);
    const u32 b0 = a[0] ^ 0x00010001u, b1 = a[1];
    float d[8][4];
#pragma unroll
    for (int c = 0; c < 8; ++c)
#pragma unroll
        for (int i = 0; i < 4; ++i) d[c][i] = 0.f;
    for (int it = 0; it < iters; ++it) {
#pragma unroll
        for (int c = 0; c < 8; ++c) mma_bf16(d[c], a, b0, b1);
    }
    float t = 0.f;
#pragma unroll
    for (int c = 0; c < 8; ++c) t += d[c][0] + d[c][1] + d[c][2] + d[c][3];
    if (t == 1234.5678f) sink[0] = t;
}
