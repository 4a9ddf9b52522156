using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model.Tests;

/// <summary>
/// The gate weight is the identity, so W·x = x: each test feeds x = logit(s) and states the sigmoid scores s directly.
/// </summary>
public sealed class NoauxTcGateTests
{
    private static readonly CpuBackend s_backend = new(threads: 1);

    private static ModelConfig Config(int experts, int groups, int topkGroup, int k, bool normalize = true, double scaling = 2.5) =>
        TestConfigs.Small() with
        {
            HiddenSize = experts,
            NRoutedExperts = experts,
            NGroup = groups,
            TopkGroup = topkGroup,
            NumExpertsPerTok = k,
            NormTopkProb = normalize,
            RoutedScalingFactor = scaling,
        };

    private static Matrix Identity(int n)
    {
        var m = new float[n * n];
        for (int i = 0; i < n; i++)
        {
            m[(i * n) + i] = 1f;
        }

        return new Matrix(n, n, m);
    }

    private static float[] Logits(params double[] scores) => scores.Select(s => (float)Math.Log(s / (1 - s))).ToArray();

    private static ExpertRouting Route(ModelConfig c, float[]? bias, params double[] scores)
    {
        var gate = new NoauxTcGate(c, Identity(c.NRoutedExperts), bias ?? new float[c.NRoutedExperts]);
        return gate.Route(s_backend, Logits(scores), 1);
    }

    [Fact]
    public void Picks_the_top_k_by_score_and_orders_ids_by_descending_score()
    {
        ExpertRouting r = Route(Config(4, 1, 1, 3), null, 0.2, 0.9, 0.5, 0.7);
        Assert.Equal(1, r.Tokens);
        Assert.Equal(3, r.K);
        Assert.Equal([1, 3, 2], r.Ids(0).ToArray());
        double sum = 0.9 + 0.7 + 0.5;
        TestData.AssertClose(r.Weights(0), [0.9 / sum * 2.5, 0.7 / sum * 2.5, 0.5 / sum * 2.5], 1e-6);
    }

    [Fact]
    public void Bias_changes_the_choice_but_not_the_weights()
    {
        ModelConfig c = Config(4, 1, 1, 2);
        ExpertRouting plain = Route(c, null, 0.9, 0.8, 0.7, 0.1);
        Assert.Equal([0, 1], plain.Ids(0).ToArray());
        TestData.AssertClose(plain.Weights(0), [0.9 / 1.7 * 2.5, 0.8 / 1.7 * 2.5], 1e-6);

        // Choice scores [0.9, 0.8, 0.7, 0.95]: expert 3 now ranks first, but its weight is its unbiased score 0.1.
        ExpertRouting biased = Route(c, [0f, 0f, 0f, 0.85f], 0.9, 0.8, 0.7, 0.1);
        Assert.Equal([3, 0], biased.Ids(0).ToArray());
        TestData.AssertClose(biased.Weights(0), [0.1 / 1.0 * 2.5, 0.9 / 1.0 * 2.5], 1e-6);
    }

    [Fact]
    public void Switching_the_correction_bias_off_routes_by_raw_score_and_keeps_the_checkpoint_bias()
    {
        ModelConfig c = Config(4, 1, 1, 2);
        float[] bias = [0f, 0f, 0f, 0.85f];
        var gate = new NoauxTcGate(c, Identity(4), bias);
        float[] x = Logits(0.9, 0.8, 0.7, 0.1);
        Assert.Equal([3, 0], gate.Route(s_backend, x, 1).Ids(0).ToArray());

        gate.UseCorrectionBias = false;
        ExpertRouting unbiased = gate.Route(s_backend, x, 1);
        Assert.Equal([0, 1], unbiased.Ids(0).ToArray());
        TestData.AssertClose(unbiased.Weights(0), [0.9 / 1.7 * 2.5, 0.8 / 1.7 * 2.5], 1e-6);
        Assert.Equal(0.85f, gate.Bias[3]);

        gate.UseCorrectionBias = true;
        Assert.Equal([3, 0], gate.Route(s_backend, x, 1).Ids(0).ToArray());
    }

    [Fact]
    public void Ids_are_ordered_by_choice_score_with_bias_not_by_raw_score()
    {
        // Choice [0.8, 0.6, 0.7]: order 0, 2, 1; weights follow the ids.
        ExpertRouting r = Route(Config(3, 1, 1, 3), [0.3f, 0f, 0f], 0.5, 0.6, 0.7);
        Assert.Equal([0, 2, 1], r.Ids(0).ToArray());
        TestData.AssertClose(r.Weights(0), [0.5 / 1.8 * 2.5, 0.7 / 1.8 * 2.5, 0.6 / 1.8 * 2.5], 1e-6);
    }

    [Fact]
    public void Group_limiting_excludes_the_best_expert_when_its_group_loses()
    {
        // Groups of two: [0.95, 0.05] = 1.0, [0.6, 0.6] = 1.2, [0.55, 0.55] = 1.1, [0.1, 0.1] = 0.2. Keep two groups: 1 and 2.
        ExpertRouting r = Route(Config(8, 4, 2, 3), null, 0.95, 0.05, 0.6, 0.6, 0.55, 0.55, 0.1, 0.1);
        Assert.Equal([2, 3, 4], r.Ids(0).ToArray());
        Assert.DoesNotContain(0, r.Ids(0).ToArray());
    }

    [Fact]
    public void Group_score_is_the_sum_of_the_top_two_choice_scores()
    {
        // Groups of four. By top-2 sum: group 0 = 0.99 + 0.01 = 1.0, group 1 = 0.6 + 0.6 = 1.2, group 2 = 0.5 + 0.5 = 1.0.
        // Group 1 wins; by the max score group 0 would win, by the sum of all four group 2 (2.0) would.
        ExpertRouting r = Route(
            Config(12, 3, 1, 2),
            null,
            0.99, 0.01, 0.01, 0.01,
            0.6, 0.6, 0.01, 0.01,
            0.5, 0.5, 0.5, 0.5);
        Assert.Equal([4, 5], r.Ids(0).ToArray());
    }

    [Fact]
    public void Group_score_includes_the_bias()
    {
        // Without bias group 0 ([0.6, 0.6]) beats group 1 ([0.5, 0.5]); a bias of +0.15 on both experts of group 1 flips it.
        ModelConfig c = Config(4, 2, 1, 2);
        Assert.Equal([0, 1], Route(c, null, 0.6, 0.6, 0.5, 0.5).Ids(0).ToArray());
        ExpertRouting biased = Route(c, [0f, 0f, 0.15f, 0.15f], 0.6, 0.6, 0.5, 0.5);
        Assert.Equal([2, 3], biased.Ids(0).ToArray());
        TestData.AssertClose(biased.Weights(0), [1.25, 1.25], 1e-6);
    }

    [Fact]
    public void Weights_are_normalized_to_sum_to_the_routed_scaling_factor()
    {
        ModelConfig c = Config(8, 4, 2, 4, normalize: true, scaling: 2.5);
        var gate = new NoauxTcGate(c, TestData.Matrix(7, 8, 8), new float[8]);
        ExpertRouting r = gate.Route(s_backend, TestData.Floats(8, 5 * 8, 2f), 5);
        for (int t = 0; t < 5; t++)
        {
            Assert.Equal(2.5, r.Weights(t).ToArray().Sum(), 1e-5);
        }
    }

    [Fact]
    public void Without_norm_topk_prob_weights_are_the_scores_times_the_scaling_factor()
    {
        ExpertRouting r = Route(Config(4, 1, 1, 2, normalize: false, scaling: 2.5), null, 0.2, 0.9, 0.5, 0.7);
        Assert.Equal([1, 3], r.Ids(0).ToArray());
        TestData.AssertClose(r.Weights(0), [0.9 * 2.5, 0.7 * 2.5], 1e-6);
    }

    [Fact]
    public void Each_token_is_routed_on_its_own_scores()
    {
        ModelConfig c = Config(4, 1, 1, 1);
        var gate = new NoauxTcGate(c, Identity(4), new float[4]);
        float[] x = [.. Logits(0.9, 0.1, 0.1, 0.1), .. Logits(0.1, 0.1, 0.1, 0.9), .. Logits(0.1, 0.9, 0.1, 0.1)];
        ExpertRouting r = gate.Route(s_backend, x, 3);
        Assert.Equal([0, 3, 1], r.TopkIds);
        TestData.AssertClose(r.TopkWeights, [2.5, 2.5, 2.5], 1e-6);
    }

    [Fact]
    public void Ties_go_to_the_lower_expert_id()
    {
        ExpertRouting r = Route(Config(4, 1, 1, 2), null, 0.5, 0.7, 0.5, 0.7);
        Assert.Equal([1, 3], r.Ids(0).ToArray());
    }

    [Fact]
    public void Rejects_a_weight_or_bias_of_the_wrong_size()
    {
        ModelConfig c = Config(4, 1, 1, 2);
        Assert.Throws<ArgumentException>(() => new NoauxTcGate(c, Identity(5), new float[4]));
        Assert.Throws<ArgumentException>(() => new NoauxTcGate(c, Identity(4), new float[3]));
    }
}
