// Routed experts of one DeepSeek-V3 MoE layer at prefill size (hundreds of tokens per expert): compute-bound grouped
// GEMMs over the same FP8 weights, scales and grouping as the decode kernels (kernels/moe_fp8.cu), in the same numerics:
// weights e4m3 converted exactly to f16, activations f16, f32 accumulation, each 128-wide K chunk summed in a temporary
// and then scaled by its block scale into the main accumulator (DeepGEMM's promotion).
//
// The step (MoeFp8Experts.ForwardPrefill) is five launches:
//   moe_prepare            (moe_fp8.cu) grouping by expert (meta, slot_token, slot_of) and x to f16.
//   moe_prefill_schedule   the list of (expert, first token) tiles of BN tokens over the active experts, and its length.
//   moe_prefill_gate_up_*  per (64 features of I, token tile): gate and up for the tile's tokens, h = silu(gate) * up
//                          fused in the epilogue, written as f16 h16 [S, I] in slot order (what moe_silu writes).
//   moe_prefill_down_*     per (128 rows of H, token tile): y [S, H] float32 in slot order.
//   moe_combine            (moe_fp8.cu) out[t] = sum over k of topk_weight * y[slot of (t, k)], one split.
//
// CTA tile: BM = 128 weight rows (WM x WN warps, each MT 16-row tiles by NT 8-token tiles) x BN = 8 NT WN tokens, K 128 per
// stage, STAGES stages filled by cp.async (the weight tile FP8 as stored, 16 KB; the tokens f16, 256 BN bytes). For gate/up
// a warp's MT tiles are MT/2 gate tiles and the MT/2 up tiles of the same features, so SiLU x up needs no exchange.
//
// Weights stay in moe_pack_tiles' order (one copy for decode and prefill): a 16-row tile's 128-column chunk is 2048
// contiguous bytes, unit (v, lane) = row 8 (v >> 1) + lane / 4, columns 32 (lane % 4) + 16 (v & 1) .. + 15. A stage copies
// whole chunks (contiguous 2 KB runs), and a lane's A fragments are its own 16-byte units: ld.shared.v4 of 32 consecutive
// units, free of bank conflicts, with no ldmatrix needed. As in the decode kernels, the lane's logical k-slots
// {2q, 2q+1, 2q+8, 2q+9} of mma step s stand for physical k 32q + 4s .. + 3 in A and B alike (a dot product ignores the
// order of k); the tokens' stage holds, for 8-token tile j, unit (j, v, lane) = token 8j + lane / 4, k 32 (lane % 4) + 8v
// .. + 7, so B fragments are ld.shared.v4 of consecutive units as well. FP8 -> f16 is one cvt per 2 weights per warp that
// uses them (in registers, right before the mma).

#include "common.cuh"

__device__ __forceinline__ uint4 pf_lds(unsigned addr)
{
    uint4 r;
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "r"(addr));
    return r;
}

// A fragment of mma step s (of a half chunk) from the lane's units of rows g (r0) and g + 8 (r1): word s of each,
// two e4m3 per half word -> f16x2 (exact): a0 = (g, k-slots 2q, 2q+1), a1 = (g + 8, same), a2/a3 = k-slots 2q+8, 2q+9.
__device__ __forceinline__ void pf_convert_a(u32 (&a)[4], uint4 r0, uint4 r1, int s)
{
    const u32 w0 = s == 0 ? r0.x : s == 1 ? r0.y : s == 2 ? r0.z : r0.w;
    const u32 w1 = s == 0 ? r1.x : s == 1 ? r1.y : s == 2 ? r1.z : r1.w;
    a[0] = e4m3x2_to_f16x2_bits(w0 & 0xFFFFu);
    a[1] = e4m3x2_to_f16x2_bits(w1 & 0xFFFFu);
    a[2] = e4m3x2_to_f16x2_bits(w0 >> 16);
    a[3] = e4m3x2_to_f16x2_bits(w1 >> 16);
}

// B fragment of mma step s (of a half chunk): words 2s, 2s + 1 of the half's 8 words (units 2h, 2h + 1 of the token).
__device__ __forceinline__ void pf_b_words(u32& b0, u32& b1, uint4 u0, uint4 u1, int s)
{
    b0 = s == 0 ? u0.x : s == 1 ? u0.z : s == 2 ? u1.x : u1.z;
    b1 = s == 0 ? u0.y : s == 1 ? u0.w : s == 2 ? u1.y : u1.w;
}

// The tile list: for each active expert (ascending, as meta lists them) ceil(count / bn) tiles, tile i = (expert,
// first token of the tile within the expert) at sched[2i], sched[2i + 1]; sched_count[0] = number of tiles. One block of
// 1024 threads (at most 1024 experts, MoeFp8Experts' limit); thread a owns active expert a.
extern "C" __global__ void __launch_bounds__(1024)
moe_prefill_schedule(const int* __restrict__ meta, int E, int bn, int* __restrict__ sched, int* __restrict__ sched_count)
{
    grid_dependency_sync();
    __shared__ int warp_sums[32];
    const int active = meta[2 * E + 1];
    const int a = threadIdx.x;
    int e = 0, tiles = 0;
    if (a < active) {
        e = meta[E + 1 + a];
        tiles = (meta[e + 1] - meta[e] + bn - 1) / bn;
    }
    const int lane = a & 31, warp = a >> 5;
    int incl = tiles;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const int v = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += v;
    }
    if (lane == 31) warp_sums[warp] = incl;
    __syncthreads();
    int first = incl - tiles;
    for (int w = 0; w < warp; ++w) first += warp_sums[w];
    for (int i = 0; i < tiles; ++i) {
        sched[2 * (first + i)] = e;
        sched[2 * (first + i) + 1] = i * bn;
    }
    if (a == blockDim.x - 1) sched_count[0] = first + tiles;
}

// One CTA's GEMM: acc[mt][j] (warp's MT row tiles x NT token tiles) = sum over K chunks of scale(mt, chunk) * A . B.
//   a_row_tile(t): packed 16-row tile index (within the expert's weights we) of CTA tile t = warp_m * MT + mt;
//   sc[2]: per warp, scale rows for tiles mt < MT/2 and mt >= MT/2 (chunk c's scale at sc[h][c]);
//   b_src / b_bytes: this thread's token row (bytes, at k = 0 of its first unit) and 16 or 0 (zero fill);
//   kb: K / 128 chunks; b_row_bytes: bytes per token row (2K).
template <int MT, int NT, int WM, int WN, int STAGES>
struct PrefillTile {
    static constexpr int kThreads = 32 * WM * WN;
    static constexpr int kTilesA = WM * MT;             // 16-row tiles per CTA
    static constexpr int kBN = 8 * NT * WN;             // tokens per CTA
    static constexpr int kStageA = kTilesA * 2048;      // bytes
    static constexpr int kStageB = kBN * 256;           // bytes
    static constexpr int kStage = kStageA + kStageB;
    static constexpr int kUnitsA = kTilesA * 128 / kThreads;  // A units each thread copies per stage
    static constexpr int kThreadsPerToken = kThreads / kBN;
    static constexpr int kUnitsB = 16 / kThreadsPerToken;     // B units each thread copies per stage
    static_assert(kTilesA * 16 == 128, "a CTA covers 128 weight rows (one scale block)");
    static_assert(kThreads % kBN == 0 && 16 % kThreadsPerToken == 0, "threads per token must divide 16");
    static_assert((kTilesA * 128) % kThreads == 0, "A units split evenly");
};

// Computes one chunk from a stage for a warp: the chunk's 8 mma k-steps in two halves (4 steps each: unit v = h for
// row g, 2 + h for row g + 8; B units 2h, 2h + 1), summed into tmp, then acc += scale * tmp. NV: valid token tiles.
template <int MT, int NT, int NV>
__device__ __forceinline__ void prefill_chunk(float (&acc)[MT][NT][4], unsigned a_base, unsigned b_base, int lane, float s0, float s1)
{
    float tmp[MT][NT][4];
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) tmp[m][j][i] = 0.f;

#pragma unroll
    for (int h = 0; h < 2; ++h) {
        if constexpr (NT <= MT) {
            // the half's B fragments in registers (8 words per token tile); A loaded and converted tile by tile
            uint4 b[NT][2];
#pragma unroll
            for (int j = 0; j < NV; ++j) {
                b[j][0] = pf_lds(b_base + j * 2048 + (((2 * h) * 32 + lane) << 4));
                b[j][1] = pf_lds(b_base + j * 2048 + (((2 * h + 1) * 32 + lane) << 4));
            }
#pragma unroll
            for (int m = 0; m < MT; ++m) {
                const uint4 r0 = pf_lds(a_base + m * 2048 + ((h * 32 + lane) << 4));
                const uint4 r1 = pf_lds(a_base + m * 2048 + (((2 + h) * 32 + lane) << 4));
#pragma unroll
                for (int s = 0; s < 4; ++s) {
                    u32 a[4];
                    pf_convert_a(a, r0, r1, s);
#pragma unroll
                    for (int j = 0; j < NV; ++j) {
                        u32 b0, b1;
                        pf_b_words(b0, b1, b[j][0], b[j][1], s);
                        mma_m16n8k16_f16(tmp[m][j], a[0], a[1], a[2], a[3], b0, b1);
                    }
                }
            }
        } else {
            // the half's A fragments converted once into registers (16 words per row tile); B loaded tile by tile
            u32 a[MT][4][4];
#pragma unroll
            for (int m = 0; m < MT; ++m) {
                const uint4 r0 = pf_lds(a_base + m * 2048 + ((h * 32 + lane) << 4));
                const uint4 r1 = pf_lds(a_base + m * 2048 + (((2 + h) * 32 + lane) << 4));
#pragma unroll
                for (int s = 0; s < 4; ++s) pf_convert_a(a[m][s], r0, r1, s);
            }
#pragma unroll
            for (int j = 0; j < NV; ++j) {
                const uint4 c0 = pf_lds(b_base + j * 2048 + (((2 * h) * 32 + lane) << 4));
                const uint4 c1 = pf_lds(b_base + j * 2048 + (((2 * h + 1) * 32 + lane) << 4));
#pragma unroll
                for (int s = 0; s < 4; ++s) {
                    u32 b0, b1;
                    pf_b_words(b0, b1, c0, c1, s);
#pragma unroll
                    for (int m = 0; m < MT; ++m) mma_m16n8k16_f16(tmp[m][j], a[m][s][0], a[m][s][1], a[m][s][2], a[m][s][3], b0, b1);
                }
            }
        }
    }

#pragma unroll
    for (int m = 0; m < MT; ++m) {
        const float s = m < MT / 2 ? s0 : s1;
#pragma unroll
        for (int j = 0; j < NV; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[m][j][i] += s * tmp[m][j][i];
    }
}

// The main loop shared by gate/up and down. we: the expert's packed weights; row_tile[t]: packed tile index of CTA
// tile t (per thread: only the tiles of its A units, see below); sc0/sc1: this warp's two scale rows.
template <int MT, int NT, int WM, int WN, int STAGES>
__device__ __forceinline__ void prefill_mainloop(float (&acc)[MT][NT][4], const unsigned char* __restrict__ we,
                                                 const int (&a_tile)[PrefillTile<MT, NT, WM, WN, STAGES>::kUnitsA], int kb,
                                                 const unsigned char* b_src, int b_bytes, const float* __restrict__ sc0,
                                                 const float* __restrict__ sc1, int valid_tiles)
{
    using P = PrefillTile<MT, NT, WM, WN, STAGES>;
    extern __shared__ __align__(16) unsigned char pf_smem[];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int warp_m = warp % WM, warp_n = warp / WM;
    const unsigned base = smem_u32addr(pf_smem);

#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[m][j][i] = 0.f;

    // This thread's B units: token n = tid / kThreadsPerToken, 16-byte k units w = w0 .. w0 + kUnitsB - 1 (k = 8w).
    const int n = tid / P::kThreadsPerToken;
    const int w0 = (tid % P::kThreadsPerToken) * P::kUnitsB;
    auto issue = [&](int stage, int c) {
        const unsigned st = base + (unsigned)(stage * P::kStage);
#pragma unroll
        for (int i = 0; i < P::kUnitsA; ++i) {
            const int u = tid + i * P::kThreads;
            cp_async16_zfill(st + (unsigned)(u << 4), we + ((size_t)a_tile[i] * kb + c) * 2048 + (u & 127) * 16, 16);
        }
#pragma unroll
        for (int i = 0; i < P::kUnitsB; ++i) {
            const int w = w0 + i;  // k unit of the token row: q = w / 4, v = w % 4
            const int unit = ((n >> 3) * 4 + (w & 3)) * 32 + (n & 7) * 4 + (w >> 2);
            cp_async16_zfill(st + P::kStageA + (unsigned)(unit << 4), b_src + (size_t)c * 256 + w * 16, b_bytes);
        }
    };

#pragma unroll
    for (int d = 0; d < STAGES - 1; ++d) {
        if (d < kb) issue(d, d);
        cp_async_commit_group();
    }
    for (int c = 0; c < kb; ++c) {
        const float s0 = __ldg(sc0 + c), s1 = __ldg(sc1 + c);
        cp_async_wait_groups<STAGES - 2>();
        __syncthreads();
        const int ahead = c + STAGES - 1;
        if (ahead < kb) issue(ahead % STAGES, ahead);
        cp_async_commit_group();

        const unsigned st = base + (unsigned)((c % STAGES) * P::kStage);
        const unsigned a_base = st + warp_m * MT * 2048;
        const unsigned b_base = st + P::kStageA + warp_n * NT * 2048;
        if (valid_tiles >= NT) {
            prefill_chunk<MT, NT, NT>(acc, a_base, b_base, lane, s0, s1);
        } else if (valid_tiles > 0) {
            // a partly filled tile: only the warp's token tiles that hold tokens (NT is 4 or 8)
            if (valid_tiles > NT / 2) {
                prefill_chunk<MT, NT, NT>(acc, a_base, b_base, lane, s0, s1);
            } else if (valid_tiles > NT / 4) {
                prefill_chunk<MT, NT, NT / 2>(acc, a_base, b_base, lane, s0, s1);
            } else {
                prefill_chunk<MT, NT, NT / 4>(acc, a_base, b_base, lane, s0, s1);
            }
        }
    }
    cp_async_wait_groups<0>();
}

// gate/up for one (64 features, token tile): grid (I / 64, tile slots), block 32 WM WN, dynamic shared STAGES * kStage.
// h16 [S, I] f16 in slot order = f16(silu(gate) * up).
template <int MT, int NT, int WM, int WN, int STAGES>
__device__ __forceinline__ void prefill_gate_up(const unsigned char* __restrict__ w13, const float* __restrict__ s13,
                                                const unsigned short* __restrict__ x16, const int* __restrict__ meta,
                                                const int* __restrict__ slot_token, const int* __restrict__ sched,
                                                const int* __restrict__ sched_count, unsigned short* __restrict__ h16,
                                                int E, int H, int I)
{
    using P = PrefillTile<MT, NT, WM, WN, STAGES>;
    const int slot = blockIdx.y;
    if (slot >= sched_count[0]) return;
    const int e = sched[2 * slot], t0 = sched[2 * slot + 1];
    const int first = meta[e] + t0;
    const int count = min(P::kBN, meta[e + 1] - first);
    const int kb = H / 128;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;
    const int warp_m = warp % WM, warp_n = warp / WM;
    constexpr int FW = MT / 2 * 16;                    // features per warp
    const int f_cta = blockIdx.x * (WM * FW);          // 64 features per CTA
    const int f_w = f_cta + warp_m * FW;

    // CTA tile t = wm * MT + mt: gate rows (mt < MT/2) or up rows of warp wm's features.
    int a_tile[P::kUnitsA];
#pragma unroll
    for (int i = 0; i < P::kUnitsA; ++i) {
        const int t = (tid + i * P::kThreads) >> 7;
        const int wm = t / MT, mt = t % MT;
        const int f = f_cta + wm * FW + (mt % (MT / 2)) * 16;
        a_tile[i] = (mt < MT / 2 ? f : I + f) / 16;
    }
    const unsigned char* we = w13 + (size_t)e * 2 * I * H;
    const float* se = s13 + (size_t)e * (2 * I / 128) * kb;
    const float* sc0 = se + (size_t)(f_w / 128) * kb;
    const float* sc1 = se + (size_t)((I + f_w) / 128) * kb;

    const int n = tid / P::kThreadsPerToken;
    const bool b_ok = n < count;
    const unsigned char* b_src = (const unsigned char*)(x16 + (b_ok ? (size_t)slot_token[first + n] * H : 0));
    const int valid_tiles = (count - warp_n * NT * 8 + 7) / 8;

    float acc[MT][NT][4];
    prefill_mainloop<MT, NT, WM, WN, STAGES>(acc, we, a_tile, kb, b_src, b_ok ? 16 : 0, sc0, sc1, valid_tiles);

    // Epilogue: gate tile m and up tile m + MT/2 hold the same features; thread: rows g, g + 8, tokens 2q, 2q + 1.
#pragma unroll
    for (int m = 0; m < MT / 2; ++m)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int tok = warp_n * NT * 8 + 8 * j + 2 * q + (i & 1);
                const int f = f_w + 16 * m + g + 8 * (i >> 1);
                if (tok < count) {
                    const float gt = acc[m][j][i], up = acc[m + MT / 2][j][i];
                    const float hv = ((1.0f / (1.0f + expf(-gt))) * gt) * up;
                    unsigned short hb;
                    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(hb) : "f"(hv));
                    h16[(size_t)(first + tok) * I + f] = hb;
                }
            }
}

// down for one (128 rows of H, token tile): grid (H / 128, tile slots). y [S, H] float32 in slot order.
template <int MT, int NT, int WM, int WN, int STAGES>
__device__ __forceinline__ void prefill_down(const unsigned char* __restrict__ w2, const float* __restrict__ s2,
                                             const unsigned short* __restrict__ h16, const int* __restrict__ meta,
                                             const int* __restrict__ sched, const int* __restrict__ sched_count,
                                             float* __restrict__ y, int E, int H, int I)
{
    using P = PrefillTile<MT, NT, WM, WN, STAGES>;
    const int slot = blockIdx.y;
    if (slot >= sched_count[0]) return;
    const int e = sched[2 * slot], t0 = sched[2 * slot + 1];
    const int first = meta[e] + t0;
    const int count = min(P::kBN, meta[e + 1] - first);
    const int kb = I / 128;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;
    const int warp_m = warp % WM, warp_n = warp / WM;
    const int r_cta = blockIdx.x * 128;
    const int r_w = r_cta + warp_m * MT * 16;

    int a_tile[P::kUnitsA];
#pragma unroll
    for (int i = 0; i < P::kUnitsA; ++i) a_tile[i] = r_cta / 16 + ((tid + i * P::kThreads) >> 7);
    const unsigned char* we = w2 + (size_t)e * H * I;
    const float* sc = s2 + (size_t)e * (H / 128) * kb + (size_t)(r_cta / 128) * kb;

    const int n = tid / P::kThreadsPerToken;
    const bool b_ok = n < count;
    const unsigned char* b_src = (const unsigned char*)(h16 + (size_t)(b_ok ? first + n : 0) * I);
    const int valid_tiles = (count - warp_n * NT * 8 + 7) / 8;

    float acc[MT][NT][4];
    prefill_mainloop<MT, NT, WM, WN, STAGES>(acc, we, a_tile, kb, b_src, b_ok ? 16 : 0, sc, sc, valid_tiles);

#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const int tok = warp_n * NT * 8 + 8 * j + 2 * q;
            const int r = r_w + 16 * m + g;
            if (tok < count) {
                float* p = y + (size_t)(first + tok) * H + r;
                p[0] = acc[m][j][0];
                p[8] = acc[m][j][2];
            }
            if (tok + 1 < count) {
                float* p = y + (size_t)(first + tok + 1) * H + r;
                p[0] = acc[m][j][1];
                p[8] = acc[m][j][3];
            }
        }
}

#define MOE_PREFILL_KERNELS(MT, NT, WM, WN, STAGES)                                                                             \
    extern "C" __global__ void __launch_bounds__(32 * WM * WN, 1) moe_prefill_gate_up_m##MT##n##NT##_w##WM##x##WN##_s##STAGES( \
        const unsigned char* __restrict__ w13, const float* __restrict__ s13, const unsigned short* __restrict__ x16,          \
        const int* __restrict__ meta, const int* __restrict__ slot_token, const int* __restrict__ sched,                      \
        const int* __restrict__ sched_count, unsigned short* __restrict__ h16, int E, int H, int I)                           \
    {                                                                                                                         \
        grid_dependency_sync();                                                                                               \
        prefill_gate_up<MT, NT, WM, WN, STAGES>(w13, s13, x16, meta, slot_token, sched, sched_count, h16, E, H, I);           \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(32 * WM * WN, 1) moe_prefill_down_m##MT##n##NT##_w##WM##x##WN##_s##STAGES(    \
        const unsigned char* __restrict__ w2, const float* __restrict__ s2, const unsigned short* __restrict__ h16,            \
        const int* __restrict__ meta, const int* __restrict__ sched, const int* __restrict__ sched_count,                     \
        float* __restrict__ y, int E, int H, int I)                                                                           \
    {                                                                                                                         \
        grid_dependency_sync();                                                                                               \
        prefill_down<MT, NT, WM, WN, STAGES>(w2, s2, h16, meta, sched, sched_count, y, E, H, I);                              \
    }

// (MT, NT, WM, WN, STAGES) variants; MoePrefillConfig.Variants lists the same ones. 128 weight rows per CTA;
// tokens per CTA 8 NT WN; dynamic shared memory STAGES * (16 KB + 256 * tokens).
MOE_PREFILL_KERNELS(4, 4, 2, 4, 4)  // 128 x 128, 8 warps of 64 x 32, 192 KB
MOE_PREFILL_KERNELS(2, 8, 4, 2, 4)  // 128 x 128, 8 warps of 32 x 64, 192 KB
MOE_PREFILL_KERNELS(4, 4, 2, 2, 3)  // 128 x 64, 4 warps of 64 x 32, 96 KB (2 CTAs per SM)
MOE_PREFILL_KERNELS(4, 4, 2, 2, 4)  // 128 x 64, 4 warps of 64 x 32, 128 KB
MOE_PREFILL_KERNELS(2, 8, 4, 1, 3)  // 128 x 64, 4 warps of 32 x 64, 96 KB
