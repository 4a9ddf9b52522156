// DeepSeek-V3's noaux_tc gate after the router's matmul (NoauxTcGate.Route), float32, one block per token:
//   s = sigmoid(logits); choice = s + bias (the bias only chooses; use_bias = 0 leaves it out);
//   group score = sum of the two largest choices of each of n_group groups (the largest alone for 1-expert groups);
//   the topk_group best groups stay (lower group first on ties); the top-k experts of those groups by choice score
//   (lower id first on ties); weight = s / (sum of the k s + 1e-20 when normalize) x scaling.
// Threads compute s and choice and one group's top two each; the first warp picks groups and experts in the order the
// CPU's scans give (one warp argmax per pick: k and the group count are small). Experts up to 1024, groups up to 32,
// k up to 32.

#include "pdl.cuh"

#define GATE_THREADS 256
#define MAX_EXPERTS 1024
#define MAX_GROUPS 32

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

// The warp's best (v, idx) by v descending, then idx ascending (an empty lane holds idx 0x7fffffff), in every lane.
__device__ __forceinline__ void warp_argmax(float& v, int& idx)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, v, o);
        const int oi = __shfl_xor_sync(0xffffffffu, idx, o);
        if (oi != 0x7fffffff && (idx == 0x7fffffff || ov > v || (ov == v && oi < idx))) { v = ov; idx = oi; }
    }
}

extern "C" __global__ void __launch_bounds__(GATE_THREADS)
noaux_tc_gate(const float* __restrict__ logits, const float* __restrict__ bias, int* __restrict__ ids, float* __restrict__ weights,
              int experts, int groups, int topk_group, int k, int normalize, float scaling, int use_bias)
{
    grid_dependency_sync();
    __shared__ float s[MAX_EXPERTS];
    __shared__ float choice[MAX_EXPERTS];
    __shared__ float group_score[MAX_GROUPS];
    const int t = blockIdx.x;
    const float* row = logits + (size_t)t * experts;
    for (int e = threadIdx.x; e < experts; e += blockDim.x) {
        const float v = 1.0f / (1.0f + expf(-row[e]));
        s[e] = v;
        choice[e] = use_bias ? v + bias[e] : v;
    }
    __syncthreads();

    const int per_group = experts / groups;
    for (int g = threadIdx.x; g < groups; g += blockDim.x) {
        float first = neg_inf(), second = neg_inf();
        for (int e = g * per_group; e < (g + 1) * per_group; e++) {
            const float v = choice[e];
            if (v > first) { second = first; first = v; }
            else if (v > second) { second = v; }
        }
        group_score[g] = per_group == 1 ? first : first + second;
    }
    __syncthreads();
    if (threadIdx.x >= 32) return;

    // Warp 0 picks: topk_group rounds of a warp argmax over the groups, then k rounds over the kept groups' experts,
    // each by (score descending, index ascending) — the order the CPU's sequential scans give, ties to the lower index.
    const int lane = threadIdx.x;
    unsigned kept = 0u;
    for (int r = 0; r < topk_group; r++) {
        const bool open = lane < groups && !(kept & (1u << lane));
        float v = open ? group_score[lane] : neg_inf();
        int idx = open ? lane : 0x7fffffff;
        warp_argmax(v, idx);
        if (idx == 0x7fffffff) break;
        kept |= 1u << idx;
    }

    __shared__ unsigned char taken[MAX_EXPERTS];
    __shared__ int picked[32];
    for (int e = lane; e < experts; e += 32) taken[e] = 0;
    __syncwarp();
    int count = 0;
    for (; count < k; count++) {
        float v = neg_inf();
        int idx = 0x7fffffff;
        for (int e = lane; e < experts; e += 32) {
            if (!(kept & (1u << (e / per_group))) || taken[e]) continue;
            if (idx == 0x7fffffff || choice[e] > v) { v = choice[e]; idx = e; }
        }
        warp_argmax(v, idx);
        if (idx == 0x7fffffff) break;
        if (lane == 0) { picked[count] = idx; taken[idx] = 1; }
        __syncwarp();
    }
    if (lane != 0) return;

    float sum = 0.f;
    for (int i = 0; i < count; i++) sum += s[picked[i]];
    const float denominator = normalize ? sum + 1e-20f : 1.f;
    for (int i = 0; i < k; i++) {
        ids[(size_t)t * k + i] = i < count ? picked[i] : -1;
        weights[(size_t)t * k + i] = i < count ? s[picked[i]] / denominator * scaling : 0.f;
    }
}
