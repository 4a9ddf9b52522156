// DeepSeek-V3's noaux_tc gate after the router's matmul (NoauxTcGate.Route), float32, one block per token:
//   s = sigmoid(logits); choice = s + bias (the bias only chooses; use_bias = 0 leaves it out);
//   group score = sum of the two largest choices of each of n_group groups (the largest alone for 1-expert groups);
//   the topk_group best groups stay (lower group first on ties); the top-k experts of those groups by choice score
//   (lower id first on ties); weight = s / (sum of the k s + 1e-20 when normalize) x scaling.
// Threads compute s and choice and one group's top two each; thread 0 picks groups and experts exactly as the CPU
// does (k and the group count are small). Experts up to 1024, groups up to 32, k up to 32.

#define GATE_THREADS 256
#define MAX_EXPERTS 1024
#define MAX_GROUPS 32

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

extern "C" __global__ void __launch_bounds__(GATE_THREADS)
noaux_tc_gate(const float* __restrict__ logits, const float* __restrict__ bias, int* __restrict__ ids, float* __restrict__ weights,
              int experts, int groups, int topk_group, int k, int normalize, float scaling, int use_bias)
{
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
    if (threadIdx.x != 0) return;

    unsigned kept = 0u;
    for (int r = 0; r < topk_group; r++) {
        int best = -1;
        for (int g = 0; g < groups; g++) {
            if (!(kept & (1u << g)) && (best < 0 || group_score[g] > group_score[best])) best = g;
        }
        kept |= 1u << best;
    }

    int picked[32];
    int count = 0;
    for (int e = 0; e < experts; e++) {
        if (!(kept & (1u << (e / per_group)))) continue;
        int pos = min(count, k);
        while (pos > 0 && choice[e] > choice[picked[pos - 1]]) pos--;
        if (pos < k) {
            const int end = min(count, k - 1);
            for (int i = end; i > pos; i--) picked[i] = picked[i - 1];
            picked[pos] = e;
            count = min(count + 1, k);
        }
    }

    float sum = 0.f;
    for (int i = 0; i < k; i++) sum += s[picked[i]];
    const float denominator = normalize ? sum + 1e-20f : 1.f;
    for (int i = 0; i < k; i++) {
        ids[(size_t)t * k + i] = i < count ? picked[i] : -1;
        weights[(size_t)t * k + i] = s[picked[i]] / denominator * scaling;
    }
}
