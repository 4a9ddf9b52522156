using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model;

/// <summary>
/// DeepSeek-V3's noaux_tc gate. s = sigmoid(W_g·x) in float32; choice = s + e_score_correction_bias (the bias only
/// chooses); group score = sum of the two largest choice scores of each of n_group groups; the topk_group best groups
/// stay; the top-k experts among those groups by choice score are picked; their weights are s (without bias),
/// divided by their sum when norm_topk_prob, times routed_scaling_factor.
/// </summary>
public sealed class NoauxTcGate
{
    private readonly Matrix _weight;
    private readonly float[] _bias;
    private readonly int _experts;
    private readonly int _groups;
    private readonly int _topkGroup;
    private readonly int _k;
    private readonly bool _normalize;
    private readonly float _scaling;

    public NoauxTcGate(ModelConfig c, Matrix weight, float[] bias)
    {
        if (weight.Rows != c.NRoutedExperts || bias.Length != c.NRoutedExperts)
        {
            throw new ArgumentException($"gate has {weight.Rows} rows and {bias.Length} biases, config has {c.NRoutedExperts} routed experts");
        }

        _weight = weight;
        _bias = bias;
        _experts = c.NRoutedExperts;
        _groups = c.NGroup;
        _topkGroup = c.TopkGroup;
        _k = c.NumExpertsPerTok;
        _normalize = c.NormTopkProb;
        _scaling = (float)c.RoutedScalingFactor;
    }

    public static NoauxTcGate Load(ModelConfig c, int layer, WeightLoader w) =>
        new(c, w.Matrix(TensorNames.Gate(layer)), w.Vector(TensorNames.GateBias(layer)));

    /// <summary>The router's weight [routed experts, hidden] (a backend that keeps its own copy reads it).</summary>
    public Matrix Weight => _weight;

    /// <summary>The frozen checkpoint bias (the load balancer reads it; an online bias is passed to Route, never written here).</summary>
    public ReadOnlySpan<float> Bias => _bias;

    /// <summary>
    /// False routes as if e_score_correction_bias were zero (an ablation: how balanced routing is without the bias
    /// trained by auxiliary-loss-free balancing). Set before serving; the checkpoint's values stay as they are.
    /// </summary>
    public bool UseCorrectionBias { get; set; } = true;

    /// <summary>Routes n rows of x [n, hidden] with the checkpoint's bias (version 0).</summary>
    public ExpertRouting Route(IComputeBackend backend, ReadOnlySpan<float> x, int n) => Route(backend, x, n, _bias, 0);

    /// <summary>
    /// Routes with <paramref name="correctionBias"/> (one value per routed expert) in place of the checkpoint's
    /// e_score_correction_bias: an online bias of version <paramref name="biasVersion"/>, stamped on the routing. It only
    /// chooses, as the checkpoint's does; with <see cref="UseCorrectionBias"/> false no bias is added at all.
    /// </summary>
    public ExpertRouting Route(IComputeBackend backend, ReadOnlySpan<float> x, int n, ReadOnlySpan<float> correctionBias, long biasVersion)
    {
        if (correctionBias.Length != _experts)
        {
            throw new ArgumentException($"the gate bias has {correctionBias.Length} values, the gate {_experts} routed experts", nameof(correctionBias));
        }

        float[] scores = new float[n * _experts];
        backend.Linear(x, n, _weight, scores);
        System.Numerics.Tensors.TensorPrimitives.Sigmoid(scores, scores);
        int[] ids = new int[n * _k];
        float[] weights = new float[n * _k];
        float[] choice = new float[_experts];
        float[] groupScore = new float[_groups];
        bool[] groupKept = new bool[_groups];
        int perGroup = _experts / _groups;
        for (int t = 0; t < n; t++)
        {
            ReadOnlySpan<float> s = scores.AsSpan(t * _experts, _experts);
            for (int e = 0; e < _experts; e++)
            {
                choice[e] = UseCorrectionBias ? s[e] + correctionBias[e] : s[e];
            }

            SelectGroups(choice, perGroup, groupScore, groupKept);
            Span<int> picked = ids.AsSpan(t * _k, _k);
            TopK(choice, perGroup, groupKept, picked);

            Span<float> w = weights.AsSpan(t * _k, _k);
            float sum = 0;
            for (int k = 0; k < _k; k++)
            {
                w[k] = s[picked[k]];
                sum += w[k];
            }

            float denominator = _normalize ? sum + 1e-20f : 1f;
            for (int k = 0; k < _k; k++)
            {
                w[k] = w[k] / denominator * _scaling;
            }
        }

        return new ExpertRouting(n, _k, ids, weights) { GateBiasVersion = biasVersion };
    }

    private void SelectGroups(float[] choice, int perGroup, float[] groupScore, bool[] kept)
    {
        for (int g = 0; g < _groups; g++)
        {
            float first = float.NegativeInfinity, second = float.NegativeInfinity;
            for (int e = g * perGroup; e < (g + 1) * perGroup; e++)
            {
                float v = choice[e];
                if (v > first)
                {
                    second = first;
                    first = v;
                }
                else if (v > second)
                {
                    second = v;
                }
            }

            groupScore[g] = perGroup == 1 ? first : first + second;
            kept[g] = false;
        }

        for (int r = 0; r < _topkGroup; r++)
        {
            int best = -1;
            for (int g = 0; g < _groups; g++)
            {
                if (!kept[g] && (best < 0 || groupScore[g] > groupScore[best]))
                {
                    best = g;
                }
            }

            kept[best] = true;
        }
    }

    /// <summary>The k best experts of the kept groups by descending choice score (lower id first on ties).</summary>
    private void TopK(float[] choice, int perGroup, bool[] kept, Span<int> picked)
    {
        int count = 0;
        for (int e = 0; e < _experts; e++)
        {
            if (!kept[e / perGroup])
            {
                continue;
            }

            // Insertion into the sorted prefix: k is small (8 for V3).
            int pos = Math.Min(count, picked.Length);
            while (pos > 0 && choice[e] > choice[picked[pos - 1]])
            {
                pos--;
            }

            if (pos < picked.Length)
            {
                int end = Math.Min(count, picked.Length - 1);
                for (int i = end; i > pos; i--)
                {
                    picked[i] = picked[i - 1];
                }

                picked[pos] = e;
                count = Math.Min(count + 1, picked.Length);
            }
        }

        if (count < picked.Length)
        {
            throw new InvalidOperationException($"gate kept {count} experts, needs {picked.Length}: topk_group × experts per group is too small");
        }
    }
}
